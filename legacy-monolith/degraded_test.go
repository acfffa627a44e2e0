package monolith_test

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/strangler-proxy/strangler/extracted-services/inventory"
	"github.com/strangler-proxy/strangler/internal/faults"
	"github.com/strangler-proxy/strangler/internal/shopapi"
	"github.com/strangler-proxy/strangler/internal/shopapi/shoptest"
	monolith "github.com/strangler-proxy/strangler/legacy-monolith"
)

// pendingOrder is a seeded pending order of customer under seed 1, and
// otherPayment a seeded payment of another order.
const (
	pendingOrder = "ord-100008"
	otherPayment = "pay-100001"
)

// TestPatchOrderChecks checks that PATCH /api/orders/{id} is refused
// unless the caller may see the order and the payment or shipment it names
// exists and belongs to the order, and that nothing changes when it is.
func TestPatchOrderChecks(t *testing.T) {
	m := start(t, monolith.Options{Seed: 1})
	var o shopapi.Order
	shoptest.Do(t, "GET", m+"/api/orders/"+pendingOrder, "", nil).Decode(t, &o)
	var p shopapi.Payment
	shoptest.Do(t, "GET", m+"/api/payments/"+otherPayment, "", nil).Decode(t, &p)
	if o.Status != shopapi.StatusPending || p.OrderID == o.ID || o.CustomerID == "cus-100001" {
		t.Fatalf("seed changed: order %+v, payment %+v; update the test", o, p)
	}
	for _, tc := range []struct {
		name, customer, body string
		status               int
		code                 string
	}{
		{"another order's payment", "", `{"status":"paid","payment_id":"` + otherPayment + `"}`, 422, shopapi.CodeUnknownPayment},
		{"no such payment", "", `{"status":"paid","payment_id":"pay-100999"}`, 422, shopapi.CodeUnknownPayment},
		{"service payment without payments url", "", `{"status":"paid","payment_id":"pay-500001"}`, 422, shopapi.CodeUnknownPayment},
		{"another customer", "cus-100001", `{"status":"paid","payment_id":"` + otherPayment + `"}`, 404, shopapi.CodeNotFound},
		{"ship pending", "", `{"status":"shipped","shipment_id":"shp-100001"}`, 409, shopapi.CodeInvalidTransition},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := shoptest.Do(t, "PATCH", m+"/api/orders/"+pendingOrder, tc.customer, tc.body)
			if res.Status != tc.status || res.Code() != tc.code {
				t.Fatalf("PATCH %s = %d %s; want %d %s", tc.body, res.Status, res.Body, tc.status, tc.code)
			}
		})
	}
	var after shopapi.Order
	shoptest.Do(t, "GET", m+"/api/orders/"+pendingOrder, "", nil).Decode(t, &after)
	if !reflect.DeepEqual(after, o) {
		t.Fatalf("order after refused PATCHes = %+v, want it unchanged %+v", after, o)
	}
	if res := shoptest.Do(t, "POST", m+"/api/shipments", "", monolith.NewShipment{OrderID: pendingOrder}); res.Status != http.StatusConflict {
		t.Fatalf("shipping the unpaid order = %d %s, want 409", res.Status, res.Body)
	}

	// A real payment of the order passes; then a shipment of another order
	// cannot ship it, while its own does.
	pay := shoptest.Do(t, "POST", m+"/api/payments", "", shopapi.NewPayment{OrderID: pendingOrder, Method: "card"})
	if pay.Status != http.StatusCreated {
		t.Fatalf("paying %s = %d %s", pendingOrder, pay.Status, pay.Body)
	}
	for _, body := range []string{`{"status":"shipped","shipment_id":"shp-100001"}`, `{"status":"shipped","shipment_id":"shp-100999"}`} {
		if res := shoptest.Do(t, "PATCH", m+"/api/orders/"+pendingOrder, "", body); res.Status != 422 || res.Code() != shopapi.CodeUnknownShipment {
			t.Errorf("PATCH %s = %d %s, want 422 %s", body, res.Status, res.Body, shopapi.CodeUnknownShipment)
		}
	}
	if res := shoptest.Do(t, "POST", m+"/api/shipments", "", monolith.NewShipment{OrderID: pendingOrder}); res.Status != http.StatusCreated {
		t.Fatalf("shipping the paid order = %d %s", res.Status, res.Body)
	}
}

