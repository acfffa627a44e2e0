package h1client

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// TestPortlessURLDialsPort80 proves an upstream URL without a port is
// dialed on port 80, as net/http does.
func TestPortlessURLDialsPort80(t *testing.T) {
	errNoDial := errors.New("not dialing")
	for _, tc := range []struct{ url, want string }{
		{"http://legacy.internal/x", "legacy.internal:80"},
		{"http://[::1]/x", "[::1]:80"},
		{"http://127.0.0.1:9001/x", "127.0.0.1:9001"},
	} {
		var got string
		tr := newTransport(t, &countingDialer{})
		tr.Dial = func(_ context.Context, _, addr string) (net.Conn, error) {
			got = addr
			return nil, errNoDial
		}
		if _, err := tr.RoundTrip(newRequest(t, t.Context(), http.MethodGet, tc.url)); !errors.Is(err, errNoDial) {
			t.Fatalf("GET %s: %v, want the dialer's error", tc.url, err)
		}
		if got != tc.want {
			t.Errorf("GET %s dialed %q, want %q", tc.url, got, tc.want)
		}
	}
}

// cancelOnWrite is a connection whose first Write ends the request's
// context and returns only once the transport's abort has set a deadline:
// the cancel lands between writing the request and arming the header
// timeout, the narrowest window there is.
type cancelOnWrite struct {
	net.Conn
	cancel  context.CancelFunc
	once    sync.Once
	aborted chan struct{}
}

func (c *cancelOnWrite) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.once.Do(func() {
		c.cancel()
		select {
		case <-c.aborted:
		case <-time.After(waitLimit):
		}
	})
	return n, err
}

func (c *cancelOnWrite) SetDeadline(t time.Time) error {
	err := c.Conn.SetDeadline(t)
	select {
	case c.aborted <- struct{}{}:
	default:
	}
	return err
}

// TestCancelBeforeHeaderTimeoutArmed proves a cancel that arrives just
// before the header timeout is armed still ends the wait at once, not when
// the (long) timeout runs out.
func TestCancelBeforeHeaderTimeoutArmed(t *testing.T) {
	srv, _, clientClosed := hangingServer(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	tr := newTransport(t, &countingDialer{})
	tr.ResponseHeaderTimeout = time.Minute
	tr.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &cancelOnWrite{Conn: nc, cancel: cancel, aborted: make(chan struct{}, 1)}, nil
	}

	start := time.Now()
	_, err := tr.RoundTrip(newRequest(t, ctx, http.MethodGet, srv.url))
	wantCanceled(t, "RoundTrip", err, start, clientClosed)
}

// TestIdle408Retried proves a 408 an upstream sent on a pooled connection
// before closing it for idleness is not taken as the next request's
// answer: the request goes again on a fresh connection. (The idle check
// sees the 408 before the request is sent; TestStaleAfterTheIdleCheck
// covers a 408 that comes only once the request is on its way.)
func TestIdle408Retried(t *testing.T) {
	pooled, said408 := make(chan struct{}), make(chan struct{})
	srv := newRawServer(t, func(n int, c net.Conn, br *bufio.Reader) {
		if n == 1 {
			if _, err := readRequest(br); err == nil {
				io.WriteString(c, okAnswer)
			}
			select { // the 408 comes once the connection is idle in the pool
			case <-pooled:
			case <-time.After(waitLimit):
			}
			// The connection stays open after the 408, so that the next
			// request is written and only the answer tells.
			io.WriteString(c, "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
			close(said408)
			awaitClose(br)
			return
		}
		serveKeepAlive(c, br, okAnswer)
	})
	d := &countingDialer{}
	tr := newTransport(t, d)

	fetch(t, tr, http.MethodGet, srv.url+"/first")
	close(pooled)
	recv(t, said408, "the server's 408")
	resp, body := fetch(t, tr, http.MethodGet, srv.url+"/second")
	if resp.StatusCode != http.StatusOK || body != "ok" {
		t.Errorf("GET after an idle 408: %d %q, want 200 \"ok\"", resp.StatusCode, body)
	}
	if d.count() != 2 {
		t.Errorf("dials = %d, want 2", d.count())
	}
}
