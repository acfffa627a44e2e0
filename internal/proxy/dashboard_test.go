package proxy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strangler-proxy/strangler/internal/inventory"
	"github.com/strangler-proxy/strangler/internal/livestats"
)

// dashboardConfig moves half of /api/orders, all of /api/stock, and keeps
// /api/orders/archive on legacy; {{.status}} parameters make the echo
// backends fail on demand.
const dashboardConfig = `legacy: monolith
upstreams:
  monolith: {url: "{{.monolith}}"}
  orders:   {url: "{{.orders}}"}
routes:
  - prefix: /api/orders
    service: orders
    weight: 50
    name: orders
  - prefix: /api/stock
    service: orders
    name: stock
`

func (a *adminFixture) dashboard(t *testing.T) Dashboard {
	t.Helper()
	return adminJSON[Dashboard](t, a, "/api/dashboard")
}

func (d Dashboard) route(t *testing.T, name string) RouteView {
	t.Helper()
	for _, r := range d.Routes {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("dashboard has no row %q: %+v", name, d.Routes)
	return RouteView{}
}

func TestDashboardShowsTheLastMinutePerRouteAndSide(t *testing.T) {
	a := newAdminFixture(t)
	a.writeConfig(t, a.path, dashboardConfig)
	if err := a.r.Reload(); err != nil {
		t.Fatal(err)
	}
	const n = 200
	for i := range n {
		status := "200"
		if i%4 == 0 {
			status = "500" // a quarter of each side's answers fail
		}
		a.do(t, "GET", "/api/orders/"+string(rune('a'+i%26))+"?status="+status, nil)
	}
	for range 10 {
		a.do(t, "GET", "/api/stock/sku-1001", nil)
		a.do(t, "GET", "/api/customers/12345/invoices", nil)
	}

	d := a.dashboard(t)
	orders := d.route(t, "orders")
	if orders.Extracted == nil {
		t.Fatal("orders has no extracted side")
	}
	total := orders.Legacy.Requests + orders.Extracted.Requests
	if total != n {
		t.Fatalf("orders counted %d requests, want %d", total, n)
	}
	if orders.Legacy.Requests == 0 || orders.Extracted.Requests == 0 {
		t.Fatalf("a 50%% split left a side empty: legacy %d, extracted %d", orders.Legacy.Requests, orders.Extracted.Requests)
	}
	if orders.ServedShare == nil || *orders.ServedShare != float64(orders.Extracted.Requests)/n {
		t.Errorf("served share = %v, want %v", orders.ServedShare, float64(orders.Extracted.Requests)/n)
	}
	for side, v := range map[string]SideView{"legacy": orders.Legacy, "extracted": *orders.Extracted} {
		if v.ErrorRate == nil || *v.ErrorRate < 0.1 || *v.ErrorRate > 0.45 {
			t.Errorf("%s error rate = %v, want about 0.25", side, v.ErrorRate)
		}
		if v.P50Seconds == nil || v.P99Seconds == nil || *v.P50Seconds <= 0 || *v.P99Seconds < *v.P50Seconds {
			t.Errorf("%s latency p50=%v p99=%v", side, v.P50Seconds, v.P99Seconds)
		}
		if v.RequestsPerSecond <= 0 {
			t.Errorf("%s requests/s = %v", side, v.RequestsPerSecond)
		}
	}
	if orders.Weight != 50 || orders.Moved || orders.Breaker != "closed" || orders.HealthyTargets != 1 || orders.Targets != 1 {
		t.Errorf("orders row = %+v", orders)
	}

	stock := d.route(t, "stock")
	if !stock.Moved || stock.Extracted.Requests != 10 || stock.Legacy.Requests != 0 {
		t.Errorf("stock row = %+v, want moved with 10 extracted requests", stock)
	}
	last := d.Routes[len(d.Routes)-1]
	if !last.Default || last.Name != "default" || last.Extracted != nil || last.Legacy.Requests != 10 {
		t.Errorf("last row = %+v, want the catch-all with 10 legacy requests", last)
	}

	h := d.Headline
	if h.Requests != n+20 || h.RoutesTotal != 2 || h.RoutesMoved != 1 {
		t.Errorf("headline = %+v, want %d requests, 1 of 2 routes moved", h, n+20)
	}
	wantShare := float64(orders.Extracted.Requests+10) / float64(n+20)
	if h.ExtractedShare == nil || *h.ExtractedShare != wantShare {
		t.Errorf("extracted share = %v, want %v", h.ExtractedShare, wantShare)
	}
	if !d.Config.Valid || d.Config.Generation != 1 || d.Config.Path != a.path || d.WindowSeconds != 60 {
		t.Errorf("config = %+v, window %v", d.Config, d.WindowSeconds)
	}
}

func TestDashboardInventoryCollapsesLegacyPaths(t *testing.T) {
	a := newAdminFixture(t)
	a.writeConfig(t, a.path, dashboardConfig)
	if err := a.r.Reload(); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		a.do(t, "GET", "/api/customers/"+string(rune('1'+i))+"0001/invoices", nil)
	}
	a.do(t, "GET", "/catalog", nil)
	a.do(t, "GET", "/api/stock/sku-1001", nil) // moved: not in the inventory

	// Every literal segment is among the first new children of its parent
	// in the window, so the first request of each path is already shown
	// as it is: "/catalog" was requested once.
	inv := a.dashboard(t).Inventory
	if inv.Limit <= 0 || len(inv.Patterns) != 2 {
		t.Fatalf("inventory = %+v, want 2 patterns", inv)
	}
	top := inv.Patterns[0]
	if top.Pattern != "/api/customers/{id}/invoices" || top.Requests != 5 || top.Route != "default" {
		t.Errorf("top pattern = %+v", top)
	}
	if p := inv.Patterns[1]; p.Pattern != "/catalog" || p.Requests != 1 || p.Overcount != 0 {
		t.Errorf("second pattern = %+v, want /catalog from its one request", p)
	}
	for _, p := range inv.Patterns {
		if strings.HasPrefix(p.Pattern, "/api/stock") {
			t.Errorf("a moved path is in the legacy inventory: %+v", p)
		}
	}
}

