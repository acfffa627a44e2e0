package resilience

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fastRetry retries without noticeable waiting.
var fastRetry = RetrySettings{Attempts: 3, Backoff: time.Microsecond, MaxBackoff: time.Microsecond}

func retries(u *Upstream, r retryReason) float64 { return testutil.ToFloat64(u.m.retries[r]) }

func TestRetryGetOn503(t *testing.T) {
	srv := newFaultServer(t)
	srv.then(status(http.StatusServiceUnavailable))
	r, _ := testRegistry(t, RegistryOptions{})
	u := acquire(t, r, Settings{Targets: []string{srv.URL}, Retry: fastRetry})

	code, body, err := do(t, u, "GET", "/")
	if code != 200 || body != "ok" || err != nil {
		t.Fatalf("GET = %d %q %v; want 200 ok", code, body, err)
	}
	if n := srv.hits.Load(); n != 2 {
		t.Fatalf("server saw %d requests, want 2", n)
	}
	if v := retries(u, reason503); v != 1 {
		t.Fatalf(`strangler_retries_total{reason="status_503"} = %v, want 1`, v)
	}
	if b := u.Status().Breaker; b.Failures != 0 || b.Successes != 1 {
		t.Fatalf("breaker saw %+v, want one success (the request's final outcome)", b)
	}
}

func TestRetryGetOnConnectionRefused(t *testing.T) {
	srv := newFaultServer(t)
	r, _ := testRegistry(t, RegistryOptions{})
	// The first pick is the first target: the dead one.
	u := acquire(t, r, Settings{Targets: []string{deadURL(t), srv.URL}, Retry: fastRetry})

	if code, _, err := do(t, u, "GET", "/"); code != 200 || err != nil {
		t.Fatalf("GET = %d, %v; want 200 from the live target", code, err)
	}
	if v := retries(u, reasonConnect); v != 1 {
		t.Fatalf(`strangler_retries_total{reason="connect_error"} = %v, want 1`, v)
	}

	t.Run("single dead target", func(t *testing.T) {
		u, err := r.Acquire("dead", Settings{Targets: []string{deadURL(t)}, Retry: fastRetry})
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = do(t, u, "GET", "/")
		wantErrIs(t, err, ErrNotSent)
		if !strings.HasPrefix(err.Error(), "upstream dead: connect: ") {
			t.Fatalf("error = %q, want it to start with the upstream name and action", err)
		}
		if v := retries(u, reasonConnect); v != 2 {
			t.Fatalf("connect retries = %v, want 2 (3 attempts)", v)
		}
	})
}

func TestDialErrorAfterAnEarlierAttemptIsNotErrNotSent(t *testing.T) {
	srv := newFaultServer(t)
	srv.setStatus(http.StatusServiceUnavailable)
	r, _ := testRegistry(t, RegistryOptions{})
	// First attempt: the live target answers 503; the retry goes to the dead one.
	u := acquire(t, r, Settings{Targets: []string{srv.URL, deadURL(t)}, Retry: RetrySettings{Attempts: 2, Backoff: time.Microsecond}})
	_, _, err := do(t, u, "GET", "/")
	if err == nil || errors.Is(err, ErrNotSent) {
		t.Fatalf("GET = %v; an earlier attempt reached the upstream, so it must not match ErrNotSent", err)
	}
	if srv.hits.Load() != 1 || retries(u, reason503) != 1 {
		t.Fatalf("hits %d, 503 retries %v; want 1 and 1", srv.hits.Load(), retries(u, reason503))
	}
}

func TestPostIsNeverRetriedAfterReachingUpstream(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    mode
	}{{"503", modeStatus}, {"connection dropped", modeDrop}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newFaultServer(t)
			srv.status.Store(http.StatusServiceUnavailable)
			srv.setMode(tc.m)
			r, _ := testRegistry(t, RegistryOptions{})
			u := acquire(t, r, Settings{Targets: []string{srv.URL}, Retry: fastRetry})

			req := newRequest(t, context.Background(), "POST", "/orders", strings.NewReader(`{"sku":1}`))
			code, _, err := doReq(u, req) // GetBody is set: only the method forbids the retry
			if n := srv.hits.Load(); n != 1 {
				t.Fatalf("server saw %d POSTs, want exactly 1 (got %d, %v)", n, code, err)
			}
			if tc.m == modeDrop && (err == nil || errors.Is(err, ErrNotSent)) {
				t.Fatalf("dropped POST error = %v; it reached the upstream, so not ErrNotSent", err)
			}
		})
	}
}

