package monolith_test

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/strangler-proxy/strangler/internal/faults"
	"github.com/strangler-proxy/strangler/internal/faults/faultstest"
	"github.com/strangler-proxy/strangler/internal/shopapi"
	"github.com/strangler-proxy/strangler/internal/shopapi/shoptest"
	monolith "github.com/strangler-proxy/strangler/legacy-monolith"
)

// customer is a seeded customer with orders under seed 1.
const customer = "cus-100003"

func start(t *testing.T, o monolith.Options) string {
	t.Helper()
	app, err := monolith.New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return shoptest.Serve(t, app)
}

// TestDeterministicSeed checks that two monoliths with the same seed answer
// the same reads byte for byte, and another seed answers differently.
func TestDeterministicSeed(t *testing.T) {
	a, b, c := start(t, monolith.Options{Seed: 1}), start(t, monolith.Options{Seed: 1}), start(t, monolith.Options{Seed: 2})
	for _, p := range []string{"/api/customers", "/api/products", "/api/orders", "/api/inventory/items",
		"/api/orders/ord-100001", "/api/payments?order_id=ord-100002", "/api/shipments?order_id=ord-100003"} {
		cust := ""
		if p == "/api/orders" {
			cust = customer
		}
		ra, rb := shoptest.Do(t, "GET", a+p, cust, nil), shoptest.Do(t, "GET", b+p, cust, nil)
		if ra.Status != http.StatusOK || !bytes.Equal(ra.Body, rb.Body) {
			t.Errorf("GET %s: %d %s\nvs %d %s", p, ra.Status, ra.Body, rb.Status, rb.Body)
		}
	}
	for _, p := range []string{"/api/customers", "/api/products"} {
		if bytes.Equal(shoptest.Do(t, "GET", a+p, "", nil).Body, shoptest.Do(t, "GET", c+p, "", nil).Body) {
			t.Errorf("GET %s: seeds 1 and 2 answer the same", p)
		}
	}
}

// TestCreatePayReadBack places an order, pays it, and reads it back paid.
func TestCreatePayReadBack(t *testing.T) {
	m := start(t, monolith.Options{Seed: 1})
	var before shopapi.StockItem
	shoptest.Do(t, "GET", m+"/api/inventory/items/sku-1003", "", nil).Decode(t, &before)

	res := shoptest.Do(t, "POST", m+"/api/orders", customer,
		shopapi.NewOrder{Items: []shopapi.ItemQuantity{{SKU: "sku-1003", Quantity: 2}, {SKU: "sku-1004", Quantity: 1}}})
	if res.Status != http.StatusCreated {
		t.Fatalf("POST /api/orders = %d %s", res.Status, res.Body)
	}
	var o shopapi.Order
	res.Decode(t, &o)
	if shopapi.OwnerOf(shopapi.PrefixOrder, o.ID) != shopapi.OwnerMonolith || o.Status != shopapi.StatusPending ||
		o.CustomerID != customer || len(o.Items) != 2 || o.TotalCents != o.Items[0].LineTotalCents+o.Items[1].LineTotalCents {
		t.Fatalf("created %+v", o)
	}
	if loc := res.Header.Get("Location"); loc != "/api/orders/"+o.ID {
		t.Errorf("Location = %q", loc)
	}
	var after shopapi.StockItem
	shoptest.Do(t, "GET", m+"/api/inventory/items/sku-1003", "", nil).Decode(t, &after)
	if after.Reserved != before.Reserved+2 || after.Available != before.Available-2 {
		t.Errorf("stock %+v after reserving 2 of %+v", after, before)
	}

	res = shoptest.Do(t, "POST", m+"/api/payments", customer, shopapi.NewPayment{OrderID: o.ID, Method: "card"})
	if res.Status != http.StatusCreated {
		t.Fatalf("POST /api/payments = %d %s", res.Status, res.Body)
	}
	var p shopapi.Payment
	res.Decode(t, &p)
	if p.AmountCents != o.TotalCents || p.OrderID != o.ID || p.Status != shopapi.PaymentCaptured {
		t.Fatalf("payment %+v for order %+v", p, o)
	}

	var got shopapi.Order
	shoptest.Do(t, "GET", m+"/api/orders/"+o.ID, customer, nil).Decode(t, &got)
	if got.Status != shopapi.StatusPaid || got.PaymentID != p.ID {
		t.Fatalf("read back %+v, want paid by %s", got, p.ID)
	}
	var list shopapi.OrderList
	shoptest.Do(t, "GET", m+"/api/orders", customer, nil).Decode(t, &list)
	if n := len(list.Orders); n < 2 || list.Orders[n-1].ID != o.ID {
		t.Fatalf("list %+v does not end with %s", list, o.ID)
	}
	if again := shoptest.Do(t, "POST", m+"/api/payments", "", shopapi.NewPayment{OrderID: o.ID, Method: "card"}); again.Status != http.StatusConflict || again.Code() != shopapi.CodeAlreadyPaid {
		t.Fatalf("paying twice = %d %s", again.Status, again.Body)
	}

	res = shoptest.Do(t, "POST", m+"/api/shipments", "", monolith.NewShipment{OrderID: o.ID})
	var sh monolith.Shipment
	res.Decode(t, &sh)
	shoptest.Do(t, "GET", m+"/api/orders/"+o.ID, "", nil).Decode(t, &got)
	if res.Status != http.StatusCreated || got.Status != shopapi.StatusShipped || got.ShipmentID != sh.ID {
		t.Fatalf("shipping = %d %s; order %+v", res.Status, res.Body, got)
	}
}

