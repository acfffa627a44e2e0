package resilience

import (
	"context"
	"io"
	"net/http"
	"sync/atomic"
)

// body wraps a response body so that the request's bulkhead slot, breaker
// verdict and target in-flight count are released exactly once, on Close or
// when Read reaches EOF or fails. A streaming response therefore holds its
// slot for as long as it streams.
type body struct {
	rc   io.ReadCloser
	ctx  context.Context // inbound request context
	u    *Upstream
	t    *target
	done doneFunc
	o    outcome // from the status line

	failed   atomic.Bool // the body broke while the client was still there
	released atomic.Bool
}

// upgradeBody is the body of a 101 Switching Protocols response, which
// httputil.ReverseProxy requires to be writable. The slot is held until the
// upgraded connection is closed.
type upgradeBody struct{ *body }

// Write writes to the upgraded connection.
func (b upgradeBody) Write(p []byte) (int, error) { return b.rc.(io.Writer).Write(p) }

func (u *Upstream) newBody(ctx context.Context, resp *http.Response, t *target, done doneFunc, o outcome) io.ReadCloser {
	b := &body{rc: resp.Body, ctx: ctx, u: u, t: t, done: done, o: o}
	if _, ok := resp.Body.(io.Writer); ok && resp.StatusCode == http.StatusSwitchingProtocols {
		return upgradeBody{b}
	}
	return b
}

// Read reads from the upstream body.
func (b *body) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err != nil {
		if err != io.EOF && b.ctx.Err() == nil {
			b.failed.Store(true)
		}
		b.release()
	}
	return n, err
}

// Close closes the upstream body and releases the request's resources.
func (b *body) Close() error {
	err := b.rc.Close()
	b.release()
	return err
}

func (b *body) release() {
	if !b.released.CompareAndSwap(false, true) {
		return
	}
	o := b.o
	if b.failed.Load() && o != outcomeFailure {
		o = outcomeFailure
		b.u.balancer.observe(b.t, o)
	}
	b.u.balancer.done(b.t)
	b.done(o.err())
	b.u.bulkhead.release()
}
