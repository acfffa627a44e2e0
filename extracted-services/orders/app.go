package orders

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"

	"github.com/strangler-proxy/strangler/internal/faults"
	"github.com/strangler-proxy/strangler/internal/shopapi"
)

// ServiceName names the service in health answers and in errors of the
// apps that call it.
const ServiceName = "orders"

// DefaultMonolithURL is where the monolith listens by default.
const DefaultMonolithURL = "http://127.0.0.1:8401"

// Options configures the orders service.
type Options struct {
	// MonolithURL is the base URL of the legacy monolith, which owns
	// customers, the catalog and every order it placed (ord-1xxxxx). Empty
	// means DefaultMonolithURL.
	MonolithURL string

	// InventoryURL is the base URL of the inventory API used to reserve
	// stock for new orders: the extracted inventory service once inventory
	// has moved. Empty means the monolith's /api/inventory, which holds or
	// delegates stock as the monolith is configured.
	InventoryURL string

	// PaymentsURL is the base URL of the extracted payments service, owner
	// of the payments it takes (pay-5xxxxx). A PATCH that marks an order
	// paid by such a payment is checked there; payments of the monolith
	// (pay-1xxxxx) are checked at MonolithURL. Empty means such payments are
	// unknown here: they cannot pay an order (422 unknown_payment).
	PaymentsURL string

	// Faults are the faults injected from the start; they can be changed at
	// run time through /_admin/faults. The zero value injects none.
	Faults faults.Settings

	// Logger receives structured logs. Nil discards them.
	Logger *slog.Logger

	// Seed drives the fault layer's random draws. The service's own store
	// starts empty: it owns only what it creates.
	Seed int64
}

// App is the orders service, an http.Handler. It is safe for concurrent use.
type App struct {
	log       *slog.Logger
	db        *store
	legacy    legacy
	inventory *shopapi.Client
	payments  *shopapi.Client // nil: service payments are unknown
	faults    *faults.Faults
	handler   http.Handler
}

// New builds an orders service with an empty store.
func New(o Options) (*App, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MonolithURL == "" {
		o.MonolithURL = DefaultMonolithURL
	}
	if o.InventoryURL == "" {
		o.InventoryURL = o.MonolithURL
	}
	mono, err := shopapi.NewClient("monolith", o.MonolithURL)
	if err != nil {
		return nil, fmt.Errorf("monolith url: %w", err)
	}
	inv, err := shopapi.NewClient("inventory", o.InventoryURL)
	if err != nil {
		return nil, fmt.Errorf("inventory url: %w", err)
	}
	a := &App{log: o.Logger, db: newStore(), legacy: legacy{c: mono}, inventory: inv}
	if o.PaymentsURL != "" {
		if a.payments, err = shopapi.NewClient("payments service", o.PaymentsURL); err != nil {
			return nil, fmt.Errorf("payments url: %w", err)
		}
	}
	a.faults, err = faults.New(o.Faults, rand.NewPCG(uint64(o.Seed), 0xfa017), a.log)
	if err != nil {
		return nil, err
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/", shopapi.NotFound)
	shopapi.HandleHealth(mux, ServiceName)
	shopapi.Handle(mux, "/api/orders", shopapi.Methods{
		http.MethodGet:  a.handleList,
		http.MethodPost: a.handleCreate,
	})
	shopapi.Handle(mux, "/api/orders/{id}", shopapi.Methods{
		http.MethodGet:   a.handleGet,
		http.MethodPatch: a.handleUpdate,
	})
	a.handler = a.faults.Wrap(shopapi.Propagate(mux))
	a.log.Info("orders service ready", "owns", "ord-5xxxxx", "inventory_via_monolith", o.InventoryURL == o.MonolithURL)
	return a, nil
}

// ServeHTTP serves the service's routes.
func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.handler.ServeHTTP(w, r) }

// Faults returns the app's live fault layer, for in-process control.
func (a *App) Faults() *faults.Faults { return a.faults }

func (a *App) fail(w http.ResponseWriter, r *http.Request, err error) {
	shopapi.WriteErr(w, r, a.log, err)
}

var _ http.Handler = (*App)(nil)
