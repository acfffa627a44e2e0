package proxy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/strangler-proxy/strangler/internal/routing"
)

// histogramQuantile computes the q-quantile of a classic histogram the way
// Prometheus' histogram_quantile does: find the bucket holding the rank
// and interpolate linearly between its bounds (the first bucket starts at
// 0; a rank in +Inf reads the highest finite bound).
func histogramQuantile(q float64, h *dto.Histogram) float64 {
	count := float64(h.GetSampleCount())
	rank := q * count
	var lower, below float64
	for _, b := range h.GetBucket() {
		upper, cum := b.GetUpperBound(), float64(b.GetCumulativeCount())
		if cum >= rank {
			return lower + (upper-lower)*(rank-below)/(cum-below)
		}
		lower, below = upper, cum
	}
	return lower
}

// gatherHistogram returns the strangler_request_duration_seconds histogram
// of one route and side from reg.
func gatherHistogram(t *testing.T, reg prometheus.Gatherer, route string) *dto.Histogram {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "strangler_request_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "route" && l.GetValue() == route {
					return m.GetHistogram()
				}
			}
		}
	}
	t.Fatalf("no latency histogram for route %q", route)
	return nil
}

// TestLatencyBucketsResolveQuantiles is the auditor's case: every request
// takes 120 ms. With buckets at .1 and .25 only, Prometheus read p50 as
// 175 ms and p99 as 248.5 ms, and a 110 ms legacy and a 240 ms service had
// the same p99. The quantiles must now land in a bucket at most 1.67 times
// as wide as its lower bound, and the two sides must differ.
func TestLatencyBucketsResolveQuantiles(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := newMetrics(reg)
	for route, seconds := range map[string]float64{"at120": .120, "at110": .110, "at240": .240} {
		side := m.forSide(route, "legacy", "monolith")
		for range 1000 {
			side.observe(http.MethodGet, http.StatusOK, seconds)
		}
	}
	h := gatherHistogram(t, reg, "at120")
	for _, q := range []float64{0.5, 0.99} {
		if got := histogramQuantile(q, h); got < 0.1 || got > 0.15 {
			t.Errorf("p%g of 120 ms requests = %.4f s, want between 0.1 and 0.15", q*100, got)
		}
	}
	p110 := histogramQuantile(0.99, gatherHistogram(t, reg, "at110"))
	p240 := histogramQuantile(0.99, gatherHistogram(t, reg, "at240"))
	if p240 < 1.5*p110 {
		t.Errorf("p99 of 110 ms requests %.4f s, of 240 ms requests %.4f s: want them told apart", p110, p240)
	}

	// The buckets run from 1 ms to 30 s, each at most twice the one
	// before, and their number bounds the series per route and side.
	if durationBuckets[0] != .001 || durationBuckets[len(durationBuckets)-1] != 30 {
		t.Errorf("buckets span %v to %v s, want 0.001 to 30", durationBuckets[0], durationBuckets[len(durationBuckets)-1])
	}
	for i := 1; i < len(durationBuckets); i++ {
		if r := durationBuckets[i] / durationBuckets[i-1]; r <= 1 || r > 2 {
			t.Errorf("bucket %v follows %v: a step of %.2f, want above 1 and at most 2", durationBuckets[i], durationBuckets[i-1], r)
		}
	}
	if n := len(durationBuckets); n > 30 {
		t.Errorf("%d buckets: more series per route and side than documented", n)
	}
}

// fillInventory counts n distinct literal patterns in h's inventory, each
// requested three times (a crowded parent keeps a child literal once seen
// twice), and returns the requests counted.
func fillInventory(h *Handler, n int) uint64 {
	var requests uint64
	for i := range n {
		word := []byte("/p")
		for k := i; ; k /= 26 {
			word = append(word, byte('a'+k%26))
			if k < 26 {
				break
			}
		}
		for range 3 {
			h.inventory.ObserveAt(time.Now(), string(word), "default")
			requests++
		}
	}
	return requests
}

// firstEvent reads the first "dashboard" event of an event stream and
// returns its data line.
func firstEvent(t *testing.T, url string) []byte {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		if data, ok := bytes.CutPrefix(sc.Bytes(), []byte("data: ")); ok {
			return bytes.Clone(data)
		}
	}
	t.Fatalf("no event: %v", sc.Err())
	return nil
}

