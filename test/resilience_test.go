package test

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The resilience promise on the real processes: faults are switched on in
// the bundled apps at run time (/_admin/faults), and strangler's own
// metrics, its /api/status and what the apps answer show what it did.

// healthBound is how long health checks every 100ms, two in a row deciding,
// may take to change a target's health: far above the 200ms they need, far
// below what the default settings (checks every 5s) would take.
const healthBound = 3 * time.Second

// ordersTable is a routing table that moves /api/orders, for weight percent
// of the customers (sticky by X-Customer-ID), to the orders upstream at
// ordersURL (the service, or a witness in front of it). settings are more
// lines of the orders upstream, such as "retry: {attempts: 1}".
func ordersTable(st *stack, ordersURL string, weight float64, fallback bool, settings ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `# written by strangler's end-to-end resilience tests
legacy: monolith
upstreams:
  monolith: {url: %s}
  orders:
    url: %s
    timeout: 5s
`, st.monolith, ordersURL)
	for _, s := range settings {
		fmt.Fprintf(&b, "    %s\n", s)
	}
	fmt.Fprintf(&b, `routes:
  - prefix: /api/orders
    service: orders
    name: orders
    weight: %g
    sticky: header:X-Customer-ID
    fallback: %t
`, weight, fallback)
	return b.String()
}

// setFaults sends method (PUT, PATCH or DELETE) with body to an app's
// /_admin/faults and wants 200.
func setFaults(t *testing.T, app, method, body string) {
	t.Helper()
	if code, b := call(t, method, app+"/_admin/faults", body); code != http.StatusOK {
		t.Fatalf("%s %s/_admin/faults %s: %d %s", method, app, body, code, b)
	}
}

// value returns the value of the one series of name with the given labels.
// A missing series fails the test rather than reading as 0.
func (m metrics) value(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	var found []sample
	for _, s := range m {
		if s.name == name && s.has(labels) {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		t.Fatalf("/metrics has %d series %s%v, want one: %+v", len(found), name, labels, found)
	}
	return found[0].value
}

// delta is how much the series of name with the given labels grew, summed,
// from before to m.
func (m metrics) delta(before metrics, name string, labels ...string) float64 {
	return m.sum(name, labels...) - before.sum(name, labels...)
}

// fallbacksSince returns the orders route's fallbacks since before, by
// reason.
func (sp *strangler) fallbacksSince(t *testing.T, before metrics) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, s := range sp.metrics(t).since(before, "strangler_fallbacks_total") {
		if s.labels["route"] != "orders" {
			t.Fatalf("a fallback on route %q: %+v", s.labels["route"], s)
		}
		out[s.labels["reason"]] += s.value
	}
	return out
}

// upstreamState is the part of an upstream in /api/status the tests read.
type upstreamState struct {
	Name    string `json:"name"`
	Breaker struct {
		State string `json:"state"`
	} `json:"breaker"`
	Targets []struct {
		URL       string `json:"url"`
		Healthy   bool   `json:"healthy"`
		LastError string `json:"last_error"`
	} `json:"targets"`
}

// upstream returns the named upstream's state from /api/status. Reading it
// moves an open breaker whose open_for has passed to half-open.
func (sp *strangler) upstream(t *testing.T, name string) upstreamState {
	t.Helper()
	var s struct{ Upstreams []upstreamState }
	getJSON(t, sp.admin+"/api/status", &s)
	for _, u := range s.Upstreams {
		if u.Name == name {
			return u
		}
	}
	t.Fatalf("/api/status lists no upstream %q", name)
	return upstreamState{}
}

// breakerState reads strangler_circuit_breaker_state of the orders upstream
// (0 closed, 1 half-open, 2 open). Unlike /api/status, scraping it never
// changes the breaker.
func (sp *strangler) breakerState(t *testing.T) float64 {
	t.Helper()
	return sp.metrics(t).value(t, "strangler_circuit_breaker_state", "upstream", "orders")
}

