package resilience

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/sony/gobreaker/v2"
)

// testBreaker builds a breaker with defaulted settings; transitions are
// recorded in order.
func testBreaker(s BreakerSettings) (*breaker, *[]gobreaker.State) {
	var mu sync.Mutex
	var seen []gobreaker.State
	s = Settings{Breaker: s}.WithDefaults().Breaker
	b := newBreaker("orders", s, func(_, to gobreaker.State) {
		mu.Lock()
		seen = append(seen, to)
		mu.Unlock()
	})
	return b, &seen
}

func report(t *testing.T, b *breaker, os ...outcome) {
	t.Helper()
	for _, o := range os {
		done, _, err := b.allow()
		if err != nil {
			t.Fatalf("allow() = %v, want allowed", err)
		}
		done(o.err())
	}
}

func repeat(o outcome, n int) []outcome {
	out := make([]outcome, n)
	for i := range out {
		out[i] = o
	}
	return out
}

func wantState(t *testing.T, b *breaker, want gobreaker.State) {
	t.Helper()
	if st, _, _ := b.state(); st != want {
		t.Fatalf("state = %s, want %s", st, want)
	}
}

func TestBreakerOpensAfterConsecutiveFailures(t *testing.T) {
	b, seen := testBreaker(BreakerSettings{ConsecutiveFailures: 5})
	report(t, b, repeat(outcomeFailure, 4)...)
	report(t, b, outcomeSuccess) // resets the run
	report(t, b, repeat(outcomeFailure, 4)...)
	wantState(t, b, gobreaker.StateClosed)
	report(t, b, outcomeFailure)
	wantState(t, b, gobreaker.StateOpen)
	if _, _, err := b.allow(); !errors.Is(err, ErrBreakerOpen) || !errors.Is(err, ErrNotSent) {
		t.Fatalf("allow() on open breaker = %v, want ErrBreakerOpen and ErrNotSent", err)
	}
	if len(*seen) != 1 || (*seen)[0] != gobreaker.StateOpen {
		t.Fatalf("transitions = %v, want [open]", *seen)
	}
}

func TestBreakerFailureRatio(t *testing.T) {
	t.Run("trips once min_requests are seen", func(t *testing.T) {
		b, _ := testBreaker(BreakerSettings{ConsecutiveFailures: 100, FailureRatio: 0.5, MinRequests: 20})
		// Alternate so no run of failures matters: 9 failures in 19 outcomes.
		for i := range 19 {
			report(t, b, outcome(i%2)) // success, failure, success, ...
		}
		wantState(t, b, gobreaker.StateClosed)
		report(t, b, outcomeFailure) // 10 of 20: ratio 0.5 reached
		wantState(t, b, gobreaker.StateOpen)
	})
	t.Run("not before min_requests", func(t *testing.T) {
		b, _ := testBreaker(BreakerSettings{ConsecutiveFailures: 100, MinRequests: 20})
		report(t, b, repeat(outcomeFailure, 19)...)
		wantState(t, b, gobreaker.StateClosed)
		report(t, b, outcomeFailure)
		wantState(t, b, gobreaker.StateOpen)
	})
	t.Run("window forgets old outcomes", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b, _ := testBreaker(BreakerSettings{ConsecutiveFailures: 100, MinRequests: 20, Window: 10 * time.Second})
			report(t, b, repeat(outcomeFailure, 19)...)
			time.Sleep(11 * time.Second)
			report(t, b, outcomeFailure) // the 19 are out of the window
			wantState(t, b, gobreaker.StateClosed)
		})
	})
}

func TestBreakerHalfOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, seen := testBreaker(BreakerSettings{ConsecutiveFailures: 1, OpenFor: 15 * time.Second, HalfOpenRequests: 3})
		report(t, b, outcomeFailure)
		wantState(t, b, gobreaker.StateOpen)
		time.Sleep(15*time.Second + time.Nanosecond)
		wantState(t, b, gobreaker.StateHalfOpen)

		// Ten concurrent requests: exactly three get through.
		var allowed, refused atomic.Int32
		dones := make(chan doneFunc, 10)
		var wg sync.WaitGroup
		for range 10 {
			wg.Go(func() {
				done, _, err := b.allow()
				if err != nil {
					if !errors.Is(err, ErrBreakerOpen) {
						t.Errorf("allow() = %v, want ErrBreakerOpen", err)
					}
					refused.Add(1)
					return
				}
				allowed.Add(1)
				dones <- done
			})
		}
		wg.Wait()
		close(dones)
		if allowed.Load() != 3 || refused.Load() != 7 {
			t.Fatalf("half-open allowed %d, refused %d; want 3 and 7", allowed.Load(), refused.Load())
		}
		n := 0
		for done := range dones {
			n++
			done(nil)
			if n < 3 {
				wantState(t, b, gobreaker.StateHalfOpen)
			}
		}
		wantState(t, b, gobreaker.StateClosed)
		want := []gobreaker.State{gobreaker.StateOpen, gobreaker.StateHalfOpen, gobreaker.StateClosed}
		if len(*seen) != 3 || (*seen)[0] != want[0] || (*seen)[1] != want[1] || (*seen)[2] != want[2] {
			t.Fatalf("transitions = %v, want %v", *seen, want)
		}
	})
}

func TestBreakerHalfOpenProbeFailureReopens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := testBreaker(BreakerSettings{ConsecutiveFailures: 1, OpenFor: time.Second, HalfOpenRequests: 2})
		report(t, b, outcomeFailure)
		time.Sleep(2 * time.Second)
		report(t, b, outcomeSuccess, outcomeFailure)
		wantState(t, b, gobreaker.StateOpen)
	})
}

func TestBreakerIgnoredOutcome(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := testBreaker(BreakerSettings{ConsecutiveFailures: 2, OpenFor: time.Second, HalfOpenRequests: 1})
		report(t, b, repeat(outcomeIgnored, 10)...)
		report(t, b, outcomeFailure)
		wantState(t, b, gobreaker.StateClosed)
		if _, c, _ := b.state(); c.TotalExclusions != 10 || c.TotalFailures != 1 {
			t.Fatalf("counts = %+v, want 10 exclusions and 1 failure", c)
		}
		report(t, b, outcomeFailure)
		time.Sleep(2 * time.Second)
		// An ignored probe (client hung up) frees its half-open slot.
		report(t, b, outcomeIgnored)
		report(t, b, outcomeSuccess)
		wantState(t, b, gobreaker.StateClosed)
	})
}

// The tests below drive the breaker through a real upstream.

func TestUpstreamBreakerOpensAfterExactlyConsecutiveFailures(t *testing.T) {
	srv := newFaultServer(t)
	srv.setStatus(http.StatusInternalServerError)
	r, _ := testRegistry(t, RegistryOptions{})
	u := acquire(t, r, Settings{Targets: []string{srv.URL}, Breaker: BreakerSettings{ConsecutiveFailures: 5, OpenFor: time.Hour}})

	for i := range 5 {
		if code, _, err := do(t, u, "GET", "/"); err != nil || code != 500 {
			t.Fatalf("request %d = %d, %v; want 500", i+1, code, err)
		}
	}
	_, _, err := do(t, u, "GET", "/")
	wantErrIs(t, err, ErrBreakerOpen, ErrNotSent)
	if n := srv.hits.Load(); n != 5 {
		t.Fatalf("server saw %d requests, want exactly 5", n)
	}
	if st := u.Status().Breaker.State; st != "open" {
		t.Fatalf("status breaker state = %q, want open", st)
	}
	if v := testutil.ToFloat64(u.m.breakerState); v != 2 {
		t.Fatalf("strangler_circuit_breaker_state = %v, want 2", v)
	}
}

