package orders_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/strangler-proxy/strangler/extracted-services/internal/stacktest"
	"github.com/strangler-proxy/strangler/extracted-services/inventory"
	"github.com/strangler-proxy/strangler/extracted-services/orders"
	"github.com/strangler-proxy/strangler/internal/faults"
	"github.com/strangler-proxy/strangler/internal/faults/faultstest"
	"github.com/strangler-proxy/strangler/internal/shopapi"
	"github.com/strangler-proxy/strangler/internal/shopapi/shoptest"
	monolith "github.com/strangler-proxy/strangler/legacy-monolith"
)

const cust = stacktest.Customer

func newOrder(items ...shopapi.ItemQuantity) shopapi.NewOrder { return shopapi.NewOrder{Items: items} }

func create(t *testing.T, base string, n shopapi.NewOrder) shopapi.Order {
	t.Helper()
	res := shoptest.Do(t, "POST", base+"/api/orders", cust, n)
	if res.Status != http.StatusCreated {
		t.Fatalf("POST %s/api/orders = %d %s", base, res.Status, res.Body)
	}
	var o shopapi.Order
	res.Decode(t, &o)
	return o
}

// TestLegacyAndOwnOrders checks that the service lists a customer's
// monolith orders with its own, that ids never collide, and that GET by id
// works for both owners on both sides.
func TestLegacyAndOwnOrders(t *testing.T) {
	s := stacktest.Start(t)
	mine := create(t, s.OrdersURL, newOrder(shopapi.ItemQuantity{SKU: "sku-1001", Quantity: 1}))
	legacy := create(t, s.MonolithURL, newOrder(shopapi.ItemQuantity{SKU: "sku-1002", Quantity: 1}))
	mine2 := create(t, s.OrdersURL, newOrder(shopapi.ItemQuantity{SKU: "sku-1003", Quantity: 2}))
	if shopapi.OwnerOf(shopapi.PrefixOrder, mine.ID) != shopapi.OwnerService ||
		shopapi.OwnerOf(shopapi.PrefixOrder, legacy.ID) != shopapi.OwnerMonolith || mine.ID == mine2.ID {
		t.Fatalf("ids %s, %s, %s", mine.ID, legacy.ID, mine2.ID)
	}

	var list shopapi.OrderList
	shoptest.Do(t, "GET", s.OrdersURL+"/api/orders", cust, nil).Decode(t, &list)
	seen := map[string]int{}
	for _, o := range list.Orders {
		seen[o.ID]++
		if o.CustomerID != cust {
			t.Errorf("listed %s of customer %s", o.ID, o.CustomerID)
		}
	}
	for _, id := range []string{stacktest.CustomerOrder, legacy.ID, mine.ID, mine2.ID} {
		if seen[id] != 1 {
			t.Errorf("order %s listed %d times in %v", id, seen[id], seen)
		}
	}

	for _, id := range []string{stacktest.CustomerOrder, legacy.ID, mine.ID} {
		for _, base := range []string{s.OrdersURL, s.MonolithURL} {
			var o shopapi.Order
			res := shoptest.Do(t, "GET", base+"/api/orders/"+id, cust, nil)
			res.Decode(t, &o)
			if res.Status != http.StatusOK || o.ID != id {
				t.Errorf("GET %s/api/orders/%s = %d %s", base, id, res.Status, res.Body)
			}
		}
	}

	var local shopapi.OrderList
	shoptest.Do(t, "GET", s.OrdersURL+"/api/orders?scope=local", cust, nil).Decode(t, &local)
	if len(local.Orders) != 2 {
		t.Errorf("scope=local listed %d orders, want the service's 2", len(local.Orders))
	}
}