// localLister returns a function that lists customer's own orders
// (?scope=local) through the proxy, fails the test unless the answer is
// 200, and tells from the answer which side gave it: legacyOrder is an
// order placed in the monolith, listed only by the monolith.
func localLister(t *testing.T, sp *strangler, customer, legacyOrder string) func() string {
	return func() string {
		t.Helper()
		ids, err := listOrders(sp.proxy, customer, true)
		if err != nil {
			t.Fatalf("a client request failed: %v", err)
		}
		side, err := sideOf(ids, legacyOrder)
		if err != nil {
			t.Fatal(err)
		}
		return side
	}
}

// witness is an HTTP reverse proxy in front of one app that counts the API
// requests (paths under /api/) it passes on: what the app received, seen
// from outside strangler. Health checks pass through uncounted. A reset
// connection would reach strangler as the witness's 502, so tests of resets
// talk to the app directly.
type witness struct {
	url string
	api atomic.Int64
}

func startWitness(t *testing.T, app string) *witness {
	t.Helper()
	target, err := url.Parse(app)
	if err != nil {
		t.Fatal(err)
	}
	w := &witness{}
	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	rp := &httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(target) },
		Transport: tr,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") {
			w.api.Add(1)
		}
		rp.ServeHTTP(rw, r)
	}))
	t.Cleanup(func() {
		srv.Close()
		tr.CloseIdleConnections()
	})
	w.url = srv.URL
	return w
}

// TestHealthChecksTakeTheServiceOutOfRotation makes the orders service
// report unready: active health checks take its only target out, legacy
// serves its traffic without the service seeing any of it, and when the
// service is ready again the traffic returns. No request fails meanwhile.
func TestHealthChecksTakeTheServiceOutOfRotation(t *testing.T) {
	t.Parallel()
	const customer = "cus-100002"
	st := startStack(t)
	w := startWitness(t, st.orders)
	legacyOrder := placeOrder(t, st.monolith, customer, "sku-1001").ID
	sp := startStrangler(t, newConfig(t, ordersTable(st, w.url, 100, true,
		"health: {path: /health/ready, interval: 100ms, timeout: 100ms, healthy_after: 2, unhealthy_after: 2}")))
	list := localLister(t, sp, customer, legacyOrder)
	healthy := func() float64 {
		t.Helper()
		return sp.metrics(t).value(t, "strangler_upstream_healthy", "upstream", "orders", "target", w.url)
	}
	start := sp.metrics(t)

	if h := healthy(); h != 1 {
		t.Fatalf("strangler_upstream_healthy of the orders target = %g at start, want 1", h)
	}
	seen := w.api.Load()
	if side := list(); side != extracted || w.api.Load() != seen+1 {
		t.Fatalf("healthy: the orders list came from %s, the service saw %d requests; want the service, once", side, w.api.Load()-seen)
	}

	// Unready: the checks take the target out; every request meanwhile
	// still gets 200.
	setFaults(t, st.orders, http.MethodPatch, `{"unready":true}`)
	since := time.Now()
	eventually(t, "health checks to take the unready orders target out", func() bool {
		list()
		return healthy() == 0
	})
	if took := time.Since(since); took > healthBound {
		t.Errorf("the unready target was taken out after %s, want within %s (checks every 100ms, 2 failures)", took, healthBound)
	}
	if u := sp.upstream(t, "orders"); len(u.Targets) != 1 || u.Targets[0].Healthy || u.Targets[0].LastError == "" {
		t.Errorf("/api/status: orders targets %+v, want the one target unhealthy with the failed check's error", u.Targets)
	}

	const n = 20
	before, seen := sp.metrics(t), w.api.Load()
	for i := range n {
		if side := list(); side != legacy {
			t.Fatalf("request %d with the only target out: answered by %s, want legacy", i+1, side)
		}
	}
	eventually(t, fmt.Sprintf("strangler_requests_total to count %d legacy orders lists", n), func() bool {
		return sp.metrics(t).delta(before, "strangler_requests_total", "route", "orders", "side", legacy) == n
	})
	m := sp.metrics(t)
	if d := m.delta(before, "strangler_requests_total", "route", "orders", "side", extracted); d != 0 {
		t.Errorf("with the only target out, %g requests were counted on the orders service", d)
	}
	if fb := sp.fallbacksSince(t, before); len(fb) != 1 || fb["no_healthy_target"] != n {
		t.Errorf("with the only target out, fallbacks %v, want %d no_healthy_target", fb, n)
	}
	if got := w.api.Load() - seen; got != 0 {
		t.Errorf("the orders service received %d API requests while out of rotation, want none", got)
	}

	// Ready again: the checks bring the target back, traffic returns.
	setFaults(t, st.orders, http.MethodDelete, "")
	since = time.Now()
	eventually(t, "health checks to bring the orders target back", func() bool {
		list()
		return healthy() == 1
	})
	if took := time.Since(since); took > healthBound {
		t.Errorf("the ready target came back after %s, want within %s (checks every 100ms, 2 successes)", took, healthBound)
	}
	seen = w.api.Load()
	var side string
	labels := sp.servedBy(t, func() { side = list() })
	if side != extracted || labels["side"] != extracted || labels["upstream"] != "orders" || w.api.Load() != seen+1 {
		t.Fatalf("healthy again: the orders list came from %s, counted as %v, the service saw %d requests; want the service", side, labels, w.api.Load()-seen)
	}

	// The whole sequence: every request answered 200, every fallback for
	// want of a healthy target.
	end := sp.metrics(t)
	for _, s := range end.since(start, "strangler_requests_total") {
		if s.labels["code"] != "200" {
			t.Errorf("%g requests answered %s (%v), want every one 200", s.value, s.labels["code"], s.labels)
		}
	}
	if fb := sp.fallbacksSince(t, start); len(fb) != 1 || fb["no_healthy_target"] == 0 {
		t.Errorf("fallbacks over the sequence: %v, want only no_healthy_target", fb)
	}
}