// TestInventoryDownReadsRetiredTable checks that, while the inventory
// service fails, stock reads answer from the monolith's own table as of
// the migration, marked partial, while reservations still fail.
func TestInventoryDownReadsRetiredTable(t *testing.T) {
	invApp, err := inventory.New(inventory.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	inv := shoptest.Serve(t, invApp)
	m := start(t, monolith.Options{Seed: 1, InventoryURL: inv})
	alone := start(t, monolith.Options{Seed: 1})
	res := shoptest.Do(t, "POST", m+"/api/orders", customer,
		shopapi.NewOrder{Items: []shopapi.ItemQuantity{{SKU: "sku-1005", Quantity: 3}}})
	if res.Status != http.StatusCreated {
		t.Fatalf("POST /api/orders = %d %s", res.Status, res.Body)
	}
	if err := invApp.Faults().Set(faultsAll()); err != nil {
		t.Fatal(err)
	}

	for _, p := range []string{"/api/inventory/items", "/api/inventory/items/sku-1005"} {
		got, want := shoptest.Do(t, "GET", m+p, "", nil), shoptest.Do(t, "GET", alone+p, "", nil)
		if got.Status != http.StatusOK || got.Header.Get(monolith.HeaderPartial) == "" || string(got.Body) != string(want.Body) {
			t.Errorf("GET %s with the inventory service failing = %d %s (partial %q); want 200 %s marked partial",
				p, got.Status, got.Body, got.Header.Get(monolith.HeaderPartial), want.Body)
		}
	}
	res = shoptest.Do(t, "POST", m+"/api/inventory/reservations", "",
		shopapi.NewReservation{OrderID: "ord-100001", Items: []shopapi.ItemQuantity{{SKU: "sku-1005", Quantity: 1}}})
	if res.Status != http.StatusBadGateway || res.Code() != shopapi.CodeUpstream {
		t.Errorf("reserving with the inventory service failing = %d %s, want 502", res.Status, res.Body)
	}

	if err := invApp.Faults().Set(faults.Settings{}); err != nil {
		t.Fatal(err)
	}
	missing := shoptest.Do(t, "GET", m+"/api/inventory/items/sku-0", "", nil)
	if missing.Status != http.StatusNotFound || missing.Header.Get(monolith.HeaderPartial) != "" {
		t.Errorf("GET an unknown sku = %d %s (partial %q), want the service's 404", missing.Status, missing.Body,
			missing.Header.Get(monolith.HeaderPartial))
	}
}

// TestPaymentsServiceDown checks that the payments list of a service
// order degrades to the monolith's own payments, marked partial, when the
// payments service fails, that a service payment then answers 502, and
// that the list of an order paid here does not ask the service.
func TestPaymentsServiceDown(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down", http.StatusInternalServerError)
	}))
	t.Cleanup(down.Close)
	m := start(t, monolith.Options{Seed: 1, PaymentsURL: down.URL})
	alone := start(t, monolith.Options{Seed: 1})

	for _, tc := range []struct {
		order   string
		partial bool
	}{{"ord-500001", true}, {"ord-100001" /* paid by pay-100001 */, false}} {
		list := "/api/payments?order_id=" + tc.order
		res, own := shoptest.Do(t, "GET", m+list, "", nil), shoptest.Do(t, "GET", alone+list, "", nil)
		if res.Status != http.StatusOK || (res.Header.Get(monolith.HeaderPartial) != "") != tc.partial || string(res.Body) != string(own.Body) {
			t.Fatalf("GET %s with the payments service down = %d %s, partial %q; want 200 %s, partial %v",
				list, res.Status, res.Body, res.Header.Get(monolith.HeaderPartial), own.Body, tc.partial)
		}
	}
	if res := shoptest.Do(t, "GET", m+"/api/payments/pay-500001", "", nil); res.Status != http.StatusBadGateway || res.Code() != shopapi.CodeUpstream {
		t.Fatalf("GET a service payment with the payments service down = %d %s, want 502", res.Status, res.Body)
	}
}
