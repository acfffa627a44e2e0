package inventory

import (
	"log/slog"
	"math/rand/v2"
	"net/http"

	"github.com/strangler-proxy/strangler/internal/faults"
	"github.com/strangler-proxy/strangler/internal/shopapi"
)

// ServiceName names the service in health answers and logs.
const ServiceName = "inventory"

// Options configures the inventory service. It needs no other app.
type Options struct {
	// Faults are the faults injected from the start; they can be changed at
	// run time through /_admin/faults. The zero value injects none.
	Faults faults.Settings

	// Logger receives structured logs. Nil discards them.
	Logger *slog.Logger

	// Seed selects the catalog the stock is migrated from; use the
	// monolith's seed so both start from the same numbers. It also drives
	// the fault layer's random draws. Zero is a seed like any other.
	Seed int64
}

// App is the inventory service, an http.Handler. It is safe for concurrent
// use.
type App struct {
	log     *slog.Logger
	db      *store
	faults  *faults.Faults
	handler http.Handler
}

// New builds an inventory service with stock migrated from the catalog of
// o.Seed.
func New(o Options) (*App, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	a := &App{log: o.Logger, db: newStore(shopapi.Catalog(o.Seed))}
	var err error
	if a.faults, err = faults.New(o.Faults, rand.NewPCG(uint64(o.Seed), 0xfa017), a.log); err != nil {
		return nil, err
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/", shopapi.NotFound)
	shopapi.HandleHealth(mux, ServiceName)
	shopapi.Handle(mux, "/api/inventory/items", shopapi.Methods{http.MethodGet: a.handleList})
	shopapi.Handle(mux, "/api/inventory/items/{sku}", shopapi.Methods{http.MethodGet: a.handleGet})
	shopapi.Handle(mux, "/api/inventory/reservations", shopapi.Methods{http.MethodPost: a.handleReserve})
	shopapi.Handle(mux, "/api/inventory/reservations/{id}", shopapi.Methods{http.MethodGet: a.handleGetReservation})
	a.handler = a.faults.Wrap(shopapi.Propagate(mux))
	a.log.Info("inventory service ready", "seed", o.Seed, "skus", len(a.db.stock), "owns", "res-5xxxxx")
	return a, nil
}

// ServeHTTP serves the service's routes.
func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.handler.ServeHTTP(w, r) }

// Faults returns the app's live fault layer, for in-process control.
func (a *App) Faults() *faults.Faults { return a.faults }

func (a *App) fail(w http.ResponseWriter, r *http.Request, err error) {
	shopapi.WriteErr(w, r, a.log, err)
}

func (a *App) handleList(w http.ResponseWriter, r *http.Request) {
	shopapi.WriteJSON(w, http.StatusOK, shopapi.StockList{Items: a.db.items()})
}

func (a *App) handleGet(w http.ResponseWriter, r *http.Request) {
	sku := r.PathValue("sku")
	it, ok := a.db.item(sku)
	if !ok {
		a.fail(w, r, shopapi.NotFound404("product", sku))
		return
	}
	shopapi.WriteJSON(w, http.StatusOK, it)
}

func (a *App) handleReserve(w http.ResponseWriter, r *http.Request) {
	var n shopapi.NewReservation
	if err := shopapi.DecodeJSON(w, r, &n); err != nil {
		a.fail(w, r, err)
		return
	}
	if err := shopapi.ValidateNewReservation(n); err != nil {
		a.fail(w, r, err)
		return
	}
	res, err := a.db.reserve(n)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/inventory/reservations/"+res.ID)
	shopapi.WriteJSON(w, http.StatusCreated, res)
}

func (a *App) handleGetReservation(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	res, ok := a.db.reservation(id)
	if !ok {
		a.fail(w, r, shopapi.NotFound404("reservation", id))
		return
	}
	shopapi.WriteJSON(w, http.StatusOK, res)
}

var _ http.Handler = (*App)(nil)
