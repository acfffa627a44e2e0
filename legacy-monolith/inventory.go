package monolith

import (
	"errors"
	"net/http"

	"github.com/strangler-proxy/strangler/internal/shopapi"
)

// The inventory endpoints serve whatever stockBook is in force: the
// monolith's table, or the inventory service when Options.InventoryURL is
// set. Behind the proxy, /api/inventory reaches the service directly; these
// routes remain for callers that still talk to the monolith, and for the
// proxy's fallback when the service cannot take a request.
//
// While the inventory service fails, stock reads are answered from the
// monolith's retired table, marked with HeaderPartial: its numbers are
// those of the migration, without the reservations the service took since.
// Reservations are never made there: only the service holds stock.

func (a *App) routeInventory(mux *http.ServeMux) {
	shopapi.Handle(mux, "/api/inventory/items", shopapi.Methods{http.MethodGet: a.handleListStock})
	shopapi.Handle(mux, "/api/inventory/items/{sku}", shopapi.Methods{http.MethodGet: a.handleGetStock})
	shopapi.Handle(mux, "/api/inventory/reservations", shopapi.Methods{http.MethodPost: a.handleReserve})
	shopapi.Handle(mux, "/api/inventory/reservations/{id}", shopapi.Methods{http.MethodGet: a.handleGetReservation})
}

func (a *App) handleListStock(w http.ResponseWriter, r *http.Request) {
	items, err := a.stockItems(w, r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	shopapi.WriteJSON(w, http.StatusOK, shopapi.StockList{Items: items})
}

// stockItems reads every stock item for r through readStock, as
// GET /api/inventory/items answers them and the home page shows them.
func (a *App) stockItems(w http.ResponseWriter, r *http.Request) ([]shopapi.StockItem, error) {
	return readStock(a, w, r, func(b stockBook) ([]shopapi.StockItem, error) { return b.items(r.Context()) })
}

func (a *App) handleGetStock(w http.ResponseWriter, r *http.Request) {
	sku := r.PathValue("sku")
	it, err := readStock(a, w, r, func(b stockBook) (shopapi.StockItem, error) { return b.item(r.Context(), sku) })
	if err != nil {
		a.fail(w, r, err)
		return
	}
	shopapi.WriteJSON(w, http.StatusOK, it)
}

// readStock reads stock from the stockBook in force and, when that is the
// inventory service and the call fails (an *shopapi.UpstreamError, not a
// contract error such as 404), from the monolith's own retired table,
// setting HeaderPartial on w to say so.
func readStock[T any](a *App, w http.ResponseWriter, r *http.Request, read func(stockBook) (T, error)) (T, error) {
	v, err := read(a.stock)
	if _, remote := a.stock.(remoteStock); !remote {
		return v, err
	}
	if _, down := errors.AsType[*shopapi.UpstreamError](err); !down {
		return v, err
	}
	a.log.Warn("reading stock without the inventory service: from the retired table", "path", r.URL.Path, "error", err)
	w.Header().Set(HeaderPartial, "inventory service unavailable: stock as of the migration, its reservations since are missing")
	return read(localStock{db: a.db})
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
	res, err := a.stock.reserve(r.Context(), n)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/inventory/reservations/"+res.ID)
	shopapi.WriteJSON(w, http.StatusCreated, res)
}

func (a *App) handleGetReservation(w http.ResponseWriter, r *http.Request) {
	res, err := a.stock.reservation(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	shopapi.WriteJSON(w, http.StatusOK, res)
}
