package proxy

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
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

// TestFallbackDoesNotOpenLegacyBreaker checks that requests falling back
// from a failing service do not count toward legacy's breaker: a legacy
// app that cannot serve them either (it calls the same service) answers
// them with errors, but the rest of the shop stays up; legacy's own
// failures still open it.
func TestFallbackDoesNotOpenLegacyBreaker(t *testing.T) {
	legacy := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" { // /api/orders/...: the orders service it calls is down; /broken
			http.Error(w, `{"error":"dependency failed"}`, http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "home")
	})
	svc := &flaky{}
	svc.down.Store(true)
	hs := newHarness(t)
	hs.urls["monolith"] = startServer(t, legacy).URL
	hs.urls["orders"] = startServer(t, svc).URL
	hs.apply(t, `legacy: monolith
upstreams:
  monolith:
    url: "{{.monolith}}"
    breaker: {consecutive_failures: 2, open_for: 1h}
    retry: {attempts: 1}
  orders:
    url: "{{.orders}}"
    breaker: {consecutive_failures: 3, open_for: 1h}
    retry: {attempts: 1}
routes:
  - {prefix: /api/orders, service: orders, name: orders}
`)
	for i := range 10 {
		if res, _ := hs.do(t, "GET", "/api/orders/1", nil); res.StatusCode != http.StatusInternalServerError {
			t.Fatalf("request %d: status %d, want legacy's 500", i, res.StatusCode)
		}
	}
	waitMetric(t, hs.reg, "strangler_fallbacks_total", map[string]string{"route": "orders", "reason": "breaker_open"}, 7)
	if res, body := hs.do(t, "GET", "/", nil); res.StatusCode != http.StatusOK {
		t.Fatalf("GET / after 10 failed fallbacks: %d %s; want 200: legacy's breaker must not count them", res.StatusCode, body)
	}
	if u, _ := statusOf(t, hs.handler.Status(nil), "monolith", "orders"); u.Breaker.Failures != 0 {
		t.Errorf("legacy's breaker counted %d failures, want 0", u.Breaker.Failures)
	}

	// Legacy's own failures still count.
	for range 2 {
		hs.do(t, "GET", "/broken", nil)
	}
	res, body := hs.do(t, "GET", "/", nil)
	checkErrorReply(t, res, body, http.StatusServiceUnavailable)
}

// statusOf returns the named upstream and route of an /api/status document.
func statusOf(t *testing.T, st Status, upstream, route string) (UpstreamStatus, RouteStatus) {
	t.Helper()
	var u UpstreamStatus
	var r RouteStatus
	for _, x := range st.Upstreams {
		if x.Name == upstream {
			u = x
		}
	}
	for _, x := range st.Routes {
		if x.Name == route {
			r = x
		}
	}
	if u.Name == "" || r.Name == "" {
		t.Fatalf("/api/status has no upstream %q or no route %q: %+v", upstream, route, st)
	}
	return u, r
}

// countsConfig puts /api/orders on an orders upstream with one bulkhead
// slot, one retry and a breaker that opens after two failed requests.
const countsConfig = `legacy: monolith
upstreams:
  monolith: {url: "{{.monolith}}"}
  orders:
    url: "{{.orders}}"
    breaker: {consecutive_failures: 2, open_for: 1h}
    bulkhead: {max_concurrent: 1, max_waiting: 0}
    retry: {attempts: 2, backoff: 1ms, max_backoff: 1ms}
routes:
  - prefix: /api/orders
    service: orders
    name: orders
`

// TestStatusCountsResilienceEvents checks that /api/status, served by the
// admin handler, counts what the metrics count: bulkhead rejections,
// retries by reason and breaker transitions per upstream, and fallbacks by
// reason per route.
func TestStatusCountsResilienceEvents(t *testing.T) {
	a := newAdminFixture(t)
	svc := &flaky{}
	arrived, gate := make(chan struct{}), make(chan struct{})
	a.urls["orders"] = startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/orders/slow" {
			close(arrived)
			<-gate
		}
		svc.ServeHTTP(w, r)
	})).URL
	// Registered after the server's Close, so it runs first: a test that
	// fails before opening the gate does not leave Close waiting for the
	// held request.
	openGate := sync.OnceFunc(func() { close(gate) })
	t.Cleanup(openGate)
	a.apply(t, countsConfig)

	want := func(what string, wantRejected, want503, wantOpen uint64, fallbacks map[string]uint64) {
		t.Helper()
		eventually(t, what, func() error {
			u, r := statusOf(t, a.status(t), "orders", "orders")
			if u.Bulkhead.Rejected != wantRejected || u.Retry.Retries["status_503"] != want503 || u.Breaker.Transitions["open"] != wantOpen {
				return fmt.Errorf("bulkhead rejected %d, retries %v, transitions %v; want %d, status_503 %d, open %d",
					u.Bulkhead.Rejected, u.Retry.Retries, u.Breaker.Transitions, wantRejected, want503, wantOpen)
			}
			for _, reason := range fallbackReasons {
				if r.Fallbacks[reason] != fallbacks[reason] {
					return fmt.Errorf("route fallbacks %v, want %v", r.Fallbacks, fallbacks)
				}
			}
			return nil
		})
	}
	want("counts before any traffic", 0, 0, 0, nil)
	if u, r := statusOf(t, a.status(t), "orders", "orders"); len(u.Retry.Retries) != 5 || len(u.Breaker.Transitions) != 3 || len(r.Fallbacks) != len(fallbackReasons) {
		t.Fatalf("zero counts not all listed: retries %v, transitions %v, fallbacks %v", u.Retry.Retries, u.Breaker.Transitions, r.Fallbacks)
	}

	// One request holds the only slot; the next one is refused by the
	// bulkhead and served by legacy.
	slow := make(chan int, 1)
	go func() {
		res, err := a.client.Get(a.front.URL + "/api/orders/slow")
		if err != nil {
			slow <- 0
			return
		}
		res.Body.Close()
		slow <- res.StatusCode
	}()
	waitFor(t, arrived, "the slow request at the service")
	if res, _ := a.do(t, "GET", "/api/orders/1", nil); res.Header.Get("X-Backend") != "monolith" {
		t.Fatalf("with the bulkhead full: answered by %q, want monolith", res.Header.Get("X-Backend"))
	}
	openGate()
	if code := recv(t, slow, "the slow request's answer"); code != http.StatusOK {
		t.Fatalf("slow request: %d, want 200", code)
	}
	want("after a bulkhead rejection", 1, 0, 0, map[string]uint64{"bulkhead_full": 1})

	// Two requests answered 503 twice each (one retry each) open the
	// breaker; the next one falls back without reaching the service.
	svc.down.Store(true)
	for range 3 {
		if res, _ := a.do(t, "GET", "/api/orders/1", nil); res.Header.Get("X-Backend") != "monolith" {
			t.Fatalf("service down: answered by %q, want monolith", res.Header.Get("X-Backend"))
		}
	}
	want("after retries and an open breaker", 1, 2, 1, map[string]uint64{"bulkhead_full": 1, "bad_status": 2, "breaker_open": 1})
	if n := svc.hits.Load(); n != 1+4 {
		t.Fatalf("the service received %d requests, want 5", n)
	}
}

