package monolith_test

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/strangler-proxy/strangler/extracted-services/inventory"
	"github.com/strangler-proxy/strangler/internal/shopapi"
	"github.com/strangler-proxy/strangler/internal/shopapi/shoptest"
	monolith "github.com/strangler-proxy/strangler/legacy-monolith"
)

// TestInventoryDelegation checks that a monolith started with InventoryURL
// reserves stock at the inventory service, not in its own table, and shows
// the service's stock.
func TestInventoryDelegation(t *testing.T) {
	invApp, err := inventory.New(inventory.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	inv := shoptest.Serve(t, invApp)
	m := start(t, monolith.Options{Seed: 1, InventoryURL: inv})

	res := shoptest.Do(t, "POST", m+"/api/orders", customer,
		shopapi.NewOrder{Items: []shopapi.ItemQuantity{{SKU: "sku-1005", Quantity: 3}}})
	if res.Status != http.StatusCreated {
		t.Fatalf("POST /api/orders = %d %s", res.Status, res.Body)
	}
	var atService, viaMonolith shopapi.StockItem
	shoptest.Do(t, "GET", inv+"/api/inventory/items/sku-1005", "", nil).Decode(t, &atService)
	shoptest.Do(t, "GET", m+"/api/inventory/items/sku-1005", "", nil).Decode(t, &viaMonolith)
	if atService.Reserved != 3 || !reflect.DeepEqual(atService, viaMonolith) {
		t.Fatalf("service %+v, via monolith %+v; want 3 reserved at the service", atService, viaMonolith)
	}

	res = shoptest.Do(t, "POST", m+"/api/orders", customer,
		shopapi.NewOrder{Items: []shopapi.ItemQuantity{{SKU: "sku-1005", Quantity: atService.Available + 1}}})
	if res.Status != http.StatusConflict || res.Code() != shopapi.CodeInsufficientStock {
		t.Fatalf("over-reserving through the service = %d %s", res.Status, res.Body)
	}
}

// TestInventoryDown checks that a failing inventory service surfaces as a
// clean 502 that names no address.
func TestInventoryDown(t *testing.T) {
	invApp, err := inventory.New(inventory.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	inv := shoptest.Serve(t, invApp)
	m := start(t, monolith.Options{Seed: 1, InventoryURL: inv})
	if err := invApp.Faults().Set(faultsAll()); err != nil {
		t.Fatal(err)
	}

	res := shoptest.Do(t, "POST", m+"/api/orders", customer,
		shopapi.NewOrder{Items: []shopapi.ItemQuantity{{SKU: "sku-1005", Quantity: 1}}})
	if res.Status != http.StatusBadGateway || res.Code() != shopapi.CodeUpstream || containsAddr(res.Body) {
		t.Fatalf("POST /api/orders with inventory failing = %d %s", res.Status, res.Body)
	}
	if home := shoptest.Do(t, "GET", m+"/", "", nil); home.Status != http.StatusOK {
		t.Fatalf("home page with inventory failing = %d", home.Status)
	}
}

// TestOrdersServiceDown checks that the orders list degrades to the
// monolith's own orders, marked partial, when the orders service fails,
// instead of failing the whole list.
func TestOrdersServiceDown(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down", http.StatusInternalServerError)
	}))
	t.Cleanup(down.Close)
	m := start(t, monolith.Options{Seed: 1, OrdersURL: down.URL})
	alone := start(t, monolith.Options{Seed: 1})

	res := shoptest.Do(t, "GET", m+"/api/orders", customer, nil)
	if res.Status != http.StatusOK || res.Header.Get(monolith.HeaderPartial) == "" {
		t.Fatalf("GET /api/orders with the orders service down = %d %s, partial %q; want 200 marked partial",
			res.Status, res.Body, res.Header.Get(monolith.HeaderPartial))
	}
	var got, own shopapi.OrderList
	res.Decode(t, &got)
	shoptest.Do(t, "GET", alone+"/api/orders", customer, nil).Decode(t, &own)
	if len(own.Orders) == 0 || !reflect.DeepEqual(got, own) {
		t.Fatalf("partial list %+v, want the monolith's own %+v", got, own)
	}
}
