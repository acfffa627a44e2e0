package resilience

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// stallServer answers with headers and a first chunk of the body, then
// says nothing until the test ends. gone counts the requests whose
// connection strangler closed while they stalled.
type stallServer struct {
	*httptest.Server
	contentType string
	release     chan struct{}
	gone        atomic.Int64
}

const stallPrefix = "partial" // the 7 bytes sent before the stall

// raceEnabled is set by race_test.go under the race detector.
var raceEnabled bool

func newStallServer(t *testing.T, contentType string) *stallServer {
	s := &stallServer{contentType: contentType, release: make(chan struct{})}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", s.contentType)
		_, _ = io.WriteString(w, stallPrefix)
		_ = http.NewResponseController(w).Flush()
		select {
		case <-s.release:
		case <-r.Context().Done():
			s.gone.Add(1) // the proxy closed the connection
		}
	}))
	t.Cleanup(func() {
		close(s.release)
		s.Close()
	})
	return s
}

// outwaitIdle returns once more than timeout has passed since it was
// called, without a fixed sleep: it reads, through an upstream of r with
// that timeout, a body that stalls after its first bytes, and waits for
// the idle deadline to cut it.
func outwaitIdle(t *testing.T, r *Registry, timeout time.Duration) {
	t.Helper()
	stall := newStallServer(t, "text/plain")
	u, err := r.Acquire("clock-"+stall.Listener.Addr().String(), Settings{Targets: []string{stall.URL}, Timeout: timeout, Retry: noRetry})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := u.RoundTrip(newRequest(t, context.Background(), "GET", "/", nil))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if got := await(t, readAll(resp.Body), 50*timeout); !isTimeout(got.err) {
		t.Fatalf("stalled body: %q, %v; want it cut by the idle deadline", got.data, got.err)
	}
}

// readResult is what a body read in the background ended with.
type readResult struct {
	data string
	err  error
}

// readAll reads r to its end in the background.
func readAll(r io.Reader) <-chan readResult {
	ch := make(chan readResult, 1)
	go func() {
		b, err := io.ReadAll(r)
		ch <- readResult{string(b), err}
	}()
	return ch
}

// await returns the result of a background read, failing the test if it
// takes longer than limit: the stalled upstream would hold it forever.
func await(t *testing.T, ch <-chan readResult, limit time.Duration) readResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(limit):
		t.Fatalf("body read still blocked after %s: the idle deadline did not fire", limit)
		return readResult{}
	}
}

func TestStalledBodyIsCutAfterTimeout(t *testing.T) {
	const timeout = 200 * time.Millisecond
	srv := newStallServer(t, "application/json")
	r, _ := testRegistry(t, RegistryOptions{})
	u := acquire(t, r, Settings{Targets: []string{srv.URL}, Timeout: timeout, Retry: noRetry,
		Breaker:  BreakerSettings{ConsecutiveFailures: 100},
		Bulkhead: BulkheadSettings{MaxConcurrent: 1}})

	t.Run("direct", func(t *testing.T) {
		resp, err := u.RoundTrip(newRequest(t, context.Background(), "GET", "/", nil))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if b := u.Status().Bulkhead; b.InFlight != 1 {
			t.Fatalf("in flight while the body streams = %d, want 1", b.InFlight)
		}
		got := await(t, readAll(resp.Body), 20*timeout)
		if got.data != stallPrefix || !errors.Is(got.err, os.ErrDeadlineExceeded) || !isTimeout(got.err) {
			t.Fatalf("read %q, %v; want %q then a timeout", got.data, got.err, stallPrefix)
		}
		if !strings.HasPrefix(got.err.Error(), "upstream orders: ") {
			t.Errorf("error %q does not name the upstream", got.err)
		}
		st := u.Status()
		if st.Breaker.Failures != 1 || st.Breaker.Successes != 0 {
			t.Errorf("breaker = %+v, want the stalled body counted as one failure", st.Breaker)
		}
		if st.Bulkhead.InFlight != 0 || st.Targets[0].InFlight != 0 {
			t.Errorf("after the cut: bulkhead %d, target %d in flight; want both released", st.Bulkhead.InFlight, st.Targets[0].InFlight)
		}
		eventually(t, "the upstream connection closed", func() bool { return srv.gone.Load() == 1 })
	})

	t.Run("behind a reverse proxy", func(t *testing.T) {
		f := frontend(t, u)
		res, err := http.Get(f.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("status %d, want the upstream's 200 (headers came in time)", res.StatusCode)
		}
		got := await(t, readAll(res.Body), 20*timeout)
		if got.err == nil {
			t.Fatalf("client read %q and a clean end; want its connection aborted", got.data)
		}
		eventually(t, "the slot released and the failure counted", func() bool {
			st := u.Status()
			return st.Bulkhead.InFlight == 0 && st.Breaker.Failures == 2
		})
		eventually(t, "the upstream connection closed", func() bool { return srv.gone.Load() == 2 })
		// The one slot is free: the next request gets it at once.
		resp, err := u.RoundTrip(newRequest(t, context.Background(), "GET", "/", nil))
		if err != nil {
			t.Fatalf("next request after the cut: %v, want the slot back", err)
		}
		_ = resp.Body.Close()
	})
}

