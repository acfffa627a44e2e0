package payments_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/strangler-proxy/strangler/extracted-services/internal/stacktest"
	"github.com/strangler-proxy/strangler/internal/shopapi"
	"github.com/strangler-proxy/strangler/internal/shopapi/shoptest"
)

// TestServicePaymentsOnBothSides checks that a payment the service took
// (pay-5xxxxx) reads back from the monolith too, byte for byte as from the
// service, by id and in its order's list, as a monolith payment of a
// service order does from both sides.
func TestServicePaymentsOnBothSides(t *testing.T) {
	s := stacktest.Start(t)
	legacy, moved := place(t, s.MonolithURL), place(t, s.OrdersURL)
	bySvc, byMono := pay(t, s.PaymentsURL, legacy.ID), pay(t, s.MonolithURL, moved.ID)
	for _, tc := range []struct {
		path string
		want shopapi.Payment
	}{
		{"/api/payments/" + bySvc.ID, bySvc},
		{"/api/payments/" + byMono.ID, byMono},
		{"/api/payments?order_id=" + legacy.ID, bySvc},
		{"/api/payments?order_id=" + moved.ID, byMono},
	} {
		m := shoptest.Do(t, "GET", s.MonolithURL+tc.path, "", nil)
		o := shoptest.Do(t, "GET", s.PaymentsURL+tc.path, "", nil)
		if m.Status != http.StatusOK || o.Status != http.StatusOK || !bytes.Equal(m.Body, o.Body) {
			t.Errorf("GET %s: monolith %d %s, service %d %s; want the same 200", tc.path, m.Status, m.Body, o.Status, o.Body)
			continue
		}
		var got []shopapi.Payment
		if strings.Contains(tc.path, "order_id=") {
			var list shopapi.PaymentList
			m.Decode(t, &list)
			got = list.Payments
		} else {
			var one shopapi.Payment
			m.Decode(t, &one)
			got = []shopapi.Payment{one}
		}
		if len(got) != 1 || got[0] != tc.want {
			t.Errorf("GET %s = %s, want %+v", tc.path, m.Body, tc.want)
		}
	}
	var local shopapi.PaymentList
	shoptest.Do(t, "GET", s.MonolithURL+"/api/payments?scope=local&order_id="+legacy.ID, "", nil).Decode(t, &local)
	if len(local.Payments) != 0 {
		t.Errorf("scope=local at the monolith lists %+v, want none of the service's", local.Payments)
	}
}