// TestBreakerOpensAndRecovers fails the orders service: the breaker opens
// after exactly consecutive_failures failed requests, then keeps requests
// away from the service for open_for, and one successful half-open probe
// closes it again. Legacy answers every request the service cannot.
func TestBreakerOpensAndRecovers(t *testing.T) {
	t.Parallel()
	const customer, openFor = "cus-100003", time.Second
	st := startStack(t)
	w := startWitness(t, st.orders)
	legacyOrder := placeOrder(t, st.monolith, customer, "sku-1002").ID
	sp := startStrangler(t, newConfig(t, ordersTable(st, w.url, 100, true,
		"breaker: {consecutive_failures: 3, open_for: "+openFor.String()+", half_open_requests: 1}",
		"retry: {attempts: 1}")))
	list := localLister(t, sp, customer, legacyOrder)

	// one sends one orders list and checks that legacy answered it, that
	// the only fallback was for reason, and that the service saw reached
	// requests.
	one := func(what, reason string, reached int64) {
		t.Helper()
		before, seen := sp.metrics(t), w.api.Load()
		var side string
		labels := sp.servedBy(t, func() { side = list() })
		if side != legacy || labels["side"] != legacy || labels["upstream"] != "monolith" {
			t.Fatalf("%s: answered by %s, counted as %v; want legacy", what, side, labels)
		}
		if fb := sp.fallbacksSince(t, before); len(fb) != 1 || fb[reason] != 1 {
			t.Fatalf("%s: fallbacks %v, want one for %s", what, fb, reason)
		}
		if got := w.api.Load() - seen; got != reached {
			t.Fatalf("%s: the orders service received %d requests, want %d", what, got, reached)
		}
	}

	if side := list(); side != extracted {
		t.Fatalf("before the fault: the orders list came from %s, want the service", side)
	}
	setFaults(t, st.orders, http.MethodPatch, `{"error_rate":1,"error_status":503}`)
	var tripped time.Time // no later than the breaker opened
	for i := 1; i <= 3; i++ {
		tripped = time.Now()
		one(fmt.Sprintf("failing GET %d", i), "bad_status", 1)
		want := 0.0
		if i == 3 {
			want = 2
		}
		if s := sp.breakerState(t); s != want {
			t.Fatalf("after %d failed GETs the breaker state is %g, want %g", i, s, want)
		}
	}

	// Open: requests fall back without reaching the service. Only a
	// request answered within open_for of the trip certainly met the open
	// breaker.
	checked := 0
	for range 3 {
		before, seen := sp.metrics(t), w.api.Load()
		side := list()
		if time.Since(tripped) >= openFor {
			break
		}
		if fb := sp.fallbacksSince(t, before); side != legacy || len(fb) != 1 || fb["breaker_open"] != 1 || w.api.Load() != seen {
			t.Fatalf("breaker open: answered by %s, fallbacks %v, the service saw %d requests; want legacy, breaker_open, none",
				side, fb, w.api.Load()-seen)
		}
		checked++
	}
	if checked == 0 {
		t.Fatalf("no request was answered within open_for (%s) of the breaker opening; too slow to test", openFor)
	}

	// Healed: after open_for, the half-open probe succeeds and closes it.
	setFaults(t, st.orders, http.MethodDelete, "")
	eventually(t, "a half-open probe to close the orders breaker", func() bool {
		list()
		return sp.breakerState(t) == 0
	})
	if closed := time.Since(tripped); closed < openFor {
		t.Errorf("the breaker closed %s after it opened, before open_for (%s)", closed, openFor)
	}
	seen := w.api.Load()
	var side string
	labels := sp.servedBy(t, func() { side = list() })
	if side != extracted || labels["side"] != extracted || w.api.Load() != seen+1 {
		t.Fatalf("breaker closed: answered by %s, counted as %v, the service saw %d requests; want the service",
			side, labels, w.api.Load()-seen)
	}
	m := sp.metrics(t)
	for _, to := range []string{"open", "half-open", "closed"} {
		if v := m.value(t, "strangler_circuit_breaker_transitions_total", "upstream", "orders", "to", to); v < 1 {
			t.Errorf(`strangler_circuit_breaker_transitions_total{upstream="orders",to=%q} = %g, want at least 1`, to, v)
		}
	}
	if u := sp.upstream(t, "orders"); u.Breaker.State != "closed" {
		t.Errorf("/api/status: orders breaker %q, want closed", u.Breaker.State)
	}
}

