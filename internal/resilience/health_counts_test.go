package resilience

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/sony/gobreaker/v2"
)

// Counts up to the largest value Validate accepts (MaxCount, 2147483647)
// keep their meaning: none of them wraps to a negative threshold that
// trips at once.
func TestLargeCountsDoNotWrap(t *testing.T) {
	// Target 10.0.0.1 fails everything (requests and health checks); the
	// other one answers.
	rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		code := http.StatusOK
		if r.URL.Host == "10.0.0.1" {
			code = http.StatusInternalServerError
		}
		return &http.Response{
			StatusCode: code, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{}, Body: io.NopCloser(strings.NewReader("x")), Request: r,
		}, nil
	})
	for _, n := range []int{MaxCount - 1, MaxCount} {
		r, _ := testRegistry(t, RegistryOptions{Transport: rt})
		health := manualHealth
		health.UnhealthyAfter = n
		health.HealthyAfter = n
		u := acquire(t, r, Settings{
			Targets: []string{"http://10.0.0.1", "http://10.0.0.2"},
			Health:  health,
			Retry:   noRetry,
			Breaker: BreakerSettings{ConsecutiveFailures: n, MinRequests: n, HalfOpenRequests: n},
		})
		for range 6 {
			_, _, _ = do(t, u, "GET", "/")
		}
		check(u)
		check(u)
		st := u.Status()
		if !st.Targets[0].Healthy {
			t.Fatalf("unhealthy_after %d: failing target ejected after %d failed requests and 2 failed checks", n, st.Targets[0].ConsecutiveFailures)
		}
		if st.Targets[0].ConsecutiveFailures != 3 {
			t.Fatalf("unhealthy_after %d: passive failures = %d, want 3", n, st.Targets[0].ConsecutiveFailures)
		}
		if st.Breaker.State != gobreaker.StateClosed.String() {
			t.Fatalf("consecutive_failures %d: breaker %s after 3 failures", n, st.Breaker.State)
		}
	}
}