// TestDashboardInventoryRanksRecentTraffic is issue 5's case: a route's
// patterns that legacy served heavily, then moved fully to its service,
// drop below what legacy serves now once the recent window has passed,
// with their total still shown; the JSON carries both counts.
func TestDashboardInventoryRanksRecentTraffic(t *testing.T) {
	var mu sync.Mutex
	var now time.Time
	a := newAdminFixtureWith(t, func(h *Handler) {
		now = time.Now() // the inventory's recent window starts at New
		h.inventoryNow = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	})
	a.writeConfig(t, a.path, dashboardConfig+"    weight: 0\n") // stock not moved yet
	if err := a.r.Reload(); err != nil {
		t.Fatal(err)
	}
	for range 30 {
		a.do(t, "GET", "/api/stock/sku-1001", nil)
	}
	a.do(t, "GET", "/catalog", nil)

	a.writeConfig(t, a.path, dashboardConfig) // stock fully moved
	if err := a.r.Reload(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = now.Add(inventory.RecentWindow)
	mu.Unlock()
	for range 3 {
		a.do(t, "GET", "/api/stock/sku-1001", nil) // the service answers: not counted
		a.do(t, "GET", "/catalog", nil)
	}

	// "/catalog" and "/api/stock/{id}" are literal from their first
	// request (new children of their parents within the budget).
	inv := a.dashboard(t).Inventory
	var got []string
	for _, p := range inv.Patterns {
		got = append(got, fmt.Sprintf("%s=%d/%d", p.Pattern, p.Recent, p.Requests))
	}
	if want := []string{"/catalog=3/4", "/api/stock/{id}=0/30"}; !slices.Equal(got, want) {
		t.Fatalf("inventory (pattern=recent/total) = %v, want %v", got, want)
	}
	if inv.RecentWindowSeconds != 600 {
		t.Errorf("recent_window_seconds = %v, want 600", inv.RecentWindowSeconds)
	}
	_, body := a.get(t, "GET", "/api/dashboard")
	var compact bytes.Buffer
	if err := json.Compact(&compact, []byte(body)); err != nil {
		t.Fatal(err)
	}
	if c := compact.String(); !strings.Contains(c, `"recent_window_seconds":600`) || !strings.Contains(c, `{"pattern":"/catalog","requests":4,"overcount":0,"route":"default","recent":3}`) {
		t.Errorf("dashboard JSON lacks the recent counts: %s", c)
	}
}

// The figures of a route survive a reload that keeps it; a broken file
// shows as invalid with its error in full.
func TestDashboardAcrossReloads(t *testing.T) {
	a := newAdminFixture(t)
	a.writeConfig(t, a.path, dashboardConfig)
	if err := a.r.Reload(); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		a.do(t, "GET", "/api/stock/1", nil)
	}
	a.writeConfig(t, a.path, strings.Replace(dashboardConfig, "weight: 50", "weight: 100", 1))
	if err := a.r.Reload(); err != nil {
		t.Fatal(err)
	}
	d := a.dashboard(t)
	if got := d.route(t, "stock").Extracted.Requests; got != 4 {
		t.Errorf("after a reload stock shows %d requests, want the 4 from before", got)
	}
	if d.Headline.RoutesMoved != 2 || d.Config.Generation != 2 {
		t.Errorf("headline %+v generation %d, want 2 moved at generation 2", d.Headline, d.Config.Generation)
	}

	writeFile(t, a.path, []byte("legacy: monolith\nupstreams:\n  monolith: {url: 1}\nroutes: [\n"))
	if err := a.r.Reload(); err == nil {
		t.Fatal("a broken file reloaded")
	}
	d = a.dashboard(t)
	if d.Config.Valid || d.Config.LastReload == nil || !strings.Contains(d.Config.LastReload.Error, "routes.yaml:4:") {
		t.Fatalf("after a broken edit config = %+v %+v", d.Config, d.Config.LastReload)
	}
	if d.Config.Generation != 2 || len(d.Routes) != 3 {
		t.Errorf("the broken edit changed the live table: generation %d, %d rows", d.Config.Generation, len(d.Routes))
	}

	a.writeConfig(t, a.path, `legacy: monolith
upstreams:
  monolith: {url: "{{.monolith}}"}
  orders:   {url: "{{.orders}}"}
routes:
  - {prefix: /api/stock, service: orders, name: stock-v2}
`)
	if err := a.r.Reload(); err != nil {
		t.Fatal(err)
	}
	d = a.dashboard(t)
	if !d.Config.Valid || len(d.Routes) != 2 || d.Routes[0].Name != "stock-v2" || d.Routes[0].Extracted.Requests != 0 {
		t.Errorf("after renaming: valid %v rows %+v", d.Config.Valid, d.Routes)
	}
}

