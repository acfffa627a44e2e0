package test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// customers are the bundled shop's 24 seeded customers.
var customers = func() []string {
	out := make([]string, 24)
	for i := range out {
		out[i] = fmt.Sprintf("cus-%d", 100001+i)
	}
	return out
}()

// Sides of a route, as in the side label of strangler_requests_total.
const (
	legacy    = "legacy"
	extracted = "extracted"
)

type order struct {
	ID         string `json:"id"`
	CustomerID string `json:"customer_id"`
}

// Order ids tell their owner: the monolith issues ord-1xxxxx to ord-4xxxxx,
// the orders service ord-5xxxxx and up.
func monolithOwns(id string) bool {
	return len(id) == len("ord-100001") && strings.HasPrefix(id, "ord-") && id[4] >= '1' && id[4] <= '4'
}

func serviceOwns(id string) bool {
	return len(id) == len("ord-500001") && strings.HasPrefix(id, "ord-") && id[4] >= '5' && id[4] <= '9'
}

// placeOrder places an order of one sku for customer through base.
func placeOrder(t *testing.T, base, customer, sku string) order {
	t.Helper()
	body := fmt.Sprintf(`{"items":[{"sku":%q,"quantity":1}]}`, sku)
	code, b := call(t, http.MethodPost, base+"/api/orders", body, "X-Customer-ID", customer)
	if code != http.StatusCreated {
		t.Fatalf("POST /api/orders for %s: %d %s", customer, code, b)
	}
	var o order
	if err := json.Unmarshal(b, &o); err != nil || o.CustomerID != customer {
		t.Fatalf("POST /api/orders for %s: %s (%v)", customer, b, err)
	}
	return o
}

// listOrders lists the ids of customer's orders through base; local asks
// only for the orders of the side that answers (?scope=local). Safe to use
// from any goroutine.
func listOrders(base, customer string, local bool) ([]string, error) {
	url := base + "/api/orders"
	if local {
		url += "?scope=local"
	}
	code, b, err := send(http.MethodGet, url, "", "X-Customer-ID", customer)
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("GET %s for %s: %d %s", url, customer, code, b)
	}
	var list struct{ Orders []order }
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("GET %s for %s: %s: %w", url, customer, b, err)
	}
	ids := make([]string, len(list.Orders))
	for i, o := range list.Orders {
		ids[i] = o.ID
	}
	return ids, nil
}

// sideOf tells from a ?scope=local list which side answered: the monolith
// lists its own orders, among them legacyOrder, which the test placed
// there; the service lists only the orders it owns, maybe none.
func sideOf(ids []string, legacyOrder string) (string, error) {
	switch {
	case slices.Contains(ids, legacyOrder) && !slices.ContainsFunc(ids, serviceOwns):
		return legacy, nil
	case !slices.ContainsFunc(ids, monolithOwns):
		return extracted, nil
	}
	return "", fmt.Errorf("a local list mixes both sides' orders: %v", ids)
}

