package proxy

import (
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

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
}

// Handler is the proxy's http.Handler. Until the first table is applied it
// answers 503.
type Handler struct {
	cur atomic.Pointer[generation]

	log       *slog.Logger
	metrics   *metrics
	upstreams *resilience.Registry
	shadows   *shadower
	buffers   *bufferPool

	applyMu sync.Mutex // serialises Apply; the request path never takes it
	nextID  uint64
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
	return &Handler{
		log:       o.Logger.With("component", "proxy"),
		metrics:   newMetrics(o.Registerer),
		upstreams: upstreams,
		shadows:   newShadower(o.Logger),
		buffers:   newBufferPool(),
	}
}

// Close stops the health checkers and the shadow workers and closes the
// idle connections of every upstream. Requests in flight finish.
func (h *Handler) Close() error {
	h.shadows.close()
	return h.upstreams.Close()
}

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
	h.nextID = g.id
	old := h.cur.Swap(g)
	var oldTable *routing.Table
	if old != nil {
		oldTable = old.table
	}
	h.metrics.setWeights(t, oldTable)
	h.metrics.generation.Set(float64(g.id))
	h.upstreams.Retain(g.upstreamNames()...)
	h.log.Info("routing table swapped", "generation", g.id, "routes", len(t.Routes)-1, "took", time.Since(start))
	return g.id, nil
}

// Ready reports whether a routing table is live.
func (h *Handler) Ready() bool { return h.cur.Load() != nil }

// ServeHTTP routes and forwards one request. The generation is read once,
// so the route, the side and the upstream all come from the same table.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	g := h.cur.Load()
	id := ensureRequestID(r)
	if g == nil {
		writeError(w, replyNotReady, id)
		return
	}
	clean, _, err := routing.CleanPath(r.URL)
	if err != nil {
		writeError(w, replyBadPath, id)
		return
	}
	route := g.table.Match(clean, r.Method)
	rf := &g.routes[route.Index]
	f := rf.side(route.Pick(r))

	rec := &recorder{ResponseWriter: w, served: f, in: r}
	var shadowing *shadowCapture
	if rf.shadow != nil && rf.shadow.cfg.Wants(r) {
		shadowing = rf.shadow.begin(r)
		rec.tee = &cappedBuffer{limit: rf.shadow.cfg.MaxBody}
	}
	defer func() {
		// Deferred so that a response aborted mid-body (ReverseProxy
		// panics with http.ErrAbortHandler) is still counted.
		rec.served.metrics.observe(r.Method, rec.status(), time.Since(start).Seconds())
	}()
	f.proxy.ServeHTTP(rec, r)
	if shadowing != nil {
		// After the answer: the client never waits for the copy.
		if t, ok := shadowing.task(rec, f, clean, r.URL.RawQuery, id); ok {
			h.shadows.submit(t)
		} else {
			rf.shadow.count(shadowSkipped)
		}
	}
}

var _ http.Handler = (*Handler)(nil)