func TestDashboardCountsFallbacks(t *testing.T) {
	a := newAdminFixture(t)
	a.writeConfig(t, a.path, `legacy: monolith
upstreams:
  monolith: {url: "{{.monolith}}"}
  orders:   {url: "http://127.0.0.1:1"}
routes:
  - {prefix: /api/orders, service: orders, name: orders}
`)
	if err := a.r.Reload(); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if res, _ := a.do(t, "GET", "/api/orders/1", nil); res.StatusCode != http.StatusOK {
			t.Fatalf("fallback answered %d", res.StatusCode)
		}
	}
	orders := a.dashboard(t).route(t, "orders")
	if orders.Fallbacks != 3 || orders.Legacy.Requests != 3 || orders.Extracted.Requests != 0 {
		t.Fatalf("orders row = %+v, want 3 fallbacks served by legacy", orders)
	}
}

// The event stream sends a snapshot at once, keeps sending, shows a reload,
// and ends when the admin server stops.
func TestDashboardEvents(t *testing.T) {
	f := newReloadFixture(t)
	f.writeConfig(t, f.path, dashboardConfig)
	if err := f.r.Reload(); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	srv := startServer(t, NewAdmin(AdminOptions{Handler: f.handler, Reloader: f.r, Gatherer: f.reg, Stop: stop}))
	req, _ := http.NewRequestWithContext(t.Context(), "GET", srv.URL+"/api/dashboard/events", nil)
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type = %q", ct)
	}
	events := make(chan Dashboard)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(nil, 1<<20)
		name := ""
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: ") && name == "dashboard":
				var d Dashboard
				if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &d); err != nil {
					t.Errorf("event data: %v", err)
					return
				}
				events <- d
			}
		}
	}()
	next := func() Dashboard {
		t.Helper()
		select {
		case d, ok := <-events:
			if !ok {
				t.Fatal("the stream ended")
			}
			return d
		case <-time.After(waitLimit):
			t.Fatal("no event")
		}
		return Dashboard{}
	}
	if d := next(); d.Config.Generation != 1 {
		t.Fatalf("first event at generation %d", d.Config.Generation)
	}
	f.writeConfig(t, f.path, strings.Replace(dashboardConfig, "weight: 50", "weight: 75", 1))
	if err := f.r.Reload(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(waitLimit)
	for d := next(); d.Config.Generation != 2 || d.route(t, "orders").Weight != 75; d = next() {
		if time.Now().After(deadline) {
			t.Fatal("the stream never showed the reload")
		}
	}
	close(stop)
	select {
	case _, ok := <-events:
		for ok { // at most the event already on its way
			select {
			case _, ok = <-events:
			case <-time.After(waitLimit):
				t.Fatal("the stream did not end when the admin server stopped")
			}
		}
	case <-time.After(waitLimit):
		t.Fatal("the stream did not end when the admin server stopped")
	}
}