// TestDashboardStreamCarriesTheTopPatterns is the auditor's case: with an
// inventory of 10,000 patterns every event carried all of them, about
// 880 KB a second per open page. Each event now carries the top
// StreamPatterns patterns and the totals, while /api/dashboard still lists
// every kept pattern.
func TestDashboardStreamCarriesTheTopPatterns(t *testing.T) {
	h := New(Options{InventorySize: 10000})
	t.Cleanup(func() { _ = h.Close() })
	cfg, err := routing.Load("routes.yaml", []byte("legacy: monolith\nupstreams:\n  monolith: {url: \"http://127.0.0.1:9\"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	requests := fillInventory(h, 10000)

	stop := make(chan struct{})
	defer close(stop)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		h.serveDashboardEvents(w, req, nil, stop)
	}))
	t.Cleanup(srv.Close)
	data := firstEvent(t, srv.URL)
	var d Dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatal(err)
	}
	full := h.Dashboard(nil, time.Now()).Inventory
	if full.Kept < 9000 || len(full.Patterns) != full.Kept {
		t.Fatalf("the full view lists %d of %d kept patterns, want them all (about 10,000)", len(full.Patterns), full.Kept)
	}
	inv := d.Inventory
	if len(inv.Patterns) != StreamPatterns || inv.Kept != full.Kept || inv.Requests != requests || inv.Limit != 10000 {
		t.Errorf("event inventory: %d patterns, kept %d, requests %d, limit %d; want %d, %d, %d, 10000",
			len(inv.Patterns), inv.Kept, inv.Requests, inv.Limit, StreamPatterns, full.Kept, requests)
	}
	if inv.Recent != full.Recent || inv.Recent == 0 {
		t.Errorf("event recent total %d, full view %d: want the same, above 0", inv.Recent, full.Recent)
	}
	for i, e := range inv.Patterns {
		if e != full.Patterns[i] {
			t.Fatalf("event pattern %d = %+v, want the full view's %+v", i, e, full.Patterns[i])
		}
	}
	if len(data) > 32<<10 {
		t.Errorf("an event is %d bytes, want under 32 KiB", len(data))
	}
}

// TestDashboardRatesCoverTheRoutesLifetime checks that a route's figures
// cover the time since it was created, before its first request too, and
// that the headline says how long that is.
func TestDashboardRatesCoverTheRoutesLifetime(t *testing.T) {
	a := newAdminFixture(t)
	a.writeConfig(t, a.path, dashboardConfig)
	if err := a.r.Reload(); err != nil {
		t.Fatal(err)
	}
	d := a.handler.Dashboard(a.r, time.Now().Add(20*time.Second))
	if s := d.Headline.Seconds; s < 19 || s > 21 {
		t.Fatalf("20 s after the routes were created, before any request, the headline covers %v s, want 20", s)
	}
	a.do(t, "GET", "/api/stock/1", nil)
	d = a.handler.Dashboard(a.r, time.Now().Add(20*time.Second))
	stock := d.route(t, "stock")
	// Routes created by one reload began within microseconds of each other.
	if want := 1 / d.Headline.Seconds; math.Abs(stock.Extracted.RequestsPerSecond-want) > want/1000 ||
		math.Abs(d.Headline.RequestsPerSecond-want) > want/1000 {
		t.Errorf("one request: route %v/s, headline %v/s over %v s; want both %v/s", stock.Extracted.RequestsPerSecond,
			d.Headline.RequestsPerSecond, d.Headline.Seconds, want)
	}
	d = a.handler.Dashboard(a.r, time.Now().Add(10*time.Minute))
	if d.Headline.Seconds < 55 || d.Headline.Seconds > 60 {
		t.Errorf("older than the window, the headline covers %v s, want 55 to 60", d.Headline.Seconds)
	}
}

// movedConfig has a route at weight 100 for GET only (not fully moved), a
// fully moved one and one at weight 50.
const movedConfig = `legacy: monolith
upstreams:
  monolith: {url: "{{.monolith}}"}
  orders:   {url: "{{.orders}}"}
routes:
  - {prefix: /api/orders, service: orders, name: orders, methods: [GET]}
  - {prefix: /api/stock, service: orders, name: stock}
  - {prefix: /api/pay, service: orders, name: pay, weight: 50}
`

// TestRoutesMovedOneDefinition checks that strangler_route_moved, which
// Grafana's "Routes fully moved" counts, says what the built-in
// dashboard's headline does: weight 100 and every method. A GET-only route
// at weight 100 is not moved, though strangler_route_weight_ratio is 1.
func TestRoutesMovedOneDefinition(t *testing.T) {
	a := newAdminFixture(t)
	check := func(want map[string]float64) {
		t.Helper()
		sum := 0.0
		for route, v := range want {
			waitMetric(t, a.reg, "strangler_route_moved", map[string]string{"route": route}, v)
			sum += v
		}
		if n, err := countSeries(a.reg, "strangler_route_moved"); err != nil || n != len(want) {
			t.Errorf("strangler_route_moved has %d series (%v), want %d", n, err, len(want))
		}
		if d := a.dashboard(t); float64(d.Headline.RoutesMoved) != sum || d.Headline.RoutesTotal != len(want) {
			t.Errorf("headline: %d of %d routes moved, the metric %v of %d", d.Headline.RoutesMoved, d.Headline.RoutesTotal, sum, len(want))
		}
	}
	a.writeConfig(t, a.path, movedConfig)
	if err := a.r.Reload(); err != nil {
		t.Fatal(err)
	}
	waitMetric(t, a.reg, "strangler_route_weight_ratio", map[string]string{"route": "orders", "service": "orders"}, 1)
	check(map[string]float64{"orders": 0, "stock": 1, "pay": 0})

	a.writeConfig(t, a.path, strings.NewReplacer(", methods: [GET]", "", "  - {prefix: /api/pay, service: orders, name: pay, weight: 50}\n", "").Replace(movedConfig))
	if err := a.r.Reload(); err != nil {
		t.Fatal(err)
	}
	check(map[string]float64{"orders": 1, "stock": 1})
}

