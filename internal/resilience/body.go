package resilience

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
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
// The timer (time.AfterFunc: no goroutine waits on it) is an idleTimer
// taken from a pool on the first Read and stopped after every Read; it
// goes back to the pool when the body ends, so a response costs no timer
// allocation, and a read none at all.
type body struct {
	rc   io.ReadCloser
	ctx  context.Context // inbound request context
	u    *Upstream
	t    *target
	done doneFunc
	o    outcome // from the status line

	idle time.Duration // 0: no idle deadline (event streams, upgrades)
	// timer is the body's idleTimer between two Reads: nil before the
	// first Read, while a Read holds it, and once it went back to the
	// pool or was given up. Read and Close take it with Swap, so only one
	// of them ever owns it.
	timer atomic.Pointer[idleTimer]

	timedOut atomic.Bool // the idle deadline fired
	failed   atomic.Bool // the body broke while the client was still there
	spill    bool        // a Spillover request: passive health ignores it
	released atomic.Bool
}

// upgradeBody is the body of a 101 Switching Protocols response, which
// httputil.ReverseProxy requires to be writable. The slot is held until the
// upgraded connection is closed.
type upgradeBody struct{ *body }

// Write writes to the upgraded connection.
func (b upgradeBody) Write(p []byte) (int, error) { return b.rc.(io.Writer).Write(p) }

func (u *Upstream) newBody(ctx context.Context, resp *http.Response, t *target, done doneFunc, o outcome, spill bool) io.ReadCloser {
	b := &body{rc: resp.Body, ctx: ctx, u: u, t: t, done: done, o: o, spill: spill}
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
	var it *idleTimer
	if b.idle > 0 && !b.released.Load() {
		if it = b.timer.Swap(nil); it == nil {
			it = getIdleTimer(b)
		}
		it.t.Reset(b.idle)
	}
	n, err := b.rc.Read(p)
	if it != nil {
		if it.t.Stop() {
			if err != nil || b.released.Load() {
				putIdleTimer(it) // the body is over
			} else {
				b.timer.Store(it) // for the next Read, or for Close
			}
		}
		// Otherwise the timer fired and its callback may still be running:
		// the idleTimer is given up, never reused for another body.
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

// idleTimer is the idle deadline's timer, reusable across bodies: its
// callback is bound once, when the timer is made, and reaches the body
// it currently serves through an atomic pointer, cleared before the timer
// goes back to the pool. A timer returns to the pool only when it never
// fired while it served its body (every Stop succeeded), so no callback
// of an earlier body can be pending or running when it serves the next.
type idleTimer struct {
	t    *time.Timer
	body atomic.Pointer[body]
}

var idleTimers = sync.Pool{New: func() any {
	it := new(idleTimer)
	it.t = time.AfterFunc(time.Hour, it.fire)
	it.t.Stop()
	return it
}}

// getIdleTimer returns a stopped idleTimer serving b.
func getIdleTimer(b *body) *idleTimer {
	it := idleTimers.Get().(*idleTimer)
	it.body.Store(b)
	return it
}

// putIdleTimer returns a stopped idleTimer, whose callback never ran for
// its body, to the pool.
func putIdleTimer(it *idleTimer) {
	it.body.Store(nil)
	idleTimers.Put(it)
}

func (it *idleTimer) fire() {
	if b := it.body.Load(); b != nil {
		b.expire()
	}
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
// The idle timer goes back to the pool here unless a Read holds it (a
// Close that aborts a Read from another goroutine): that Read returns it.
func (b *body) Close() error {
	err := b.rc.Close()
	b.release()
	if it := b.timer.Swap(nil); it != nil {
		putIdleTimer(it) // stopped by the Read that stored it
	}
	return err
}

func (b *body) release() {
	if !b.released.CompareAndSwap(false, true) {
		return
	}
	o := b.o
	if b.failed.Load() && o != outcomeFailure {
		o = outcomeFailure
		if !b.spill {
			b.u.balancer.observe(b.t, o)
		}
	}
	b.u.balancer.done(b.t)
	b.done(o.err())
	b.u.bulkhead.release()
}