// TestWritesAreNeverSentTwice sends orders (POST) to a failing service: a
// write the service may have received is never replayed on legacy, where
// it would place the order twice; only a write the open breaker kept from
// the service falls back.
func TestWritesAreNeverSentTwice(t *testing.T) {
	t.Parallel()
	const customer = "cus-100005"
	st := startStack(t)
	sp := startStrangler(t, newConfig(t, ordersTable(st, st.orders, 100, true,
		"breaker: {consecutive_failures: 3, open_for: 1h, half_open_requests: 1}")))
	inMonolith := func() []string {
		t.Helper()
		ids, err := listOrders(st.monolith, customer, true)
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}
	post := func() (int, []byte) {
		t.Helper()
		return call(t, http.MethodPost, sp.proxy+"/api/orders", `{"items":[{"sku":"sku-1004","quantity":1}]}`, "X-Customer-ID", customer)
	}
	orig := inMonolith()
	start := sp.metrics(t)

	// The service answers 503: the client gets the service's own answer.
	setFaults(t, st.orders, http.MethodPut, `{"error_rate":1,"error_status":503}`)
	var code int
	var body []byte
	labels := sp.servedBy(t, func() { code, body = post() })
	if code != http.StatusServiceUnavailable || !strings.Contains(string(body), "fault_injected") ||
		labels["side"] != extracted || labels["code"] != "503" {
		t.Fatalf("POST /api/orders, service answering 503: %d %s counted as %v; want the service's 503", code, body, labels)
	}
	if now := inMonolith(); !slices.Equal(now, orig) {
		t.Fatalf("POST answered 503 by the service was also sent to the monolith: its orders went from %v to %v", orig, now)
	}

	// The service resets the connection after the request was sent.
	setFaults(t, st.orders, http.MethodPut, `{"reset_rate":1}`)
	labels = sp.servedBy(t, func() { code, body = post() })
	if code != http.StatusBadGateway || !strings.Contains(string(body), `"upstream unavailable"`) ||
		labels["side"] != extracted || labels["code"] != "502" {
		t.Fatalf("POST /api/orders, connection reset: %d %s counted as %v; want strangler's 502", code, body, labels)
	}
	if now := inMonolith(); !slices.Equal(now, orig) {
		t.Fatalf("POST reset by the service was replayed on the monolith: its orders went from %v to %v", orig, now)
	}
	if fb := sp.fallbacksSince(t, start); len(fb) != 0 {
		t.Fatalf("writes the service may have received fell back: %v", fb)
	}

	// Open the breaker: a reset GET falls back, and fails for the breaker.
	eventually(t, "failed requests to open the orders breaker", func() bool {
		if _, err := listOrders(sp.proxy, customer, true); err != nil {
			t.Fatalf("a GET the service reset did not fall back: %v", err)
		}
		return sp.breakerState(t) == 2
	})

	// With the breaker open the service never sees the write: legacy takes
	// it, once.
	before := sp.metrics(t)
	var o order
	labels = sp.servedBy(t, func() { o = placeOrder(t, sp.proxy, customer, "sku-1004") })
	if !monolithOwns(o.ID) || labels["side"] != legacy || labels["method"] != http.MethodPost || labels["code"] != "201" {
		t.Fatalf("POST /api/orders, breaker open: order %s counted as %v; want a monolith order, 201 on legacy", o.ID, labels)
	}
	if fb := sp.fallbacksSince(t, before); len(fb) != 1 || fb["breaker_open"] != 1 {
		t.Fatalf("POST /api/orders, breaker open: fallbacks %v, want one breaker_open", fb)
	}
	if now := inMonolith(); !slices.Equal(now, append(slices.Clone(orig), o.ID)) {
		t.Fatalf("the monolith's orders went from %v to %v, want exactly %s more", orig, now, o.ID)
	}
}

