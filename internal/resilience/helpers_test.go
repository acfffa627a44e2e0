package resilience

import (
	"github.com/strangler-proxy/strangler/internal/testwait"

	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// mode is what a faultServer does with the next request.
type mode int32

const (
	modeOK     mode = iota // 200 "ok"
	modeBlock              // wait for release (or the request's context), then 200
	modeHang               // wait for the request's context only
	modeDrop               // hijack and close the connection without answering
	modeStatus             // answer with server.status
)

// faultServer is an httptest server on 127.0.0.1 that fails on demand and
// counts what it sees.
type faultServer struct {
	*httptest.Server
	mode    atomic.Int32
	status  atomic.Int32
	health  atomic.Int32 // status of /health; 0 means 200
	hits    atomic.Int64 // requests except /health
	checks  atomic.Int64 // /health requests
	cur     atomic.Int64
	maxSeen atomic.Int64
	// plan, if set, overrides mode for the first requests (one entry each).
	mu      sync.Mutex
	plan    []func(w http.ResponseWriter, r *http.Request)
	release chan struct{}
	seen    []*http.Request
	bodies  []string
}

func newFaultServer(t *testing.T) *faultServer {
	t.Helper()
	s := &faultServer{release: make(chan struct{})}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		s.unblock()
		s.Close()
	})
	return s
}

func (s *faultServer) setMode(m mode)  { s.mode.Store(int32(m)) }
func (s *faultServer) setStatus(c int) { s.status.Store(int32(c)); s.setMode(modeStatus) }

// unblock releases every blocked and future modeBlock request.
func (s *faultServer) unblock() {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.release:
	default:
		close(s.release)
	}
}

// reblock makes modeBlock requests wait again after unblock.
func (s *faultServer) reblock() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.release = make(chan struct{})
}

// then queues handlers for the next requests, before mode applies.
func (s *faultServer) then(h ...func(w http.ResponseWriter, r *http.Request)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.plan = append(s.plan, h...)
}

func status(code int) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(code)
		_, _ = io.WriteString(w, "failure body")
	}
}

func (s *faultServer) serve(w http.ResponseWriter, r *http.Request) {
	if strings.HasSuffix(r.URL.Path, "/health") {
		s.checks.Add(1)
		if c := s.health.Load(); c != 0 {
			w.WriteHeader(int(c))
		}
		return
	}
	b, _ := io.ReadAll(r.Body)
	s.hits.Add(1)
	n := s.cur.Add(1)
	defer s.cur.Add(-1)
	for {
		m := s.maxSeen.Load()
		if n <= m || s.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	s.mu.Lock()
	s.seen = append(s.seen, r)
	s.bodies = append(s.bodies, string(b))
	var h func(http.ResponseWriter, *http.Request)
	if len(s.plan) > 0 {
		h, s.plan = s.plan[0], s.plan[1:]
	}
	release := s.release
	s.mu.Unlock()
	if h != nil {
		h(w, r)
		return
	}
	switch mode(s.mode.Load()) {
	case modeBlock:
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
	case modeHang:
		<-r.Context().Done()
		return
	case modeDrop:
		drop(w)
		return
	case modeStatus:
		status(int(s.status.Load()))(w, r)
		return
	}
	_, _ = io.WriteString(w, "ok")
}

func drop(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		_ = conn.Close()
	}
}

// lastRequest returns the last request the server saw (not /health).
func (s *faultServer) lastRequest() (*http.Request, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.seen) == 0 {
		return nil, ""
	}
	return s.seen[len(s.seen)-1], s.bodies[len(s.bodies)-1]
}

// deadURL returns a URL on 127.0.0.1 where nothing listens.
func deadURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return "http://" + addr
}

// testRegistry returns a Registry on a fresh pedantic Prometheus registry.
func testRegistry(t *testing.T, o RegistryOptions) (*Registry, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	o.Registerer = reg
	r, err := NewRegistry(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r, reg
}

// acquire builds an upstream "orders" or fails the test.
func acquire(t *testing.T, r *Registry, s Settings) *Upstream {
	t.Helper()
	u, err := r.Acquire("orders", s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// placeholder is the scheme and host the proxy's Rewrite leaves on requests.
const placeholder = "http://upstream.invalid"

func newRequest(t testing.TB, ctx context.Context, method, path string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, placeholder+path, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// do sends one request through u and returns the status and body (the body
// is read to EOF and closed), or the error.
func do(t testing.TB, u *Upstream, method, path string) (int, string, error) {
	t.Helper()
	return doReq(u, newRequest(t, context.Background(), method, path, nil))
}

func doReq(u *Upstream, req *http.Request) (int, string, error) {
	resp, err := u.RoundTrip(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// eventually polls cond until it holds or a deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if !poll(cond) {
		t.Fatalf("timed out waiting for %s", what)
	}
}

// waitLimit bounds every wait of these tests for something that should
// happen promptly.
const waitLimit = 10 * time.Second

// recv receives a value from ch, failing the test when none comes within
// waitLimit. Not for synctest bubbles, where a blocked receive is reported
// as a deadlock anyway.
func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	return testwait.Recv(t, ch, waitLimit, what)
}

// poll reports whether cond held within waitLimit. Usable from any
// goroutine.
func poll(cond func() bool) bool {
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond) // poll interval, not a wait for an outcome
	}
	return true
}

// fakeClock is a settable clock for the retry budget and passive cool-down.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// roundTripFunc adapts a function to http.RoundTripper.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func okResponse(r *http.Request) *http.Response {
	return &http.Response{
		StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{}, Body: io.NopCloser(strings.NewReader("ok")), Request: r,
	}
}

func wantErrIs(t *testing.T, err error, targets ...error) {
	t.Helper()
	for _, target := range targets {
		if !errors.Is(err, target) {
			t.Fatalf("error %v: errors.Is(%v) = false", err, target)
		}
	}
}

// noBreaker, noRetry are setting fragments used across tests.
var (
	noBreaker = BreakerSettings{Disabled: true}
	noRetry   = RetrySettings{Attempts: 1}
)

// echoUpgrade answers "Upgrade: echo" with 101 Switching Protocols and then
// echoes whatever the client sends; other requests get 426.
func echoUpgrade(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Upgrade") != "echo" {
		http.Error(w, "upgrade required", http.StatusUpgradeRequired)
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	_ = brw.Flush()
	_, _ = io.Copy(conn, brw)
}
