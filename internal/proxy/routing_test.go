package proxy

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/strangler-proxy/strangler/internal/routing"
)

// TestRouting sends requests through the handler and checks which backend
// answers, with which path and query, and which route the handler names.
func TestRouting(t *testing.T) {
	hs := newMainHarness(t)
	for _, tc := range []struct {
		name        string
		method      string
		target      string
		wantBackend string
		wantURI     string // request target the backend receives
		wantRoute   string // X-Strangler-Route
	}{
		{"unmatched goes to legacy", "GET", "/about", "monolith", "/about", "default"},
		{"root goes to legacy", "GET", "/", "monolith", "/", "default"},
		{"weight 100 prefix itself", "GET", "/api/orders", "orders", "/api/orders", "orders"},
		{"weight 100 below prefix", "GET", "/api/orders/42", "orders", "/api/orders/42", "orders"},
		{"trailing slash", "GET", "/api/orders/", "orders", "/api/orders/", "orders"},
		{"whole segments only", "GET", "/api/orders-archive/1", "monolith", "/api/orders-archive/1", "default"},
		{"whole segments only, exact", "GET", "/api/orders-archive", "monolith", "/api/orders-archive", "default"},
		{"longest prefix wins", "GET", "/api/orders/returns/7", "returns", "/api/orders/returns/7", "returns"},
		{"longest prefix, prefix itself", "POST", "/api/orders/returns", "returns", "/api/orders/returns", "returns"},
		{"longer sibling is not a child", "GET", "/api/orders/returnsx", "orders", "/api/orders/returnsx", "orders"},
		{"matching is case sensitive", "GET", "/API/orders/1", "monolith", "/API/orders/1", "default"},
		{"weight 0 stays on legacy", "GET", "/api/payments/1", "monolith", "/api/payments/1", "payments"},
		{"method in list", "GET", "/api/reviews/1", "reviews", "/api/reviews/1", "reviews"},
		{"second method in list", "HEAD", "/api/reviews/1", "reviews", "/api/reviews/1", "reviews"},
		{"method not in list", "POST", "/api/reviews/1", "monolith", "/api/reviews/1", "default"},
		{"other method not in list", "DELETE", "/api/reviews", "monolith", "/api/reviews", "default"},
		{"rewrite on the service", "GET", "/api/inventory/sku/9", "inventory", "/v2/stock/sku/9", "inventory"},
		{"rewrite of the prefix itself", "GET", "/api/inventory", "inventory", "/v2/stock", "inventory"},
		{"rewrite keeps the query", "GET", "/api/inventory/sku/9?color=red&size=L", "inventory", "/v2/stock/sku/9?color=red&size=L", "inventory"},
		{"legacy ignores the rewrite", "GET", "/api/catalog/shoes?page=2", "monolith", "/api/catalog/shoes?page=2", "catalog"},
		{"query to the service", "GET", "/api/orders/42?x=1&y=a%20b&y=c", "orders", "/api/orders/42?x=1&y=a%20b&y=c", "orders"},
		{"query to legacy", "GET", "/search?q=caf%C3%A9&empty=", "monolith", "/search?q=caf%C3%A9&empty=", "default"},
		{"escaped bytes pass as sent", "GET", "/api/orders/a%20b", "orders", "/api/orders/a%20b", "orders"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, body := hs.do(t, tc.method, tc.target, nil)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status %d, body %s", res.StatusCode, body)
			}
			if got := res.Header.Get("X-Backend"); got != tc.wantBackend {
				t.Fatalf("%s %s answered by %q, want %q", tc.method, tc.target, got, tc.wantBackend)
			}
			b := hs.backends[tc.wantBackend].requests()
			s := b[len(b)-1]
			if s.RequestURI != tc.wantURI {
				t.Errorf("backend %s received %q, want %q", tc.wantBackend, s.RequestURI, tc.wantURI)
			}
			if s.Method != tc.method {
				t.Errorf("backend received method %s, want %s", s.Method, tc.method)
			}
			if got := s.Header.Get(HeaderRoute); got != tc.wantRoute {
				t.Errorf("%s = %q, want %q", HeaderRoute, got, tc.wantRoute)
			}
		})
	}
}

// TestRoutingOrderInFile checks that the longest prefix wins whichever
// order the routes are written in, with /api/orders/returns first this
// time (mainConfig writes it second).
func TestRoutingOrderInFile(t *testing.T) {
	hs := newHarness(t, "monolith", "orders", "returns")
	hs.apply(t, `
legacy: monolith
upstreams:
  monolith: {url: "{{.monolith}}"}
  orders: {url: "{{.orders}}"}
  returns: {url: "{{.returns}}"}
routes:
  - {prefix: /api/orders/returns, service: returns}
  - {prefix: /api/orders, service: orders}
`)
	for target, want := range map[string]string{
		"/api/orders/returns/7": "returns",
		"/api/orders/7":         "orders",
		"/api/orders-returns":   "monolith",
	} {
		if _, s := hs.forward(t, "GET", target, nil); s.Backend != want {
			t.Errorf("GET %s answered by %s, want %s", target, s.Backend, want)
		}
	}
}

// TestStickySplit checks through the handler that a sticky 50% route sends
// each key to the side its bucket says, every time.
func TestStickySplit(t *testing.T) {
	hs := newHarness(t, "monolith", "orders")
	const cfg = `
legacy: monolith
upstreams:
  monolith: {url: "{{.monolith}}"}
  orders: {url: "{{.orders}}"}
routes:
  - {prefix: /api/orders, service: orders, weight: 50, sticky: "header:X-Customer-ID"}
`
	hs.apply(t, cfg)
	loaded, err := routing.Load("routes.yaml", hs.render(t, cfg))
	if err != nil {
		t.Fatal(err)
	}
	table, err := routing.Compile(loaded)
	if err != nil {
		t.Fatal(err)
	}
	route := table.Match("/api/orders", "GET")

	sides := map[string]int{}
	for i := range 40 {
		key := fmt.Sprintf("customer-%d", i)
		want := "monolith"
		if route.Bucket(key) < 5000 {
			want = "orders"
		}
		for range 3 {
			_, s := hs.forward(t, "GET", "/api/orders/1", http.Header{"X-Customer-Id": {key}})
			if s.Backend != want {
				t.Fatalf("customer %s answered by %s, want %s (bucket %d)", key, s.Backend, want, route.Bucket(key))
			}
		}
		sides[want]++
	}
	if sides["orders"] == 0 || sides["monolith"] == 0 {
		t.Errorf("40 keys split %v; want both sides used", sides)
	}
}

// TestNotReady checks that a handler with no table answers 503 with the
// JSON error body, and routes once a table is applied.
func TestNotReady(t *testing.T) {
	hs := newHarness(t, "monolith")
	res, body := hs.do(t, "GET", "/api/orders/1", nil)
	e := checkErrorReply(t, res, body, http.StatusServiceUnavailable)
	if !strings.Contains(e.Error, "table") {
		t.Errorf("error = %q, want it to say no table is loaded", e.Error)
	}
	if len(hs.backends["monolith"].requests()) != 0 {
		t.Error("backend reached before any table was applied")
	}

	hs.apply(t, "legacy: monolith\nupstreams:\n  monolith: {url: \"{{.monolith}}\"}\n")
	if _, s := hs.forward(t, "GET", "/api/orders/1", nil); s.Backend != "monolith" {
		t.Errorf("after Apply answered by %s, want monolith", s.Backend)
	}
}
