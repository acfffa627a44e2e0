package resilience

import (
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/sony/gobreaker/v2"
)

// A dead upstream with light traffic: consecutive_failures means failures in
// a row however far apart they come, not within the rolling window.
func TestBreakerConsecutiveFailuresIgnoreTheWindow(t *testing.T) {
	t.Run("one failure every 3s", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b, _ := testBreaker(BreakerSettings{ConsecutiveFailures: 5, MinRequests: 20, Window: 10 * time.Second, OpenFor: time.Hour})
			for range 4 {
				report(t, b, outcomeFailure)
				time.Sleep(3 * time.Second)
			}
			wantState(t, b, gobreaker.StateClosed)
			report(t, b, outcomeFailure) // the fifth in a row, 12s after the first
			wantState(t, b, gobreaker.StateOpen)
		})
	})
	t.Run("one failure a minute", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b, _ := testBreaker(BreakerSettings{ConsecutiveFailures: 3, OpenFor: time.Hour})
			report(t, b, outcomeFailure, outcomeFailure)
			time.Sleep(time.Minute)
			report(t, b, outcomeFailure)
			wantState(t, b, gobreaker.StateOpen)
		})
	})
	t.Run("failures that outlast the window", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			// A hanging upstream: each request fails after 11s, longer than
			// the 10s window, so gobreaker's own counts drop every one.
			b, _ := testBreaker(BreakerSettings{ConsecutiveFailures: 3, Window: 10 * time.Second, OpenFor: time.Hour})
			for range 3 {
				done, _, err := b.allow()
				if err != nil {
					t.Fatalf("allow() = %v, want allowed", err)
				}
				time.Sleep(11 * time.Second)
				done(outcomeFailure.err())
			}
			wantState(t, b, gobreaker.StateOpen)
		})
	})
	t.Run("a success or a state change starts a new run", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b, _ := testBreaker(BreakerSettings{ConsecutiveFailures: 3, OpenFor: time.Second, HalfOpenRequests: 1})
			report(t, b, outcomeFailure, outcomeFailure)
			time.Sleep(time.Minute)
			report(t, b, outcomeSuccess, outcomeFailure, outcomeFailure)
			report(t, b, repeat(outcomeIgnored, 5)...) // a client hang-up neither counts nor breaks the run
			wantState(t, b, gobreaker.StateClosed)
			if _, c, _ := b.state(); c.ConsecutiveFailures != 2 {
				t.Fatalf("consecutive failures = %d, want 2", c.ConsecutiveFailures)
			}
			report(t, b, outcomeFailure)
			wantState(t, b, gobreaker.StateOpen)
			time.Sleep(2 * time.Second)
			report(t, b, outcomeSuccess) // the probe closes it
			wantState(t, b, gobreaker.StateClosed)
			report(t, b, outcomeFailure, outcomeFailure)
			wantState(t, b, gobreaker.StateClosed)
		})
	})
}

// failingTransport answers every request with 500 and no body. (A body
// would take an idle timer from the package's pool inside the synctest
// bubble, and a later test outside the bubble could get that timer.)
var failingTransport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
	return &http.Response{
		StatusCode: http.StatusInternalServerError, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{}, Body: http.NoBody, Request: r,
	}, nil
})

// Without any traffic, the state gauge leaves "open" once open_for is over.
func TestBreakerGaugeLeavesOpenWithoutTraffic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, err := NewRegistry(RegistryOptions{Transport: failingTransport})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		u, err := r.Acquire("orders", Settings{Targets: []string{"http://10.0.0.1"}, Retry: noRetry,
			Breaker: BreakerSettings{ConsecutiveFailures: 2, OpenFor: 15 * time.Second}})
		if err != nil {
			t.Fatal(err)
		}
		gauge := func() float64 { return testutil.ToFloat64(u.m.breakerState) }
		for range 2 {
			if code, _, err := do(t, u, "GET", "/"); code != 500 || err != nil {
				t.Fatalf("GET = %d, %v; want 500", code, err)
			}
		}
		if g := gauge(); g != 2 {
			t.Fatalf("gauge after the failures = %v, want 2 (open)", g)
		}
		time.Sleep(15 * time.Second)
		synctest.Wait()
		if g := gauge(); g != 2 {
			t.Fatalf("gauge before open_for is over = %v, want 2 (open)", g)
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if g := gauge(); g != 1 {
			t.Fatalf("gauge once open_for is over, without traffic = %v, want 1 (half-open)", g)
		}
		if v := testutil.ToFloat64(u.m.transitions[gobreaker.StateHalfOpen]); v != 1 {
			t.Fatalf("transitions to half-open = %v, want 1", v)
		}

		// A failed probe opens it again, and the timer is armed again.
		if code, _, err := do(t, u, "GET", "/"); code != 500 || err != nil {
			t.Fatalf("probe = %d, %v; want 500", code, err)
		}
		if g := gauge(); g != 2 {
			t.Fatalf("gauge after a failed probe = %v, want 2", g)
		}
		time.Sleep(15*time.Second + time.Millisecond)
		synctest.Wait()
		if g := gauge(); g != 1 {
			t.Fatalf("gauge once open_for is over again = %v, want 1", g)
		}
	})
}

// A breaker whose upstream was retired (reload, shutdown) arms nothing any
// more: its timer is stopped and never touches the breaker.
func TestBreakerTimerStopsWhenClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, seen := testBreaker(BreakerSettings{ConsecutiveFailures: 1, OpenFor: 15 * time.Second})
		report(t, b, outcomeFailure)
		b.stop()
		time.Sleep(time.Hour)
		synctest.Wait()
		if len(*seen) != 1 || (*seen)[0] != gobreaker.StateOpen {
			t.Fatalf("transitions after stop = %v, want only [open]", *seen)
		}
	})
}