// TestQuietStreamsAreNotCut checks that an event stream and an upgraded
// connection may stay silent for longer than timeout. A stalled ordinary
// body, started after them, is the clock: once it has been cut, they have
// been quiet for longer than timeout.
func TestQuietStreamsAreNotCut(t *testing.T) {
	const timeout = 200 * time.Millisecond
	r, _ := testRegistry(t, RegistryOptions{})
	settings := func(url string) Settings {
		return Settings{Targets: []string{url}, Timeout: timeout, Retry: noRetry}
	}

	// An event stream: one event, then silence until the test says.
	next := make(chan struct{})
	events := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
		_, _ = io.WriteString(w, "data: 1\n\n")
		_ = http.NewResponseController(w).Flush()
		select {
		case <-next:
			_, _ = io.WriteString(w, "data: 2\n\n")
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(events.Close)
	sse, err := r.Acquire("events", settings(events.URL))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := sse.RoundTrip(newRequest(t, context.Background(), "GET", "/", nil))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	if line, err := br.ReadString('\n'); line != "data: 1\n" || err != nil {
		t.Fatalf("first event = %q, %v", line, err)
	}
	streamErr := make(chan error, 1)
	go func() {
		_, _ = br.ReadString('\n') // the blank line after event 1
		line, err := br.ReadString('\n')
		if err == nil && line != "data: 2\n" {
			err = errors.New("second event = " + line)
		}
		streamErr <- err
	}()

	// An upgraded connection that echoes lines.
	echo := httptest.NewServer(http.HandlerFunc(echoUpgrade))
	t.Cleanup(echo.Close)
	ws, err := r.Acquire("ws", settings(echo.URL))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", strings.TrimPrefix(frontend(t, ws).URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, _ = io.WriteString(conn, "GET /ws HTTP/1.1\r\nHost: shop\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	cr := bufio.NewReader(conn)
	if res, err := http.ReadResponse(cr, nil); err != nil || res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade = %v, %v; want 101", res, err)
	}

	outwaitIdle(t, r, timeout)

	// Both streams have now been quiet for longer than timeout.
	select {
	case err := <-streamErr:
		t.Fatalf("event stream ended while quiet: %v", err)
	default:
	}
	if st := sse.Status(); st.Breaker.Failures != 0 || st.Bulkhead.InFlight != 1 {
		t.Fatalf("event stream: breaker %+v, %d in flight; want no failure and the stream still open", st.Breaker, st.Bulkhead.InFlight)
	}
	close(next)
	select {
	case err := <-streamErr:
		if err != nil {
			t.Fatalf("event after the quiet spell: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("second event never arrived")
	}
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	_, _ = io.WriteString(conn, "ping\n")
	if line, err := cr.ReadString('\n'); err != nil || line != "ping\n" {
		t.Fatalf("upgraded connection after the quiet spell: %q, %v; want the echo", line, err)
	}
	if st := ws.Status(); st.Breaker.Failures != 0 || st.Bulkhead.InFlight != 1 {
		t.Fatalf("upgraded connection: breaker %+v, %d in flight; want no failure and the connection open", st.Breaker, st.Bulkhead.InFlight)
	}
}

// TestIdleDeadlineAllocatesNoTimer checks that the idle deadline of a
// response body costs no allocation: a body under the deadline allocates
// no more than an event stream, which has none. Its timer comes from a
// pool and goes back to it whether the body is read to its end or closed
// before.
func TestIdleDeadlineAllocatesNoTimer(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items at random")
	}
	plain := http.Header{"Content-Type": {"application/json"}}
	events := http.Header{"Content-Type": {"text/event-stream"}}
	fake := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		h := plain
		if r.URL.Path == "/events" {
			h = events
		}
		return &http.Response{StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: h, Body: io.NopCloser(strings.NewReader("a body of some bytes")), Request: r}, nil
	})
	r, _ := testRegistry(t, RegistryOptions{Transport: fake})
	u := acquire(t, r, Settings{Targets: []string{"http://10.0.0.1:8080"}, Timeout: time.Minute, Retry: noRetry})
	buf := make([]byte, 4)
	allocs := func(path string, toEOF bool) float64 {
		req := newRequest(t, context.Background(), "GET", path, nil)
		return testing.AllocsPerRun(200, func() {
			resp, err := u.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			if toEOF {
				_, _ = io.CopyBuffer(io.Discard, struct{ io.Reader }{resp.Body}, buf)
			} else {
				_, _ = resp.Body.Read(buf)
			}
			_ = resp.Body.Close()
		})
	}
	for _, toEOF := range []bool{true, false} {
		quiet, deadline := allocs("/events", toEOF), allocs("/", toEOF)
		if deadline > quiet {
			t.Errorf("read to EOF %t: %v allocations per response under the idle deadline, %v without: want no more",
				toEOF, deadline, quiet)
		}
	}
	if st := u.Status(); st.Breaker.Failures != 0 || st.Bulkhead.InFlight != 0 {
		t.Errorf("breaker %+v, %d in flight; want no failure and nothing held", st.Breaker, st.Bulkhead.InFlight)
	}
}