func TestRetryMethodsAndBodies(t *testing.T) {
	srv := newFaultServer(t)
	srv.setStatus(http.StatusBadGateway)
	r, _ := testRegistry(t, RegistryOptions{})
	u := acquire(t, r, Settings{Targets: []string{srv.URL}, Breaker: noBreaker,
		Retry: RetrySettings{Attempts: 2, Backoff: time.Microsecond, Methods: []string{"put"}}})

	t.Run("opted-in method with replayable body", func(t *testing.T) {
		before := srv.hits.Load()
		req := newRequest(t, context.Background(), "PUT", "/orders/1", strings.NewReader("payload"))
		if code, _, _ := doReq(u, req); code != http.StatusBadGateway {
			t.Fatalf("PUT = %d, want the last 502", code)
		}
		if n := srv.hits.Load() - before; n != 2 {
			t.Fatalf("server saw %d PUTs, want 2", n)
		}
		if _, b := srv.lastRequest(); b != "payload" {
			t.Fatalf("retried body = %q, want the full payload", b)
		}
	})
	t.Run("streamed body", func(t *testing.T) {
		before := srv.hits.Load()
		req := newRequest(t, context.Background(), "PUT", "/orders/1", io.MultiReader(strings.NewReader("stream")))
		req.GetBody = nil
		if code, _, _ := doReq(u, req); code != http.StatusBadGateway {
			t.Fatalf("PUT = %d, want 502", code)
		}
		if n := srv.hits.Load() - before; n != 1 {
			t.Fatalf("server saw %d streamed PUTs, want 1", n)
		}
	})
	t.Run("DELETE not opted in", func(t *testing.T) {
		before := srv.hits.Load()
		_, _, _ = do(t, u, "DELETE", "/orders/1")
		if n := srv.hits.Load() - before; n != 1 {
			t.Fatalf("server saw %d DELETEs, want 1", n)
		}
	})
}