// TestReloadKeepsBreakerState reloads routes.yaml while the orders breaker
// is open: an edit that leaves the upstream alone keeps the breaker (and
// with it the protection), an edit of the upstream's breaker settings
// gives it a fresh, closed one.
func TestReloadKeepsBreakerState(t *testing.T) {
	t.Parallel()
	const customer = "cus-100004"
	st := startStack(t)
	w := startWitness(t, st.orders)
	legacyOrder := placeOrder(t, st.monolith, customer, "sku-1003").ID
	table := func(weight float64, failures int) string {
		return ordersTable(st, w.url, weight, true,
			fmt.Sprintf("breaker: {consecutive_failures: %d, open_for: 1h, half_open_requests: 1}", failures),
			"retry: {attempts: 1}")
	}
	cfg := newConfig(t, table(100, 3))
	sp := startStrangler(t, cfg)
	list := localLister(t, sp, customer, legacyOrder)

	// Open the breaker, then heal the service: from now on only the
	// breaker keeps requests away from it.
	setFaults(t, st.orders, http.MethodPatch, `{"error_rate":1,"error_status":503}`)
	for i := range 3 {
		if side := list(); side != legacy {
			t.Fatalf("failing GET %d answered by %s, want legacy", i+1, side)
		}
	}
	if s := sp.breakerState(t); s != 2 {
		t.Fatalf("after 3 failed GETs the breaker state is %g, want 2", s)
	}
	setFaults(t, st.orders, http.MethodDelete, "")

	// An edit of the route's weight only: the same upstream, still open.
	gen := sp.status(t).Generation
	if got := sp.apply(t, cfg, table(99.99, 3)); got <= gen {
		t.Fatalf("generation %d after the edit, want more than %d", got, gen)
	}
	if wt := sp.status(t).weight(t, "orders"); wt != 99.99 {
		t.Fatalf("orders weight %g after the edit, want 99.99", wt)
	}
	if s := sp.breakerState(t); s != 2 {
		t.Fatalf("after a weight edit the breaker state is %g, want 2 (kept)", s)
	}
	if u := sp.upstream(t, "orders"); u.Breaker.State != "open" {
		t.Fatalf("/api/status after a weight edit: orders breaker %q, want open", u.Breaker.State)
	}
	before, seen := sp.metrics(t), w.api.Load()
	var side string
	labels := sp.servedBy(t, func() { side = list() })
	if fb := sp.fallbacksSince(t, before); side != legacy || labels["side"] != legacy || len(fb) != 1 || fb["breaker_open"] != 1 {
		t.Fatalf("after a weight edit: answered by %s, counted as %v, fallbacks %v; want legacy through breaker_open", side, labels, fb)
	}
	if got := w.api.Load() - seen; got != 0 {
		t.Fatalf("after a weight edit the orders service received %d requests through an open breaker", got)
	}

	// An edit of the upstream's breaker: a fresh breaker, closed.
	gen = sp.status(t).Generation
	if got := sp.apply(t, cfg, table(99.99, 4)); got <= gen {
		t.Fatalf("generation %d after the edit, want more than %d", got, gen)
	}
	if s := sp.breakerState(t); s != 0 {
		t.Fatalf("after a breaker edit the breaker state is %g, want 0 (fresh)", s)
	}
	if u := sp.upstream(t, "orders"); u.Breaker.State != "closed" {
		t.Fatalf("/api/status after a breaker edit: orders breaker %q, want closed", u.Breaker.State)
	}
	seen = w.api.Load()
	labels = sp.servedBy(t, func() { side = list() })
	if side != extracted || labels["side"] != extracted || w.api.Load() != seen+1 {
		t.Fatalf("after a breaker edit: answered by %s, counted as %v, the service saw %d requests; want the service",
			side, labels, w.api.Load()-seen)
	}
}

