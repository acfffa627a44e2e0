package inventory

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestScrapeAfterEvictionAddsNoPhantomRequests is the auditor's case,
// scraped over HTTP as Prometheus does: "/rare" served 100 times is evicted,
// and comes back with one real request into the place of a pattern counted
// 250 times. The Space-Saving estimate is then 251 (kept for the
// dashboard, with its overcount), but the counter must not jump from 100 to
// 251, which rate() and increase() would read as 151 requests that never
// happened: it restarts at the exact count, 1, a counter reset.
func TestScrapeAfterEvictionAddsNoPhantomRequests(t *testing.T) {
	inv := New(2)
	srv := httptest.NewServer(promhttp.HandlerFor(registered(t, inv), promhttp.HandlerOpts{}))
	t.Cleanup(srv.Close)
	observe := func(path string, n int) {
		for range n {
			inv.Observe(path, "default")
		}
	}
	observe("/rare", 100)
	observe("/hot", 300)
	scrape := func(what string, want map[string]int) {
		t.Helper()
		if err := testutil.ScrapeAndCompare(srv.URL, strings.NewReader(exposition(want)), metricName); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	scrape("before the eviction", map[string]int{"/rare": 100, "/hot": 300})

	observe("/new", 150) // evicts /rare: its estimate 250, 150 of them real
	scrape("/rare evicted", map[string]int{"/new": 150, "/hot": 300})

	observe("/rare", 1) // evicts /new: the estimate of /rare is 251
	if e := topTotal(inv, 0); e[1].Pattern != "/rare" || e[1].Requests != 251 || e[1].Overcount != 250 {
		t.Fatalf("table = %+v, want /rare estimated at 251 with overcount 250", e)
	}
	scrape("/rare back with one request", map[string]int{"/rare": 1, "/hot": 300})
	observe("/rare", 4)
	scrape("/rare counting again", map[string]int{"/rare": 5, "/hot": 300})
}