// healthConfig gives orders two targets with fast active health checks;
// interval is spliced in so that a test can change the upstream.
func healthConfig(interval, extra string) string {
	return `legacy: monolith
upstreams:
  monolith: {url: "{{.monolith}}"}
  orders:
    targets: ["{{.sick}}", "{{.well}}"]
    health: {path: /health, interval: ` + interval + `, timeout: 100ms, healthy_after: 1, unhealthy_after: 2}
    retry: {attempts: 1}
routes:
  - prefix: /api/orders
    service: orders
    name: orders
` + extra
}

// TestReloadKeepsTargetHealth checks that a target taken out by active
// health checks stays out, and gets no traffic, right after a reload that
// leaves its upstream's settings alone; and that changing the upstream's
// settings starts it fresh: a new breaker, health state and pool, with
// every target healthy until its own checks say otherwise.
func TestReloadKeepsTargetHealth(t *testing.T) {
	hs := newHarness(t, "monolith")
	sick, well := &flaky{}, &flaky{}
	sickHealth := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		sick.ServeHTTP(w, r)
	}))
	hs.urls["sick"] = sickHealth.URL
	// The well target's health checks are answered apart, so that its
	// hits count only the requests sent to it (a check every 100 ms may
	// fall among them).
	hs.urls["well"] = startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			_, _ = io.WriteString(w, "ok")
			return
		}
		well.ServeHTTP(w, r)
	})).URL

	targetHealth := func() (sickOK, wellOK bool) {
		for _, u := range hs.handler.Status(nil).Upstreams {
			if u.Name != "orders" {
				continue
			}
			for _, tg := range u.Targets {
				switch tg.URL {
				case hs.urls["sick"]:
					sickOK = tg.Healthy
				case hs.urls["well"]:
					wellOK = tg.Healthy
				}
			}
		}
		return sickOK, wellOK
	}
	sendTen := func(what string) {
		t.Helper()
		for i := range 10 {
			if res, _ := hs.do(t, "GET", "/api/orders/1", nil); res.StatusCode != http.StatusOK {
				t.Fatalf("%s: request %d: status %d", what, i, res.StatusCode)
			}
		}
	}

	hs.apply(t, healthConfig("100ms", ""))
	eventually(t, "the sick target marked unhealthy", func() error {
		if sickOK, wellOK := targetHealth(); sickOK || !wellOK {
			return fmt.Errorf("healthy: sick %v, well %v; want false, true", sickOK, wellOK)
		}
		return nil
	})

	// An edit elsewhere in the file: the orders upstream is kept as it is.
	hs.apply(t, healthConfig("100ms", "    weight: 100\n"))
	if sickOK, _ := targetHealth(); sickOK {
		t.Fatal("right after a reload that kept the upstream's settings, the sick target is healthy again")
	}
	before, wellBefore := sick.hits.Load(), well.hits.Load()
	sendTen("after an unrelated reload")
	if n := sick.hits.Load() - before; n != 0 {
		t.Fatalf("the unhealthy target received %d requests after the reload, want 0", n)
	}
	if n := well.hits.Load() - wellBefore; n != 10 {
		t.Fatalf("the healthy target received %d requests, want 10", n)
	}

	// Changed settings (the check interval): a fresh upstream, whose
	// targets start healthy; with an hour between checks, the sick one
	// stays in and takes its share.
	hs.apply(t, healthConfig("1h", ""))
	if sickOK, wellOK := targetHealth(); !sickOK || !wellOK {
		t.Fatalf("after changing the upstream: healthy sick %v, well %v; want a fresh start, both healthy", sickOK, wellOK)
	}
	before = sick.hits.Load()
	sendTen("after changing the upstream")
	if n := sick.hits.Load() - before; n == 0 {
		t.Fatal("the fresh upstream sent nothing to the target its predecessor had taken out")
	}
}
