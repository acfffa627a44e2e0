// Package stacktest starts the whole bundled shop on httptest servers for
// the extracted services' tests: the monolith and the orders, payments and
// inventory services, wired to each other as in the demo. It is for tests
// only: no non-test code may import it, and it must not import strangler's
// own packages (internal/proxy, routing, resilience): the shop runs here
// without the proxy in front.
package stacktest

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/strangler-proxy/strangler/extracted-services/inventory"
	"github.com/strangler-proxy/strangler/extracted-services/orders"
	"github.com/strangler-proxy/strangler/extracted-services/payments"
	monolith "github.com/strangler-proxy/strangler/legacy-monolith"
)

// Seed is the seed every app of the stack gets.
const Seed = 1

// Customer is a seeded customer who has monolith orders under Seed;
// CustomerOrder is one of them.
const (
	Customer      = "cus-100003"
	CustomerOrder = "ord-100044"
)

// Stack is a running shop: base URLs and the apps behind them.
type Stack struct {
	MonolithURL, OrdersURL, PaymentsURL, InventoryURL string

	Monolith  *monolith.App
	Orders    *orders.App
	Payments  *payments.App
	Inventory *inventory.App
}

// Start runs the four apps, each on its own 127.0.0.1 server, closed when
// the test ends. They are wired as in the demo: the monolith reserves stock
// at the inventory service and reads service orders and payments from the
// orders and payments services; the orders service checks service
// payments at the payments service.
func Start(t *testing.T) *Stack {
	t.Helper()
	// The monolith, orders and payments point at each other: take the
	// addresses of the monolith and payments first and start their servers
	// once their apps are built.
	mono, pay := unstarted(t), unstarted(t)
	s := &Stack{MonolithURL: "http://" + mono.Listener.Addr().String(), PaymentsURL: "http://" + pay.Listener.Addr().String()}

	var err error
	s.Inventory, err = inventory.New(inventory.Options{Seed: Seed})
	must(t, err)
	s.InventoryURL = serve(t, s.Inventory)

	s.Orders, err = orders.New(orders.Options{MonolithURL: s.MonolithURL, InventoryURL: s.InventoryURL,
		PaymentsURL: s.PaymentsURL, Seed: Seed})
	must(t, err)
	s.OrdersURL = serve(t, s.Orders)

	s.Payments, err = payments.New(payments.Options{MonolithURL: s.MonolithURL, OrdersURL: s.OrdersURL, Seed: Seed})
	must(t, err)
	pay.Config.Handler = s.Payments
	pay.Start()

	s.Monolith, err = monolith.New(monolith.Options{InventoryURL: s.InventoryURL, OrdersURL: s.OrdersURL,
		PaymentsURL: s.PaymentsURL, Seed: Seed})
	must(t, err)
	mono.Config.Handler = s.Monolith
	mono.Start()
	return s
}

// unstarted returns a server whose address is taken but which serves
// nothing yet, closed when the test ends.
func unstarted(t *testing.T) *httptest.Server {
	srv := httptest.NewUnstartedServer(nil)
	t.Cleanup(srv.Close)
	return srv
}

func serve(t *testing.T, h http.Handler) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