// TestRetryBudgetHoldsDuringOutage resets every connection to the orders
// service, whose requests may be tried 3 times, with neither breaker nor
// fallback to stop them: the retry budget alone keeps retries to 20% of
// the requests (plus 3 per 10s window) instead of 2 per request.
func TestRetryBudgetHoldsDuringOutage(t *testing.T) {
	t.Parallel()
	const customer, n, budget, floor = "cus-100006", 50, 0.2, 3
	st := startStack(t)
	sp := startStrangler(t, newConfig(t, ordersTable(st, st.orders, 100, false,
		"breaker: {disabled: true}",
		fmt.Sprintf("retry: {attempts: 3, budget: %g}", budget))))
	setFaults(t, st.orders, http.MethodPut, `{"reset_rate":1}`)

	before := sp.metrics(t)
	began := time.Now()
	for i := range n {
		code, body := call(t, http.MethodGet, sp.proxy+"/api/orders?scope=local", "", "X-Customer-ID", customer)
		if code != http.StatusBadGateway || !strings.Contains(string(body), `"upstream unavailable"`) {
			t.Fatalf("GET %d during the outage: %d %s, want strangler's 502", i+1, code, body)
		}
	}
	elapsed := time.Since(began)
	eventually(t, fmt.Sprintf("strangler_requests_total to count %d 502s", n), func() bool {
		return sp.metrics(t).delta(before, "strangler_requests_total", "route", "orders", "side", extracted, "code", "502") == n
	})
	m := sp.metrics(t)
	retries := m.delta(before, "strangler_retries_total", "upstream", "orders")
	resets := m.delta(before, "strangler_retries_total", "upstream", "orders", "reason", "connection_error")
	refused := m.delta(before, "strangler_retry_budget_exhausted_total", "upstream", "orders")

	// The budget's window is 10 one-second buckets; each window the run
	// touched grants the floor once.
	windows := math.Ceil((elapsed.Seconds() + 2) / 10)
	limit := budget*n + floor*windows
	t.Logf("%d GETs in %s: %g retries, %g refused by the budget (limit %g)", n, elapsed.Round(time.Millisecond), retries, refused, limit)
	if retries > limit {
		t.Errorf("%g retries for %d requests during an outage, want at most %g (budget %g, floor %d per window)", retries, n, limit, budget, floor)
	}
	if retries < floor || resets != retries {
		t.Errorf("%g retries (%g after a reset connection), want at least the floor %d, all after resets", retries, resets, floor)
	}
	if retries+refused < n {
		t.Errorf("%g retries and %g refused by the budget for %d failed requests: a failed GET neither retried nor counted as refused", retries, refused, n)
	}
	if fb := sp.fallbacksSince(t, before); len(fb) != 0 {
		t.Errorf("fallbacks %v on a route with fallback: false", fb)
	}
	if u := sp.upstream(t, "orders"); u.Breaker.State != "disabled" {
		t.Errorf("/api/status: orders breaker %q, want disabled", u.Breaker.State)
	}
}

