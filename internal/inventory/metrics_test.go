package inventory

import (
	"fmt"
	"maps"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
)

const metricName = "strangler_legacy_inventory_requests_total"

// exposition renders the expected text format of the metric with one
// series per pattern.
func exposition(requests map[string]int) string {
	var b strings.Builder
	b.WriteString(`# HELP strangler_legacy_inventory_requests_total Requests served by the legacy upstream, by path pattern (ids collapsed to {id}), counted exactly since the pattern last entered the table; at most --inventory-size patterns are kept, the least requested make room for new ones.
# TYPE strangler_legacy_inventory_requests_total counter
`)
	for _, p := range slices.Sorted(maps.Keys(requests)) {
		fmt.Fprintf(&b, "%s{pattern=%q} %d\n", metricName, p, requests[p])
	}
	return b.String()
}

// registered returns a pedantic registry holding inv, which checks that
// what Collect sends matches what Describe announced.
func registered(t *testing.T, inv *Inventory) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(inv); err != nil {
		t.Fatalf("register inventory: %v", err)
	}
	return reg
}

func TestCollect(t *testing.T) {
	inv := New(3)
	reg := registered(t, inv)
	if n := testutil.CollectAndCount(inv, metricName); n != 0 {
		t.Fatalf("empty inventory exports %d series, want 0", n)
	}
	for range 3 {
		inv.Observe("/api/customers/123/invoices", "default")
	}
	inv.Observe("/search/red shoes", "default")
	inv.Observe("/search/blue socks", "default")
	inv.Observe("/a/\"quoted\\", "default")
	before := exposition(map[string]int{"/a/{id}": 1, "/api/customers/{id}/invoices": 3, "/search/{id}": 2})
	if err := testutil.CollectAndCompare(inv, strings.NewReader(before), metricName); err != nil {
		t.Fatalf("before eviction: %v", err)
	}

	// The table is full: "/about" takes the place of "/a/{id}", the least
	// requested, and inherits its count as an estimate; the metric exports
	// its exact count, 1. The evicted series is gone, the kept ones keep
	// their values.
	inv.Observe("/about", "default")
	after := exposition(map[string]int{"/about": 1, "/api/customers/{id}/invoices": 3, "/search/{id}": 2})
	if err := testutil.GatherAndCompare(reg, strings.NewReader(after), metricName); err != nil {
		t.Fatalf("after eviction: %v", err)
	}
	if n := testutil.CollectAndCount(inv, metricName); n != 3 {
		t.Fatalf("%d series, want the limit 3", n)
	}
}

func TestCollectBoundedUnderChurn(t *testing.T) {
	const limit = 25
	inv := New(limit)
	reg := registered(t, inv)
	for i := range 10_000 {
		inv.Observe(churnPath(i), "default")
		if i%1000 != 0 {
			continue
		}
		n, err := testutil.GatherAndCount(reg, metricName)
		if err != nil {
			t.Fatalf("gather: %v", err)
		}
		if n > limit {
			t.Fatalf("after %d distinct paths the metric has %d series, limit %d", i+1, n, limit)
		}
	}
	if n := testutil.CollectAndCount(inv, metricName); n != limit {
		t.Fatalf("%d series, want %d", n, limit)
	}
}

func TestMetricLint(t *testing.T) {
	inv := New(10)
	reg := registered(t, inv)
	inv.Observe("/api/orders/ord-100001", "default")
	inv.Observe("/\xff\x00/x", "default")
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	if len(mfs) != 1 {
		t.Fatalf("gathered %d metric families, want 1", len(mfs))
	}
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		t.Fatalf("lint: %v", err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

// TestScrape serves the inventory the way the admin listener does and
// scrapes it over HTTP.
func TestScrape(t *testing.T) {
	inv := New(10)
	srv := httptest.NewServer(promhttp.HandlerFor(registered(t, inv), promhttp.HandlerOpts{}))
	t.Cleanup(srv.Close)
	inv.Observe("/api/v1/users/550e8400-e29b-41d4-a716-446655440000", "users")
	inv.Observe("/api/v1/users/00000000-0000-0000-0000-000000000000", "default")
	inv.Observe("/produits/caf\xc3\xa9/\u202e", "default")
	want := exposition(map[string]int{"/api/v1/users/{id}": 2, "/produits/{id}/{id}": 1})
	if err := testutil.ScrapeAndCompare(srv.URL, strings.NewReader(want), metricName); err != nil {
		t.Fatal(err)
	}
}