// TestErrors checks status and error code of the contract's failures.
func TestErrors(t *testing.T) {
	m := start(t, monolith.Options{Seed: 1})
	for _, tc := range []struct {
		name, method, path, customer string
		body                         any
		status                       int
		code                         string
	}{
		{"list without customer", "GET", "/api/orders", "", nil, 400, shopapi.CodeMissingCustomer},
		{"create without customer", "POST", "/api/orders", "", `{"items":[]}`, 400, shopapi.CodeMissingCustomer},
		{"bad json", "POST", "/api/orders", customer, `{"items":`, 400, shopapi.CodeBadRequest},
		{"unknown field", "POST", "/api/orders", customer, `{"itemz":[]}`, 400, shopapi.CodeBadRequest},
		{"no items", "POST", "/api/orders", customer, `{"items":[]}`, 400, shopapi.CodeBadRequest},
		{"unknown customer", "POST", "/api/orders", "cus-999", `{"items":[{"sku":"sku-1001","quantity":1}]}`, 422, shopapi.CodeUnknownCustomer},
		{"unknown product", "POST", "/api/orders", customer, `{"items":[{"sku":"sku-9","quantity":1}]}`, 422, shopapi.CodeUnknownProduct},
		{"too much", "POST", "/api/orders", customer, `{"items":[{"sku":"sku-1001","quantity":99},{"sku":"sku-1002","quantity":99}]}`, 409, shopapi.CodeInsufficientStock},
		{"missing order", "GET", "/api/orders/ord-100999", "", nil, 404, shopapi.CodeNotFound},
		{"malformed id", "GET", "/api/orders/42", "", nil, 404, shopapi.CodeNotFound},
		{"other customer's order", "GET", "/api/orders/ord-100001", "cus-100024", nil, 404, shopapi.CodeNotFound},
		{"service order without orders url", "GET", "/api/orders/ord-500001", "", nil, 404, shopapi.CodeNotFound},
		{"bad transition", "PATCH", "/api/orders/ord-100001", "", `{"status":"pending"}`, 400, shopapi.CodeBadRequest},
		{"bad scope", "GET", "/api/orders?scope=everything", customer, nil, 400, shopapi.CodeBadRequest},
		{"method", "DELETE", "/api/orders", customer, nil, 405, shopapi.CodeMethodNotAllowed},
		{"no endpoint", "GET", "/api/nothing", "", nil, 404, shopapi.CodeNotFound},
		{"payment method", "POST", "/api/payments", "", `{"order_id":"ord-100001","method":"cash"}`, 400, shopapi.CodeBadRequest},
		{"pay unknown order", "POST", "/api/payments", "", `{"order_id":"ord-100999","method":"card"}`, 422, shopapi.CodeUnknownOrder},
		{"payments without order", "GET", "/api/payments", "", nil, 400, shopapi.CodeBadRequest},
		{"missing payment", "GET", "/api/payments/pay-100999", "", nil, 404, shopapi.CodeNotFound},
		{"missing product", "GET", "/api/products/sku-9", "", nil, 404, shopapi.CodeNotFound},
		{"missing customer", "GET", "/api/customers/cus-100999", "", nil, 404, shopapi.CodeNotFound},
		{"reserve bad order id", "POST", "/api/inventory/reservations", "", `{"order_id":"x","items":[{"sku":"sku-1001","quantity":1}]}`, 400, shopapi.CodeBadRequest},
		{"missing reservation", "GET", "/api/inventory/reservations/res-100999", "", nil, 404, shopapi.CodeNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := shoptest.Do(t, tc.method, m+tc.path, tc.customer, tc.body)
			if res.Status != tc.status || res.Code() != tc.code {
				t.Fatalf("%s %s = %d %s; want %d %s", tc.method, tc.path, res.Status, res.Body, tc.status, tc.code)
			}
		})
	}
}

func TestHealth(t *testing.T) {
	m := start(t, monolith.Options{})
	for _, p := range []string{"/health/live", "/health/ready"} {
		var h shopapi.Health
		res := shoptest.Do(t, "GET", m+p, "", nil)
		res.Decode(t, &h)
		if res.Status != http.StatusOK || h.Service != monolith.ServiceName {
			t.Errorf("GET %s = %d %+v", p, res.Status, h)
		}
	}
}

func TestFaults(t *testing.T) {
	faultstest.Check(t, "/api/products", func(t *testing.T, s faults.Settings) http.Handler {
		app, err := monolith.New(monolith.Options{Faults: s})
		if err != nil {
			t.Fatal(err)
		}
		return app
	})
}

func TestNewRejectsBadOptions(t *testing.T) {
	for _, o := range []monolith.Options{
		{InventoryURL: "not a url"},
		{OrdersURL: "ftp://x"},
		{PaymentsURL: "localhost:8412"},
		{Faults: faults.Settings{ErrorRate: 3}},
	} {
		if _, err := monolith.New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
}

func faultsAll() faults.Settings { return faults.Settings{ErrorRate: 1} }

func containsAddr(b []byte) bool { return bytes.Contains(b, []byte("127.0.0.1")) }
