package proxy

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strangler-proxy/strangler/internal/accesslog"
	"github.com/strangler-proxy/strangler/internal/inventory"
	"github.com/strangler-proxy/strangler/internal/resilience"
	"github.com/strangler-proxy/strangler/internal/routing"
)

// Options configure a Handler. The zero value is usable: a nil Logger
// discards logs and a nil Registerer leaves the metrics unregistered.
type Options struct {
	// Logger receives one record per upstream failure and per table swap.
	Logger *slog.Logger
	// Registerer is where the proxy's metrics are registered.
	Registerer prometheus.Registerer
	// AccessLog, when not nil, receives one record per sampled request.
	AccessLog *accesslog.Logger
	// InventorySize bounds the legacy traffic inventory: how many path
	// patterns it keeps. Zero means inventory.DefaultLimit; a negative
	// size turns the inventory off.
	InventorySize int
	// TrustedProxies are the peers (load balancers, CDNs) whose
	// X-Forwarded-* headers are believed and extended; from every other
	// peer they are replaced. Empty trusts nobody.
	TrustedProxies []netip.Prefix
	// MaxURIBytes bounds the request target; longer ones get 414. Zero
	// means DefaultMaxURIBytes; negative means no limit.
	MaxURIBytes int
	// BodyReadTimeout is how long a request body may stay silent before
	// the request is cut off with 408. Zero means DefaultBodyReadTimeout;
	// negative means no timeout.
	BodyReadTimeout time.Duration
	// BodyMinRate is the slowest average rate, in bytes per second, at
	// which a client may send a request body once BodyMinRateGrace is
	// over; a slower body is cut off with 408 and counted as refused with
	// reason body_too_slow. Only time spent waiting for the client counts.
	// Zero means DefaultBodyMinRate; negative means no minimum.
	BodyMinRate int64
	// BodyMinRateGrace is how long a body is waited for before
	// BodyMinRate applies. Zero or negative means DefaultBodyMinRateGrace:
	// there is no minimum rate without a grace period, which would cut
	// off a body whose first bytes are a moment late (serve refuses a
	// --body-min-rate-grace that is not positive rather than read it as
	// the default). To turn the minimum off, set BodyMinRate negative.
	BodyMinRateGrace time.Duration
	// WriteTimeout bounds how long one write of an answer to the client
	// may block: a client that stops reading (or reads slower than a few
	// hundred bytes per second) is cut off, and the upstream connection
	// and bulkhead slot it held are freed. The deadline moves with the
	// writes, at most once per quarter of WriteTimeout, so a blocked write
	// is cut off after 3/4 of WriteTimeout to all of it, and streams of any
	// length and quiet server-sent events are not affected. Zero means
	// DefaultWriteTimeout; negative means no bound.
	// The server should set http.Server.WriteTimeout to the same value, so
	// that the deadline is fresh at the start of every request on a
	// keep-alive connection (serve does).
	WriteTimeout time.Duration
}

// Handler is the proxy's http.Handler. Until the first table is applied it
// answers 503.
type Handler struct {
	cur atomic.Pointer[generation]

	log       *slog.Logger
	metrics   *metrics
	upstreams *resilience.Registry
	shadows   *shadower
	tunnels   *tunnels // upgraded (WebSocket) client connections still open
	buffers   *bufferPool
	access    *accesslog.Logger
	inventory *inventory.Inventory // nil when off
	// inventoryNow, set by tests before the handler serves, replaces the
	// clock of the inventory's recent window: the request's end time when
	// it counts one, the dashboard's time when it shows them.
	inventoryNow func() time.Time

	trusted   trustedProxies
	maxURI    int           // 0: no limit
	bodyIdle  time.Duration // 0: no body read timeout
	writeIdle time.Duration // 0: no write timeout

	bodyMinRate      int64              // bytes per second; 0: no minimum
	bodyMinRateGrace time.Duration      // before bodyMinRate applies
	bodyTooSlow      prometheus.Counter // refused{reason="body_too_slow"}

	stopping atomic.Bool // set by BeginShutdown

	applyMu sync.Mutex // serialises Apply; the request path never takes it
	nextID  uint64
	live    liveStats // guarded by applyMu
}

