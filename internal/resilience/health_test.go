package resilience

import (
	"context"
	"net/http"
	"runtime"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// check runs one active check of every target of u, as the checker loop
// would on a tick.
func check(u *Upstream) {
	for _, t := range u.balancer.targets {
		u.balancer.checkOnce(context.Background(), u.rt, t, u.settings.Health.Timeout)
	}
}

func healthy(u *Upstream, i int) bool { return u.Status().Targets[i].Healthy }

// manualHealth has active checks whose loop never ticks during a test: the
// test runs the checks itself with check().
var manualHealth = HealthSettings{Path: "/health", Interval: time.Hour, HealthyAfter: 2, UnhealthyAfter: 3}

func TestActiveHealthThresholds(t *testing.T) {
	srv := newFaultServer(t)
	r, _ := testRegistry(t, RegistryOptions{})
	u := acquire(t, r, Settings{Targets: []string{srv.URL}, Health: manualHealth})
	gauge := u.balancer.targets[0].gauge

	srv.health.Store(http.StatusServiceUnavailable)
	for i := 1; i <= 3; i++ {
		if !healthy(u, 0) {
			t.Fatalf("unhealthy after %d failed checks, want unhealthy_after=3", i-1)
		}
		check(u)
	}
	if healthy(u, 0) || testutil.ToFloat64(gauge) != 0 {
		t.Fatal("target still healthy after 3 failed checks")
	}
	if e := u.Status().Targets[0].LastError; e != "health check: status 503" {
		t.Fatalf("last error = %q", e)
	}

	srv.health.Store(0)
	check(u)
	if healthy(u, 0) {
		t.Fatal("healthy after 1 successful check, want healthy_after=2")
	}
	check(u)
	if !healthy(u, 0) || testutil.ToFloat64(gauge) != 1 {
		t.Fatal("target not healthy after 2 successful checks")
	}
	if n := srv.checks.Load(); n != 5 {
		t.Fatalf("server saw %d checks, want 5", n)
	}
}

func TestActiveHealthLoop(t *testing.T) {
	srv := newFaultServer(t)
	srv.health.Store(http.StatusInternalServerError)
	r, _ := testRegistry(t, RegistryOptions{})
	u := acquire(t, r, Settings{Targets: []string{srv.URL},
		// The timeout is the interval at most: long enough that a loaded
		// machine does not turn a check into a timeout the server never saw.
		Health: HealthSettings{Path: "/health?deep=1", Interval: 250 * time.Millisecond, UnhealthyAfter: 2}})
	eventually(t, "checker marks the target unhealthy", func() bool { return !healthy(u, 0) })
	if n := srv.checks.Load(); n < 2 {
		t.Fatalf("unhealthy after %d checks, want at least 2", n)
	}
	srv.health.Store(0)
	eventually(t, "checker marks the target healthy", func() bool { return healthy(u, 0) })
}

func TestTrafficAvoidsUnhealthyTarget(t *testing.T) {
	a, b := newFaultServer(t), newFaultServer(t)
	a.health.Store(http.StatusServiceUnavailable)
	r, _ := testRegistry(t, RegistryOptions{})
	u := acquire(t, r, Settings{Targets: []string{a.URL, b.URL}, Health: manualHealth})
	for range 3 {
		check(u)
	}
	if healthy(u, 0) || !healthy(u, 1) {
		t.Fatalf("targets = %+v, want a unhealthy and b healthy", u.Status().Targets)
	}
	for range 20 {
		if code, _, err := do(t, u, "GET", "/"); code != 200 || err != nil {
			t.Fatalf("GET = %d, %v", code, err)
		}
	}
	if a.hits.Load() != 0 || b.hits.Load() != 20 {
		t.Fatalf("hits a=%d b=%d, want 0 and 20", a.hits.Load(), b.hits.Load())
	}

	t.Run("no healthy target", func(t *testing.T) {
		b.health.Store(http.StatusServiceUnavailable)
		for range 3 {
			check(u)
		}
		_, _, err := do(t, u, "GET", "/")
		wantErrIs(t, err, ErrNoHealthyTarget, ErrNotSent)
		if a.hits.Load() != 0 || b.hits.Load() != 20 {
			t.Fatal("a request reached a target although none is healthy")
		}
		if br := u.Status().Breaker; br.Failures != 0 {
			t.Fatalf("breaker counted %d failures for requests never sent", br.Failures)
		}
	})
}

func TestRoundRobinAmongEquals(t *testing.T) {
	a, b := newFaultServer(t), newFaultServer(t)
	r, _ := testRegistry(t, RegistryOptions{})
	u := acquire(t, r, Settings{Targets: []string{a.URL, b.URL}})
	for range 10 {
		_, _, _ = do(t, u, "GET", "/")
	}
	if a.hits.Load() != 5 || b.hits.Load() != 5 {
		t.Fatalf("hits a=%d b=%d, want 5 and 5", a.hits.Load(), b.hits.Load())
	}
}

func TestLeastRequestsAvoidsBusyTarget(t *testing.T) {
	a, b := newFaultServer(t), newFaultServer(t)
	a.setMode(modeBlock) // a never answers during the test: its requests pile up
	r, _ := testRegistry(t, RegistryOptions{})
	u := acquire(t, r, Settings{Targets: []string{a.URL, b.URL}})
	go func() { _, _, _ = do(t, u, "GET", "/") }() // goes to a and stays there
	eventually(t, "a busy", func() bool { return a.cur.Load() == 1 })
	for range 10 {
		_, _, _ = do(t, u, "GET", "/")
	}
	if b.hits.Load() != 10 {
		t.Fatalf("b got %d of 10 requests while a was busy", b.hits.Load())
	}
	a.unblock()
}

func TestPassiveHealth(t *testing.T) {
	bad, good := newFaultServer(t), newFaultServer(t)
	bad.setStatus(http.StatusInternalServerError)
	clock := newFakeClock()
	r, _ := testRegistry(t, RegistryOptions{Now: clock.Now})
	u := acquire(t, r, Settings{Targets: []string{bad.URL, good.URL}, Breaker: BreakerSettings{OpenFor: time.Minute},
		Health: HealthSettings{UnhealthyAfter: 3}})

	for range 20 {
		_, _, _ = do(t, u, "GET", "/")
	}
	if n := bad.hits.Load(); n != 3 {
		t.Fatalf("bad target got %d requests, want 3 before ejection", n)
	}
	if healthy(u, 0) {
		t.Fatal("bad target not ejected")
	}

	// Without active checks it comes back after the cool-down.
	clock.Advance(time.Minute)
	for range 2 {
		_, _, _ = do(t, u, "GET", "/")
	}
	if n := bad.hits.Load(); n != 4 {
		t.Fatalf("bad target got %d requests after its cool-down, want 4", n)
	}

	t.Run("never ejects the last healthy target", func(t *testing.T) {
		u, err := r.Acquire("single", Settings{Targets: []string{bad.URL}, Breaker: noBreaker})
		if err != nil {
			t.Fatal(err)
		}
		for range 10 {
			if code, _, _ := do(t, u, "GET", "/"); code != 500 {
				t.Fatalf("GET = %d, want the 500 (not ErrNoHealthyTarget)", code)
			}
		}
	})
}

func TestRetainStopsCheckers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var checks atomic.Int64
		rt := roundTripFunc(func(req *http.Request) (*http.Response, error) {
			checks.Add(1)
			return okResponse(req), nil
		})
		r, err := NewRegistry(RegistryOptions{Transport: rt})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		_, err = r.Acquire("orders", Settings{
			Targets: []string{"http://10.0.0.1", "http://10.0.0.2", "http://10.0.0.3"},
			Health:  HealthSettings{Path: "/health", Interval: time.Second},
		})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(3*time.Second + time.Millisecond)
		synctest.Wait()
		if n := checks.Load(); n != 9 {
			t.Fatalf("%d checks in 3 intervals of 3 targets, want 9", n)
		}
		r.Retain() // orders is no longer used
		time.Sleep(time.Hour)
		synctest.Wait()
		if n := checks.Load(); n != 9 {
			t.Fatalf("%d checks after Retain, want still 9: checkers did not exit", n)
		}
		// synctest.Test also fails if any goroutine of the bubble is left.
	})
}

func TestRetainStopsGoroutines(t *testing.T) {
	srv := newFaultServer(t)
	before := runtime.NumGoroutine()
	r, _ := testRegistry(t, RegistryOptions{})
	targets := []string{srv.URL + "/a", srv.URL + "/b", srv.URL + "/c", srv.URL + "/d"}
	_ = acquire(t, r, Settings{Targets: targets, Health: HealthSettings{Path: "/health", Interval: time.Millisecond}})
	eventually(t, "checkers running", func() bool { return srv.checks.Load() > 0 })
	if runtime.NumGoroutine() < before+len(targets) {
		t.Fatalf("goroutines %d, want at least %d with checkers running", runtime.NumGoroutine(), before+len(targets))
	}
	r.Retain()
	eventually(t, "goroutines back to the baseline", func() bool { return runtime.NumGoroutine() <= before })
}
