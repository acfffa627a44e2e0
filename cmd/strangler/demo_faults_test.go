package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// demoDo sends method url with a JSON body (may be empty) and returns the
// status, the X-Shop-Partial header and the body.
func demoDo(t *testing.T, method, url, body string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header.Get("X-Shop-Partial"), string(b)
}

// TestDemoFaultFlagAndWiring starts the demo with the inventory service
// resetting every connection (--fault) and checks: the fault is in force
// from the start; a stock read through the proxy falls back to the
// monolith, which answers from its own table, marked partial, instead of
// calling the same failing service; and payments the payments service
// takes read back from the monolith and are accepted by the owners of the
// orders they pay.
func TestDemoFaultFlagAndWiring(t *testing.T) {
	d := startDemo(t, "--fault", "inventory:reset_rate=1", "--fault", "orders:latency=0s")
	shop, admin, apps, stop := d.shop, d.admin, d.apps, d.stop
	var f struct {
		ResetRate float64 `json:"reset_rate"`
	}
	if _, _, body := demoDo(t, "GET", apps["inventory"]+"/_admin/faults", ""); json.Unmarshal([]byte(body), &f) != nil || f.ResetRate != 1 {
		t.Fatalf("inventory faults at start = %s, want reset_rate 1", body)
	}

	code, partial, body := demoDo(t, "GET", shop+"/api/inventory/items/sku-1001", "")
	if code != http.StatusOK || partial == "" || !strings.Contains(body, `"sku":"sku-1001"`) {
		t.Fatalf("stock through the proxy with the inventory service resetting = %d %s (partial %q); want 200 from the monolith, marked partial",
			code, body, partial)
	}
	if _, _, metrics := demoDo(t, "GET", admin+"/metrics", ""); !regexp.MustCompile(`strangler_fallbacks_total\{[^}]*route="/api/inventory"[^}]*\} [1-9]`).MatchString(metrics) {
		t.Errorf("no fallback of /api/inventory counted:\n%s", metrics)
	}

	// A monolith order paid at the payments service: the monolith checks
	// the payment there and shows it.
	code, _, body = demoDo(t, "POST", apps["payments"]+"/api/payments", `{"order_id":"ord-100008","method":"card"}`)
	var p struct{ ID string }
	if code != http.StatusCreated || json.Unmarshal([]byte(body), &p) != nil {
		t.Fatalf("paying ord-100008 at the payments service = %d %s", code, body)
	}
	for _, path := range []string{"/api/payments/" + p.ID, "/api/payments?order_id=ord-100008"} {
		mc, _, mb := demoDo(t, "GET", apps["monolith"]+path, "")
		sc, _, sb := demoDo(t, "GET", apps["payments"]+path, "")
		if mc != http.StatusOK || mc != sc || mb != sb || !strings.Contains(mb, p.ID) {
			t.Errorf("GET %s: monolith %d %s, payments service %d %s; want the same 200 with %s", path, mc, mb, sc, sb, p.ID)
		}
	}

	// An orders-service order paid at the payments service: the orders
	// service checks the payment there.
	if code, _, body := demoDo(t, "DELETE", apps["inventory"]+"/_admin/faults", ""); code != http.StatusOK {
		t.Fatalf("healing the inventory service: %d %s", code, body)
	}
	req, _ := http.NewRequest("POST", apps["orders"]+"/api/orders", strings.NewReader(`{"items":[{"sku":"sku-1001","quantity":1}]}`))
	req.Header.Set("X-Customer-ID", "cus-100003")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var o struct{ ID string }
	err = json.NewDecoder(res.Body).Decode(&o)
	res.Body.Close()
	if res.StatusCode != http.StatusCreated || err != nil {
		t.Fatalf("placing an order at the orders service = %d %v", res.StatusCode, err)
	}
	if code, _, body := demoDo(t, "POST", apps["payments"]+"/api/payments", `{"order_id":"`+o.ID+`","method":"card"}`); code != http.StatusCreated {
		t.Fatalf("paying %s at the payments service = %d %s", o.ID, code, body)
	}
	if code := stop(); code != exitOK {
		t.Fatalf("demo exit %d", code)
	}
}

func TestDemoRejectsBadFaultFlag(t *testing.T) {
	for _, tc := range []struct{ arg, says string }{
		{"nope:latency=1s", "want NAME:SPEC, NAME one of monolith, orders, payments, inventory"},
		{"orders", "want NAME:SPEC"},
		{"orders:latency=-1s", "latency -1s: must not be negative"},
		{"orders:bogus=1", `fault "bogus": unknown`},
		{"orders:error_rate=2", "error_rate 2: must be between 0 and 1"},
	} {
		var out, errOut lockedBuffer
		if code := runDemo(context.Background(), []string{"--fault", tc.arg}, &out, &errOut); code != exitUsage || !strings.Contains(errOut.String(), tc.says) {
			t.Errorf("demo --fault %s = exit %d, stderr %s; want %d saying %q", tc.arg, code, errOut.String(), exitUsage, tc.says)
		}
	}
}

// TestStopAppsNow checks that the apps' requests in flight are cut at once
// when stopping becomes urgent (a second Ctrl-C), instead of getting the
// apps' grace period.
func TestStopAppsNow(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	inFlight := make(chan struct{})
	srv := newServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(inFlight)
		<-r.Context().Done()
	}), slog.New(slog.DiscardHandler))
	t.Cleanup(func() { _ = srv.Close() })
	served := make(chan error, 1)
	go func() { served <- serveOn(srv, ln, "monolith") }()
	answered := make(chan error, 1)
	go func() {
		res, err := (&http.Client{Timeout: waitLimit}).Get("http://" + ln.Addr().String() + "/slow")
		if err == nil {
			res.Body.Close()
		}
		answered <- err
	}()
	select {
	case <-inFlight:
	case <-time.After(10 * time.Second):
		t.Fatal("the request never reached the app")
	}

	now, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	stopApps(now, []*http.Server{srv}, slog.New(slog.DiscardHandler))
	if took := time.Since(start); took >= appsGrace/2 {
		t.Fatalf("stopping the apps took %s after a second signal, want at once", took)
	}
	if err := recv(t, answered, "the in-flight request's end"); err == nil {
		t.Fatal("the request in flight got an answer; want its connection closed")
	}
	if err := recv(t, served, "serveOn to return"); err != nil {
		t.Fatalf("serving: %v", err)
	}
}