func TestTimeoutIsNotRetried(t *testing.T) {
	srv := newFaultServer(t)
	// The first request gets no answer; any further one would get 200.
	srv.then(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	r, _ := testRegistry(t, RegistryOptions{})
	u := acquire(t, r, Settings{Targets: []string{srv.URL}, Timeout: 50 * time.Millisecond, Retry: fastRetry})

	_, _, err := do(t, u, "GET", "/")
	if err == nil || !isTimeout(err) || errors.Is(err, ErrNotSent) {
		t.Fatalf("GET = %v; want the timeout, not ErrNotSent (the upstream has the request)", err)
	}
	if n := srv.hits.Load(); n != 1 {
		t.Fatalf("server saw %d requests, want 1: a timeout is never retried", n)
	}
	for reason := retryReason(1); reason < numRetryReasons; reason++ {
		if v := retries(u, reason); v != 0 {
			t.Errorf("retries{reason=%q} = %v, want 0", reason, v)
		}
	}
	if b := u.Status().Breaker; b.Failures != 1 {
		t.Fatalf("breaker = %+v, want the timeout counted as one failure", b)
	}
}

func TestRetryOnConnectionResetBeforeAnswer(t *testing.T) {
	srv := newFaultServer(t)
	srv.then(func(w http.ResponseWriter, r *http.Request) { drop(w) })
	r, _ := testRegistry(t, RegistryOptions{})
	u := acquire(t, r, Settings{Targets: []string{srv.URL}, Retry: fastRetry})

	if code, body, err := do(t, u, "GET", "/"); code != 200 || body != "ok" || err != nil {
		t.Fatalf("GET = %d %q %v; want 200 ok on the retry", code, body, err)
	}
	if n := srv.hits.Load(); n != 2 {
		t.Fatalf("server saw %d requests, want 2", n)
	}
	if v := retries(u, reasonConnection); v != 1 {
		t.Fatalf(`retries{reason="connection_error"} = %v, want 1`, v)
	}
}

func TestRetryStopsAtBudgetDuringOutage(t *testing.T) {
	const requests = 50
	srv := newFaultServer(t)
	srv.setStatus(http.StatusServiceUnavailable)
	clock := newFakeClock() // frozen: every request is in the window
	r, _ := testRegistry(t, RegistryOptions{Now: clock.Now})
	u := acquire(t, r, Settings{Targets: []string{srv.URL}, Breaker: noBreaker,
		Retry: RetrySettings{Attempts: 3, Backoff: time.Microsecond, Budget: 0.2}})

	for range requests {
		if code, _, err := do(t, u, "GET", "/"); code != 503 || err != nil {
			t.Fatalf("GET = %d, %v; want 503", code, err)
		}
	}
	wantRetries := int64(requests*0.2) + budgetFloor
	if n := srv.hits.Load(); n != requests+wantRetries {
		t.Fatalf("server saw %d requests, want %d first attempts + %d retries", n, requests, wantRetries)
	}
	if v := retries(u, reason503); v != float64(wantRetries) {
		t.Fatalf("retries_total = %v, want %d", v, wantRetries)
	}
	if v := testutil.ToFloat64(u.m.budgetExhausted); v < requests-float64(wantRetries) {
		t.Fatalf("retry_budget_exhausted_total = %v, want at least %v", v, requests-float64(wantRetries))
	}
	if st := u.Status().Retry; st.BudgetRemaining != 0 || st.WindowRequests != requests {
		t.Fatalf("retry status = %+v, want 0 remaining, %d requests", st, requests)
	}

	// The window slides: ten seconds later the floor is available again.
	clock.Advance(budgetWindow)
	if st := u.Status().Retry; st.BudgetRemaining != budgetFloor || st.WindowRequests != 0 {
		t.Fatalf("retry status after the window = %+v, want %d remaining", st, budgetFloor)
	}
}

func TestRetryWithinDeadline(t *testing.T) {
	srv := newFaultServer(t)
	srv.setStatus(http.StatusServiceUnavailable)
	r, _ := testRegistry(t, RegistryOptions{})
	u := acquire(t, r, Settings{Targets: []string{srv.URL},
		Retry: RetrySettings{Attempts: 3, Backoff: time.Hour}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if code, _, err := doReq(u, newRequest(t, ctx, "GET", "/", nil)); code != 503 || err != nil {
		t.Fatalf("GET = %d, %v; want the 503 (backoff would pass the deadline)", code, err)
	}
	if n := srv.hits.Load(); n != 1 {
		t.Fatalf("server saw %d requests, want 1", n)
	}
}

func TestRetriedResponseBodyClosedBeforeRetry(t *testing.T) {
	srv := newFaultServer(t)
	srv.then(status(http.StatusServiceUnavailable), status(http.StatusBadGateway))
	var mu sync.Mutex
	var events []string
	log := func(e string) { mu.Lock(); events = append(events, e); mu.Unlock() }
	base := http.DefaultTransport.(*http.Transport).Clone()
	defer base.CloseIdleConnections()
	rt := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		log("send")
		resp, err := base.RoundTrip(req)
		if err == nil {
			resp.Body = closeHook{resp.Body, func() { log(fmt.Sprintf("close %d", resp.StatusCode)) }}
		}
		return resp, err
	})
	r, _ := testRegistry(t, RegistryOptions{Transport: rt})
	u := acquire(t, r, Settings{Targets: []string{srv.URL}, Retry: fastRetry})

	if code, _, err := do(t, u, "GET", "/"); code != 200 || err != nil {
		t.Fatalf("GET = %d, %v; want 200", code, err)
	}
	want := []string{"send", "close 503", "send", "close 502", "send", "close 200"}
	if !slices.Equal(events, want) {
		t.Fatalf("events = %q, want %q", events, want)
	}
	if v := retries(u, reason502); v != 1 {
		t.Fatalf("retries{status_502} = %v, want 1", v)
	}
}

type closeHook struct {
	io.ReadCloser
	hook func()
}

func (c closeHook) Close() error { c.hook(); return c.ReadCloser.Close() }

func TestRetryBackoff(t *testing.T) {
	r := retrier{s: RetrySettings{Backoff: 100 * time.Millisecond, MaxBackoff: time.Second}}
	for _, tc := range []struct {
		retry    int
		rnd      float64
		min, max time.Duration
	}{
		{1, 0, 50 * time.Millisecond, 50 * time.Millisecond},
		{1, 0.999999, 99 * time.Millisecond, 100 * time.Millisecond},
		{2, 0, 100 * time.Millisecond, 100 * time.Millisecond},
		{3, 0.5, 300 * time.Millisecond, 300 * time.Millisecond},
		{5, 0, 500 * time.Millisecond, 500 * time.Millisecond}, // capped at 1s
		{30, 0.999999, 999 * time.Millisecond, time.Second},
	} {
		r.rand = func() float64 { return tc.rnd }
		if d := r.delay(tc.retry); d < tc.min || d > tc.max {
			t.Errorf("delay(%d) with rand %v = %s, want in [%s, %s]", tc.retry, tc.rnd, d, tc.min, tc.max)
		}
	}
}

func TestIdempotent(t *testing.T) {
	s := Settings{Retry: RetrySettings{Methods: []string{"put"}}}.WithDefaults().Retry
	for m, want := range map[string]bool{"GET": true, "HEAD": true, "OPTIONS": true, "PUT": true, "POST": false, "DELETE": false, "PATCH": false} {
		if got := Idempotent(m, s); got != want {
			t.Errorf("Idempotent(%s) = %v, want %v", m, got, want)
		}
	}
}

// silentTLSServer accepts connections and never answers the TLS handshake.
// accepted counts the connections.
func silentTLSServer(t *testing.T) (addr string, accepted *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted = new(atomic.Int64)
	var conns []net.Conn
	var mu sync.Mutex
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			mu.Lock()
			conns = append(conns, c) // held open, unanswered
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return ln.Addr().String(), accepted
}

// TestTLSHandshakeTimeoutIsRetried checks that a TLS handshake that times
// out, on net/http's real Transport, counts as a failed connection
// attempt: nothing was written, so it is retried (reason connect_error),
// unlike a timeout waiting for the answer of a request that was sent.
func TestTLSHandshakeTimeoutIsRetried(t *testing.T) {
	addr, accepted := silentTLSServer(t)
	tr := &http.Transport{TLSHandshakeTimeout: 100 * time.Millisecond}
	t.Cleanup(tr.CloseIdleConnections)

	req := newRequest(t, context.Background(), "GET", "/", nil)
	req.URL.Scheme, req.URL.Host = "https", addr
	_, err := tr.RoundTrip(req)
	if err == nil || !isTimeout(err) {
		t.Fatalf("RoundTrip = %v, want the handshake timeout", err)
	}
	if reason, o := classify(context.Background(), nil, err); reason != reasonConnect || o != outcomeFailure {
		t.Fatalf("classify(%q) = %q, %v; want connect_error, a failure", err, reason, o)
	}

	r, _ := testRegistry(t, RegistryOptions{Transport: tr})
	u := acquire(t, r, Settings{Targets: []string{"https://" + addr}, Timeout: 5 * time.Second,
		Retry: RetrySettings{Attempts: 2, Backoff: time.Microsecond, MaxBackoff: time.Microsecond}})
	before := accepted.Load()
	_, _, err = do(t, u, "GET", "/")
	if err == nil || !strings.Contains(err.Error(), "TLS handshake timeout") {
		t.Fatalf("GET = %v, want the handshake timeout", err)
	}
	wantErrIs(t, err, ErrNotSent) // legacy may serve it: nothing reached the upstream
	if v := retries(u, reasonConnect); v != 1 {
		t.Errorf(`retries{reason="connect_error"} = %v, want 1 (2 attempts)`, v)
	}
	if n := accepted.Load() - before; n != 2 {
		t.Errorf("server accepted %d connections, want 2", n)
	}
	if b := u.Status().Breaker; b.Failures != 1 {
		t.Errorf("breaker = %+v, want one failure", b)
	}
}

// TestSentNothing checks which errors of net/http's Transport prove that
// the request was never written: a refused dial, a handshake timeout and a
// refused server certificate do; a timeout waiting for the answer, or an
// error that only reads like a handshake timeout, does not.
func TestSentNothing(t *testing.T) {
	tlsSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	t.Cleanup(slow.Close)
	tr := &http.Transport{ResponseHeaderTimeout: 50 * time.Millisecond} // trusts no test certificate
	t.Cleanup(tr.CloseIdleConnections)
	roundTrip := func(url string) error {
		req, err := http.NewRequest("GET", url, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := tr.RoundTrip(req)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("GET %s succeeded, want an error", url)
		}
		return err
	}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"connection refused", roundTrip(deadURL(t)), true},
		{"unknown certificate authority", roundTrip(tlsSrv.URL), true},
		{"wrapped", fmt.Errorf("upstream x: %w", roundTrip(tlsSrv.URL)), true},
		{"response header timeout", roundTrip(slow.URL), false},
		{"look-alike text", errors.New(tlsHandshakeTimeoutText), false},
	} {
		if got := sentNothing(tc.err); got != tc.want {
			t.Errorf("%s: sentNothing(%v) = %t, want %t", tc.name, tc.err, got, tc.want)
		}
	}
}
