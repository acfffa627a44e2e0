package proxy

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strangler-proxy/strangler/internal/livestats"
	"github.com/strangler-proxy/strangler/internal/resilience"
	"github.com/strangler-proxy/strangler/internal/routing"
)

const (
	headerRequestID = "X-Request-Id"
	// HeaderRoute names the route that matched, on the forwarded request.
	HeaderRoute = "X-Strangler-Route"
	// maxRequestIDLen bounds a client-supplied request id; longer or
	// non-printable ids are replaced.
	maxRequestIDLen = 128
)

func usableRequestID(s string) bool {
	if s == "" || len(s) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// bufferSize is the size of the buffers bodies are copied with.
const bufferSize = 32 << 10

// bufferPool lends the buffers ReverseProxy copies bodies with, so that
// streaming a body allocates nothing per request. It pools array pointers:
// converting the slice back to one allocates nothing, where pooling
// &slice would allocate on every Put.
type bufferPool struct{ p sync.Pool }

func newBufferPool() *bufferPool {
	return &bufferPool{p: sync.Pool{New: func() any { return new([bufferSize]byte) }}}
}

func (b *bufferPool) Get() []byte { return b.p.Get().(*[bufferSize]byte)[:] }

func (b *bufferPool) Put(x []byte) {
	if len(x) == bufferSize {
		b.p.Put((*[bufferSize]byte)(x))
	}
}

// forwarder is how one route's side reaches its upstream.
type forwarder struct {
	route    *routing.Route
	side     routing.Side
	upstream *resilience.Upstream
	target   *url.URL // a placeholder: the upstream picks the instance
	metrics  *sideMetrics
	live     *livestats.Series // the route's side over the last minute, for the dashboard
	proxy    *httputil.ReverseProxy
	log      *slog.Logger
	maxBody  int64          // the route's max_body in bytes; 0: unlimited
	trusted  trustedProxies // peers whose forwarding headers are believed

	// fallback serves the request from legacy when the extracted service
	// cannot take it; nil on the legacy side and when the route has
	// fallback: false.
	fallback  *forwarder
	fallbacks map[string]prometheus.Counter // by reason
}

// newForwarder builds the ReverseProxy of one route and side.
func newForwarder(route *routing.Route, side routing.Side, up *resilience.Upstream,
	m *metrics, buffers *bufferPool, log *slog.Logger) *forwarder {
	f := &forwarder{
		route:    route,
		side:     side,
		upstream: up,
		target:   &url.URL{Scheme: "http", Host: up.Name()},
		metrics:  m.forSide(route.Name, side.String(), up.Name()),
		log:      log,
	}
	f.proxy = &httputil.ReverseProxy{
		Rewrite:        f.rewrite,
		Transport:      up,
		BufferPool:     buffers,
		ModifyResponse: f.modifyResponse,
		ErrorHandler:   f.fail,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return f
}

// withFallback makes f serve from legacy what its service cannot take.
func (f *forwarder) withFallback(legacy *forwarder, m *metrics) {
	f.fallback = legacy
	f.fallbacks = make(map[string]prometheus.Counter, len(fallbackReasons))
	for _, reason := range fallbackReasons {
		f.fallbacks[reason] = m.fallbacks.WithLabelValues(f.route.Name, reason)
	}
}

// rewrite prepares the outbound request: the cleaned path (with the route's
// rewrite on the extracted side), forwarding headers set from the real
// connection (ReverseProxy has already removed any X-Forwarded-* the client
// sent), and the route's name. The upstream puts in the instance's scheme,
// host and base path.
func (f *forwarder) rewrite(pr *httputil.ProxyRequest) {
	clean, rewritten, _ := routing.CleanPath(pr.In.URL) // the handler refused bad paths
	p := clean
	if f.side == routing.Extracted {
		p = f.route.RewritePath(clean)
	}
	if rewritten || p != clean {
		pr.Out.URL.Path = p
		pr.Out.URL.RawPath = ""
	}
	pr.SetURL(f.target)
	f.trusted.setForwarding(pr)
	h := pr.Out.Header
	onlyWebSocket(h)
	delete(h, HeaderShadow) // only strangler marks copies
	h[HeaderRoute] = []string{f.route.Name}
	// The request id and the traceparent are the proxy's own headers: put
	// them back when ReverseProxy removed them because the client listed
	// them in Connection. (Only then: assigning to a full small map grows
	// it, even for a key it holds.)
	if _, ok := h[headerRequestID]; !ok {
		h[headerRequestID] = pr.In.Header[headerRequestID]
	}
	if _, ok := h[headerTraceparent]; !ok {
		h[headerTraceparent] = pr.In.Header[headerTraceparent]
	}
	if f.fallback != nil && pr.Out.Body != nil {
		pr.Out.Body = keepOpen{pr.Out.Body}
	}
}

// onlyWebSocket leaves a WebSocket upgrade in the outbound header h and
// turns a request for any other upgrade into a plain request: README
// promises WebSocket only, and a tunnel to another protocol (h2c above all)
// would carry the client's next requests to the upstream unrouted, outside
// the route's prefix, rewrite and forwarding headers. ReverseProxy has
// already removed every hop-by-hop header and put back Connection: Upgrade
// and Upgrade with the client's protocol when the client asked for one.
// HTTP2-Settings belongs to an h2c upgrade and is dropped whatever comes
// with it.
func onlyWebSocket(h http.Header) {
	delete(h, "Http2-Settings")
	if up, ok := h["Upgrade"]; ok && (len(up) != 1 || !isWebSocket(up[0])) {
		delete(h, "Upgrade")
		delete(h, "Connection")
	}
}

// isWebSocket reports whether the protocol token s is "websocket".
func isWebSocket(s string) bool { return asciiEqualFold(s, "websocket") }

// asciiEqualFold reports whether s equals lower, a lower-case ASCII word,
// ignoring ASCII case only: strings.EqualFold would also take Unicode
// look-alikes, such as the Kelvin sign for k.
func asciiEqualFold(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// upgradeType returns the protocol h asks to switch to: its Upgrade value
// when Connection lists "upgrade", as httputil.ReverseProxy reads it.
func upgradeType(h http.Header) string {
	for _, v := range h["Connection"] {
		for tok := range strings.SplitSeq(v, ",") {
			if asciiEqualFold(textproto.TrimString(tok), "upgrade") {
				return h.Get("Upgrade")
			}
		}
	}
	return ""
}

// checkSwitch vets a 101 Switching Protocols answer before ReverseProxy
// tunnels it: it must switch to the WebSocket protocol the request asked
// for, and its body must be the writable connection. ReverseProxy refuses
// any other 101 without closing the body, which would hold the request's
// bulkhead slot, breaker verdict and target in-flight count forever; an
// error from ModifyResponse makes it close the body, and the request
// fails as an upstream error (502).
func checkSwitch(res *http.Response) error {
	asked, got := upgradeType(res.Request.Header), upgradeType(res.Header)
	if !isWebSocket(asked) || !isWebSocket(got) {
		return fmt.Errorf("upstream switched protocols to %q when %q was asked for", got, asked)
	}
	if _, ok := res.Body.(io.ReadWriteCloser); !ok {
		return errors.New("upstream switched protocols without a writable connection")
	}
	return nil
}

// modifyResponse vets a 101 answer (checkSwitch), returns the request id
// to the client and, on a route with fallback, turns a 502, 503 or 504
// answer to an idempotent request without a body into an error, so that
// legacy serves it instead.
func (f *forwarder) modifyResponse(res *http.Response) error {
	if res.StatusCode == http.StatusSwitchingProtocols {
		if err := checkSwitch(res); err != nil {
			return err
		}
	}
	if f.fallback != nil {
		switch res.StatusCode {
		case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			if f.upstream.Idempotent(res.Request.Method) && !hasBody(res.Request) {
				return &errBadStatus{code: res.StatusCode}
			}
		}
	}
	return echoRequestID(res)
}

// fail answers a request the upstream did not answer: from legacy when the
// route falls back, with a short JSON error otherwise. ReverseProxy passes
// the outbound request; the fallback needs the client's own, which the
// handler's recorder carries.
func (f *forwarder) fail(w http.ResponseWriter, out *http.Request, err error) {
	id := out.Header.Get(headerRequestID)
	if reply, ok := bodyStopped(w); ok {
		// The client's fault, whatever the transport made of it: no
		// fallback, and the upstream is not blamed.
		f.log.Debug("request body cut off", "route", f.route.Name, "status", reply.status, "request_id", id, "error", err)
		writeError(w, reply, id)
		return
	}
	reply := classify(out, err)
	if reply.status == StatusClientClosed {
		f.log.Debug("client went away", "route", f.route.Name, "upstream", f.upstream.Name(), "request_id", id)
		return
	}
	if rec, ok := w.(*recorder); ok && f.fallback != nil {
		if reason, ok := fallbackReason(rec.in, err, f.upstream.Idempotent(out.Method)); ok {
			f.fallbacks[reason].Inc()
			f.live.AddFallback(time.Now())
			rec.fallback = reason
			f.log.Debug("falling back to legacy", "route", f.route.Name, "upstream", f.upstream.Name(),
				"reason", reason, "request_id", id, "error", err)
			rec.served = f.fallback
			// Legacy's breaker and health do not count the request: a
			// failing service must not take the rest of the shop down.
			f.fallback.proxy.ServeHTTP(w, rec.in.WithContext(resilience.Spillover(rec.in.Context())))
			return
		}
	}
	f.log.Warn("upstream request failed", "route", f.route.Name, "side", f.side.String(),
		"upstream", f.upstream.Name(), "status", reply.status, "request_id", id, "error", err)
	if rec, ok := w.(*recorder); ok {
		rec.ownReply = true
	}
	writeError(w, reply, id)
}

// echoRequestID returns the request id to the client, replacing any the
// upstream sent.
func echoRequestID(res *http.Response) error {
	if v := res.Request.Header[headerRequestID]; len(v) > 0 {
		res.Header[headerRequestID] = v[:1]
	}
	return nil
}

// discardLogger is the logger of a nil Options.Logger.
func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

var _ httputil.BufferPool = (*bufferPool)(nil)
