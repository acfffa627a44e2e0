package resilience

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"
)

// BenchmarkUpstreamRoundTrip compares a plain tuned *http.Transport with the
// resilient Upstream (breaker, bulkhead and retries configured, no faults)
// against the same local server. Run with -benchmem.
func BenchmarkUpstreamRoundTrip(b *testing.B) {
	payload := make([]byte, 1024)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(payload)
	}))
	defer srv.Close()

	r, err := NewRegistry(RegistryOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	u, err := r.Acquire("orders", Settings{
		Targets:  []string{srv.URL},
		Timeout:  5 * time.Second,
		Breaker:  BreakerSettings{ConsecutiveFailures: 5, FailureRatio: 0.5, MinRequests: 20},
		Bulkhead: BulkheadSettings{MaxConcurrent: 512, MaxWaiting: 512, MaxWait: time.Second},
		Retry:    RetrySettings{Attempts: 2, Backoff: 50 * time.Millisecond, Budget: 0.2},
	})
	if err != nil {
		b.Fatal(err)
	}
	plain := newTransport(5 * time.Second)
	defer plain.CloseIdleConnections()
	target, _ := url.Parse(srv.URL)

	run := func(b *testing.B, rt http.RoundTripper, base *url.URL) {
		req, err := http.NewRequestWithContext(context.Background(), "GET", base.String()+"/orders/1", nil)
		if err != nil {
			b.Fatal(err)
		}
		roundTrip(b, rt, req) // warm the connection pool
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			roundTrip(b, rt, req)
		}
	}
	runParallel := func(b *testing.B, rt http.RoundTripper, base *url.URL) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			req, _ := http.NewRequestWithContext(context.Background(), "GET", base.String()+"/orders/1", nil)
			for pb.Next() {
				roundTrip(b, rt, req)
			}
		})
	}
	ph, _ := url.Parse(placeholder)
	b.Run("plain", func(b *testing.B) { run(b, plain, target) })
	b.Run("resilient", func(b *testing.B) { run(b, u, ph) })
	b.Run("plain-parallel", func(b *testing.B) { runParallel(b, plain, target) })
	b.Run("resilient-parallel", func(b *testing.B) { runParallel(b, u, ph) })
}

func roundTrip(b *testing.B, rt http.RoundTripper, req *http.Request) {
	resp, err := rt.RoundTrip(req)
	if err != nil {
		b.Error(err) // Error, not Fatal: also called from RunParallel goroutines
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Errorf("status %d", resp.StatusCode)
	}
}

// BenchmarkUpstreamOverhead isolates the wrapper's own cost: the same
// in-memory RoundTripper called directly and through an Upstream.
func BenchmarkUpstreamOverhead(b *testing.B) {
	fake := roundTripFunc(func(r *http.Request) (*http.Response, error) { return okResponse(r), nil })
	r, err := NewRegistry(RegistryOptions{Transport: fake})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	u, err := r.Acquire("orders", Settings{
		Targets:  []string{"http://10.0.0.1:8080", "http://10.0.0.2:8080"},
		Bulkhead: BulkheadSettings{MaxConcurrent: 512, MaxWaiting: 512},
	})
	if err != nil {
		b.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(context.Background(), "GET", placeholder+"/orders/1", nil)
	for _, tc := range []struct {
		name string
		rt   http.RoundTripper
	}{{"direct", fake}, {"upstream", u}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				roundTrip(b, tc.rt, req)
			}
		})
	}
}
