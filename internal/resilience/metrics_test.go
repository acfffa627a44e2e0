package resilience

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestMetrics(t *testing.T) {
	srv := newFaultServer(t)
	srv.setStatus(http.StatusServiceUnavailable)
	r, reg := testRegistry(t, RegistryOptions{Now: newFakeClock().Now})
	u := acquire(t, r, Settings{
		Targets:  []string{srv.URL},
		Breaker:  BreakerSettings{ConsecutiveFailures: 2, OpenFor: time.Hour},
		Bulkhead: BulkheadSettings{MaxConcurrent: 10},
		Retry:    RetrySettings{Attempts: 2, Backoff: time.Microsecond},
	})
	for range 3 {
		_, _, _ = do(t, u, "GET", "/")
	}
	want := `
# HELP strangler_circuit_breaker_state Circuit breaker state per upstream: 0 closed, 1 half-open, 2 open.
# TYPE strangler_circuit_breaker_state gauge
strangler_circuit_breaker_state{upstream="orders"} 2
# HELP strangler_circuit_breaker_transitions_total Circuit breaker state changes per upstream, by the state entered.
# TYPE strangler_circuit_breaker_transitions_total counter
strangler_circuit_breaker_transitions_total{to="closed",upstream="orders"} 0
strangler_circuit_breaker_transitions_total{to="half-open",upstream="orders"} 0
strangler_circuit_breaker_transitions_total{to="open",upstream="orders"} 1
# HELP strangler_bulkhead_inflight Requests holding a bulkhead slot per upstream (until their response body is closed).
# TYPE strangler_bulkhead_inflight gauge
strangler_bulkhead_inflight{upstream="orders"} 0
# HELP strangler_bulkhead_rejected_total Requests refused by a full bulkhead per upstream, without reaching it.
# TYPE strangler_bulkhead_rejected_total counter
strangler_bulkhead_rejected_total{upstream="orders"} 0
# HELP strangler_retries_total Retried attempts per upstream, by the reason the previous attempt failed.
# TYPE strangler_retries_total counter
strangler_retries_total{reason="connect_error",upstream="orders"} 0
strangler_retries_total{reason="connection_error",upstream="orders"} 0
strangler_retries_total{reason="status_502",upstream="orders"} 0
strangler_retries_total{reason="status_503",upstream="orders"} 2
strangler_retries_total{reason="status_504",upstream="orders"} 0
# HELP strangler_retry_budget_exhausted_total Retries not attempted because the upstream's retry budget was spent.
# TYPE strangler_retry_budget_exhausted_total counter
strangler_retry_budget_exhausted_total{upstream="orders"} 0
# HELP strangler_upstream_healthy Whether an upstream target is considered healthy (1) or not (0).
# TYPE strangler_upstream_healthy gauge
strangler_upstream_healthy{target="` + srv.URL + `",upstream="orders"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %+v", err, problems)
	}
}

func TestNilRegisterer(t *testing.T) {
	r, err := NewRegistry(RegistryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	srv := newFaultServer(t)
	u, err := r.Acquire("orders", Settings{Targets: []string{srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	if code, _, err := do(t, u, "GET", "/"); code != 200 || err != nil {
		t.Fatalf("GET = %d, %v", code, err)
	}
	if v := testutil.ToFloat64(u.m.transitions[0]); v != 0 {
		t.Fatalf("unregistered collectors still count: %v", v)
	}
}