// New returns a Handler with no routing table yet.
func New(o Options) *Handler {
	if o.Logger == nil {
		o.Logger = discardLogger()
	}
	upstreams, err := resilience.NewRegistry(resilience.RegistryOptions{Registerer: o.Registerer, Logger: o.Logger})
	if err != nil {
		// Only a collector registered twice fails here, a programming
		// error, as promauto treats it.
		panic(fmt.Errorf("proxy: %w", err))
	}
	h := &Handler{
		log:       o.Logger.With("component", "proxy"),
		metrics:   newMetrics(o.Registerer),
		upstreams: upstreams,
		shadows:   newShadower(o.Logger),
		tunnels:   newTunnels(),
		buffers:   newBufferPool(),
		access:    o.AccessLog,
		live:      make(liveStats),
		trusted:   trustedProxies(o.TrustedProxies),
		maxURI:    max(cmp.Or(o.MaxURIBytes, DefaultMaxURIBytes), 0),
		bodyIdle:  max(cmp.Or(o.BodyReadTimeout, DefaultBodyReadTimeout), 0),
		writeIdle: max(cmp.Or(o.WriteTimeout, DefaultWriteTimeout), 0),

		bodyMinRate:      max(cmp.Or(o.BodyMinRate, DefaultBodyMinRate), 0),
		bodyMinRateGrace: DefaultBodyMinRateGrace,
	}
	if o.BodyMinRateGrace > 0 {
		h.bodyMinRateGrace = o.BodyMinRateGrace
	}
	h.bodyTooSlow = h.metrics.refused.WithLabelValues(replyBodyTooSlow.reason)
	if o.InventorySize >= 0 {
		h.inventory = inventory.New(cmp.Or(o.InventorySize, inventory.DefaultLimit))
		if o.Registerer != nil {
			o.Registerer.MustRegister(h.inventory)
		}
	}
	return h
}

// Close stops the health checkers and the shadow workers and closes the
// idle connections of every upstream. Requests in flight finish.
func (h *Handler) Close() error {
	h.shadows.close()
	return h.upstreams.Close()
}

// DrainUpgraded is for a graceful shutdown, after http.Server.Shutdown has
// returned: it waits until every upgraded (WebSocket) connection has ended,
// which Shutdown does not, or until ctx is done, and then closes those still
// open. It returns how many it closed.
func (h *Handler) DrainUpgraded(ctx context.Context) int {
	return h.tunnels.drain(ctx)
}

// Upgraded returns how many upgraded (WebSocket) connections are open.
func (h *Handler) Upgraded() int { return h.tunnels.open() }

// Apply compiles cfg, builds everything the request path needs, and then
// swaps the new generation in atomically; requests already in flight finish
// on the generation they started with. On error the live generation is
// untouched. It returns the new generation number.
func (h *Handler) Apply(cfg *routing.Config) (uint64, error) {
	start := time.Now()
	t, err := routing.Compile(cfg)
	if err != nil {
		return 0, fmt.Errorf("apply config: %w", err)
	}
	h.applyMu.Lock()
	defer h.applyMu.Unlock()
	g, err := h.build(h.nextID+1, t)
	if err != nil {
		return 0, fmt.Errorf("apply config: %w", err)
	}
	h.applyLimits(g)
	h.nextID = g.id
	old := h.cur.Swap(g)
	var oldTable *routing.Table
	if old != nil {
		oldTable = old.table
	}
	h.metrics.setWeights(t, oldTable)
	h.metrics.forgetRoutes(t, oldTable)
	h.live.retain(t)
	h.metrics.generation.Set(float64(g.id))
	h.upstreams.Retain(g.upstreamNames()...)
	h.log.Info("routing table swapped", "generation", g.id, "routes", len(t.Routes)-1, "duration_seconds", time.Since(start).Seconds())
	return g.id, nil
}

// Ready reports whether a routing table is live and no shutdown has
// begun.
func (h *Handler) Ready() bool { return h.cur.Load() != nil && !h.stopping.Load() }

// BeginShutdown marks the handler as shutting down: from now on Ready
// reports false, so that load balancers probing /readyz stop sending
// traffic while in-flight requests drain. Requests that still arrive are
// served.
func (h *Handler) BeginShutdown() { h.stopping.Store(true) }

// ShuttingDown reports whether BeginShutdown has been called.
func (h *Handler) ShuttingDown() bool { return h.stopping.Load() }

