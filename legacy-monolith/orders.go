package monolith

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/strangler-proxy/strangler/internal/shopapi"
)

// Orders live with the side that issued their id: ord-1xxxxx here,
// ord-5xxxxx in the orders service. The monolith reads and updates the
// latter through the service's API when Options.OrdersURL is set.

func (a *App) routeOrders(mux *http.ServeMux) {
	shopapi.Handle(mux, "/api/orders", shopapi.Methods{
		http.MethodGet:  a.handleListOrders,
		http.MethodPost: a.handleCreateOrder,
	})
	shopapi.Handle(mux, "/api/orders/{id}", shopapi.Methods{
		http.MethodGet:   a.handleGetOrder,
		http.MethodPatch: a.handleUpdateOrder,
	})
}

func (a *App) handleListOrders(w http.ResponseWriter, r *http.Request) {
	cust, err := shopapi.CustomerID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	local, err := shopapi.Scope(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	orders, err := a.listOrders(r.Context(), cust, local)
	if err != nil && !local {
		// The orders service is down: degrade to the orders the monolith
		// holds, as the account page does, and say that some are missing.
		// A shop whose new service fails still lists what it can, and a
		// proxy falling back to the monolith gets an answer.
		a.log.Warn("listing orders without the orders service", "customer", cust, "error", err)
		if orders, err = a.listOrders(r.Context(), cust, true); err == nil {
			w.Header().Set(HeaderPartial, "orders service unavailable: its orders are missing")
		}
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	shopapi.WriteJSON(w, http.StatusOK, shopapi.OrderList{Orders: orders})
}

// HeaderPartial marks an answer that lacks what an unavailable service
// holds; its value says what is missing.
const HeaderPartial = "X-Shop-Partial"

func (a *App) handleGetOrder(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	o, err := a.getOrder(r.Context(), id)
	if err == nil && !shopapi.VisibleTo(r, o.CustomerID) {
		err = shopapi.NotFound404("order", id)
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	shopapi.WriteJSON(w, http.StatusOK, o)
}

func (a *App) handleCreateOrder(w http.ResponseWriter, r *http.Request) {
	cust, err := shopapi.CustomerID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var n shopapi.NewOrder
	if err := shopapi.DecodeJSON(w, r, &n); err != nil {
		a.fail(w, r, err)
		return
	}
	o, err := a.placeOrder(r.Context(), cust, n.Items)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/orders/"+o.ID)
	shopapi.WriteJSON(w, http.StatusCreated, o)
}

func (a *App) handleUpdateOrder(w http.ResponseWriter, r *http.Request) {
	var u shopapi.OrderUpdate
	if err := shopapi.DecodeJSON(w, r, &u); err != nil {
		a.fail(w, r, err)
		return
	}
	o, err := a.updateOrder(r.Context(), r.PathValue("id"), r.Header.Get(shopapi.HeaderCustomerID), u)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	shopapi.WriteJSON(w, http.StatusOK, o)
}

// placeOrder prices and stores a new order and reserves its stock, with the
// checks in the contract's order: items, customer, products, stock.
func (a *App) placeOrder(ctx context.Context, customerID string, items []shopapi.ItemQuantity) (shopapi.Order, error) {
	if err := shopapi.ValidateItems(items); err != nil {
		return shopapi.Order{}, err
	}
	cn, owner := shopapi.ParseID(shopapi.PrefixCustomer, customerID)
	if _, ok := a.db.customer(cn); owner != shopapi.OwnerMonolith || !ok {
		return shopapi.Order{}, shopapi.UnknownCustomer(customerID)
	}
	lines, total, err := shopapi.PriceItems(items, a.db.product)
	if err != nil {
		return shopapi.Order{}, err
	}
	id, err := a.db.nextOrderID()
	if err != nil {
		return shopapi.Order{}, err
	}
	oid := shopapi.FormatID(shopapi.PrefixOrder, id)
	if _, err := a.stock.reserve(ctx, shopapi.NewReservation{OrderID: oid, Items: items}); err != nil {
		return shopapi.Order{}, err
	}
	row := orderRow{id: id, customerID: cn, status: statusNew, lines: linesIn(lines), totalCents: total,
		created: time.Now().UTC().Truncate(time.Second)}
	a.db.insertOrder(row)
	return orderOut(row), nil
}

// listOrders lists a customer's orders, oldest first: the monolith's own,
// and unless local, the orders service's. An unknown customer has none.
func (a *App) listOrders(ctx context.Context, customerID string, local bool) ([]shopapi.Order, error) {
	out := []shopapi.Order{}
	if cn, owner := shopapi.ParseID(shopapi.PrefixCustomer, customerID); owner == shopapi.OwnerMonolith {
		for _, o := range a.db.ordersOf(cn) {
			out = append(out, orderOut(o))
		}
	}
	if !local && a.ordersSvc != nil {
		var l shopapi.OrderList
		h := http.Header{shopapi.HeaderCustomerID: {customerID}}
		if err := a.ordersSvc.Get(ctx, "/api/orders?scope="+shopapi.ScopeLocal, h, &l); err != nil {
			return nil, err
		}
		out = append(out, l.Orders...)
	}
	shopapi.SortOrders(out)
	return out, nil
}

// getOrder reads an order from the side that owns it.
func (a *App) getOrder(ctx context.Context, id string) (shopapi.Order, error) {
	n, owner := shopapi.ParseID(shopapi.PrefixOrder, id)
	switch {
	case owner == shopapi.OwnerMonolith:
		if o, ok := a.db.order(n); ok {
			return orderOut(o), nil
		}
	case owner == shopapi.OwnerService && a.ordersSvc != nil:
		var o shopapi.Order
		err := a.ordersSvc.Get(ctx, "/api/orders/"+url.PathEscape(id), nil, &o)
		return o, err
	}
	return shopapi.Order{}, shopapi.NotFound404("order", id)
}

// orderOfRequest reads the order a payment or shipment request r names:
// one that does not exist, or that the caller's X-Customer-ID may not see,
// is *Error 422 unknown_order.
func (a *App) orderOfRequest(r *http.Request, id string) (shopapi.Order, error) {
	o, err := a.getOrder(r.Context(), id)
	if shopapi.IsNotFound(err) || (err == nil && !shopapi.VisibleTo(r, o.CustomerID)) {
		return shopapi.Order{}, shopapi.UnknownOrder(id)
	}
	return o, err
}

// updateOrder applies a status transition at the side that owns the
// order, for caller, the X-Customer-ID of the request ("" for internal
// callers such as payments and shipping). The owner checks it.
func (a *App) updateOrder(ctx context.Context, id, caller string, u shopapi.OrderUpdate) (shopapi.Order, error) {
	n, owner := shopapi.ParseID(shopapi.PrefixOrder, id)
	switch {
	case owner == shopapi.OwnerMonolith:
		return a.updateOwnOrder(ctx, n, caller, u)
	case owner == shopapi.OwnerService && a.ordersSvc != nil:
		var o shopapi.Order
		err := a.ordersSvc.Do(ctx, http.MethodPatch, "/api/orders/"+url.PathEscape(id), shopapi.CustomerHeader(caller), u, &o)
		return o, err
	}
	return shopapi.Order{}, shopapi.NotFound404("order", id)
}

// updateOwnOrder applies a status transition to a monolith order after
// the checks of the contract, in this order: the order exists and caller
// may see it (else 404, as GET answers), the transition is allowed
// (CheckTransition), and the payment or shipment it names exists at its
// owner and belongs to this order (CheckRecord).
func (a *App) updateOwnOrder(ctx context.Context, n int, caller string, u shopapi.OrderUpdate) (shopapi.Order, error) {
	id := shopapi.FormatID(shopapi.PrefixOrder, n)
	row, ok := a.db.order(n)
	if !ok || !shopapi.Visible(caller, shopapi.FormatID(shopapi.PrefixCustomer, row.customerID)) {
		return shopapi.Order{}, shopapi.NotFound404("order", id)
	}
	if err := shopapi.CheckTransition(statusName(row.status), u); err != nil {
		return shopapi.Order{}, err
	}
	if err := shopapi.CheckRecord(ctx, id, u, a.recordOrder); err != nil {
		return shopapi.Order{}, err
	}
	row, err := a.db.updateOrder(n, u) // checks the transition again, under the store's lock
	if err != nil {
		return shopapi.Order{}, err
	}
	return orderOut(row), nil
}

// recordOrder is the monolith's shopapi.RecordLookup: its own payments and
// shipments from its store, the payments service's through PaymentsURL.
func (a *App) recordOrder(ctx context.Context, prefix, id string) (string, error) {
	n, owner := shopapi.ParseID(prefix, id)
	if owner == shopapi.OwnerService {
		var c *shopapi.Client // no service ships
		if prefix == shopapi.PrefixPayment {
			c = a.paymentsSvc
		}
		return shopapi.OrderOfRecord(ctx, c, prefix, id)
	}
	orderNum, ok := a.db.orderOfRecord(prefix, n)
	if !ok {
		return "", shopapi.NotFound404("record", id)
	}
	return shopapi.FormatID(shopapi.PrefixOrder, orderNum), nil
}