// countSeries counts the series of the metric family name in g.
func countSeries(g prometheus.Gatherer, name string) (int, error) {
	mfs, err := g.Gather()
	if err != nil {
		return 0, err
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return len(mf.GetMetric()), nil
		}
	}
	return 0, nil
}

// seriesOf lists the label sets of the named family's series that have
// route="route", as "side/upstream".
func seriesOf(t *testing.T, g prometheus.Gatherer, name, route string) []string {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			if l["route"] == route {
				seen[l["side"]+"/"+l["upstream"]] = true
			}
		}
	}
	var out []string
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestChangedUpstreamLeavesNoFrozenSeries is the auditor's case: route
// orders-v2 moves from service orders to orders2, and the legacy upstream
// changes too. The series of the upstreams the route no longer uses go;
// those of the new ones come.
func TestChangedUpstreamLeavesNoFrozenSeries(t *testing.T) {
	hs := newHarness(t, "monolith", "monolith2", "orders", "orders2")
	const config = `
legacy: %s
upstreams:
  monolith: {url: "{{.monolith}}"}
  monolith2: {url: "{{.monolith2}}"}
  orders: {url: "{{.orders}}"}
  orders2: {url: "{{.orders2}}"}
routes:
  - {prefix: /api/orders, service: %s, name: orders-v2, weight: 50, sticky: "header:X-Customer"}
`
	send := func() {
		for _, customer := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
			hs.do(t, "GET", "/api/orders/1", http.Header{"X-Customer": {customer}})
		}
	}
	hs.apply(t, fmt.Sprintf(config, "monolith", "orders"))
	send()
	for _, name := range []string{"strangler_requests_total", "strangler_request_duration_seconds"} {
		eventually(t, name+" of both sides", func() error {
			if got, want := seriesOf(t, hs.reg, name, "orders-v2"), "[extracted/orders legacy/monolith]"; fmt.Sprint(got) != want {
				return fmt.Errorf("series %v, want %s", got, want)
			}
			return nil
		})
	}

	hs.apply(t, fmt.Sprintf(config, "monolith2", "orders2"))
	send()
	for _, name := range []string{"strangler_requests_total", "strangler_request_duration_seconds"} {
		eventually(t, name+" after the change", func() error {
			if got, want := seriesOf(t, hs.reg, name, "orders-v2"), "[extracted/orders2 legacy/monolith2]"; fmt.Sprint(got) != want {
				return fmt.Errorf("series %v, want %s", got, want)
			}
			return nil
		})
	}
}

// TestDashboardShowsFailingShadows is the shadow auditor's case: a route
// whose every copy fails showed "none yet" and only parity, match and
// mismatch. /api/dashboard now carries the errors, drops and skips.
func TestDashboardShowsFailingShadows(t *testing.T) {
	a := newAdminFixture(t)
	a.writeConfig(t, a.path, `legacy: monolith
upstreams:
  monolith: {url: "{{.monolith}}"}
  dead:     {url: "http://127.0.0.1:1"}
routes:
  - prefix: /api/pay
    service: dead
    name: pay
    weight: 0
    shadow: {percent: 100}
`)
	if err := a.r.Reload(); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		a.do(t, "GET", "/api/pay/1", nil)
	}
	eventually(t, "three failed copies on the dashboard", func() error {
		sh := a.dashboard(t).route(t, "pay").Shadow
		if sh == nil || sh.Error != 3 || sh.Parity != nil || sh.Match+sh.Mismatch+sh.Dropped+sh.Skipped != 0 {
			return fmt.Errorf("shadow = %+v, want 3 errors and nothing compared", sh)
		}
		return nil
	})
	_, body := a.get(t, "GET", "/api/dashboard")
	var compact bytes.Buffer
	if err := json.Compact(&compact, []byte(body)); err != nil {
		t.Fatal(err)
	}
	if want := `"shadow":{"parity":null,"match":0,"mismatch":0,"error":3,"dropped":0,"skipped":0}`; !strings.Contains(compact.String(), want) {
		t.Errorf("/api/dashboard lacks %s: %s", want, compact.String())
	}
}
