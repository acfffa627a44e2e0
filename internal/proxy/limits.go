package proxy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync/atomic"
	"time"
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

// Why a guarded body stopped: the route's max_body was passed, the client
// stopped sending for longer than the body read timeout, or it sent
// something that is not a body (a malformed chunk).
var (
	errBodyTooLarge  = errors.New("request body larger than the route's max_body")
	errBodyTimeout   = errors.New("request body stalled past the body read timeout")
	errBodyMalformed = errors.New("malformed request body")
)

// guardedBody wraps a client's request body. Each read gets a fresh read
// deadline, so a client that trickles its body is cut off once it pauses
// for longer than idle, however long the body. On a route with max_body,
// a body of unknown length is cut off past the limit. Whatever stops the
// body aborts the upstream request by cancelling the request's context,
// so that the breaker and retries see a client gone, not an upstream
// failure, and the client gets 408, 413 or 400 rather than a 502.
type guardedBody struct {
	io.ReadCloser
	w      http.ResponseWriter // the server's writer, for the connection's read deadline
	idle   time.Duration       // zero: no idle timeout
	parent context.Context     // the server's request context: done when the client hung up
	cancel context.CancelCauseFunc
	why    atomic.Pointer[error] // errBodyTooLarge, errBodyTimeout or errBodyMalformed once stopped
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
	if err == io.EOF {
		// Done: the connection must not time out while the response
		// streams (the server watches it for a hang-up from now on).
		if b.idle > 0 {
			_ = http.NewResponseController(b.w).SetReadDeadline(time.Time{})
		}
		return n, err
	}
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		b.stop(&errBodyTooLarge)
	case isTimeout(err):
		b.stop(&errBodyTimeout)
	case b.parent.Err() != nil:
		return n, err // the client hung up: recorded as 499
	default:
		b.stop(&errBodyMalformed)
	}
	return n, *b.why.Load()
}

// stop records why the body stopped and aborts the upstream request.
func (b *guardedBody) stop(why *error) {
	b.why.Store(why)
	b.cancel(*why)
}

// stopped returns the reply for a request whose body the guard cut off.
func (b *guardedBody) stopped() (errorReply, bool) {
	why := b.why.Load()
	switch {
	case why == nil:
		return errorReply{}, false
	case *why == errBodyTooLarge:
		return replyBodyTooLarge, true
	case *why == errBodyTimeout:
		return replyBodyTimeout, true
	default:
		return replyBadBody, true
	}
}

// guardBody puts the body of r, if it has one, under a guard with the
// route's limit (0: none). It returns the request to forward, which
// carries the guard's cancellable context, and the func that releases
// that context once the request is over. A request without a body is
// returned as it is, at no cost, with a nil release.
func (h *Handler) guardBody(w http.ResponseWriter, r *http.Request, limit int64) (*http.Request, func()) {
	if !hasBody(r) {
		return r, nil
	}
	b := &guardedBody{ReadCloser: r.Body, w: w, idle: h.bodyIdle, parent: r.Context()}
	if limit > 0 && r.ContentLength < 0 {
		// A declared length above the limit has been refused already.
		b.ReadCloser = http.MaxBytesReader(w, r.Body, limit)
	}
	var ctx context.Context
	ctx, b.cancel = context.WithCancelCause(r.Context())
	r = r.WithContext(ctx)
	r.Body = b
	return r, func() { b.cancel(nil) }
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
// trusted proxies. g is not live yet.
func (h *Handler) applyLimits(g *generation) {
	for _, r := range g.table.Routes {
		rf := &g.routes[r.Index]
		for _, f := range []*forwarder{rf.legacy, rf.extracted} {
			if f != nil {
				f.maxBody, f.trusted = r.MaxBody, h.trusted
			}
		}
	}
}

// ambiguousFraming reports whether r's framing is one a proxy in front of
// strangler might have read differently, so that the connection must not
// carry another request after it (RFC 9112, section 6.1): a chunked
// request, which may also have declared a Content-Length that the server
// dropped in favour of the chunks; and an HTTP/1.0 request without
// Content-Length, whose Transfer-Encoding the server ignored, leaving the
// chunks to be read as the next request. Go's server has already refused
// what it cannot frame at all: conflicting Content-Lengths, and any
// Transfer-Encoding but chunked.
func ambiguousFraming(r *http.Request) bool {
	if r.ProtoMajor != 1 {
		return false
	}
	if len(r.TransferEncoding) > 0 {
		return true
	}
	return r.ProtoMinor == 0 && r.ContentLength == 0 && r.Header["Content-Length"] == nil
}
