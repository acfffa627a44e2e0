package resilience

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// body wraps a response body so that the request's bulkhead slot, breaker
// verdict and target in-flight count are released exactly once, on Close or
// when Read reaches EOF or fails. A streaming response therefore holds its
// slot for as long as it streams.
//
// It also puts an idle deadline on the body: a Read that gets no data for
// idle (the upstream's Settings.Timeout) closes the upstream body, which
// closes its connection and wakes the Read; the Read then fails with an
// error matching os.ErrDeadlineExceeded (a net.Error whose Timeout is true),
// the request counts as a failure, and everything is released. The deadline
// only runs while a Read waits for the upstream, so a slow client that
// makes the proxy wait between two reads is not blamed on the upstream.
// One timer per response, made on the first Read and stopped after every
// Read (time.AfterFunc: no goroutine waits on it), costs no allocation per
// read.
type body struct {
	rc   io.ReadCloser
	ctx  context.Context // inbound request context
	u    *Upstream
	t    *target
	done doneFunc
	o    outcome // from the status line

	idle  time.Duration // 0: no idle deadline (event streams, upgrades)
	timer *time.Timer   // nil until the first Read; used by Read only

	timedOut atomic.Bool // the idle deadline fired
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
		return upgradeBody{b} // quiet for as long as both ends want
	}
	if resp.Body != http.NoBody && !isEventStream(resp.Header) {
		b.idle = u.settings.Timeout
	}
	return b
}

// isEventStream reports whether h announces server-sent events, a stream
// meant to stay open and quiet between events.
func isEventStream(h http.Header) bool {
	ct := h.Get("Content-Type")
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return strings.EqualFold(strings.TrimSpace(ct), "text/event-stream")
}

// Read reads from the upstream body under the idle deadline.
func (b *body) Read(p []byte) (int, error) {
	if b.idle > 0 {
		if b.timer == nil {
			b.timer = time.AfterFunc(b.idle, b.expire)
		} else {
			b.timer.Reset(b.idle)
		}
	}
	n, err := b.rc.Read(p)
	if b.timer != nil {
		b.timer.Stop()
	}
	if err != nil {
		switch {
		case err == io.EOF: // complete, even if the deadline fired just now
		case b.timedOut.Load():
			b.failed.Store(true)
			err = fmt.Errorf("upstream %s: response body silent for more than %s: %w", b.u.name, b.idle, os.ErrDeadlineExceeded)
		case b.ctx.Err() == nil:
			b.failed.Store(true)
		}
		b.release()
	}
	return n, err
}

// expire runs when a Read has waited idle for data: it closes the upstream
// body, which closes the connection and wakes the Read.
func (b *body) expire() {
	if b.released.Load() {
		return
	}
	b.timedOut.Store(true)
	_ = b.rc.Close()
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