// TestIdleTimerServesOneBodyAtATime checks that a pooled idle timer, once
// back in the pool, never cuts the body it served: bodies closed early or
// read to their end, then a body read with pauses longer than the timeout
// between reads (a slow client, not a silent upstream), which must stay
// whole; a stalled body after them is still cut.
func TestIdleTimerServesOneBodyAtATime(t *testing.T) {
	const timeout = 100 * time.Millisecond
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for range 3 {
			_, _ = io.WriteString(w, "chunk")
			_ = http.NewResponseController(w).Flush()
		}
	}))
	t.Cleanup(srv.Close)
	r, _ := testRegistry(t, RegistryOptions{})
	u := acquire(t, r, Settings{Targets: []string{srv.URL}, Timeout: timeout, Retry: noRetry,
		Breaker: BreakerSettings{ConsecutiveFailures: 100}})
	for i := range 20 {
		resp, err := u.RoundTrip(newRequest(t, context.Background(), "GET", "/", nil))
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			_, _ = resp.Body.Read(make([]byte, 1)) // closed before its end
		} else if b, err := io.ReadAll(resp.Body); err != nil || string(b) != "chunkchunkchunk" {
			t.Fatalf("body %d: %q, %v", i, b, err)
		}
		_ = resp.Body.Close()
	}
	resp, err := u.RoundTrip(newRequest(t, context.Background(), "GET", "/", nil))
	if err != nil {
		t.Fatal(err)
	}
	var got []byte
	p := make([]byte, 5)
	for {
		n, err := resp.Body.Read(p)
		got = append(got, p[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("slowly read body: %q then %v; want it whole", got, err)
		}
		outwaitIdle(t, r, timeout) // the client is slow, not the upstream
	}
	_ = resp.Body.Close()
	if string(got) != "chunkchunkchunk" {
		t.Fatalf("slowly read body = %q", got)
	}
	if st := u.Status(); st.Breaker.Failures != 0 || st.Bulkhead.InFlight != 0 {
		t.Fatalf("breaker %+v, %d in flight; want no failure and nothing held", st.Breaker, st.Bulkhead.InFlight)
	}

	stall := newStallServer(t, "text/plain")
	s, err := r.Acquire("stall", Settings{Targets: []string{stall.URL}, Timeout: timeout, Retry: noRetry})
	if err != nil {
		t.Fatal(err)
	}
	sresp, err := s.RoundTrip(newRequest(t, context.Background(), "GET", "/", nil))
	if err != nil {
		t.Fatal(err)
	}
	defer sresp.Body.Close()
	if got := await(t, readAll(sresp.Body), 50*timeout); !isTimeout(got.err) {
		t.Fatalf("stalled body after the pooled timers: %q, %v; want it cut", got.data, got.err)
	}
}
