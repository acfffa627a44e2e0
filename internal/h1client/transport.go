package h1client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// Transport is an http.RoundTripper for plain-HTTP upstreams; see the
// package documentation for which requests it takes itself. The zero value
// is not usable: set Fallback and Dial.
type Transport struct {
	// Fallback carries every request Transport does not take itself.
	Fallback http.RoundTripper
	// Dial opens a new connection to addr ("host:port"). A connection is
	// kept for reuse only if it implements syscall.Conn (as *net.TCPConn
	// does) on a Unix system: there it can be checked, without reading
	// from it, for bytes that arrived while it was idle.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// MaxIdlePerHost is how many idle keep-alive connections are kept per
	// host. Zero keeps none.
	MaxIdlePerHost int
	// IdleTimeout is how long an idle connection may wait in the pool
	// before it is closed instead of used. Zero means no limit.
	IdleTimeout time.Duration
	// ResponseHeaderTimeout bounds the wait for the answer's status line
	// and headers once the request is written. Zero means no limit (the
	// request's context still applies).
	ResponseHeaderTimeout time.Duration
	// MaxResponseHeaderBytes bounds the bytes of an answer's heads: the
	// final one and any 1xx informational ones before it, together (a
	// Got1xxResponse trace does not reset it, as it does in net/http's
	// Transport). An answer that exceeds it fails the request and closes
	// the connection. Zero or less means the default, 10 MiB, as in
	// net/http's Transport.
	MaxResponseHeaderBytes int64

	mu     sync.Mutex
	idle   map[string][]*conn // per host, oldest first, most recently used last
	closed bool
	// sweep closes idle connections once they expire, so that they do not
	// outlive IdleTimeout when no request comes to look at the pool. It is
	// armed, for the oldest idle connection, only while some wait.
	sweep      *time.Timer
	sweepArmed bool
}

// RoundTrip sends req and returns the answer. The caller must read the
// body to its end or close it; only then is the connection reused.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !takes(req) {
		return t.Fallback.RoundTrip(req)
	}
	ctx := req.Context()
	host := dialAddress(req.URL)
	fresh := false
	for {
		c, err := t.get(ctx, host, fresh)
		if err != nil {
			return nil, err
		}
		resp, err := c.exchange(ctx, req, t.ResponseHeaderTimeout)
		if err == nil {
			return resp, nil
		}
		c.close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("round trip to %s: %w", host, context.Cause(ctx))
		}
		// A pooled connection the upstream closed while it sat idle fails
		// before any byte of an answer arrives. The request is safe to send
		// again, once, on a new connection.
		var stale *staleError
		if fresh || !c.reused || !errors.As(err, &stale) {
			return nil, fmt.Errorf("round trip to %s: %w", host, err)
		}
		// The connections that have waited longer than this one most
		// likely met the same end: close them rather than try each.
		t.closeIdleSince(host, c.idleSince)
		fresh = true
	}
}

// dialAddress is the host:port to dial for u, port 80 when u names none.
func dialAddress(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	return net.JoinHostPort(u.Hostname(), "80")
}

// takes reports whether req is one Transport sends itself: plain HTTP, no
// body, a method that may be sent twice, no upgrade and no 100-continue.
func takes(req *http.Request) bool {
	if req.URL.Scheme != "http" || req.Close {
		return false
	}
	if (req.Body != nil && req.Body != http.NoBody) || req.ContentLength != 0 ||
		len(req.TransferEncoding) > 0 || len(req.Trailer) > 0 {
		return false
	}
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
	default:
		return false
	}
	h := req.Header
	return len(h["Upgrade"]) == 0 && len(h["Expect"]) == 0
}

// maxHeaderBytes is MaxResponseHeaderBytes or its default.
func (t *Transport) maxHeaderBytes() int64 {
	if t.MaxResponseHeaderBytes > 0 {
		return t.MaxResponseHeaderBytes
	}
	return defaultMaxHeaderBytes
}

// get returns an idle connection to host, or a new one when there is none
// or fresh is set.
//
// An idle connection is used only if nothing has arrived on it since its
// last answer ended. Bytes there are an answer to no request (a late extra
// answer, a body after a HEAD, 204 or 304 answer) and would be read as the
// next request's answer, perhaps another client's; an end of file means
// the upstream has closed it. Either way it is closed, as net/http's
// Transport does, and the next idle one is tried.
func (t *Transport) get(ctx context.Context, host string, fresh bool) (*conn, error) {
	for !fresh {
		c := t.takeIdle(host)
		if c == nil {
			break
		}
		if c.idle.clean() {
			return c, nil
		}
		c.close()
	}
	nc, err := t.Dial(ctx, "tcp", host)
	if err != nil {
		return nil, err // a *net.OpError with Op "dial": callers recognise it
	}
	return newConn(t, host, nc), nil
}

