package orders_test

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/strangler-proxy/strangler/extracted-services/internal/stacktest"
	"github.com/strangler-proxy/strangler/internal/shopapi"
	"github.com/strangler-proxy/strangler/internal/shopapi/shoptest"
	monolith "github.com/strangler-proxy/strangler/legacy-monolith"
)

// TestShipmentChecksCustomer checks that shipping a paid order, which
// only the monolith does, is refused for another customer's X-Customer-ID
// as paying it is, with the same 422 unknown_order at the monolith and the
// payments service, for an order of each owner; the order stays unshipped,
// and its own customer ships it.
func TestShipmentChecksCustomer(t *testing.T) {
	s := stacktest.Start(t)
	item := shopapi.ItemQuantity{SKU: "sku-1008", Quantity: 1}
	const stranger = "cus-100001"
	for _, base := range []string{s.MonolithURL, s.OrdersURL} {
		o := create(t, base, newOrder(item))
		if res := shoptest.Do(t, "POST", s.PaymentsURL+"/api/payments", cust, shopapi.NewPayment{OrderID: o.ID, Method: "card"}); res.Status != http.StatusCreated {
			t.Fatalf("paying %s = %d %s", o.ID, res.Status, res.Body)
		}
		ship := shoptest.Do(t, "POST", s.MonolithURL+"/api/shipments", stranger, monolith.NewShipment{OrderID: o.ID})
		if ship.Status != http.StatusUnprocessableEntity || ship.Code() != shopapi.CodeUnknownOrder {
			t.Errorf("shipping %s as %s = %d %s, want 422 %s", o.ID, stranger, ship.Status, ship.Body, shopapi.CodeUnknownOrder)
		}
		for _, payAt := range []string{s.MonolithURL, s.PaymentsURL} {
			pay := shoptest.Do(t, "POST", payAt+"/api/payments", stranger, shopapi.NewPayment{OrderID: o.ID, Method: "card"})
			if pay.Status != ship.Status || !bytes.Equal(pay.Body, ship.Body) {
				t.Errorf("paying %s as %s at %s = %d %s; shipping it = %d %s; want the same answer",
					o.ID, stranger, payAt, pay.Status, pay.Body, ship.Status, ship.Body)
			}
		}
		var after shopapi.Order
		shoptest.Do(t, "GET", s.OrdersURL+"/api/orders/"+o.ID, "", nil).Decode(t, &after)
		if after.Status != shopapi.StatusPaid || after.ShipmentID != "" {
			t.Errorf("%s after the refused shipment: %+v, want it paid and unshipped", o.ID, after)
		}
		if res := shoptest.Do(t, "POST", s.MonolithURL+"/api/shipments", cust, monolith.NewShipment{OrderID: o.ID}); res.Status != http.StatusCreated {
			t.Errorf("shipping %s as its customer = %d %s, want 201", o.ID, res.Status, res.Body)
		}
	}
}