func TestUpstreamBreakerHalfOpenProbes(t *testing.T) {
	srv := newFaultServer(t)
	srv.setStatus(http.StatusInternalServerError)
	r, _ := testRegistry(t, RegistryOptions{})
	u := acquire(t, r, Settings{Targets: []string{srv.URL}, Retry: noRetry,
		Breaker: BreakerSettings{ConsecutiveFailures: 2, OpenFor: 20 * time.Millisecond, HalfOpenRequests: 3}})
	for range 2 {
		_, _, _ = do(t, u, "GET", "/")
	}
	srv.setMode(modeBlock)
	eventually(t, "breaker half-open", func() bool { return u.Status().Breaker.State == "half-open" })

	var refused atomic.Int32
	codes := make(chan int, 10)
	for range 10 {
		go func() {
			code, _, err := do(t, u, "GET", "/")
			if err != nil {
				if !errors.Is(err, ErrBreakerOpen) {
					t.Errorf("half-open request: %v, want ErrBreakerOpen", err)
				}
				refused.Add(1)
			}
			codes <- code
		}()
	}
	eventually(t, "3 probes at the server and 7 refusals", func() bool {
		return srv.cur.Load() == 3 && refused.Load() == 7
	})
	srv.unblock()
	for i := range 10 {
		recv(t, codes, fmt.Sprintf("half-open request %d of 10 to finish", i+1))
	}
	if st := u.Status().Breaker.State; st != "closed" {
		t.Fatalf("after 3 successful probes state = %q, want closed", st)
	}
	if n := srv.hits.Load(); n != 2+3 {
		t.Fatalf("server saw %d requests, want 5 (2 failures + 3 probes)", n)
	}
	for st, want := range map[gobreaker.State]float64{gobreaker.StateOpen: 1, gobreaker.StateHalfOpen: 1, gobreaker.StateClosed: 1} {
		if v := testutil.ToFloat64(u.m.transitions[st]); v != want {
			t.Errorf("transitions to %s = %v, want %v", st, v, want)
		}
	}
}

func TestUpstreamClientErrorsAreNotFailures(t *testing.T) {
	srv := newFaultServer(t)
	r, _ := testRegistry(t, RegistryOptions{})
	u := acquire(t, r, Settings{Targets: []string{srv.URL}, Breaker: BreakerSettings{ConsecutiveFailures: 2}})

	t.Run("4xx", func(t *testing.T) {
		srv.setStatus(http.StatusNotFound)
		for range 10 {
			if code, _, err := do(t, u, "GET", "/"); code != 404 || err != nil {
				t.Fatalf("GET = %d, %v; want 404", code, err)
			}
		}
		if b := u.Status().Breaker; b.State != "closed" || b.Failures != 0 {
			t.Fatalf("breaker after 4xx = %+v, want closed without failures", b)
		}
	})
	t.Run("client cancellation", func(t *testing.T) {
		srv.setMode(modeHang)
		for i := range 5 {
			ctx, cancel := context.WithCancel(context.Background())
			before := srv.hits.Load()
			go func() {
				poll(func() bool { return srv.hits.Load() > before })
				cancel()
			}()
			_, _, err := doReq(u, newRequest(t, ctx, "GET", "/", nil))
			wantErrIs(t, err, context.Canceled)
			if errors.Is(err, ErrNotSent) {
				t.Fatalf("request %d: canceled request reached the server, must not match ErrNotSent", i)
			}
		}
		b := u.Status().Breaker
		if b.State != "closed" || b.Failures != 0 || b.Excluded != 5 {
			t.Fatalf("breaker after client hang-ups = %+v, want closed, 0 failures, 5 excluded", b)
		}
		if f := u.Status().Targets[0].ConsecutiveFailures; f != 0 {
			t.Fatalf("passive failures after hang-ups = %d, want 0", f)
		}
	})
}