// ServeHTTP routes and forwards one request. The generation is read once,
// so the route, the side and the upstream all come from the same table.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	g := h.cur.Load()
	id, traceID := ensureIDs(r)
	if ambiguousFraming(r) || h.stopping.Load() && upgradeType(r.Header) == "" {
		// Shutting down: the client takes its next request elsewhere,
		// while the listener still accepts (--shutdown-delay), rather than
		// sending it on a connection about to close. An upgrade keeps its
		// Connection: Upgrade.
		w.Header()["Connection"] = []string{"close"}
	}
	if h.maxURI > 0 && len(r.RequestURI) > h.maxURI {
		h.refuse(w, r, replyURITooLong, id, traceID, start, nil)
		return
	}
	if g == nil {
		h.refuse(w, r, replyNotReady, id, traceID, start, nil)
		return
	}
	if r.Method == http.MethodConnect {
		// A tunnel to wherever the client names is not a reverse proxy's
		// to open, and no upstream could take it: refused here, so that it
		// never counts as an upstream's failure.
		h.refuse(w, r, replyMethodNotSupported, id, traceID, start, nil)
		return
	}
	clean, rewritten, err := routing.CleanPath(r.URL)
	if err != nil || dotSegmentWithParams(clean) {
		h.refuse(w, r, replyBadPath, id, traceID, start, nil)
		return
	}
	route := g.table.Match(clean, r.Method)
	rf := &g.routes[route.Index]
	f := rf.side(route.Pick(r))
	if f.maxBody > 0 && r.ContentLength > f.maxBody {
		// Refused before the body is read: the server sends no 100
		// Continue, and no upstream is contacted.
		h.refuse(w, r, replyBodyTooLarge, id, traceID, start, route)
		return
	}

	r, release := h.guardBody(w, r, f.maxBody)
	if release != nil {
		defer release()
	}
	rec := &recorder{ResponseWriter: w, served: f, in: r, tunnels: h.tunnels, writeIdle: h.writeIdle}
	var shadowing *shadowCapture
	if rf.shadow != nil && rf.shadow.cfg.Wants(r) {
		shadowing = rf.shadow.begin(r, f.trusted)
		rec.tee = &cappedBuffer{limit: rf.shadow.cfg.MaxBody}
	}
	defer func() {
		// Deferred so that a response aborted mid-body (ReverseProxy
		// panics with http.ErrAbortHandler) is still counted.
		if rec.hijacked != nil {
			// ReverseProxy returns once the tunnel has ended and closed it.
			h.tunnels.remove(rec.hijacked)
		}
		h.finish(rec, start, route, clean, id, traceID)
	}()
	f.proxy.ServeHTTP(rec, r)
	if rec.hijacked == nil {
		// net/http writes the end of the answer (the last chunk, what is
		// still buffered) after the handler returns: a stream that ended
		// after a quiet spell must not find the last write's deadline
		// passed.
		rec.extendWriteDeadline()
	}
	if shadowing != nil {
		// After the answer: the client never waits for the copy.
		escaped := ""
		if !rewritten {
			escaped = r.URL.RawPath // forwarded as the client encoded it
		}
		if t, ok := shadowing.task(rec, f, clean, escaped, r.URL.RawQuery, id); ok {
			h.shadows.submit(t)
		} else {
			rf.shadow.count(shadowSkipped)
		}
	}
}

// finish accounts for one answered request: metrics, the dashboard's last
// minute, the legacy traffic inventory and the access log.
func (h *Handler) finish(rec *recorder, start time.Time, route *routing.Route, clean, id, traceID string) {
	end := time.Now()
	took := end.Sub(start)
	status := rec.status()
	f := rec.served
	f.metrics.observe(rec.in.Method, status, took.Seconds())
	f.live.Observe(end, took.Seconds(), status >= 500)
	if h.inventory != nil && f.side == routing.Legacy {
		h.inventory.ObserveAt(h.inventoryTime(end), clean, route.Name)
	}
	if h.access != nil && h.access.Sampled() {
		h.access.Log(accesslog.Record{
			Time: start, RequestID: id, TraceID: traceID,
			Client: rec.in.RemoteAddr, Method: rec.in.Method, Path: clean,
			Route: route.Name, Side: f.side.String(), Upstream: f.upstream.Name(),
			Status: status, Bytes: rec.bytes, Duration: took, Fallback: rec.fallback,
		})
	}
}

// inventoryTime is the time the inventory's recent window reads for an
// event at now: now itself, unless a test set inventoryNow.
func (h *Handler) inventoryTime(now time.Time) time.Time {
	if h.inventoryNow != nil {
		return h.inventoryNow()
	}
	return now
}

var _ http.Handler = (*Handler)(nil)
