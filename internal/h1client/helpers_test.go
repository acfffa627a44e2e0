package h1client

import (
	"github.com/strangler-proxy/strangler/internal/testwait"

	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests when any goroutine they started is
// still running once they are done: a server handler, or a connection the
// transport forgot to close.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitLimit bounds every wait for something that should happen promptly.
const waitLimit = 10 * time.Second

// serverConnLimit bounds how long a raw server's connection may live, so a
// hanging handler cannot outlast a broken test by much.
const serverConnLimit = 20 * time.Second

// okAnswer is a keep-alive answer with a two-byte body.
const okAnswer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

// errFallback is what a fallback that does not connect answers with.
var errFallback = errors.New("fallback called")

// countingDialer dials with a real net.Dialer and counts the dials.
type countingDialer struct{ n atomic.Int32 }

func (d *countingDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d.n.Add(1)
	return (&net.Dialer{}).DialContext(ctx, network, addr)
}

func (d *countingDialer) count() int { return int(d.n.Load()) }

// countingRT is a fallback that counts the requests it gets and passes them
// to next, or fails them with err when next is nil.
type countingRT struct {
	n         atomic.Int32
	closeIdle atomic.Int32
	next      http.RoundTripper
	err       error
}

func (c *countingRT) RoundTrip(req *http.Request) (*http.Response, error) {
	c.n.Add(1)
	if c.next == nil {
		return nil, c.err
	}
	return c.next.RoundTrip(req)
}

func (c *countingRT) CloseIdleConnections() {
	c.closeIdle.Add(1)
	if ci, ok := c.next.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// newTransport returns a Transport built as production builds it, dialing
// through d, and closes it when the test ends. Tests adjust its settings
// before the first request.
func newTransport(t *testing.T, d *countingDialer) *Transport {
	t.Helper()
	tr := &Transport{
		Fallback: &http.Transport{
			ForceAttemptHTTP2:  false,
			DisableCompression: true,
		},
		Dial:                  d.DialContext,
		MaxIdlePerHost:        4,
		IdleTimeout:           time.Minute,
		ResponseHeaderTimeout: waitLimit,
	}
	t.Cleanup(tr.Close)
	return tr
}

// newRequest returns a bodyless request as a proxy would forward it.
func newRequest(t *testing.T, ctx context.Context, method, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// fetch sends a request through rt, reads the body to its end and closes
// it. It fails the test on any error.
func fetch(t *testing.T, rt http.RoundTripper, method, url string) (*http.Response, string) {
	t.Helper()
	resp, body, err := tryFetch(rt, newRequest(t, t.Context(), method, url))
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return resp, body
}

// tryFetch is fetch for any goroutine: it returns the error instead.
func tryFetch(rt http.RoundTripper, req *http.Request) (*http.Response, string, error) {
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return nil, "", err
	}
	b, err := io.ReadAll(resp.Body)
	if cerr := resp.Body.Close(); err == nil {
		err = cerr
	}
	return resp, string(b), err
}

// countedServer is an httptest server that counts the connections it
// opened and closed.
type countedServer struct {
	*httptest.Server
	opened, closed atomic.Int32
}

func newCountedServer(t *testing.T, h http.HandlerFunc) *countedServer {
	t.Helper()
	s := &countedServer{Server: httptest.NewUnstartedServer(h)}
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			s.opened.Add(1)
		case http.StateClosed, http.StateHijacked:
			s.closed.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// open is how many connections the server has open.
func (s *countedServer) open() int { return int(s.opened.Load() - s.closed.Load()) }

// rawServer accepts connections on 127.0.0.1 and hands each one, numbered
// from 1, to a handler that speaks exact bytes on the wire.
type rawServer struct {
	ln       net.Listener
	url      string
	accepted atomic.Int32
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    []net.Conn
	stopped  bool
}

// maxRawConns bounds how many connections a raw server accepts.
const maxRawConns = 64

func newRawServer(t *testing.T, handle func(n int, c net.Conn, br *bufio.Reader)) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawServer{ln: ln, url: "http://" + ln.Addr().String()}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for n := 1; n <= maxRawConns; n++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.accepted.Add(1)
			_ = c.SetDeadline(time.Now().Add(serverConnLimit))
			s.mu.Lock()
			if s.stopped {
				s.mu.Unlock()
				_ = c.Close()
				return
			}
			s.conns = append(s.conns, c)
			s.wg.Add(1)
			s.mu.Unlock()
			go func() {
				defer s.wg.Done()
				defer c.Close()
				handle(n, c, bufio.NewReader(c))
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		s.mu.Lock()
		s.stopped = true
		for _, c := range s.conns {
			_ = c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

func (s *rawServer) count() int { return int(s.accepted.Load()) }

// readRequest reads one request's head from br. Requests here have no body.
func readRequest(br *bufio.Reader) (*http.Request, error) {
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, err
	}
	_, err = io.Copy(io.Discard, req.Body)
	return req, err
}

// serveKeepAlive answers every request on c with answer, until the client
// closes the connection or maxRequests have been served.
func serveKeepAlive(c net.Conn, br *bufio.Reader, answer string) {
	const maxRequests = 1000
	for range maxRequests {
		if _, err := readRequest(br); err != nil {
			return
		}
		if _, err := io.WriteString(c, answer); err != nil {
			return
		}
	}
}

// awaitClose blocks until the client closes c (or the server's own bound
// ends it) and reports whether it was the client's close: EOF or reset.
func awaitClose(br *bufio.Reader) bool {
	_, err := io.Copy(io.Discard, br)
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout()) && !errors.Is(err, net.ErrClosed)
}

// eventually polls cond until it holds, failing the test after waitLimit.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", waitLimit, what)
		}
		<-tick.C
	}
}

// recv waits for a value on ch for at most waitLimit.
func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	return testwait.Recv(t, ch, waitLimit, what)
}

// wantCanceled checks that what (a RoundTrip or a body Read) ended soon
// after the cancel at start with context.Canceled, and that the client
// closed its connection.
func wantCanceled(t *testing.T, what string, err error, start time.Time, clientClosed <-chan bool) {
	t.Helper()
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("%s returned %s after the cancel", what, el)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("%s error = %v, want context.Canceled", what, err)
	}
	if !recv(t, clientClosed, "the client to close the connection") {
		t.Error("the connection was not closed by the client")
	}
}