func TestHalfOpenProbesAreNotRetried(t *testing.T) {
	const probes = 3
	srv := newFaultServer(t)
	srv.setStatus(http.StatusInternalServerError) // a failure that is not retried: opens the breaker
	r, _ := testRegistry(t, RegistryOptions{})
	u := acquire(t, r, Settings{Targets: []string{srv.URL},
		Retry:   RetrySettings{Attempts: 2, Backoff: time.Microsecond, Budget: 1},
		Breaker: BreakerSettings{ConsecutiveFailures: 2, OpenFor: 20 * time.Millisecond, HalfOpenRequests: probes}})
	for range 2 {
		_, _, _ = do(t, u, "GET", "/")
	}
	if n := srv.hits.Load(); n != 2 {
		t.Fatalf("server saw %d requests while closed, want 2", n)
	}

	// Every probe waits at the server, then gets a 503, which a request of
	// the closed breaker would retry. Anything after the probes gets 503
	// at once.
	gate := make(chan struct{})
	probe := func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-gate:
		case <-r.Context().Done():
		}
		status(http.StatusServiceUnavailable)(w, r)
	}
	srv.then(probe, probe, probe)
	srv.setStatus(http.StatusServiceUnavailable)
	eventually(t, "breaker half-open", func() bool { return u.Status().Breaker.State == "half-open" })

	var refused atomic.Int32
	results := make(chan int, 10)
	for i := range 10 {
		go func() {
			req := newRequest(t, context.Background(), "GET", "/", nil)
			req.Header.Set("X-Probe", strconv.Itoa(i))
			code, _, err := doReq(u, req)
			if err != nil {
				if !errors.Is(err, ErrBreakerOpen) {
					t.Errorf("half-open request: %v, want ErrBreakerOpen", err)
				}
				refused.Add(1)
			}
			results <- code
		}()
	}
	eventually(t, "the probes at the server and the rest refused", func() bool {
		return srv.cur.Load() == probes && refused.Load() == 10-probes
	})
	close(gate)
	answered := 0
	for i := range 10 {
		if code := recv(t, results, fmt.Sprintf("half-open request %d of 10 to finish", i+1)); code == http.StatusServiceUnavailable {
			answered++
		}
	}
	if answered != probes {
		t.Fatalf("%d probes answered 503, want %d", answered, probes)
	}
	if n := srv.hits.Load(); n != 2+probes {
		t.Fatalf("server saw %d requests, want %d: half_open_requests probes, each sent exactly once", n, 2+probes)
	}
	perProbe := map[string]int{}
	srv.mu.Lock()
	for _, req := range srv.seen[2:] {
		perProbe[req.Header.Get("X-Probe")]++
	}
	srv.mu.Unlock()
	for id, n := range perProbe {
		if n != 1 {
			t.Errorf("probe %s reached the server %d times, want once", id, n)
		}
	}
	if v := retries(u, reason503); v != 0 {
		t.Fatalf(`retries{reason="status_503"} = %v, want 0: a half-open probe is not retried`, v)
	}
	if st := u.Status().Breaker.State; st != "open" {
		t.Fatalf("after failed probes the breaker is %q, want open again", st)
	}

	// Closed again, the same failure is retried as usual.
	srv.setMode(modeOK)
	eventually(t, "breaker half-open again", func() bool { return u.Status().Breaker.State == "half-open" })
	for range probes {
		if code, _, err := do(t, u, "GET", "/"); code != 200 || err != nil {
			t.Fatalf("probe = %d, %v; want 200", code, err)
		}
	}
	srv.then(status(http.StatusServiceUnavailable))
	if code, _, err := do(t, u, "GET", "/"); code != 200 || err != nil {
		t.Fatalf("GET on the closed breaker = %d, %v; want 200 after one retry", code, err)
	}
	if v := retries(u, reason503); v != 1 {
		t.Fatalf(`retries{reason="status_503"} = %v, want 1 once the breaker is closed`, v)
	}
}