// TestContractParity sends the same requests to the monolith and to the
// service and compares status, JSON shape and error code. Lists must even
// be byte-identical: both sides show the same orders.
func TestContractParity(t *testing.T) {
	s := stacktest.Start(t)
	create(t, s.OrdersURL, newOrder(shopapi.ItemQuantity{SKU: "sku-1004", Quantity: 1}))
	for _, tc := range []struct {
		name, method, path, customer string
		body                         any
	}{
		{"list", "GET", "/api/orders", cust, nil},
		{"list local", "GET", "/api/orders?scope=local", cust, nil},
		{"list unknown customer", "GET", "/api/orders", "cus-100999", nil},
		{"get", "GET", "/api/orders/" + stacktest.CustomerOrder, cust, nil},
		{"get service order", "GET", "/api/orders/ord-500001", "", nil},
		{"create", "POST", "/api/orders", cust, newOrder(shopapi.ItemQuantity{SKU: "sku-1001", Quantity: 1})},
		{"create two lines", "POST", "/api/orders", cust, `{"items":[{"sku":"sku-1001","quantity":1},{"sku":"sku-1002","quantity":2}]}`},
		{"list without customer", "GET", "/api/orders", "", nil},
		{"bad scope", "GET", "/api/orders?scope=x", cust, nil},
		{"create without customer", "POST", "/api/orders", "", `{"items":[]}`},
		{"bad json", "POST", "/api/orders", cust, `{"items":[`},
		{"no items", "POST", "/api/orders", cust, `{"items":[]}`},
		{"duplicate sku", "POST", "/api/orders", cust, `{"items":[{"sku":"sku-1001","quantity":1},{"sku":"sku-1001","quantity":1}]}`},
		{"unknown customer", "POST", "/api/orders", "cus-100999", `{"items":[{"sku":"sku-1001","quantity":1}]}`},
		{"unknown product", "POST", "/api/orders", cust, `{"items":[{"sku":"sku-0","quantity":1}]}`},
		{"insufficient stock", "POST", "/api/orders", cust, `{"items":[{"sku":"sku-1001","quantity":99},{"sku":"sku-1002","quantity":99}]}`},
		{"missing", "GET", "/api/orders/ord-100999", "", nil},
		{"missing service order", "GET", "/api/orders/ord-500999", "", nil},
		{"malformed id", "GET", "/api/orders/banana", "", nil},
		{"other customer", "GET", "/api/orders/" + stacktest.CustomerOrder, "cus-100001", nil},
		{"bad update", "PATCH", "/api/orders/" + stacktest.CustomerOrder, "", `{"status":"lost"}`},
		{"invalid transition", "PATCH", "/api/orders/" + stacktest.CustomerOrder, "", `{"status":"paid","payment_id":"pay-100001"}`},
		{"patch missing", "PATCH", "/api/orders/ord-500999", "", `{"status":"paid","payment_id":"pay-100001"}`},
		{"method", "PUT", "/api/orders", cust, nil},
		{"no endpoint", "GET", "/api/orders/x/y", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := shoptest.Do(t, tc.method, s.MonolithURL+tc.path, tc.customer, tc.body)
			o := shoptest.Do(t, tc.method, s.OrdersURL+tc.path, tc.customer, tc.body)
			shoptest.SameContract(t, tc.name, m, o)
			if tc.method == "GET" && !strings.Contains(tc.path, "scope=local") && !bytes.Equal(m.Body, o.Body) {
				t.Errorf("GET %s differs:\n%s\n%s", tc.path, m.Body, o.Body)
			}
		})
	}
}

