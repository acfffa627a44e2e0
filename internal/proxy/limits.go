package proxy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/strangler-proxy/strangler/internal/routing"
)

// Defaults of the client limits in Options.
const (
	// DefaultMaxURIBytes bounds the request target (path and query) a
	// client may send; longer ones get 414.
	DefaultMaxURIBytes = 8 << 10
	// DefaultBodyReadTimeout is how long a request body may stay silent
	// before the request is cut off with 408.
	DefaultBodyReadTimeout = 30 * time.Second
)

// Why a guarded body stopped: the route's max_body was passed, or the
// client stopped sending for longer than the body read timeout.
var (
	errBodyTooLarge = errors.New("request body larger than the route's max_body")
	errBodyTimeout  = errors.New("request body stalled past the body read timeout")
)

// exchange is the per-request state of the handler, allocated once: the
// recorder and, for a request with a body, its guard.
type exchange struct {
	rec  recorder
	body guardedBody
}

// guardedBody wraps a client's request body. Each read gets a fresh read
// deadline (a client that trickles its body is cut off once it pauses for
// longer than idle, however long the body), and, on a route with
// max_body and a body of unknown length, the body is cut off past the
// limit and the upstream request aborted. The abort cancels the request's
// context, so the breaker and retries treat it as a client gone, not as an
// upstream failure.
type guardedBody struct {
	io.ReadCloser
	w      http.ResponseWriter     // the server's writer, for the connection's read deadline
	idle   time.Duration           // zero: no idle timeout
	cancel context.CancelCauseFunc // aborts the upstream request; nil without a limit
	why    atomic.Pointer[error]   // errBodyTooLarge or errBodyTimeout once stopped
}

// Read reads from the client's body under the idle deadline and the limit.
func (b *guardedBody) Read(p []byte) (int, error) {
	if why := b.why.Load(); why != nil {
		return 0, *why
	}
	if b.idle > 0 {
		_ = http.NewResponseController(b.w).SetReadDeadline(time.Now().Add(b.idle))
	}
	n, err := b.ReadCloser.Read(p)
	if err == nil {
		return n, nil
	}
	var tooLarge *http.MaxBytesError
	switch {
	case err == io.EOF:
		// Done: the connection must not time out while the response
		// streams (the server watches it for a hang-up from now on).
		if b.idle > 0 {
			_ = http.NewResponseController(b.w).SetReadDeadline(time.Time{})
		}
	case errors.As(err, &tooLarge):
		b.why.Store(&errBodyTooLarge)
		b.cancel(errBodyTooLarge)
		return n, errBodyTooLarge
	case isTimeout(err):
		b.why.Store(&errBodyTimeout)
	}
	return n, err
}

// stopped returns the reply for a request whose body the guard cut off.
func (b *guardedBody) stopped() (errorReply, bool) {
	why := b.why.Load()
	switch {
	case why == nil:
		return errorReply{}, false
	case *why == errBodyTooLarge:
		return replyBodyTooLarge, true
	default:
		return replyBodyTimeout, true
	}
}

// guardBody puts r's body under the guard of x when there is something to
// guard: an idle timeout, or a limit on a body whose length is not
// declared (a declared length above the limit has been refused already).
// It returns the request to forward, which carries a cancellable context
// when the body is limited.
func (h *Handler) guardBody(x *exchange, w http.ResponseWriter, r *http.Request, limit int64) *http.Request {
	limited := limit > 0 && r.ContentLength < 0
	if !hasBody(r) || (h.bodyIdle <= 0 && !limited) {
		return r
	}
	b := &x.body
	b.ReadCloser = r.Body
	if h.bodyIdle > 0 {
		b.w, b.idle = w, h.bodyIdle
	}
	if limited {
		b.ReadCloser = http.MaxBytesReader(w, r.Body, limit)
		var ctx context.Context
		ctx, b.cancel = context.WithCancelCause(r.Context())
		r = r.WithContext(ctx)
	}
	r.Body = b
	return r
}

// release frees what guardBody took.
func (b *guardedBody) release() {
	if b.cancel != nil {
		b.cancel(nil)
	}
}

// bodyStopped returns the reply for a request whose body was cut off by
// its guard, when w is the handler's recorder.
func bodyStopped(w http.ResponseWriter) (errorReply, bool) {
	rec, ok := w.(*recorder)
	if !ok {
		return errorReply{}, false
	}
	body := rec.in.Body
	if t, ok := body.(*teeBody); ok { // a shadowed request's body
		body = t.ReadCloser
	}
	b, ok := body.(*guardedBody)
	if !ok {
		return errorReply{}, false
	}
	return b.stopped()
}

// applyLimits gives every forwarder of g its route's max_body and the
// trusted proxies. g is not live yet; cfg is the configuration g's table
// was compiled from, whose routes are in the table's order.
func (h *Handler) applyLimits(g *generation, cfg *routing.Config) {
	for i := range g.routes {
		rf := &g.routes[i]
		var limit int64
		if i < len(cfg.Routes) && cfg.Routes[i].MaxBody != nil {
			limit = int64(*cfg.Routes[i].MaxBody)
		}
		for _, f := range []*forwarder{rf.legacy, rf.extracted} {
			if f != nil {
				f.maxBody, f.trusted = limit, h.trusted
			}
		}
	}
}
