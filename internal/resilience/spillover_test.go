package resilience

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestSpilloverCountsNowhere checks that failed Spillover requests reach
// the upstream but count toward neither its breaker nor its passive health,
// and that the same failures without the mark count toward both.
func TestSpilloverCountsNowhere(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "dependency failed", http.StatusInternalServerError)
	}))
	t.Cleanup(srv.Close)
	r, _ := testRegistry(t, RegistryOptions{})
	u := acquire(t, r, Settings{Targets: []string{srv.URL}, Retry: noRetry,
		Breaker: BreakerSettings{ConsecutiveFailures: 100}})

	spill := Spillover(context.Background())
	for i := range 5 {
		if code, _, err := doReq(u, newRequest(t, spill, "GET", "/", nil)); err != nil || code != http.StatusInternalServerError {
			t.Fatalf("spillover request %d: %d, %v; want the upstream's 500", i, code, err)
		}
	}
	st := u.Status()
	if st.Breaker.Failures != 0 || st.Targets[0].ConsecutiveFailures != 0 {
		t.Fatalf("after 5 failed spillover requests: breaker failures %d, target failures %d; want 0 and 0",
			st.Breaker.Failures, st.Targets[0].ConsecutiveFailures)
	}

	for range 2 {
		do(t, u, "GET", "/")
	}
	st = u.Status()
	if st.Breaker.Failures != 2 || st.Targets[0].ConsecutiveFailures != 2 {
		t.Fatalf("after 2 failed requests: breaker failures %d, target failures %d; want 2 and 2",
			st.Breaker.Failures, st.Targets[0].ConsecutiveFailures)
	}
}