// TestMigrationThroughTheProxy moves /api/orders from the monolith to the
// orders service as an operator does, by editing routes.yaml, while
// customers use the shop through the proxy.
func TestMigrationThroughTheProxy(t *testing.T) {
	t.Parallel()
	st := startStack(t)
	cfg := newConfig(t, routesYAML(st, 0))
	sp := startStrangler(t, cfg)

	// Weight 0: every order goes to the monolith, which issues ord-1xxxxx.
	legacyOrder := map[string]string{}
	for i, c := range customers {
		o := placeOrder(t, sp.proxy, c, fmt.Sprintf("sku-%d", 1001+i%12))
		if !monolithOwns(o.ID) {
			t.Fatalf("at weight 0 the order of %s is %s, want one the monolith issued", c, o.ID)
		}
		legacyOrder[c] = o.ID
	}

	// probe lists every customer's local orders twice and returns the
	// customers the orders service answered. A customer must get the same
	// side both times, and the proxy's counters must agree with the answers.
	probe := func(weight float64) map[string]bool {
		t.Helper()
		before := sp.metrics(t)
		onService := map[string]bool{}
		for round := range 2 {
			for _, c := range customers {
				ids, err := listOrders(sp.proxy, c, true)
				if err != nil {
					t.Fatal(err)
				}
				side, err := sideOf(ids, legacyOrder[c])
				if err != nil {
					t.Fatalf("%s: %v", c, err)
				}
				if round == 0 {
					onService[c] = side == extracted
				} else if onService[c] != (side == extracted) {
					t.Errorf("weight %g: %s switched sides while the weight stayed the same", weight, c)
				}
			}
		}
		wantExtracted := float64(2 * len(onServiceOnly(onService)))
		wantLegacy := float64(2*len(customers)) - wantExtracted
		eventually(t, fmt.Sprintf("strangler_requests_total to count %g extracted and %g legacy orders lists", wantExtracted, wantLegacy), func() bool {
			m := sp.metrics(t)
			count := func(side string) float64 {
				const name = "strangler_requests_total"
				return m.sum(name, "route", "orders", "side", side, "method", "GET") -
					before.sum(name, "route", "orders", "side", side, "method", "GET")
			}
			return count(extracted) == wantExtracted && count(legacy) == wantLegacy
		})
		return onService
	}

	// Raise the weight step by step: customers only ever move to the
	// service, and at 100 all of them have.
	var moved map[string]bool
	counts := map[float64]int{}
	for _, w := range []float64{0, 25, 50} {
		if w > 0 {
			sp.apply(t, cfg, routesYAML(st, w))
			if got := sp.status(t).weight(t, "orders"); got != w {
				t.Fatalf("/api/status: orders weight %g, want %g", got, w)
			}
		}
		now := probe(w)
		for c := range onServiceOnly(moved) {
			if !now[c] {
				t.Errorf("weight %g: %s went back to legacy when the weight rose", w, c)
			}
		}
		moved = now
		counts[w] = len(onServiceOnly(now))
		t.Logf("weight %g: %d of %d customers on the orders service", w, counts[w], len(customers))
	}
	if counts[0] != 0 {
		t.Errorf("weight 0: %d customers on the orders service, want none", counts[0])
	}
	if counts[50] == 0 || counts[50] == len(customers) {
		t.Fatalf("weight 50: %d of %d customers on the orders service; the test needs both sides", counts[50], len(customers))
	}

	// Under load, save routes.yaml 20 times, raising the weight from 50 to
	// 100. No request may fail, and no customer may go back to legacy.
	const workers, maxRequests = 4, 5000
	stop := make(chan struct{})
	var stopOnce sync.Once
	var wg sync.WaitGroup
	var served atomic.Int64
	errs := make([]error, workers)
	t.Cleanup(func() { // before the processes stop, if the test fails early
		stopOnce.Do(func() { close(stop) })
		wg.Wait()
	})
	per := len(customers) / workers
	for i := range workers {
		mine := customers[i*per : (i+1)*per]
		wg.Go(func() {
			seen := map[string]bool{}
			for c := range onServiceOnly(moved) {
				seen[c] = true
			}
			for n := range maxRequests {
				select {
				case <-stop:
					return
				default:
				}
				c := mine[n%len(mine)]
				ids, err := listOrders(sp.proxy, c, true)
				if err == nil {
					var side string
					if side, err = sideOf(ids, legacyOrder[c]); err == nil && side == legacy && seen[c] {
						err = fmt.Errorf("%s went back to legacy while the weight only rose", c)
					}
					seen[c] = side == extracted || seen[c]
				}
				if err != nil {
					errs[i] = err
					return
				}
				served.Add(1)
			}
		})
	}
	eventually(t, "the load to start", func() bool { return served.Load() >= workers })
	startedAt := served.Load()
	for i := 1; i <= 20; i++ {
		sp.apply(t, cfg, routesYAML(st, 50+2.5*float64(i)))
	}
	during := served.Load() - startedAt
	stopOnce.Do(func() { close(stop) })
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("worker %d: %v", i, err)
		}
	}
	if during == 0 {
		t.Fatal("no request was served while routes.yaml was rewritten")
	}
	t.Logf("%d requests served during 20 rewrites, all 2xx", during)

	// Weight 100: every customer is on the service.
	if got := sp.status(t).weight(t, "orders"); got != 100 {
		t.Fatalf("after the rewrites the orders weight is %g, want 100", got)
	}
	if n := len(onServiceOnly(probe(100))); n != len(customers) {
		t.Fatalf("weight 100: %d of %d customers on the orders service", n, len(customers))
	}

	// A customer who was on legacy at 50 has moved: the service answers,
	// and still lists the order placed in the monolith before the move,
	// next to one placed after it.
	var c string
	for _, cc := range customers {
		if !moved[cc] {
			c = cc
			break
		}
	}
	var ids []string
	labels := sp.servedBy(t, func() {
		var err error
		if ids, err = listOrders(sp.proxy, c, false); err != nil {
			t.Fatal(err)
		}
	})
	if labels["route"] != "orders" || labels["side"] != extracted {
		t.Fatalf("%s's orders list served by %v, want the orders service", c, labels)
	}
	if !slices.Contains(ids, legacyOrder[c]) {
		t.Fatalf("moved customer %s: orders %v lack %s, placed in the monolith before the move", c, ids, legacyOrder[c])
	}
	after := placeOrder(t, sp.proxy, c, "sku-1001")
	if !serviceOwns(after.ID) {
		t.Fatalf("at weight 100 the order of %s is %s, want one the orders service issued", c, after.ID)
	}
	ids, err := listOrders(sp.proxy, c, false)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(ids, legacyOrder[c]) || !slices.Contains(ids, after.ID) {
		t.Fatalf("moved customer %s: orders %v, want both %s (before the move) and %s (after)", c, ids, legacyOrder[c], after.ID)
	}
	var one order
	getJSON(t, sp.proxy+"/api/orders/"+legacyOrder[c], &one, "X-Customer-ID", c)
	if one.ID != legacyOrder[c] {
		t.Fatalf("GET /api/orders/%s through the proxy: got %+v", legacyOrder[c], one)
	}
}

