package orders_test

import (
	"net/http"
	"reflect"
	"testing"

	"github.com/strangler-proxy/strangler/extracted-services/internal/stacktest"
	"github.com/strangler-proxy/strangler/internal/shopapi"
	"github.com/strangler-proxy/strangler/internal/shopapi/shoptest"
)

// TestUpdateChecksParity sends PATCH /api/orders/{id} requests that must
// be refused to the monolith and to the service, for an order of each
// owner: both sides answer the same, and the orders stay as they were.
// Payments and shipments are read where they live: pay-1xxxxx and
// shipments at the monolith, pay-5xxxxx at the payments service.
func TestUpdateChecksParity(t *testing.T) {
	s := stacktest.Start(t)
	item := shopapi.ItemQuantity{SKU: "sku-1008", Quantity: 1}
	monoPending, svcPending := create(t, s.MonolithURL, newOrder(item)), create(t, s.OrdersURL, newOrder(item))
	monoPaid, svcPaid := create(t, s.MonolithURL, newOrder(item)), create(t, s.OrdersURL, newOrder(item))
	var svcPay, monoPay shopapi.Payment // a service payment of monoPaid, a monolith payment of svcPaid
	for _, p := range []struct {
		base, order string
		into        *shopapi.Payment
	}{{s.PaymentsURL, monoPaid.ID, &svcPay}, {s.MonolithURL, svcPaid.ID, &monoPay}} {
		res := shoptest.Do(t, "POST", p.base+"/api/payments", cust, shopapi.NewPayment{OrderID: p.order, Method: "card"})
		if res.Status != http.StatusCreated {
			t.Fatalf("paying %s at %s = %d %s", p.order, p.base, res.Status, res.Body)
		}
		res.Decode(t, p.into)
	}

	paid := func(payment string) string { return `{"status":"paid","payment_id":"` + payment + `"}` }
	shipped := func(shipment string) string { return `{"status":"shipped","shipment_id":"` + shipment + `"}` }
	for _, tc := range []struct {
		name, order, customer, body string
		status                      int
		code                        string
	}{
		{"monolith order, monolith payment of another order", monoPending.ID, "", paid("pay-100001"), 422, shopapi.CodeUnknownPayment},
		{"monolith order, service payment of another order", monoPending.ID, "", paid(svcPay.ID), 422, shopapi.CodeUnknownPayment},
		{"monolith order, no such monolith payment", monoPending.ID, "", paid("pay-100999"), 422, shopapi.CodeUnknownPayment},
		{"monolith order, no such service payment", monoPending.ID, "", paid("pay-500999"), 422, shopapi.CodeUnknownPayment},
		{"monolith order, another customer", monoPending.ID, "cus-100001", paid(svcPay.ID), 404, shopapi.CodeNotFound},
		{"monolith order, shipment of another order", monoPaid.ID, "", shipped("shp-100001"), 422, shopapi.CodeUnknownShipment},
		{"monolith order, no such shipment", monoPaid.ID, "", shipped("shp-500001"), 422, shopapi.CodeUnknownShipment},
		{"service order, monolith payment of another order", svcPending.ID, "", paid(monoPay.ID), 422, shopapi.CodeUnknownPayment},
		{"service order, service payment of another order", svcPending.ID, "", paid(svcPay.ID), 422, shopapi.CodeUnknownPayment},
		{"service order, no such monolith payment", svcPending.ID, "", paid("pay-100999"), 422, shopapi.CodeUnknownPayment},
		{"service order, no such service payment", svcPending.ID, "", paid("pay-500999"), 422, shopapi.CodeUnknownPayment},
		{"service order, another customer", svcPending.ID, "cus-100001", paid(monoPay.ID), 404, shopapi.CodeNotFound},
		{"service order, shipment of another order", svcPaid.ID, "", shipped("shp-100001"), 422, shopapi.CodeUnknownShipment},
		{"service order, no such shipment", svcPaid.ID, "", shipped("shp-100999"), 422, shopapi.CodeUnknownShipment},
		{"service order, ship unpaid", svcPending.ID, "", shipped("shp-100001"), 409, shopapi.CodeInvalidTransition},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before shopapi.Order
			shoptest.Do(t, "GET", s.MonolithURL+"/api/orders/"+tc.order, "", nil).Decode(t, &before)
			m := shoptest.Do(t, "PATCH", s.MonolithURL+"/api/orders/"+tc.order, tc.customer, tc.body)
			o := shoptest.Do(t, "PATCH", s.OrdersURL+"/api/orders/"+tc.order, tc.customer, tc.body)
			shoptest.SameContract(t, tc.name, m, o)
			if m.Status != tc.status || m.Code() != tc.code || string(m.Body) != string(o.Body) {
				t.Errorf("PATCH %s %s = %d %s and %d %s; want %d %s on both sides", tc.order, tc.body,
					m.Status, m.Body, o.Status, o.Body, tc.status, tc.code)
			}
			for _, base := range []string{s.MonolithURL, s.OrdersURL} {
				var after shopapi.Order
				shoptest.Do(t, "GET", base+"/api/orders/"+tc.order, "", nil).Decode(t, &after)
				if !reflect.DeepEqual(after, before) {
					t.Errorf("via %s after the refused PATCH: %+v, want %+v", base, after, before)
				}
			}
		})
	}

	// Shipping through the monolith still works for an order of each owner.
	for _, id := range []string{monoPaid.ID, svcPaid.ID} {
		if res := shoptest.Do(t, "POST", s.MonolithURL+"/api/shipments", "", `{"order_id":"`+id+`"}`); res.Status != http.StatusCreated {
			t.Errorf("shipping %s = %d %s", id, res.Status, res.Body)
		}
	}
}