// TestDashboardShadowParityCoversTheLastMinute is the case of a team that
// fixes a difference its shadow copies found: once the window has passed
// the mismatches, the dashboard's shadow column reads the parity of the
// last minute, 100%, as its fallbacks go back to 0, while the counts since
// the start (as /api/status) keep them. The shadow results' clock is
// moved forward instead of waiting a minute.
func TestDashboardShadowParityCoversTheLastMinute(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	hs := newConfiguredHarness(t, func(h *Handler) { h.shadows.now = clock })
	t.Cleanup(func() {
		if err := hs.handler.Close(); err != nil {
			t.Errorf("Handler.Close: %v", err)
		}
	})
	var fixed atomic.Bool // the service's price is wrong until fixed
	priceOf := func(side string) func(*http.Request, string) answer {
		return func(*http.Request, string) answer {
			if side == "svc" && !fixed.Load() {
				return answer{body: `{"price":11}`}
			}
			return answer{body: `{"price":10}`}
		}
	}
	startTwins(t, hs, priceOf("legacy"), priceOf("svc"), false)
	config := twinsConfig + `  - prefix: /api/items
    service: svc
    name: items
    weight: 0
    shadow: {}
`
	hs.apply(t, config)
	for i := range 4 {
		if i == 3 {
			fixed.Store(true)
		}
		get(t, hs, "/api/items/price", nil, `{"price":10}`)
		waitCounts(t, hs, "items", counts{match: uint64(i / 3), mismatch: uint64(min(i+1, 3))})
	}
	before := hs.handler.Dashboard(nil, clock()).route(t, "items")
	wantShadow(t, "before the window passed, last minute", before.Shadow, 1, 3)
	wantShadow(t, "before the window passed, since the start", before.ShadowSinceStart, 1, 3)

	// A window later, after a reload that keeps the route's name, the
	// copies still match.
	mu.Lock()
	now = now.Add(livestats.Window)
	mu.Unlock()
	hs.apply(t, config)
	for range 4 {
		get(t, hs, "/api/items/price", nil, `{"price":10}`)
	}
	waitCounts(t, hs, "items", counts{match: 5, mismatch: 3})
	after := hs.handler.Dashboard(nil, clock()).route(t, "items")
	wantShadow(t, "a window later, last minute", after.Shadow, 4, 0)
	wantShadow(t, "a window later, since the start", after.ShadowSinceStart, 5, 3)

	b, err := json.Marshal(after)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`"shadow":{"parity":1,"match":4,"mismatch":0,"error":0,"dropped":0,"skipped":0}`,
		`"shadow_since_start":{"parity":0.625,"match":5,"mismatch":3,"error":0,"dropped":0,"skipped":0}`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("the row's JSON lacks %s: %s", want, b)
		}
	}
}

// wantShadow checks a shadow span's comparisons and its parity.
func wantShadow(t *testing.T, what string, p *ShadowParity, match, mismatch uint64) {
	t.Helper()
	if p == nil {
		t.Fatalf("%s: no shadow figures", what)
	}
	wantParity := float64(match) / float64(match+mismatch)
	if p.Match != match || p.Mismatch != mismatch || p.Parity == nil || *p.Parity != wantParity ||
		p.Error+p.Dropped+p.Skipped != 0 {
		parity := "null"
		if p.Parity != nil {
			parity = fmt.Sprint(*p.Parity)
		}
		t.Errorf("%s: %d matches, %d mismatches, %d not compared, parity %s; want %d, %d, 0, parity %v",
			what, p.Match, p.Mismatch, p.Error+p.Dropped+p.Skipped, parity, match, mismatch, wantParity)
	}
}
