package monolith

import (
	"net/http"

	"github.com/strangler-proxy/strangler/internal/shopapi"
)

// Customers and the catalog never leave the monolith in this demo; the
// extracted services read them through these endpoints.

func (a *App) routeCatalog(mux *http.ServeMux) {
	shopapi.Handle(mux, "/api/customers", shopapi.Methods{http.MethodGet: a.handleListCustomers})
	shopapi.Handle(mux, "/api/customers/{id}", shopapi.Methods{http.MethodGet: a.handleGetCustomer})
	shopapi.Handle(mux, "/api/products", shopapi.Methods{http.MethodGet: a.handleListProducts})
	shopapi.Handle(mux, "/api/products/{sku}", shopapi.Methods{http.MethodGet: a.handleGetProduct})
}

func (a *App) handleListCustomers(w http.ResponseWriter, r *http.Request) {
	rows := a.db.allCustomers()
	out := make([]shopapi.Customer, len(rows))
	for i, c := range rows {
		out[i] = customerOut(c)
	}
	shopapi.WriteJSON(w, http.StatusOK, shopapi.CustomerList{Customers: out})
}

func (a *App) handleGetCustomer(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	n, owner := shopapi.ParseID(shopapi.PrefixCustomer, id)
	c, ok := a.db.customer(n)
	if owner != shopapi.OwnerMonolith || !ok {
		a.fail(w, r, shopapi.NotFound404("customer", id))
		return
	}
	shopapi.WriteJSON(w, http.StatusOK, customerOut(c))
}

func (a *App) handleListProducts(w http.ResponseWriter, r *http.Request) {
	shopapi.WriteJSON(w, http.StatusOK, shopapi.ProductList{Products: a.db.products})
}

func (a *App) handleGetProduct(w http.ResponseWriter, r *http.Request) {
	sku := r.PathValue("sku")
	p, ok := a.db.product(sku)
	if !ok {
		a.fail(w, r, shopapi.NotFound404("product", sku))
		return
	}
	shopapi.WriteJSON(w, http.StatusOK, p)
}
