package test

import (
	"encoding/json"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSIGHUPReloads edits routes.yaml while the watcher cannot see it (a
// one-hour debounce): only SIGHUP can load the new table.
func TestSIGHUPReloads(t *testing.T) {
	t.Parallel()
	st := startStack(t)
	cfg := newConfig(t, routesYAML(st, 0))
	sp := startStrangler(t, cfg, "--reload-debounce", "1h")
	gen := sp.status(t).Generation

	writeConfig(t, cfg, routesYAML(st, 100))
	sp.signal(t, syscall.SIGHUP)
	eventually(t, "SIGHUP to load the new routes.yaml", func() bool {
		s := sp.status(t)
		return s.Generation == gen+1 && s.weight(t, "orders") == 100
	})
	labels := sp.servedBy(t, func() {
		if _, err := listOrders(sp.proxy, "cus-100001", true); err != nil {
			t.Fatal(err)
		}
	})
	if labels["route"] != "orders" || labels["side"] != extracted {
		t.Fatalf("after SIGHUP at weight 100, GET /api/orders counted as %v, want the orders service", labels)
	}
}

// TestSIGTERMDrainsInFlightRequests stops strangler while a slow request
// is in flight: the request completes and strangler exits 0 within its
// shutdown timeout.
func TestSIGTERMDrainsInFlightRequests(t *testing.T) {
	t.Parallel()
	const latency, grace = 500 * time.Millisecond, 5 * time.Second
	st := startStack(t)
	cfg := newConfig(t, routesYAML(st, 0))
	sp := startStrangler(t, cfg, "--shutdown-timeout", grace.String())
	if code, b := call(t, http.MethodPatch, st.monolith+"/_admin/faults", `{"latency":"`+latency.String()+`"}`); code != http.StatusOK {
		t.Fatalf("PATCH monolith /_admin/faults: %d %s", code, b)
	}

	type result struct {
		code int
		body []byte
		err  error
		at   time.Time
	}
	done := make(chan result, 1)
	go func() {
		code, body, err := send(http.MethodGet, sp.proxy+"/api/products", "")
		done <- result{code, body, err, time.Now()}
	}()
	eventually(t, "the request to be in flight at the monolith", func() bool {
		return sp.metrics(t).sum("strangler_bulkhead_inflight", "upstream", "monolith") >= 1
	})
	signalled := time.Now()
	sp.signal(t, syscall.SIGTERM)

	var r result
	select {
	case r = <-done:
	case <-time.After(patience):
		t.Fatal("the in-flight request did not finish after SIGTERM")
	}
	if r.err != nil || r.code != http.StatusOK || !strings.Contains(string(r.body), `"products"`) {
		t.Fatalf("in-flight request after SIGTERM: %d %.200s %v, want 200 with the products", r.code, r.body, r.err)
	}
	if r.at.Before(signalled) {
		t.Fatalf("the request finished before SIGTERM was sent; the test proves nothing (latency %s too short?)", latency)
	}
	if code := sp.wait(t, grace+2*time.Second); code != 0 {
		t.Fatalf("strangler exited with code %d after SIGTERM, want 0", code)
	}
	t.Logf("SIGTERM to exit 0: %s, the in-flight request finished %s after it", time.Since(signalled).Round(time.Millisecond), r.at.Sub(signalled).Round(time.Millisecond))
}

// TestDemo runs strangler demo on the shipped config/routes.yaml, moved to
// free loopback ports.
func TestDemo(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("../config/routes.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(src)
	for i, addr := range freeAddrs(t, 4) {
		old := "http://127.0.0.1:" + []string{"8401", "8411", "8412", "8413"}[i]
		if n := strings.Count(cfg, old); n != 1 {
			t.Fatalf("config/routes.yaml names %s %d times, want once (an upstream of the demo); update this test", old, n)
		}
		cfg = strings.Replace(cfg, old, "http://"+addr, 1)
	}
	// No sample traffic: the test counts which side served each of its
	// own requests.
	p := start(t, "strangler", "demo", "--config", newConfig(t, cfg), "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--traffic", "0")
	shop := p.waitLine(t, regexp.MustCompile(`Shop, through the proxy\s+(http://127\.0\.0\.1:\d+)/`))[1]
	admin := p.waitLine(t, regexp.MustCompile(`Admin status\s+(http://127\.0\.0\.1:\d+)/api/status`))[1]
	sp := &strangler{proc: p, proxy: shop, admin: admin}

	code, home := call(t, http.MethodGet, shop+"/", "")
	if code != http.StatusOK || !strings.Contains(strings.ToLower(string(home)), "<html") {
		t.Fatalf("GET / through the proxy: %d %.200s, want the shop's HTML home page", code, home)
	}
	var item struct{ SKU string }
	labels := sp.servedBy(t, func() { getJSON(t, shop+"/api/inventory/items/sku-1001", &item) })
	if item.SKU != "sku-1001" || labels["route"] != "/api/inventory" || labels["side"] != extracted || labels["upstream"] != "inventory" {
		t.Fatalf("GET /api/inventory/items/sku-1001: %+v counted as %v, want sku-1001 from the inventory service", item, labels)
	}
	var orders struct{ Orders []json.RawMessage }
	getJSON(t, shop+"/api/orders", &orders, "X-Customer-ID", "cus-100003")

	p.signal(t, os.Interrupt)
	if code := p.wait(t, stopTimeout); code != 0 {
		t.Fatalf("strangler demo exited with code %d after SIGINT, want 0", code)
	}
}

// freeAddrs returns n distinct loopback addresses that were free a moment
// ago. Only for strangler demo, which needs ports before it starts.
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close() // held until all n are chosen, so they differ
		out = append(out, ln.Addr().String())
	}
	return out
}

// TestShippedConfigIsValid keeps the example config/routes.yaml valid.
func TestShippedConfigIsValid(t *testing.T) {
	t.Parallel()
	p := start(t, "strangler", "validate", "../config/routes.yaml")
	if code := p.wait(t, patience); code != 0 {
		t.Fatalf("strangler validate config/routes.yaml: exit %d\n%s", code, p.out)
	}
	if !strings.Contains(p.out.String(), "valid") {
		t.Fatalf("strangler validate config/routes.yaml printed %q", p.out)
	}
}
