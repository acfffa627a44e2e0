package proxy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of the client limits in Options.
const (
	// DefaultMaxURIBytes bounds the request target (path and query) a
	// client may send; longer ones get 414.
	DefaultMaxURIBytes = 8 << 10
	// DefaultBodyReadTimeout is how long a request body may stay silent
	// before the request is cut off with 408.
	DefaultBodyReadTimeout = 30 * time.Second
	// DefaultWriteTimeout is how long one write of an answer to a client
	// may block before the client is cut off (nginx's send_timeout).
	DefaultWriteTimeout = 60 * time.Second
	// DefaultBodyMinRate is the slowest average rate, in bytes per second,
	// at which a client may send a request body once its grace period is
	// over; slower bodies are cut off with 408. It is Kestrel's (and so
	// YARP's) MinRequestBodyDataRate: about a 2 kbit/s modem, forty
	// times below a poor mobile link, so no real uploader comes near it,
	// while a client that trickles a byte now and then to hold a
	// connection and an upstream slot is cut off within seconds.
	DefaultBodyMinRate = 240
	// DefaultBodyMinRateGrace is how long a body is read before
	// DefaultBodyMinRate applies (Kestrel's grace period), so that a slow
	// start (TCP slow start, a client waking its radio) is forgiven.
	DefaultBodyMinRateGrace = 5 * time.Second
)

// maxRateWait caps the time left before the minimum data rate's deadline
// of one read, so that the deadline arithmetic cannot overflow on a huge
// body. It caps what is left, not the total: a body that has been sent
// at the rate for longer than this still gets a deadline in the future.
const maxRateWait = 24 * time.Hour

// Why a guarded body stopped: the route's max_body was passed, the client
// stopped sending for longer than the body read timeout, it sent slower
// than the minimum data rate, or it sent something that is not a body (a
// malformed chunk).
var (
	errBodyTooLarge  = errors.New("request body larger than the route's max_body")
	errBodyTimeout   = errors.New("request body stalled past the body read timeout")
	errBodyTooSlow   = errors.New("request body sent slower than the minimum data rate")
	errBodyMalformed = errors.New("malformed request body")
)

// guardedBody wraps a client's request body. Each read gets a fresh read
// deadline, so a client that trickles its body is cut off once it pauses
// for longer than idle, however long the body. With a minimum data rate,
// a client that keeps sending, but too slowly, is cut off too: once it
// has been waited for longer than the grace period, the average rate
// since the body started must stay at or above minRate. The rate's clock
// runs only while a read waits for the client, as Kestrel's does, so that
// an upstream that reads slowly (back pressure) is not blamed on the
// client; and it needs no timer: the read deadline is the earlier of the
// idle one and the moment the average would fall below minRate. On a route
// with max_body, a body of unknown length is cut off past the limit.
// Whatever stops the body aborts the upstream request by cancelling the
// request's context, so that the breaker and retries see a client gone,
// not an upstream failure, and the client gets 408, 413 or 400 rather than
// a 502.
type guardedBody struct {
	io.ReadCloser
	w       http.ResponseWriter // the server's writer, for the connection's read deadline
	idle    time.Duration       // zero: no idle timeout
	minRate int64               // bytes per second; zero: no minimum data rate
	grace   time.Duration       // how long the client is waited for before minRate applies
	parent  context.Context     // the server's request context: done when the client hung up
	cancel  context.CancelCauseFunc
	tooSlow prometheus.Counter    // strangler_refused_requests_total{reason="body_too_slow"}
	why     atomic.Pointer[error] // errBodyTooLarge, errBodyTimeout, errBodyTooSlow or errBodyMalformed once stopped

	// Owned by the goroutine that reads the body.
	read     int64         // bytes read so far
	waited   time.Duration // time spent in reads waiting for the client
	rateDead bool          // the current read's deadline is the rate's, not the idle one
}

// Read reads from the client's body under the idle deadline, the minimum
// data rate and the limit.
func (b *guardedBody) Read(p []byte) (int, error) {
	if why := b.why.Load(); why != nil {
		return 0, *why
	}
	var began time.Time
	if b.idle > 0 || b.minRate > 0 {
		began = time.Now()
		_ = http.NewResponseController(b.w).SetReadDeadline(b.deadline(began))
	}
	n, err := b.ReadCloser.Read(p)
	b.read += int64(n)
	if b.minRate > 0 {
		b.waited += time.Since(began)
	}
	if err == nil {
		if b.minRate > 0 && b.waited > b.grace && float64(b.read) < float64(b.minRate)*b.waited.Seconds() {
			b.stop(&errBodyTooSlow)
			return n, errBodyTooSlow
		}
		return n, nil
	}
	if err == io.EOF {
		// Done: the connection must not time out while the response
		// streams (the server watches it for a hang-up from now on).
		if !began.IsZero() {
			_ = http.NewResponseController(b.w).SetReadDeadline(time.Time{})
		}
		return n, err
	}
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		b.stop(&errBodyTooLarge)
	case isTimeout(err) && b.rateDead:
		b.stop(&errBodyTooSlow)
	case isTimeout(err):
		b.stop(&errBodyTimeout)
	case b.parent.Err() != nil:
		return n, err // the client hung up: recorded as 499
	default:
		b.stop(&errBodyMalformed)
	}
	return n, *b.why.Load()
}

// deadline returns the read deadline of a read that begins at now: the
// idle timeout from now, or, when sooner, the moment the client's average
// rate would fall below minRate were nothing more to arrive. It records
// which of the two it chose.
func (b *guardedBody) deadline(now time.Time) time.Time {
	var d time.Time
	if b.idle > 0 {
		d = now.Add(b.idle)
	}
	b.rateDead = false
	if b.minRate > 0 {
		// Without more data the average stays at or above minRate until
		// the time waited reaches read/minRate, and it is not judged
		// before the grace period is over. What is left of that time is
		// worked out in seconds and capped, never the total: past a day
		// of uploading, a capped total would be behind the time waited.
		need := max(float64(b.read)/float64(b.minRate), b.grace.Seconds())
		left := min(need-b.waited.Seconds(), maxRateWait.Seconds())
		if r := now.Add(time.Duration(left * float64(time.Second))); d.IsZero() || r.Before(d) {
			d, b.rateDead = r, true
		}
	}
	return d
}

// stop records why the body stopped and aborts the upstream request. A
// body too slow is counted as a refusal here, before the client is
// answered.
func (b *guardedBody) stop(why *error) {
	b.why.Store(why)
	if why == &errBodyTooSlow && b.tooSlow != nil {
		b.tooSlow.Inc()
	}
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
	case *why == errBodyTooSlow:
		return replyBodyTooSlow, true
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
	b := &guardedBody{ReadCloser: r.Body, w: w, idle: h.bodyIdle, minRate: h.bodyMinRate, grace: h.bodyMinRateGrace,
		parent: r.Context(), tooSlow: h.bodyTooSlow}
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
