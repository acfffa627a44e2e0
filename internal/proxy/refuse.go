package proxy

import (
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/strangler-proxy/strangler/internal/accesslog"
	"github.com/strangler-proxy/strangler/internal/routing"
)

// refuse answers a request the proxy turns away itself, before any
// upstream: too long a target, no table yet, a path it cannot route
// safely, a body over the route's limit. The refusal is counted in
// strangler_refused_requests_total and written to the access log, with the
// route when one matched; it counts toward no upstream's metrics, since no
// upstream saw it.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, reply errorReply, id, traceID string,
	start time.Time, route *routing.Route) {
	// Counted and logged before the answer goes out, so that whoever has
	// the answer finds the refusal already counted.
	h.metrics.refused.WithLabelValues(reply.reason).Inc()
	body := errorJSON(reply, id)
	if h.access != nil && h.access.Sampled() {
		rec := accesslog.Record{
			Time: start, RequestID: id, TraceID: traceID, Client: r.RemoteAddr, Method: r.Method,
			Path: truncate(sentPath(r), maxLoggedPath), Status: reply.status, Duration: time.Since(start),
		}
		if r.Method != http.MethodHead {
			// A HEAD answer carries the headers only.
			rec.Bytes = int64(len(body))
		}
		if route != nil {
			rec.Route = route.Name
		}
		h.access.Log(rec)
	}
	writeErrorJSON(w, reply, id, body)
}

// sentPath is the path of r's target as the client sent it, escapes
// included and without the query: the form that shows why a path was
// refused. A target not in origin form (absolute URL, CONNECT's authority)
// gives its path in escaped form.
func sentPath(r *http.Request) string {
	if p := r.RequestURI; strings.HasPrefix(p, "/") {
		if i := strings.IndexByte(p, '?'); i >= 0 {
			p = p[:i]
		}
		return p
	}
	return r.URL.EscapedPath()
}

// replyMethodNotSupported answers CONNECT.
var replyMethodNotSupported = errorReply{http.StatusNotImplemented, "method not supported", "", "method_not_supported"}

// maxLoggedPath bounds, in bytes, the path of a refused request in the
// access log: a target refused for its length must not make a megabyte log
// line.
const maxLoggedPath = 256

// truncate cuts s to at most n bytes, never inside a UTF-8 sequence or a
// %XX escape, so that the logged path stays valid text and every escape
// in it complete.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	if i := strings.LastIndexByte(s[max(n-2, 0):n], '%'); i >= 0 {
		n = max(n-2, 0) + i
	}
	return s[:n]
}