// onServiceOnly returns the customers marked true.
func onServiceOnly(m map[string]bool) map[string]bool {
	out := map[string]bool{}
	for c, on := range m {
		if on {
			out[c] = true
		}
	}
	return out
}

// TestBrokenEditKeepsTheLiveTable saves an invalid routes.yaml: strangler
// refuses it naming file and line, keeps routing with the previous table,
// and recovers when the file is fixed.
func TestBrokenEditKeepsTheLiveTable(t *testing.T) {
	t.Parallel()
	st := startStack(t)
	cfg := newConfig(t, routesYAML(st, 100))
	sp := startStrangler(t, cfg)
	ordersSide := func() string {
		t.Helper()
		labels := sp.servedBy(t, func() {
			if _, err := listOrders(sp.proxy, "cus-100001", true); err != nil {
				t.Fatal(err)
			}
		})
		if labels["route"] != "orders" {
			t.Fatalf("GET /api/orders counted as route %q, want orders", labels["route"])
		}
		return labels["side"]
	}
	if side := ordersSide(); side != extracted {
		t.Fatalf("weight 100: orders served by %s", side)
	}
	gen := sp.status(t).Generation

	broken := routesYAML(st, 150)
	wantLine := fmt.Sprintf("routes.yaml:%d:", lineOf(t, broken, "weight: 150"))
	writeConfig(t, cfg, broken)
	var s status
	eventually(t, "the broken edit to be refused", func() bool {
		s = sp.status(t)
		return s.LastReload != nil && s.LastReload.Result == "failure"
	})
	if !strings.Contains(s.LastReload.Error, wantLine) || !strings.Contains(s.LastReload.Error, "150") {
		t.Errorf("last_reload.error = %q, want it to name %s and the weight 150", s.LastReload.Error, wantLine)
	}
	if s.Generation != gen || s.weight(t, "orders") != 100 {
		t.Errorf("after a broken edit: generation %d, orders weight %g; want the old table (%d, 100)", s.Generation, s.weight(t, "orders"), gen)
	}
	m := sp.metrics(t)
	if v := m.sum("strangler_config_last_reload_successful"); v != 0 {
		t.Errorf("strangler_config_last_reload_successful = %g after a broken edit, want 0", v)
	}
	if v := m.sum("strangler_config_reloads_total", "result", "failure"); v != 1 {
		t.Errorf(`strangler_config_reloads_total{result="failure"} = %g, want 1`, v)
	}
	if side := ordersSide(); side != extracted {
		t.Fatalf("after a broken edit: orders served by %s, want extracted (the old table)", side)
	}

	// Fixing the file (and moving orders back) applies at once.
	if got := sp.apply(t, cfg, routesYAML(st, 0)); got != gen+1 {
		t.Errorf("generation after the fix = %d, want %d", got, gen+1)
	}
	if s := sp.status(t); s.LastReload.Result != "success" || s.LastReload.Error != "" {
		t.Errorf("last_reload after the fix = %+v, want success", *s.LastReload)
	}
	if v := sp.metrics(t).sum("strangler_config_last_reload_successful"); v != 1 {
		t.Errorf("strangler_config_last_reload_successful = %g after the fix, want 1", v)
	}
	if side := ordersSide(); side != legacy {
		t.Fatalf("after the fix to weight 0: orders served by %s, want legacy", side)
	}
}

