package payments_test

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/strangler-proxy/strangler/extracted-services/internal/stacktest"
	"github.com/strangler-proxy/strangler/extracted-services/payments"
	"github.com/strangler-proxy/strangler/internal/faults"
	"github.com/strangler-proxy/strangler/internal/faults/faultstest"
	"github.com/strangler-proxy/strangler/internal/shopapi"
	"github.com/strangler-proxy/strangler/internal/shopapi/shoptest"
)

const cust = stacktest.Customer

func place(t *testing.T, base string) shopapi.Order {
	t.Helper()
	res := shoptest.Do(t, "POST", base+"/api/orders", cust,
		shopapi.NewOrder{Items: []shopapi.ItemQuantity{{SKU: "sku-1006", Quantity: 1}}})
	if res.Status != http.StatusCreated {
		t.Fatalf("POST %s/api/orders = %d %s", base, res.Status, res.Body)
	}
	var o shopapi.Order
	res.Decode(t, &o)
	return o
}

func pay(t *testing.T, base, orderID string) shopapi.Payment {
	t.Helper()
	res := shoptest.Do(t, "POST", base+"/api/payments", cust, shopapi.NewPayment{OrderID: orderID, Method: "invoice"})
	if res.Status != http.StatusCreated {
		t.Fatalf("POST %s/api/payments for %s = %d %s", base, orderID, res.Status, res.Body)
	}
	var p shopapi.Payment
	res.Decode(t, &p)
	return p
}

// assertPaid checks that the order reads back paid by p on every side.
func assertPaid(t *testing.T, s *stacktest.Stack, orderID string, p shopapi.Payment) {
	t.Helper()
	for _, base := range []string{s.MonolithURL, s.OrdersURL} {
		var o shopapi.Order
		shoptest.Do(t, "GET", base+"/api/orders/"+orderID, cust, nil).Decode(t, &o)
		if o.Status != shopapi.StatusPaid || o.PaymentID != p.ID || p.AmountCents != o.TotalCents {
			t.Errorf("via %s: order %+v, payment %+v", base, o, p)
		}
	}
}

// TestPayThroughService pays a monolith order and a service order through
// the payments service, and a service order through the monolith; each
// reads back paid on both sides.
func TestPayThroughService(t *testing.T) {
	s := stacktest.Start(t)

	legacy := place(t, s.MonolithURL)
	p := pay(t, s.PaymentsURL, legacy.ID)
	if shopapi.OwnerOf(shopapi.PrefixPayment, p.ID) != shopapi.OwnerService {
		t.Fatalf("payment id %s not from the service range", p.ID)
	}
	assertPaid(t, s, legacy.ID, p)

	moved := place(t, s.OrdersURL)
	assertPaid(t, s, moved.ID, pay(t, s.PaymentsURL, moved.ID))

	moved2 := place(t, s.OrdersURL)
	p2 := pay(t, s.MonolithURL, moved2.ID)
	if shopapi.OwnerOf(shopapi.PrefixPayment, p2.ID) != shopapi.OwnerMonolith {
		t.Fatalf("monolith payment id %s", p2.ID)
	}
	assertPaid(t, s, moved2.ID, p2)

	for _, id := range []string{legacy.ID, moved.ID} {
		res := shoptest.Do(t, "POST", s.PaymentsURL+"/api/payments", "", shopapi.NewPayment{OrderID: id, Method: "card"})
		if res.Status != http.StatusConflict || res.Code() != shopapi.CodeAlreadyPaid {
			t.Errorf("paying %s twice = %d %s", id, res.Status, res.Body)
		}
	}
	var got shopapi.Payment
	shoptest.Do(t, "GET", s.PaymentsURL+"/api/payments/"+p.ID, "", nil).Decode(t, &got)
	if got != p {
		t.Errorf("GET payment = %+v, want %+v", got, p)
	}
}

