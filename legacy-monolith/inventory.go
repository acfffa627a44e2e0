package monolith

import (
	"net/http"

	"github.com/strangler-proxy/strangler/internal/shopapi"
)

// The inventory endpoints serve whatever stockBook is in force: the
// monolith's table, or the inventory service when Options.InventoryURL is
// set. Behind the proxy, /api/inventory reaches the service directly; these
// routes remain for callers that still talk to the monolith.

func (a *App) routeInventory(mux *http.ServeMux) {
	shopapi.Handle(mux, "/api/inventory/items", shopapi.Methods{http.MethodGet: a.handleListStock})
	shopapi.Handle(mux, "/api/inventory/items/{sku}", shopapi.Methods{http.MethodGet: a.handleGetStock})
	shopapi.Handle(mux, "/api/inventory/reservations", shopapi.Methods{http.MethodPost: a.handleReserve})
	shopapi.Handle(mux, "/api/inventory/reservations/{id}", shopapi.Methods{http.MethodGet: a.handleGetReservation})
}

func (a *App) handleListStock(w http.ResponseWriter, r *http.Request) {
	items, err := a.stock.items(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	shopapi.WriteJSON(w, http.StatusOK, shopapi.StockList{Items: items})
}

func (a *App) handleGetStock(w http.ResponseWriter, r *http.Request) {
	it, err := a.stock.item(r.Context(), r.PathValue("sku"))
	if err != nil {
		a.fail(w, r, err)
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
