package proxy

import (
	"encoding/hex"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"

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

// ensureRequestID returns the request's X-Request-ID, generating one (and
// setting it on r so that the upstream receives it) when it is absent or
// unusable.
func ensureRequestID(r *http.Request) string {
	if v := r.Header[headerRequestID]; len(v) == 1 && usableRequestID(v[0]) {
		return v[0]
	}
	var b [16]byte
	lo, hi := rand.Uint64(), rand.Uint64()
	for i := range 8 {
		b[i] = byte(lo >> (8 * i))
		b[8+i] = byte(hi >> (8 * i))
	}
	id := hex.EncodeToString(b[:])
	r.Header[headerRequestID] = []string{id}
	return id
}

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

// bufferPool lends the 32 KiB buffers ReverseProxy copies bodies with, so
// streaming a body allocates nothing per request.
type bufferPool struct{ p sync.Pool }

func newBufferPool() *bufferPool {
	return &bufferPool{p: sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}}
}

func (b *bufferPool) Get() []byte  { return *b.p.Get().(*[]byte) }
func (b *bufferPool) Put(x []byte) { b.p.Put(&x) }

// forwarder is how one route's side reaches its upstream.
type forwarder struct {
	route    *routing.Route
	side     routing.Side
	upstream string
	target   *url.URL
	metrics  *sideMetrics
	proxy    *httputil.ReverseProxy
	log      *slog.Logger
}

// newForwarder builds the ReverseProxy of one route and side.
func newForwarder(route *routing.Route, side routing.Side, upstream string, target *url.URL,
	transport http.RoundTripper, m *metrics, buffers *bufferPool, log *slog.Logger) *forwarder {
	f := &forwarder{
		route:    route,
		side:     side,
		upstream: upstream,
		target:   target,
		metrics:  m.forSide(route.Name, side.String(), upstream),
		log:      log,
	}
	f.proxy = &httputil.ReverseProxy{
		Rewrite:        f.rewrite,
		Transport:      transport,
		BufferPool:     buffers,
		ModifyResponse: echoRequestID,
		ErrorHandler:   f.fail,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return f
}

// rewrite prepares the outbound request: the cleaned path (with the route's
// rewrite on the extracted side) under the target's URL, forwarding headers
// set from the real connection (ReverseProxy has already removed any
// X-Forwarded-* the client sent), and the route's name.
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
	pr.SetXForwarded()
	h := pr.Out.Header
	delete(h, "Forwarded")
	delete(h, "X-Real-Ip")
	h[HeaderRoute] = []string{f.route.Name}
	// The request id is the proxy's own header: set it again in case
	// ReverseProxy removed it because the client listed it in Connection.
	h[headerRequestID] = pr.In.Header[headerRequestID]
}

// fail answers a request the upstream did not answer.
func (f *forwarder) fail(w http.ResponseWriter, r *http.Request, err error) {
	reply := classify(r, err)
	id := r.Header.Get(headerRequestID)
	if reply.status == StatusClientClosed {
		f.log.Debug("client went away", "route", f.route.Name, "upstream", f.upstream, "request_id", id)
	} else {
		f.log.Warn("upstream request failed", "route", f.route.Name, "side", f.side.String(),
			"upstream", f.upstream, "status", reply.status, "request_id", id, "error", err)
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