// TestFailingServiceDoesNotTakeTheShopDown runs the demo's "break the
// orders service" step on real processes. The monolith lists a customer's
// orders from its own store and from the orders service, so the orders
// traffic that falls back to it depends on the broken service too. It
// must answer what it can (its own orders, marked partial), and the
// fallback traffic must not open the monolith's breaker: the rest of the
// shop keeps answering.
func TestFailingServiceDoesNotTakeTheShopDown(t *testing.T) {
	t.Parallel()
	const customer = "cus-100003"
	st := startStack(t)
	legacyOrder := placeOrder(t, st.monolith, customer, "sku-1002").ID
	sp := startStrangler(t, newConfig(t, ordersTable(st, st.orders, 100, true,
		"breaker: {consecutive_failures: 3, open_for: 1h}", "retry: {attempts: 1}")))
	setFaults(t, st.orders, http.MethodPatch, `{"error_rate":1}`)

	partial := 0
	for i := range 12 {
		code, b, err := send(http.MethodGet, sp.proxy+"/api/orders", "", "X-Customer-ID", customer)
		if err != nil {
			t.Fatal(err)
		}
		if code == http.StatusOK && strings.Contains(string(b), legacyOrder) {
			partial++
		} else if i >= 3 { // the three that opened the breaker got the service's 500
			t.Fatalf("orders list %d with the service broken: %d %s; want the monolith's own orders", i, code, b)
		}
	}
	if partial < 9 {
		t.Fatalf("%d of 12 orders lists answered by the monolith, want at least 9", partial)
	}
	if s := sp.breakerState(t); s != 2 {
		t.Fatalf("orders breaker state %g, want 2 (open)", s)
	}
	if u := sp.upstream(t, "monolith"); u.Breaker.State != "closed" {
		t.Fatalf("monolith breaker %q after the fallbacks, want closed", u.Breaker.State)
	}
	for _, path := range []string{"/", "/api/products"} {
		if code, b := call(t, http.MethodGet, sp.proxy+path, ""); code != http.StatusOK {
			t.Errorf("GET %s with the orders service broken: %d %s; want 200", path, code, b)
		}
	}
}
