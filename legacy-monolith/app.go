package monolith

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"

	"github.com/strangler-proxy/strangler/internal/faults"
	"github.com/strangler-proxy/strangler/internal/shopapi"
)

// ServiceName names the monolith in health answers and in errors of the
// apps that call it.
const ServiceName = "monolith"

// Options configures the monolith. The zero value is a working monolith
// that owns all of its data.
type Options struct {
	// InventoryURL is the base URL of the extracted inventory service. When
	// set, the monolith's stock table is retired: every stock read and
	// reservation, from the API and from order placement, goes to the
	// service. Empty means the monolith's own stock table is used.
	InventoryURL string

	// OrdersURL is the base URL of the extracted orders service. When set,
	// orders with service ids (ord-5xxxxx) are read, listed and marked paid
	// or shipped there, so payments and shipping, still in the monolith,
	// work for orders placed through the service. Empty means such orders
	// are unknown here (404).
	OrdersURL string

	// PaymentsURL is the base URL of the extracted payments service. When
	// set, payments with service ids (pay-5xxxxx) are read from it and
	// merged into the payments lists of orders, so a payment the service
	// took reads back the same on both sides, and a PATCH marking a
	// monolith order paid by such a payment can be checked. Empty means such
	// payments are unknown here (404), and cannot pay a monolith order.
	PaymentsURL string

	// Faults are the faults injected from the start; they can be changed at
	// run time through /_admin/faults. The zero value injects none.
	Faults faults.Settings

	// Logger receives structured logs. Nil discards them.
	Logger *slog.Logger

	// Seed drives the generated data (catalog, customers, orders) and the
	// fault layer's random draws. The same seed gives the same data; zero
	// is a seed like any other.
	Seed int64
}

// App is the monolith: an http.Handler serving every route, health and
// /_admin/faults included. It is safe for concurrent use.
type App struct {
	log         *slog.Logger
	db          *store
	stock       stockBook
	ordersSvc   *shopapi.Client // nil: the monolith knows only its own orders
	paymentsSvc *shopapi.Client // nil: the monolith knows only its own payments
	faults      *faults.Faults
	handler     http.Handler
}

// New builds a monolith with freshly seeded data.
func New(o Options) (*App, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	a := &App{log: o.Logger, db: newStore(o.Seed)}
	a.stock = localStock{db: a.db}
	if o.InventoryURL != "" {
		c, err := shopapi.NewClient("inventory service", o.InventoryURL)
		if err != nil {
			return nil, fmt.Errorf("inventory url: %w", err)
		}
		a.stock = remoteStock{c: c}
	}
	if o.OrdersURL != "" {
		c, err := shopapi.NewClient("orders service", o.OrdersURL)
		if err != nil {
			return nil, fmt.Errorf("orders url: %w", err)
		}
		a.ordersSvc = c
	}
	if o.PaymentsURL != "" {
		c, err := shopapi.NewClient("payments service", o.PaymentsURL)
		if err != nil {
			return nil, fmt.Errorf("payments url: %w", err)
		}
		a.paymentsSvc = c
	}
	f, err := faults.New(o.Faults, rand.NewPCG(uint64(o.Seed), 0xfa017), a.log)
	if err != nil {
		return nil, err
	}
	a.faults = f
	pages, err := newPages()
	if err != nil {
		return nil, err
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/", shopapi.NotFound)
	shopapi.HandleHealth(mux, ServiceName)
	a.routeCatalog(mux)
	a.routeOrders(mux)
	a.routePayments(mux)
	a.routeInventory(mux)
	a.routeShipments(mux)
	a.routePages(mux, pages)
	a.handler = f.Wrap(shopapi.Propagate(mux))

	a.log.Info("monolith seeded", "seed", o.Seed, "customers", len(a.db.customers),
		"products", len(a.db.products), "orders", len(a.db.orders),
		"inventory", map[bool]string{true: "service", false: "local"}[o.InventoryURL != ""],
		"orders_service", o.OrdersURL != "", "payments_service", o.PaymentsURL != "")
	return a, nil
}

// ServeHTTP serves every route of the monolith.
func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.handler.ServeHTTP(w, r) }

// Faults returns the app's live fault layer, for in-process control.
func (a *App) Faults() *faults.Faults { return a.faults }

// fail writes err in the contract's error shape.
func (a *App) fail(w http.ResponseWriter, r *http.Request, err error) {
	shopapi.WriteErr(w, r, a.log, err)
}

var _ http.Handler = (*App)(nil)
