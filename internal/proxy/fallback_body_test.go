package proxy

import (
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// bodyFallbackConfig routes /api/orders to a service that fails on demand
// and /api/slow to one slower than its timeout. Both treat PUT as
// idempotent, as a service whose PUTs are safe to repeat would, and
// neither opens its breaker, so that every failure reaches the fallback
// decision itself.
const bodyFallbackConfig = `legacy: monolith
upstreams:
  monolith: {url: "{{.monolith}}"}
  orders:
    url: "{{.orders}}"
    breaker: {disabled: true}
    retry: {methods: [PUT], backoff: 1ms, max_backoff: 1ms}
  slow:
    url: "{{.slow}}"
    timeout: 200ms
    breaker: {disabled: true}
    retry: {methods: [PUT]}
routes:
  - {prefix: /api/orders, service: orders, name: orders}
  - {prefix: /api/slow, service: slow, name: slow}
`

// failingService fails every request as the last segment of its path
// says, once it has read the whole request: "unavailable" gets a 503 of
// the service's own, "reset" a connection reset. It records what it read.
type failingService struct {
	t  *testing.T
	mu sync.Mutex
	// seen holds the bodies received, by method and path.
	seen map[string][]string
}

func (s *failingService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		s.t.Errorf("service: read the body of %s %s: %v", r.Method, r.URL.Path, err)
	}
	s.mu.Lock()
	key := r.Method + " " + r.URL.Path
	s.seen[key] = append(s.seen[key], string(body))
	s.mu.Unlock()
	switch {
	case strings.HasSuffix(r.URL.Path, "/unavailable"):
		w.Header().Set("X-Backend", "orders")
		http.Error(w, `{"error":"down"}`, http.StatusServiceUnavailable)
	case strings.HasSuffix(r.URL.Path, "/reset"):
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			s.t.Errorf("service: hijack: %v", err)
			return
		}
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // close with RST, not FIN
		}
		conn.Close()
	default:
		s.t.Errorf("service: unexpected %s %s", r.Method, r.URL.Path)
	}
}

// received returns the bodies the service read for method and path.
func (s *failingService) received(method, path string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen[method+" "+path]
}

// sendBody sends method target with body (none when empty) through the
// frontend and returns the response with its body read.
func sendBody(t *testing.T, hs *harness, method, target, body string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, hs.front.URL+target, rd)
	if err != nil {
		t.Fatal(err)
	}
	res, err := hs.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer res.Body.Close()
	got, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, target, err)
	}
	return res, got
}

// routeFallbacks returns the fallbacks /api/status counts for route, by
// reason, leaving out reasons that counted none.
func routeFallbacks(t *testing.T, hs *harness, route string) map[string]uint64 {
	t.Helper()
	for _, r := range hs.handler.Status(nil).Routes {
		if r.Name == route {
			got := map[string]uint64{}
			for reason, n := range r.Fallbacks {
				if n != 0 {
					got[reason] = n
				}
			}
			return got
		}
	}
	t.Fatalf("/api/status has no route %q", route)
	return nil
}

// checkFallbacks checks strangler_fallbacks_total and /api/status for
// route against want, by reason (missing: none). A fallback is counted
// before legacy is asked, so before the client has its answer: the counts
// are read once, not waited for.
func checkFallbacks(t *testing.T, hs *harness, route string, want map[string]uint64) {
	t.Helper()
	for _, reason := range fallbackReasons {
		v, ok, err := metricValue(hs.reg, "strangler_fallbacks_total", map[string]string{"route": route, "reason": reason})
		if err != nil || !ok || v != float64(want[reason]) {
			t.Errorf("strangler_fallbacks_total{route=%q,reason=%q} = %v (present %v, error %v), want %d", route, reason, v, ok, err, want[reason])
		}
	}
	if got := routeFallbacks(t, hs, route); !maps.Equal(got, want) {
		t.Errorf("/api/status fallbacks of %s = %v, want %v", route, got, want)
	}
}