// TestContractParity sends the same requests to the monolith and to the
// service and compares status, JSON shape and error code; reads of the
// monolith's payments are byte-identical.
func TestContractParity(t *testing.T) {
	s := stacktest.Start(t)
	a, b := place(t, s.MonolithURL), place(t, s.MonolithURL)
	for _, tc := range []struct {
		name, method, path string
		body               any
		same               bool
		svcBody            any // sent to the service instead of body, if set
	}{
		{"get legacy payment", "GET", "/api/payments/pay-100001", nil, true, nil},
		{"list", "GET", "/api/payments?order_id=ord-100002", nil, true, nil},
		{"list none", "GET", "/api/payments?order_id=ord-100999", nil, true, nil},
		{"pay", "POST", "/api/payments", shopapi.NewPayment{OrderID: a.ID, Method: "card"}, false,
			shopapi.NewPayment{OrderID: b.ID, Method: "card"}},
		{"pay again", "POST", "/api/payments", shopapi.NewPayment{OrderID: a.ID, Method: "card"}, true, nil},
		{"list without order", "GET", "/api/payments", nil, true, nil},
		{"bad scope", "GET", "/api/payments?order_id=ord-100002&scope=x", nil, true, nil},
		{"bad json", "POST", "/api/payments", `{"order_id":`, false, nil},
		{"bad method", "POST", "/api/payments", `{"order_id":"ord-100001","method":"cash"}`, true, nil},
		{"no order", "POST", "/api/payments", `{"method":"card"}`, true, nil},
		{"unknown order", "POST", "/api/payments", `{"order_id":"ord-100999","method":"card"}`, true, nil},
		{"unknown service order", "POST", "/api/payments", `{"order_id":"ord-500999","method":"card"}`, true, nil},
		{"malformed order", "POST", "/api/payments", `{"order_id":"42","method":"card"}`, true, nil},
		{"missing payment", "GET", "/api/payments/pay-100999", nil, true, nil},
		{"malformed payment", "GET", "/api/payments/x", nil, true, nil},
		{"method", "DELETE", "/api/payments/pay-100001", nil, true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The monolith goes first, so both sides see the same state.
			m := shoptest.Do(t, tc.method, s.MonolithURL+tc.path, cust, tc.body)
			if tc.svcBody != nil {
				tc.body = tc.svcBody
			}
			o := shoptest.Do(t, tc.method, s.PaymentsURL+tc.path, cust, tc.body)
			shoptest.SameContract(t, tc.name, m, o)
			if tc.same && !bytes.Equal(m.Body, o.Body) {
				t.Errorf("%s %s differs:\n%s\n%s", tc.method, tc.path, m.Body, o.Body)
			}
		})
	}
}

// TestWithoutOrdersService checks that without OrdersURL a service order
// is unknown, as in a monolith without it.
func TestWithoutOrdersService(t *testing.T) {
	s := stacktest.Start(t)
	moved := place(t, s.OrdersURL)
	app, err := payments.New(payments.Options{MonolithURL: s.MonolithURL})
	if err != nil {
		t.Fatal(err)
	}
	res := shoptest.Do(t, "POST", shoptest.Serve(t, app)+"/api/payments", "", shopapi.NewPayment{OrderID: moved.ID, Method: "card"})
	if res.Status != http.StatusUnprocessableEntity || res.Code() != shopapi.CodeUnknownOrder {
		t.Fatalf("paying %s without the orders service = %d %s", moved.ID, res.Status, res.Body)
	}
}

// TestOwnerDown checks that a failing order owner leaves no payment behind
// and answers a clean 502.
func TestOwnerDown(t *testing.T) {
	s := stacktest.Start(t)
	o := place(t, s.MonolithURL)
	if err := s.Monolith.Faults().Set(faults.Settings{ErrorRate: 1}); err != nil {
		t.Fatal(err)
	}
	res := shoptest.Do(t, "POST", s.PaymentsURL+"/api/payments", "", shopapi.NewPayment{OrderID: o.ID, Method: "card"})
	if res.Status != http.StatusBadGateway || res.Code() != shopapi.CodeUpstream || bytes.Contains(res.Body, []byte("127.0.0.1")) {
		t.Fatalf("paying with the monolith failing = %d %s", res.Status, res.Body)
	}
	var l shopapi.PaymentList
	shoptest.Do(t, "GET", s.PaymentsURL+"/api/payments?order_id="+o.ID+"&scope=local", "", nil).Decode(t, &l)
	if len(l.Payments) != 0 {
		t.Fatalf("payments left behind: %+v", l.Payments)
	}
}

func TestFaults(t *testing.T) {
	faultstest.Check(t, "/api/payments", func(t *testing.T, s faults.Settings) http.Handler {
		app, err := payments.New(payments.Options{MonolithURL: "http://127.0.0.1:1", Faults: s})
		if err != nil {
			t.Fatal(err)
		}
		return app
	})
}
