package proxy

import (
	"io"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/strangler-proxy/strangler/internal/accesslog"
)

// TestMetricsFollowPrometheusConventions lints every metric the proxy
// exports, after traffic has touched every kind of series, with the linter
// promtool uses: help texts, base units, counter suffixes.
func TestMetricsFollowPrometheusConventions(t *testing.T) {
	hs := newHarness(t, "monolith", "orders")
	access, err := accesslog.New(io.Discard, accesslog.Options{Registerer: hs.reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(access.Close)
	hs.apply(t, `legacy: monolith
upstreams:
  monolith: {url: "{{.monolith}}"}
  orders:
    url: "{{.orders}}"
    health: {path: /}
    retry: {attempts: 2}
  dead: {url: "http://127.0.0.1:1"}
routes:
  - prefix: /api/orders
    service: orders
    name: orders
    shadow: {percent: 100}
  - {prefix: /api/dead, service: dead, name: dead}
`)
	for _, p := range []string{"/api/orders/1", "/api/dead/1", "/api/customers/1", "/api/orders/2?status=503"} {
		hs.do(t, "GET", p, nil)
	}
	families, err := hs.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	problems, err := promlint.NewWithMetricFamilies(families).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
	if len(families) < 10 {
		t.Errorf("only %d metric families to lint", len(families))
	}
}