// takeIdle pops the most recently used idle connection to host, closing the
// ones on top of it that waited IdleTimeout or longer.
func (t *Transport) takeIdle(host string) *conn {
	var expired []*conn
	t.mu.Lock()
	stack := t.idle[host]
	var c *conn
	for len(stack) > 0 {
		c = stack[len(stack)-1]
		stack[len(stack)-1] = nil
		stack = stack[:len(stack)-1]
		if !t.expired(c, time.Now()) {
			break
		}
		expired = append(expired, c)
		c = nil
	}
	if t.idle != nil {
		t.idle[host] = stack
	}
	t.mu.Unlock()
	closeAll(expired)
	return c
}

// closeIdleSince closes the idle connections to host that went idle at or
// before since.
func (t *Transport) closeIdleSince(host string, since time.Time) {
	t.mu.Lock()
	old := t.popOldestLocked(host, nil, func(c *conn) bool { return !c.idleSince.After(since) })
	t.mu.Unlock()
	closeAll(old)
}

// popOldestLocked removes from the bottom of host's stack the connections
// that match, oldest first, up to the first one that does not, and
// returns them appended to into. t.mu must be held.
func (t *Transport) popOldestLocked(host string, into []*conn, match func(*conn) bool) []*conn {
	stack := t.idle[host]
	n := 0
	for n < len(stack) && match(stack[n]) {
		n++
	}
	if n == 0 {
		return into
	}
	into = append(into, stack[:n]...)
	rest := copy(stack, stack[n:])
	clear(stack[rest:]) // no closed connection stays reachable from the array
	t.idle[host] = stack[:rest]
	return into
}

// sweepIdle runs on the sweep timer: it closes the idle connections that
// have expired and arms the timer again for the oldest one left.
func (t *Transport) sweepIdle() {
	now := time.Now()
	var old []*conn
	var oldest time.Time
	t.mu.Lock()
	t.sweepArmed = false
	for host := range t.idle {
		old = t.popOldestLocked(host, old, func(c *conn) bool { return t.expired(c, now) })
		if stack := t.idle[host]; len(stack) > 0 && (oldest.IsZero() || stack[0].idleSince.Before(oldest)) {
			oldest = stack[0].idleSince
		}
	}
	if !oldest.IsZero() {
		t.armSweepLocked(oldest.Add(t.IdleTimeout).Sub(now))
	}
	t.mu.Unlock()
	closeAll(old)
}

// armSweepLocked makes the sweep timer fire after d, unless it is already
// armed, the pool is closed or idle connections never expire. t.mu must be
// held.
func (t *Transport) armSweepLocked(d time.Duration) {
	if t.sweepArmed || t.closed || t.IdleTimeout <= 0 {
		return
	}
	t.sweepArmed = true
	if t.sweep == nil {
		t.sweep = time.AfterFunc(d, t.sweepIdle)
		return
	}
	t.sweep.Reset(d)
}

// expired reports whether c has waited in the pool for IdleTimeout or
// longer.
func (t *Transport) expired(c *conn, now time.Time) bool {
	return t.IdleTimeout > 0 && now.Sub(c.idleSince) >= t.IdleTimeout
}

// closeAll closes conns; callers call it after releasing t.mu.
func closeAll(conns []*conn) {
	for _, c := range conns {
		c.close()
	}
}

// putIdle returns c to the pool, or closes it when the pool is full or
// closed.
func (t *Transport) putIdle(c *conn) {
	c.idleSince = time.Now()
	c.reused = true
	t.mu.Lock()
	stack := t.idle[c.host]
	if t.closed || len(stack) >= t.MaxIdlePerHost {
		t.mu.Unlock()
		c.close()
		return
	}
	if t.idle == nil {
		t.idle = make(map[string][]*conn)
	}
	t.idle[c.host] = append(stack, c)
	t.armSweepLocked(t.IdleTimeout)
	t.mu.Unlock()
}

// CloseIdleConnections closes every idle connection, here and in the
// fallback transport. Connections in use return to the pool when their
// answers end, unless Close was called.
func (t *Transport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = nil
	t.mu.Unlock()
	for _, stack := range idle {
		closeAll(stack)
	}
	if ci, ok := t.Fallback.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// Close closes the idle connections and keeps any connection in use from
// returning to the pool.
func (t *Transport) Close() {
	t.mu.Lock()
	t.closed = true
	if t.sweep != nil {
		t.sweep.Stop()
	}
	t.mu.Unlock()
	t.CloseIdleConnections()
}

var _ http.RoundTripper = (*Transport)(nil)