// TestNoFallbackForARequestWithABody checks the rule of the fallback
// table: a timeout, an upstream error or a 502/503/504 answer sends an
// idempotent request to legacy only when it has no body. A GET with a
// body, and a PUT with one on an upstream whose retry.methods lists PUT,
// reached the service, whose failure the client gets; legacy gets
// nothing, and no fallback is counted. The same requests without a body
// fall back, so the rule, not the setup, keeps the others from legacy.
func TestNoFallbackForARequestWithABody(t *testing.T) {
	hs := newHarness(t, "monolith")
	svc := &failingService{t: t, seen: map[string][]string{}}
	hs.urls["orders"] = startServer(t, svc).URL
	var slowStarted <-chan struct{}
	hs.urls["slow"], slowStarted = blockingBackend(t)
	hs.apply(t, bodyFallbackConfig)

	for i, tc := range []struct {
		name, method, route, target string
		status                      int
	}{
		{"GET answered 503", "GET", "orders", "/api/orders/1/unavailable", http.StatusServiceUnavailable},
		{"PUT answered 503", "PUT", "orders", "/api/orders/2/unavailable", http.StatusServiceUnavailable},
		{"GET reset", "GET", "orders", "/api/orders/3/reset", http.StatusBadGateway},
		{"PUT reset", "PUT", "orders", "/api/orders/4/reset", http.StatusBadGateway},
		{"GET timed out", "GET", "slow", "/api/slow/5", http.StatusGatewayTimeout},
		{"PUT timed out", "PUT", "slow", "/api/slow/6", http.StatusGatewayTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := fmt.Sprintf(`{"item":%d}`, i)
			res, got := sendBody(t, hs, tc.method, tc.target, body)
			if b := res.Header.Get("X-Backend"); b == "monolith" {
				t.Fatalf("%s %s with a body: answered by legacy (status %d), want the service's failure", tc.method, tc.target, res.StatusCode)
			}
			// Legacy failing on the body the service already consumed would
			// look like the service's own failure: the count tells them apart.
			checkFallbacks(t, hs, tc.route, map[string]uint64{})
			if tc.status == http.StatusServiceUnavailable {
				// The service's own answer, passed through.
				if res.StatusCode != tc.status || res.Header.Get("X-Backend") != "orders" || !strings.Contains(string(got), "down") {
					t.Fatalf("status %d from %q, body %s; want the service's 503", res.StatusCode, res.Header.Get("X-Backend"), got)
				}
			} else {
				checkErrorReply(t, res, got, tc.status)
			}
			if strings.HasPrefix(tc.target, "/api/slow/") {
				waitFor(t, slowStarted, "the slow service to receive the request")
				return
			}
			// Sent once: a request with a body is never retried either.
			if seen := svc.received(tc.method, tc.target); len(seen) != 1 || seen[0] != body {
				t.Errorf("the service received bodies %q, want [%q]", seen, body)
			}
		})
	}
	if n := len(hs.backends["monolith"].requests()); n != 0 {
		t.Fatalf("legacy received %d requests, want none: every request had a body", n)
	}

	// Without a body, the same failures fall back.
	for _, c := range []struct{ method, target string }{
		{"GET", "/api/orders/7/unavailable"},
		{"PUT", "/api/orders/8/reset"},
		{"GET", "/api/slow/9"},
		{"PUT", "/api/slow/10"},
	} {
		res, got := sendBody(t, hs, c.method, c.target, "")
		if res.StatusCode != http.StatusOK || res.Header.Get("X-Backend") != "monolith" {
			t.Fatalf("%s %s without a body: status %d from %q, body %s; want 200 from legacy", c.method, c.target, res.StatusCode, res.Header.Get("X-Backend"), got)
		}
	}
	checkFallbacks(t, hs, "orders", map[string]uint64{reasonBadStatus: 1, reasonUpstreamError: 1})
	checkFallbacks(t, hs, "slow", map[string]uint64{reasonTimeout: 2})
	if n := len(hs.backends["monolith"].requests()); n != 4 {
		t.Fatalf("legacy received %d requests, want the 4 without a body", n)
	}
}
