package payments

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"

	"github.com/strangler-proxy/strangler/internal/faults"
	"github.com/strangler-proxy/strangler/internal/shopapi"
)

// ServiceName names the service in health answers and logs.
const ServiceName = "payments"

// DefaultMonolithURL is where the monolith listens by default.
const DefaultMonolithURL = "http://127.0.0.1:8401"

// Options configures the payments service.
type Options struct {
	// MonolithURL is the base URL of the legacy monolith, which owns the
	// orders it placed (ord-1xxxxx) and the payments it took (pay-1xxxxx).
	// Empty means DefaultMonolithURL.
	MonolithURL string

	// OrdersURL is the base URL of the extracted orders service, which owns
	// the orders it placed (ord-5xxxxx). Empty means such orders cannot be
	// paid here (422 unknown_order).
	OrdersURL string

	// Faults are the faults injected from the start; they can be changed at
	// run time through /_admin/faults. The zero value injects none.
	Faults faults.Settings

	// Logger receives structured logs. Nil discards them.
	Logger *slog.Logger

	// Seed drives the fault layer's random draws. The service's own store
	// starts empty: it owns only the payments it takes.
	Seed int64
}

// App is the payments service, an http.Handler. It is safe for concurrent
// use.
type App struct {
	log      *slog.Logger
	db       *store
	monolith *shopapi.Client
	orders   *shopapi.Client // nil: service-owned orders are unknown
	faults   *faults.Faults
	handler  http.Handler
}

// New builds a payments service with an empty store.
func New(o Options) (*App, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MonolithURL == "" {
		o.MonolithURL = DefaultMonolithURL
	}
	a := &App{log: o.Logger, db: newStore()}
	var err error
	if a.monolith, err = shopapi.NewClient("monolith", o.MonolithURL); err != nil {
		return nil, fmt.Errorf("monolith url: %w", err)
	}
	if o.OrdersURL != "" {
		if a.orders, err = shopapi.NewClient("orders service", o.OrdersURL); err != nil {
			return nil, fmt.Errorf("orders url: %w", err)
		}
	}
	if a.faults, err = faults.New(o.Faults, rand.NewPCG(uint64(o.Seed), 0xfa017), a.log); err != nil {
		return nil, err
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/", shopapi.NotFound)
	shopapi.HandleHealth(mux, ServiceName)
	shopapi.Handle(mux, "/api/payments", shopapi.Methods{
		http.MethodGet:  a.handleList,
		http.MethodPost: a.handleCreate,
	})
	shopapi.Handle(mux, "/api/payments/{id}", shopapi.Methods{http.MethodGet: a.handleGet})
	a.handler = a.faults.Wrap(shopapi.Propagate(mux))
	a.log.Info("payments service ready", "owns", "pay-5xxxxx", "orders_service", o.OrdersURL != "")
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