// TestPathTraversalStaysInItsPrefix sends encoded dot segments through the
// proxy: routing and forwarding use the cleaned path, so a request can
// never reach a service with a path outside the service's prefix.
func TestPathTraversalStaysInItsPrefix(t *testing.T) {
	t.Parallel()
	st := startStack(t)
	cfg := newConfig(t, routesYAML(st, 100))
	sp := startStrangler(t, cfg)

	// Give the orders service's fault settings an identity the monolith's
	// lack, to tell which one answers.
	if code, b := call(t, http.MethodPut, st.orders+"/_admin/faults", `{"error_status":599}`); code != http.StatusOK {
		t.Fatalf("PUT orders /_admin/faults: %d %s", code, b)
	}
	_, ordersFaults := call(t, http.MethodGet, st.orders+"/_admin/faults", "")
	_, monolithFaults := call(t, http.MethodGet, st.monolith+"/_admin/faults", "")
	if string(ordersFaults) == string(monolithFaults) {
		t.Fatalf("the two fault endpoints answer alike: %s", ordersFaults)
	}

	for _, target := range []string{
		"/api/orders/..%2f..%2f_admin/faults",
		"/api/orders/..%2F..%2F_admin/faults",
		"/api/orders/%2e%2e/%2e%2e/_admin/faults",
		"/api/orders/%2E%2E%2F%2E%2E%2F_admin/faults",
		"/api/orders/x/..%2f..%2f..%2f_admin/faults",
	} {
		var code int
		var body []byte
		labels := sp.servedBy(t, func() { code, body = rawRequest(t, sp.proxyAddr, http.MethodGet, target) })
		if string(body) == string(ordersFaults) {
			t.Errorf("GET %s reached the orders service's /_admin/faults: %s", target, body)
		}
		// Both apps refuse fault calls that came through a proxy, so the
		// metric's labels tell which one answered.
		if code != http.StatusForbidden || labels["route"] != "default" || labels["side"] != legacy || labels["upstream"] != "monolith" {
			t.Errorf("GET %s: %d %s counted as %v; want the monolith's /_admin/faults (403 to a proxied call) on the default route", target, code, body, labels)
		}
	}
	// Nor can a write through the same hole change the service's faults.
	rawRequest(t, sp.proxyAddr, http.MethodDelete, "/api/orders/..%2f..%2f_admin/faults")
	if _, now := call(t, http.MethodGet, st.orders+"/_admin/faults", ""); string(now) != string(ordersFaults) {
		t.Errorf("DELETE through the proxy changed the orders service's faults: %s, was %s", now, ordersFaults)
	}

	// Out of /api/inventory (moved) into /api/products (the monolith's).
	var code int
	var body []byte
	labels := sp.servedBy(t, func() {
		code, body = rawRequest(t, sp.proxyAddr, http.MethodGet, "/api/inventory/%2e%2e/%2e%2e/api/products")
	})
	var products struct {
		Products []struct{ SKU string }
	}
	if err := json.Unmarshal(body, &products); code != http.StatusOK || err != nil || len(products.Products) != 12 {
		t.Fatalf("GET /api/inventory/%%2e%%2e/%%2e%%2e/api/products: %d %s, want the monolith's 12 products", code, body)
	}
	if labels["route"] != "default" || labels["side"] != legacy || labels["upstream"] != "monolith" {
		t.Fatalf("GET /api/inventory/%%2e%%2e/%%2e%%2e/api/products counted as %v, want the default route on the monolith", labels)
	}
}
