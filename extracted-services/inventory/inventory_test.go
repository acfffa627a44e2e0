package inventory_test

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/strangler-proxy/strangler/extracted-services/inventory"
	"github.com/strangler-proxy/strangler/internal/faults"
	"github.com/strangler-proxy/strangler/internal/faults/faultstest"
	"github.com/strangler-proxy/strangler/internal/shopapi"
	"github.com/strangler-proxy/strangler/internal/shopapi/shoptest"
	monolith "github.com/strangler-proxy/strangler/legacy-monolith"
)

func serve(t *testing.T, h http.Handler, err error) string {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	return shoptest.Serve(t, h)
}

// TestContractParity runs the same requests against a monolith that still
// keeps its own stock table and against the service migrated from it (same
// seed): answers match in status, shape and code, and reads match byte for
// byte, since the migration starts both from the same numbers.
func TestContractParity(t *testing.T) {
	m1, err := monolith.New(monolith.Options{Seed: 4})
	mono := serve(t, m1, err)
	i1, err := inventory.New(inventory.Options{Seed: 4})
	svc := serve(t, i1, err)
	for _, tc := range []struct {
		name, method, path string
		body               any
		same               bool
	}{
		{"list", "GET", "/api/inventory/items", nil, true},
		{"item", "GET", "/api/inventory/items/sku-1007", nil, true},
		{"reserve", "POST", "/api/inventory/reservations", `{"order_id":"ord-100001","items":[{"sku":"sku-1007","quantity":3}]}`, false},
		{"after reserve", "GET", "/api/inventory/items/sku-1007", nil, true},
		{"missing item", "GET", "/api/inventory/items/sku-0", nil, true},
		{"unknown product", "POST", "/api/inventory/reservations", `{"order_id":"ord-100001","items":[{"sku":"sku-0","quantity":1}]}`, true},
		{"insufficient", "POST", "/api/inventory/reservations", `{"order_id":"ord-500001","items":[{"sku":"sku-1007","quantity":99},{"sku":"sku-1008","quantity":99}]}`, false},
		{"bad order id", "POST", "/api/inventory/reservations", `{"order_id":"","items":[{"sku":"sku-1007","quantity":1}]}`, true},
		{"bad quantity", "POST", "/api/inventory/reservations", `{"order_id":"ord-100001","items":[{"sku":"sku-1007","quantity":0}]}`, true},
		{"bad json", "POST", "/api/inventory/reservations", `[`, false},
		{"missing reservation", "GET", "/api/inventory/reservations/res-100999", nil, true},
		{"method", "DELETE", "/api/inventory/items", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := shoptest.Do(t, tc.method, mono+tc.path, "", tc.body)
			s := shoptest.Do(t, tc.method, svc+tc.path, "", tc.body)
			shoptest.SameContract(t, tc.name, m, s)
			if tc.same && !bytes.Equal(m.Body, s.Body) {
				t.Errorf("%s %s differs:\n%s\n%s", tc.method, tc.path, m.Body, s.Body)
			}
		})
	}
}

// TestReservation checks a reservation's id range, all-or-nothing holding,
// and reading it back.
func TestReservation(t *testing.T) {
	app, err := inventory.New(inventory.Options{Seed: 1})
	svc := serve(t, app, err)
	var before shopapi.StockItem
	shoptest.Do(t, "GET", svc+"/api/inventory/items/sku-1001", "", nil).Decode(t, &before)

	res := shoptest.Do(t, "POST", svc+"/api/inventory/reservations", "", shopapi.NewReservation{OrderID: "ord-500001",
		Items: []shopapi.ItemQuantity{{SKU: "sku-1001", Quantity: 2}}})
	var r shopapi.Reservation
	res.Decode(t, &r)
	if res.Status != http.StatusCreated || shopapi.OwnerOf(shopapi.PrefixReservation, r.ID) != shopapi.OwnerService {
		t.Fatalf("reserve = %d %s", res.Status, res.Body)
	}
	failed := shoptest.Do(t, "POST", svc+"/api/inventory/reservations", "", shopapi.NewReservation{OrderID: "ord-500002",
		Items: []shopapi.ItemQuantity{{SKU: "sku-1001", Quantity: 1}, {SKU: "sku-1002", Quantity: 99}}})
	var after shopapi.StockItem
	shoptest.Do(t, "GET", svc+"/api/inventory/items/sku-1001", "", nil).Decode(t, &after)
	if failed.Status != http.StatusConflict || after.Reserved != before.Reserved+2 {
		t.Fatalf("failed reservation = %d; stock %+v, was %+v", failed.Status, after, before)
	}
	var back shopapi.Reservation
	shoptest.Do(t, "GET", svc+"/api/inventory/reservations/"+r.ID, "", nil).Decode(t, &back)
	if back.ID != r.ID || back.OrderID != "ord-500001" || len(back.Items) != 1 {
		t.Fatalf("read back %+v", back)
	}
}

func TestFaults(t *testing.T) {
	faultstest.Check(t, "/api/inventory/items", func(t *testing.T, s faults.Settings) http.Handler {
		app, err := inventory.New(inventory.Options{Faults: s})
		if err != nil {
			t.Fatal(err)
		}
		return app
	})
}
