package proxy

import (
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// flaky is a backend that answers 503 while down is set, and counts the
// requests it received.
type flaky struct {
	down atomic.Bool
	hits atomic.Int64
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.hits.Add(1)
	_, _ = io.Copy(io.Discard, r.Body)
	if f.down.Load() {
		http.Error(w, `{"error":"down"}`, http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("X-Backend", "flaky")
	io.WriteString(w, "flaky")
}

// breakerConfig puts /api/orders on the orders upstream with a breaker
// that opens after three failures and no retries, so that counts are exact.
const breakerConfig = `legacy: monolith
upstreams:
  monolith: {url: "{{.monolith}}"}
  orders:
    url: "{{.orders}}"
    breaker: {consecutive_failures: 3, open_for: 1h}
    retry: {attempts: 1}
routes:
  - prefix: /api/orders
    service: orders
    name: orders
    fallback: {{.fallback}}
`

// newBreakerHarness serves breakerConfig with orders as the service.
func newBreakerHarness(t *testing.T, fallback string, orders http.Handler) *harness {
	hs := newHarness(t, "monolith")
	hs.urls["orders"] = startServer(t, orders).URL
	hs.urls["fallback"] = fallback
	hs.apply(t, breakerConfig)
	return hs
}

func post(t *testing.T, hs *harness, target, body string) *http.Response {
	t.Helper()
	res, err := hs.client.Post(hs.front.URL+target, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res
}

func TestFallbackOnBadStatusOnlyForIdempotentRequests(t *testing.T) {
	svc := &flaky{}
	svc.down.Store(true)
	hs := newBreakerHarness(t, "true", svc)

	res, _ := hs.do(t, "GET", "/api/orders/1", nil)
	if res.StatusCode != http.StatusOK || res.Header.Get("X-Backend") != "monolith" {
		t.Fatalf("GET answered 503 by the service: status %d from %q, want 200 from monolith", res.StatusCode, res.Header.Get("X-Backend"))
	}
	waitMetric(t, hs.reg, "strangler_fallbacks_total", map[string]string{"route": "orders", "reason": "bad_status"}, 1)

	// A POST reached the service: sending it to legacy as well could
	// place an order twice, so the client gets the service's answer.
	if res := post(t, hs, "/api/orders", `{"sku":"a"}`); res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("POST answered 503 by the service: status %d, want the service's 503", res.StatusCode)
	}
	if n := len(hs.backends["monolith"].requests()); n != 1 {
		t.Fatalf("monolith received %d requests, want 1 (the GET only)", n)
	}
}

func TestOpenBreakerSendsTrafficToLegacyWithoutTouchingTheService(t *testing.T) {
	svc := &flaky{}
	svc.down.Store(true)
	hs := newBreakerHarness(t, "true", svc)

	for i := range 10 {
		res, _ := hs.do(t, "GET", "/api/orders/1", nil)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("request %d: status %d, want 200 (from legacy)", i, res.StatusCode)
		}
	}
	if n := svc.hits.Load(); n != 3 {
		t.Fatalf("the service received %d requests, want 3: the breaker opens after consecutive_failures", n)
	}
	waitMetric(t, hs.reg, "strangler_fallbacks_total", map[string]string{"route": "orders", "reason": "bad_status"}, 3)
	waitMetric(t, hs.reg, "strangler_fallbacks_total", map[string]string{"route": "orders", "reason": "breaker_open"}, 7)
	waitMetric(t, hs.reg, "strangler_circuit_breaker_state", map[string]string{"upstream": "orders"}, 2)

	// A reload that leaves the upstream's settings alone keeps the open
	// breaker: a dead service is not declared healthy by an edit.
	hs.apply(t, strings.Replace(breakerConfig, "name: orders", "name: orders\n    weight: 100", 1))
	hs.do(t, "GET", "/api/orders/1", nil)
	if n := svc.hits.Load(); n != 3 {
		t.Fatalf("after a reload the service received %d requests, want still 3", n)
	}
	for _, u := range hs.handler.Status(nil).Upstreams {
		if u.Name == "orders" && u.Breaker.State != "open" {
			t.Fatalf("/api/status breaker of orders = %q, want open", u.Breaker.State)
		}
	}

	// Changing the upstream's settings gives it a fresh breaker.
	svc.down.Store(false)
	hs.apply(t, strings.Replace(breakerConfig, "consecutive_failures: 3", "consecutive_failures: 4", 1))
	if res, _ := hs.do(t, "GET", "/api/orders/1", nil); res.Header.Get("X-Backend") != "flaky" {
		t.Fatalf("after changing the breaker settings: answered by %q, want the service", res.Header.Get("X-Backend"))
	}
}

func TestNoFallbackAnswers503WithRetryAfter(t *testing.T) {
	svc := &flaky{}
	svc.down.Store(true)
	hs := newBreakerHarness(t, "false", svc)

	for range 3 {
		res, _ := hs.do(t, "GET", "/api/orders/1", nil)
		if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Content-Type") == "application/json" {
			t.Fatalf("service 503 without fallback: status %d, want the service's own 503", res.StatusCode)
		}
	}
	res, body := hs.do(t, "GET", "/api/orders/1", nil)
	checkErrorReply(t, res, body, http.StatusServiceUnavailable)
	if res.Header.Get("Retry-After") == "" {
		t.Error("open breaker: no Retry-After header")
	}
	if n := svc.hits.Load(); n != 3 {
		t.Fatalf("the service received %d requests, want 3", n)
	}
	if n := len(hs.backends["monolith"].requests()); n != 0 {
		t.Fatalf("monolith received %d requests with fallback: false, want 0", n)
	}
}

func TestLegacyBreakerFailsFast(t *testing.T) {
	legacy := &flaky{}
	legacy.down.Store(true)
	hs := newHarness(t)
	hs.urls["monolith"] = startServer(t, legacy).URL
	hs.apply(t, `legacy: monolith
upstreams:
  monolith:
    url: "{{.monolith}}"
    breaker: {consecutive_failures: 2, open_for: 1h}
    retry: {attempts: 1}
`)
	for range 2 {
		hs.do(t, "GET", "/", nil)
	}
	res, body := hs.do(t, "GET", "/", nil)
	checkErrorReply(t, res, body, http.StatusServiceUnavailable)
	if n := legacy.hits.Load(); n != 2 {
		t.Fatalf("legacy received %d requests, want 2: nothing to fall back to, so fail fast", n)
	}
}
