package resilience

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestAcquireKeepsStateAcrossReloads(t *testing.T) {
	srv := newFaultServer(t)
	srv.setStatus(http.StatusInternalServerError)
	r, reg := testRegistry(t, RegistryOptions{})
	s := Settings{Targets: []string{srv.URL}, Breaker: BreakerSettings{ConsecutiveFailures: 2, OpenFor: time.Hour}}
	u1 := acquire(t, r, s)
	for range 2 {
		_, _, _ = do(t, u1, "GET", "/")
	}
	if u1.Status().Breaker.State != "open" {
		t.Fatal("breaker not open")
	}

	// Same settings, spelled differently (explicit defaults): same instance.
	same := s
	same.Timeout = 30 * time.Second
	same.Retry.Budget = 0.2
	u2 := acquire(t, r, same)
	r.Retain("orders")
	if u2 != u1 {
		t.Fatal("Acquire with unchanged settings built a new upstream")
	}
	if _, _, err := do(t, u2, "GET", "/"); !errors.Is(err, ErrBreakerOpen) {
		t.Fatalf("after reload GET = %v, want the breaker still open", err)
	}

	// Changed settings: a new instance with fresh state.
	changed := s
	changed.Timeout = 5 * time.Second
	u3 := acquire(t, r, changed)
	if u3 == u1 {
		t.Fatal("Acquire with changed settings returned the old upstream")
	}
	if st := u3.Status().Breaker.State; st != "closed" {
		t.Fatalf("new upstream breaker = %s, want closed", st)
	}
	if got, _ := r.Get("orders"); got != u3 {
		t.Fatal("Get does not return the latest upstream")
	}
	r.Retain("orders")
	if !u1.retired.Load() || u3.retired.Load() {
		t.Fatal("Retain must close the replaced instance and keep the current one")
	}
	if v := testutil.ToFloat64(u3.m.breakerState); v != 0 {
		t.Fatalf("breaker gauge = %v, want the current instance's closed state", v)
	}
	// The replaced instance still serves the old generation's requests.
	if _, _, err := do(t, u1, "GET", "/"); !errors.Is(err, ErrBreakerOpen) {
		t.Fatalf("old instance GET = %v, want its own breaker verdict", err)
	}

	// Removing the upstream deletes its series.
	r.Retain()
	if n, err := testutil.GatherAndCount(reg); err != nil || n != 0 {
		t.Fatalf("series after removing every upstream = %d (%v), want 0", n, err)
	}
	if _, ok := r.Get("orders"); ok {
		t.Fatal("removed upstream still listed")
	}
}

func TestAcquireRevivesAbandonedGeneration(t *testing.T) {
	r, _ := testRegistry(t, RegistryOptions{})
	s1 := Settings{Targets: []string{"http://127.0.0.1:1"}}
	s2 := Settings{Targets: []string{"http://127.0.0.1:2"}}
	u1 := acquire(t, r, s1)
	u2 := acquire(t, r, s2) // a reload that failed later and never went live
	if again := acquire(t, r, s1); again != u1 {
		t.Fatal("the live instance was not reused when its settings came back")
	}
	r.Retain("orders")
	if !u2.retired.Load() || u1.retired.Load() {
		t.Fatal("Retain must close the abandoned instance only")
	}
}

func TestRetainDeletesSeriesOfRemovedTargets(t *testing.T) {
	r, reg := testRegistry(t, RegistryOptions{})
	acquire(t, r, Settings{Targets: []string{"http://127.0.0.1:1", "http://127.0.0.1:2"}})
	acquire(t, r, Settings{Targets: []string{"http://127.0.0.1:2", "http://127.0.0.1:3"}})
	r.Retain("orders")
	want := `
# HELP strangler_upstream_healthy Whether an upstream target is considered healthy (1) or not (0).
# TYPE strangler_upstream_healthy gauge
strangler_upstream_healthy{target="http://127.0.0.1:2",upstream="orders"} 1
strangler_upstream_healthy{target="http://127.0.0.1:3",upstream="orders"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "strangler_upstream_healthy"); err != nil {
		t.Fatal(err)
	}
}

func TestAcquireRejectsInvalidSettings(t *testing.T) {
	r, _ := testRegistry(t, RegistryOptions{})
	_, err := r.Acquire("orders", Settings{Timeout: -1})
	if err == nil || !strings.Contains(err.Error(), "upstream orders: ") ||
		!strings.Contains(err.Error(), "targets:") || !strings.Contains(err.Error(), "timeout:") {
		t.Fatalf("Acquire(invalid) = %v, want every problem, prefixed with the name", err)
	}
	if _, err := r.Acquire("", Settings{Targets: []string{"http://x"}}); err == nil {
		t.Fatal("Acquire with an empty name succeeded")
	}
}

func TestRegistryConcurrentAcquire(t *testing.T) {
	r, _ := testRegistry(t, RegistryOptions{})
	s := Settings{Targets: []string{"http://127.0.0.1:1"}}
	var wg sync.WaitGroup
	got := make([]*Upstream, 20)
	for i := range got {
		wg.Go(func() { got[i], _ = r.Acquire("orders", s) })
	}
	wg.Wait()
	for _, u := range got {
		if u != got[0] {
			t.Fatal("concurrent Acquire with the same settings built several upstreams")
		}
	}
}

func TestRegistryClose(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	r, err := NewRegistry(RegistryOptions{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewRegistry(RegistryOptions{Registerer: reg}); err == nil {
		t.Fatal("a second registry on the same Registerer must fail to register")
	}
	u, err := r.Acquire("orders", Settings{Targets: []string{"http://127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if !u.retired.Load() {
		t.Fatal("Close did not stop the upstream")
	}
	if _, err := r.Acquire("orders", Settings{Targets: []string{"http://127.0.0.1:1"}}); err == nil {
		t.Fatal("Acquire after Close succeeded")
	}
	// Close unregistered the collectors: a new registry may register them.
	r2, err := NewRegistry(RegistryOptions{Registerer: reg})
	if err != nil {
		t.Fatalf("NewRegistry after Close: %v", err)
	}
	_ = r2.Close()
}

func TestRegistryStatus(t *testing.T) {
	r, _ := testRegistry(t, RegistryOptions{})
	for _, n := range []string{"payments", "catalog", "orders"} {
		if _, err := r.Acquire(n, Settings{Targets: []string{"http://127.0.0.1:1"}, Breaker: noBreaker}); err != nil {
			t.Fatal(err)
		}
	}
	st := r.Status()
	if len(st) != 3 || st[0].Name != "catalog" || st[2].Name != "payments" {
		t.Fatalf("Status() names = %v, want sorted", st)
	}
	if st[0].Breaker.State != "disabled" || st[0].Targets[0].URL != "http://127.0.0.1:1" || !st[0].Targets[0].Healthy {
		t.Fatalf("status = %+v", st[0])
	}
}
