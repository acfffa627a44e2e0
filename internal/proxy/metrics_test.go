package proxy

import (
	"fmt"
	"net/http"
	"os"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

const metricsConfig = `
legacy: monolith
upstreams:
  monolith: {url: "{{.monolith}}"}
  orders: {url: "{{.orders}}"}
  payments: {url: "{{.payments}}"}
routes:
  - {prefix: /api/orders, service: orders, name: orders}
  - {prefix: /api/payments, service: payments, weight: 0, name: payments}
`

// waitCompare waits until the named metric families of g match the
// expected text file. Request metrics are recorded after the response has
// gone out, so a single comparison could run ahead of them.
func waitCompare(t *testing.T, g prometheus.Gatherer, file string, names ...string) {
	t.Helper()
	eventually(t, "compare with "+file, func() error {
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		return testutil.GatherAndCompare(g, f, names...)
	})
}

// TestRequestMetrics checks strangler_requests_total and
// strangler_request_duration_seconds on a pedantic registry, and that
// label values never come from the request.
func TestRequestMetrics(t *testing.T) {
	hs := newHarness(t, "monolith", "orders", "payments")
	hs.apply(t, metricsConfig)
	for _, r := range []struct{ method, target string }{
		{"GET", "/api/orders/1"},
		{"GET", "/api/orders/2?utm=x"},
		{"POST", "/api/orders"},
		{"PROPFIND", "/api/orders/1"},
		{"BREW", "/api/orders/1"},
		{"GET", "/about"},
		{"GET", "/nothing/here?status=404"},
		{"GET", "/api/payments/1"},
		{"DELETE", "/api/payments/1"},
	} {
		if res, body := hs.do(t, r.method, r.target, nil); res.StatusCode >= 500 {
			t.Fatalf("%s %s: %d %s", r.method, r.target, res.StatusCode, body)
		}
	}
	waitCompare(t, hs.reg, "testdata/requests.prom", "strangler_requests_total", "strangler_route_weight_ratio")

	for _, c := range []struct {
		route, side, upstream string
		want                  float64
	}{
		{"orders", "extracted", "orders", 5},
		{"default", "legacy", "monolith", 2},
		{"payments", "legacy", "monolith", 2},
		// Both sides of every route are resolved when the table is
		// built, so the unused sides are exported at zero.
		{"orders", "legacy", "monolith", 0},
		{"payments", "extracted", "payments", 0},
	} {
		labels := map[string]string{"route": c.route, "side": c.side, "upstream": c.upstream}
		waitMetric(t, hs.reg, "strangler_request_duration_seconds", labels, c.want)
	}
	if n := testutil.CollectAndCount(hs.handler.metrics.duration); n != 5 {
		t.Errorf("strangler_request_duration_seconds has %d series, want 5", n)
	}
	if _, err := hs.reg.Gather(); err != nil {
		t.Errorf("pedantic registry: %v", err)
	}
}

// TestMethodLabelBounded checks that any number of unusual methods adds
// only the one method="OTHER" series.
func TestMethodLabelBounded(t *testing.T) {
	hs := newHarness(t, "monolith")
	hs.apply(t, "legacy: monolith\nupstreams:\n  monolith: {url: \"{{.monolith}}\"}\n")
	for i := range 20 {
		hs.do(t, fmt.Sprintf("X-METHOD-%d", i), "/", nil)
		hs.do(t, "get", "/", nil) // methods are case-sensitive: "get" is not GET
	}
	labels := requestLabels("default", "legacy", "monolith", "OTHER", "200")
	waitMetric(t, hs.reg, "strangler_requests_total", labels, 40)
	if n := testutil.CollectAndCount(hs.handler.metrics.requests, "strangler_requests_total"); n != 1 {
		t.Errorf("strangler_requests_total has %d series, want 1 (OTHER)", n)
	}
}

// TestWeightMetrics checks that strangler_route_weight_ratio follows
// reloads: weights change, and the series of a removed route, or of a
// route that now moves to another service, disappears.
func TestWeightMetrics(t *testing.T) {
	hs := newHarness(t, "monolith", "orders", "payments", "inventory", "returns")
	hs.apply(t, `
legacy: monolith
upstreams:
  monolith: {url: "{{.monolith}}"}
  orders: {url: "{{.orders}}"}
  payments: {url: "{{.payments}}"}
  inventory: {url: "{{.inventory}}"}
  returns: {url: "{{.returns}}"}
routes:
  - {prefix: /api/orders, service: orders, name: orders}
  - {prefix: /api/inventory, service: inventory, weight: 25, name: inventory}
  - {prefix: /api/payments, service: payments, weight: 12.5, name: payments}
`)
	waitCompare(t, hs.reg, "testdata/weights_before.prom", "strangler_route_weight_ratio")
	hs.apply(t, `
legacy: monolith
upstreams:
  monolith: {url: "{{.monolith}}"}
  orders: {url: "{{.orders}}"}
  inventory: {url: "{{.inventory}}"}
  returns: {url: "{{.returns}}"}
routes:
  - {prefix: /api/orders, service: orders, weight: 50, name: orders}
  - {prefix: /api/payments, service: inventory, weight: 12.5, name: payments}
  - {prefix: /api/returns, service: returns, weight: 0, name: returns}
`)
	waitCompare(t, hs.reg, "testdata/weights_after.prom", "strangler_route_weight_ratio")
	if got := testutil.ToFloat64(hs.handler.metrics.generation); got != 2 {
		t.Errorf("strangler_config_generation = %v, want 2", got)
	}
}

// TestMetricsOptional checks that a Handler without a Registerer serves
// and registers nothing, not even on the default registry.
func TestMetricsOptional(t *testing.T) {
	up := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	hs := &harness{urls: map[string]string{"up": up.URL}}
	hs.startProxy(t, nil)
	hs.apply(t, "legacy: up\nupstreams:\n  up: {url: \"{{.up}}\"}\n")
	if res, _ := hs.do(t, "GET", "/", nil); res.StatusCode != http.StatusOK {
		t.Errorf("status %d", res.StatusCode)
	}
	if n, err := testutil.GatherAndCount(prometheus.DefaultGatherer, "strangler_requests_total", "strangler_config_generation"); err != nil || n != 0 {
		t.Errorf("default registry holds %d strangler series (%v), want none", n, err)
	}
}

// TestRemovedRoutesLeaveNoSeries checks that a route renamed by a reload
// takes its request, latency and fallback series with it.
func TestRemovedRoutesLeaveNoSeries(t *testing.T) {
	hs := newHarness(t, "monolith", "orders", "payments")
	hs.apply(t, metricsConfig)
	hs.do(t, "GET", "/api/orders/1", nil)
	hs.do(t, "GET", "/api/payments/1", nil)
	waitMetric(t, hs.reg, "strangler_requests_total", requestLabels("orders", "extracted", "orders", "GET", "200"), 1)

	hs.apply(t, `
legacy: monolith
upstreams:
  monolith: {url: "{{.monolith}}"}
  orders: {url: "{{.orders}}"}
routes:
  - {prefix: /api/orders, service: orders, name: orders-v2}
`)
	hs.do(t, "GET", "/api/orders/1", nil)
	waitMetric(t, hs.reg, "strangler_requests_total", requestLabels("orders-v2", "extracted", "orders", "GET", "200"), 1)
	families, err := hs.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range families {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "route" && (l.GetValue() == "orders" || l.GetValue() == "payments") {
					t.Errorf("%s still has a series of removed route %q", mf.GetName(), l.GetValue())
				}
			}
		}
	}
}
