package monolith_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strangler-proxy/strangler/extracted-services/inventory"
	"github.com/strangler-proxy/strangler/internal/shopapi"
	"github.com/strangler-proxy/strangler/internal/shopapi/shoptest"
	monolith "github.com/strangler-proxy/strangler/legacy-monolith"
)

// hungBackend is a server whose every request blocks until release is
// called or the test ends.
type hungBackend struct {
	url     string
	calls   atomic.Int32  // requests received
	entered chan struct{} // one value per request received
	release func()
}

func newHungBackend(t *testing.T) *hungBackend {
	b := &hungBackend{entered: make(chan struct{}, 16)}
	unblock := make(chan struct{})
	var once sync.Once
	b.release = func() { once.Do(func() { close(unblock) }) }
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		b.calls.Add(1)
		b.entered <- struct{}{}
		<-unblock // not the request's context: the call stays blocked after its client gives up
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(b.release) // runs first, so Close does not wait for blocked handlers
	b.url = srv.URL
	return b
}

// TestHungPaymentsServiceSparesMonolithOrders checks that while the
// payments service hangs, the payment list of an order that only has
// monolith payments answers from the monolith's store: whole, not marked
// partial and without asking the service, while the list of a service
// order waits for it.
func TestHungPaymentsServiceSparesMonolithOrders(t *testing.T) {
	hung := newHungBackend(t)
	m := start(t, monolith.Options{Seed: 1, PaymentsURL: hung.url})
	alone := start(t, monolith.Options{Seed: 1})

	// A service order may have service payments: its list asks the service,
	// and waits.
	waiting := make(chan error, 1)
	go func() {
		res, err := http.Get(m + "/api/payments?order_id=ord-500001")
		if err == nil {
			res.Body.Close()
		}
		waiting <- err
	}()
	select {
	case <-hung.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the list of a service order did not ask the payments service")
	}

	for _, order := range []string{"ord-100001" /* paid by pay-100001 */, pendingOrder, "ord-100999"} {
		list := "/api/payments?order_id=" + order
		got, want := shoptest.Do(t, "GET", m+list, "", nil), shoptest.Do(t, "GET", alone+list, "", nil)
		if got.Status != http.StatusOK || got.Header.Get(monolith.HeaderPartial) != "" || !bytes.Equal(got.Body, want.Body) {
			t.Errorf("GET %s with the payments service hung = %d %s (partial %q); want 200 %s, not partial",
				list, got.Status, got.Body, got.Header.Get(monolith.HeaderPartial), want.Body)
		}
	}
	if n := hung.calls.Load(); n != 1 {
		t.Errorf("the hung payments service got %d calls, want only the service order's", n)
	}
	hung.release()
	if err := <-waiting; err != nil {
		t.Errorf("the service order's list after the release: %v", err)
	}
}

// TestHomePageInventoryDown checks that, while the inventory service
// fails, the home page shows the stock levels of the retired table, as
// GET /api/inventory/items answers, with a notice that they may be out of
// date, rather than "?" for every product.
func TestHomePageInventoryDown(t *testing.T) {
	invApp, err := inventory.New(inventory.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	m := start(t, monolith.Options{Seed: 1, InventoryURL: shoptest.Serve(t, invApp)})
	alone := start(t, monolith.Options{Seed: 1})
	if err := invApp.Faults().Set(faultsAll()); err != nil {
		t.Fatal(err)
	}

	got, want := get(t, m+"/", ""), get(t, alone+"/", "")
	notice := []byte(`<p class="error">Stock levels may be out of date right now.</p>`)
	if got.Status != http.StatusOK || got.Header.Get(monolith.HeaderPartial) == "" || !bytes.Contains(got.Body, notice) {
		t.Fatalf("GET / with the inventory service failing = %d (partial %q)\n%s\nwant 200 with the out-of-date notice, marked partial",
			got.Status, got.Header.Get(monolith.HeaderPartial), got.Body)
	}
	if page := bytes.Replace(got.Body, notice, nil, 1); !bytes.Equal(page, want.Body) {
		t.Errorf("GET / with the inventory service failing, notice aside:\n%s\nwant the retired table's stock, as the monolith alone shows it:\n%s",
			page, want.Body)
	}
}

// TestCreateShipmentChecksCustomer checks that POST /api/shipments, like
// POST /api/payments, answers 422 unknown_order for an order that
// X-Customer-ID may not see, and ships nothing.
func TestCreateShipmentChecksCustomer(t *testing.T) {
	m := start(t, monolith.Options{Seed: 1})
	pay := shoptest.Do(t, "POST", m+"/api/payments", "", shopapi.NewPayment{OrderID: pendingOrder, Method: "card"})
	if pay.Status != http.StatusCreated {
		t.Fatalf("paying %s = %d %s", pendingOrder, pay.Status, pay.Body)
	}
	var before shopapi.Order
	shoptest.Do(t, "GET", m+"/api/orders/"+pendingOrder, "", nil).Decode(t, &before)
	const stranger = "cus-100001"
	if before.CustomerID == stranger {
		t.Fatalf("seed changed: %s is %s's; update the test", pendingOrder, stranger)
	}

	res := shoptest.Do(t, "POST", m+"/api/shipments", stranger, monolith.NewShipment{OrderID: pendingOrder})
	if res.Status != http.StatusUnprocessableEntity || res.Code() != shopapi.CodeUnknownOrder {
		t.Fatalf("shipping %s as %s = %d %s, want 422 %s", pendingOrder, stranger, res.Status, res.Body, shopapi.CodeUnknownOrder)
	}
	var after shopapi.Order
	shoptest.Do(t, "GET", m+"/api/orders/"+pendingOrder, "", nil).Decode(t, &after)
	var shipped monolith.ShipmentList
	shoptest.Do(t, "GET", m+"/api/shipments?order_id="+pendingOrder, "", nil).Decode(t, &shipped)
	if after.Status != shopapi.StatusPaid || len(shipped.Shipments) != 0 {
		t.Fatalf("after the refused shipment: order %+v, shipments %+v; want it paid, unshipped", after, shipped.Shipments)
	}
	if res := shoptest.Do(t, "POST", m+"/api/shipments", before.CustomerID, monolith.NewShipment{OrderID: pendingOrder}); res.Status != http.StatusCreated {
		t.Fatalf("shipping %s as its customer = %d %s, want 201", pendingOrder, res.Status, res.Body)
	}
}