// TestUpdateWritesThrough checks that a status change of a monolith order
// sent to the service is made at the monolith, which still owns it. The
// payment it names is one the payments service took, here a stand-in that
// has one payment of the order: the monolith checks it there.
func TestUpdateWritesThrough(t *testing.T) {
	var paid atomic.Pointer[shopapi.Payment]
	pay := shoptest.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := paid.Load(); p != nil && r.URL.Path == "/api/payments/"+p.ID {
			shopapi.WriteJSON(w, http.StatusOK, p)
			return
		}
		shopapi.NotFound(w, r)
	}))
	inv, err := inventory.New(inventory.Options{Seed: stacktest.Seed})
	if err != nil {
		t.Fatal(err)
	}
	invURL := shoptest.Serve(t, inv)
	mono, err := monolith.New(monolith.Options{InventoryURL: invURL, PaymentsURL: pay, Seed: stacktest.Seed})
	if err != nil {
		t.Fatal(err)
	}
	monoURL := shoptest.Serve(t, mono)
	svc, err := orders.New(orders.Options{MonolithURL: monoURL, InventoryURL: invURL, PaymentsURL: pay})
	if err != nil {
		t.Fatal(err)
	}
	svcURL := shoptest.Serve(t, svc)

	legacy := create(t, monoURL, newOrder(shopapi.ItemQuantity{SKU: "sku-1002", Quantity: 1}))
	paid.Store(&shopapi.Payment{ID: "pay-500042", OrderID: legacy.ID, AmountCents: legacy.TotalCents, Currency: shopapi.Currency,
		Method: "card", Status: shopapi.PaymentCaptured})
	res := shoptest.Do(t, "PATCH", svcURL+"/api/orders/"+legacy.ID, "",
		shopapi.OrderUpdate{Status: shopapi.StatusPaid, PaymentID: "pay-500042"})
	if res.Status != http.StatusOK {
		t.Fatalf("PATCH via service = %d %s", res.Status, res.Body)
	}
	var o shopapi.Order
	shoptest.Do(t, "GET", monoURL+"/api/orders/"+legacy.ID, "", nil).Decode(t, &o)
	if o.Status != shopapi.StatusPaid || o.PaymentID != "pay-500042" {
		t.Fatalf("monolith reads %+v", o)
	}
}

// TestMonolithDown checks that legacy reads fail as a clean 502 naming no
// address, while the service's own orders stay readable.
func TestMonolithDown(t *testing.T) {
	s := stacktest.Start(t)
	mine := create(t, s.OrdersURL, newOrder(shopapi.ItemQuantity{SKU: "sku-1001", Quantity: 1}))
	if err := s.Monolith.Faults().Set(faults.Settings{ErrorRate: 1}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/api/orders", "/api/orders/" + stacktest.CustomerOrder} {
		res := shoptest.Do(t, "GET", s.OrdersURL+p, cust, nil)
		if res.Status != http.StatusBadGateway || res.Code() != shopapi.CodeUpstream || bytes.Contains(res.Body, []byte("127.0.0.1")) {
			t.Errorf("GET %s with the monolith failing = %d %s", p, res.Status, res.Body)
		}
	}
	if res := shoptest.Do(t, "GET", s.OrdersURL+"/api/orders/"+mine.ID, cust, nil); res.Status != http.StatusOK {
		t.Errorf("own order with the monolith failing = %d %s", res.Status, res.Body)
	}
}

// TestPropagatesHeaders checks that X-Request-ID and traceparent reach the
// monolith on anti-corruption calls.
func TestPropagatesHeaders(t *testing.T) {
	s := stacktest.Start(t)
	var mu sync.Mutex
	var seen http.Header
	spy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = r.Header.Clone()
		mu.Unlock()
		s.Monolith.ServeHTTP(w, r)
	}))
	defer spy.Close()
	app, err := orders.New(orders.Options{MonolithURL: spy.URL, InventoryURL: s.InventoryURL})
	if err != nil {
		t.Fatal(err)
	}
	svc := shoptest.Serve(t, app)

	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	req, _ := http.NewRequest("GET", svc+"/api/orders", nil)
	req.Header.Set(shopapi.HeaderCustomerID, cust)
	req.Header.Set(shopapi.HeaderRequestID, "req-42")
	req.Header.Set("traceparent", tp)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	if res.StatusCode != 200 || seen.Get(shopapi.HeaderRequestID) != "req-42" || seen.Get("Traceparent") != tp {
		t.Fatalf("status %d; monolith saw request id %q, traceparent %q", res.StatusCode,
			seen.Get(shopapi.HeaderRequestID), seen.Get("Traceparent"))
	}
}

func TestFaults(t *testing.T) {
	faultstest.Check(t, "/api/orders", func(t *testing.T, s faults.Settings) http.Handler {
		app, err := orders.New(orders.Options{MonolithURL: "http://127.0.0.1:1", Faults: s})
		if err != nil {
			t.Fatal(err)
		}
		return app
	})
}
