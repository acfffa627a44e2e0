package orders

import (
	"context"
	"net/http"
	"time"

	"github.com/strangler-proxy/strangler/internal/shopapi"
)

func (a *App) handleList(w http.ResponseWriter, r *http.Request) {
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
	owned := a.db.ofCustomer(cust)
	if !local {
		old, err := a.legacy.orders(r.Context(), cust)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		owned = append(old, owned...)
	}
	out := make([]shopapi.Order, len(owned))
	for i, o := range owned {
		out[i] = o.toAPI()
	}
	shopapi.SortOrders(out)
	shopapi.WriteJSON(w, http.StatusOK, shopapi.OrderList{Orders: out})
}

func (a *App) handleGet(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	o, err := a.find(r.Context(), id)
	if err == nil && !shopapi.VisibleTo(r, o.customerID) {
		err = shopapi.NotFound404("order", id)
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	shopapi.WriteJSON(w, http.StatusOK, o.toAPI())
}

// find reads an order from the side that owns it.
func (a *App) find(ctx context.Context, id string) (order, error) {
	switch shopapi.OwnerOf(shopapi.PrefixOrder, id) {
	case shopapi.OwnerService:
		if o, ok := a.db.get(id); ok {
			return o, nil
		}
	case shopapi.OwnerMonolith:
		return a.legacy.order(ctx, id)
	}
	return order{}, shopapi.NotFound404("order", id)
}

func (a *App) handleUpdate(w http.ResponseWriter, r *http.Request) {
	var u shopapi.OrderUpdate
	if err := shopapi.DecodeJSON(w, r, &u); err != nil {
		a.fail(w, r, err)
		return
	}
	id, caller := r.PathValue("id"), r.Header.Get(shopapi.HeaderCustomerID)
	var o order
	var err error
	switch shopapi.OwnerOf(shopapi.PrefixOrder, id) {
	case shopapi.OwnerService:
		o, err = a.updateOwn(r.Context(), id, caller, u)
	case shopapi.OwnerMonolith:
		o, err = a.legacy.update(r.Context(), id, caller, u) // the monolith checks its own orders
	default:
		err = shopapi.NotFound404("order", id)
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	shopapi.WriteJSON(w, http.StatusOK, o.toAPI())
}

// updateOwn applies a status transition to an order the service owns, for
// caller (the X-Customer-ID of the request, "" for internal callers), after
// the checks the monolith makes, in its order: the order exists and caller
// may see it (else 404, as GET answers), the transition is allowed, and
// the payment or shipment it names exists at its owner and belongs to
// this order.
func (a *App) updateOwn(ctx context.Context, id, caller string, u shopapi.OrderUpdate) (order, error) {
	o, ok := a.db.get(id)
	if !ok || !shopapi.Visible(caller, o.customerID) {
		return order{}, shopapi.NotFound404("order", id)
	}
	if err := shopapi.CheckTransition(o.status.String(), u); err != nil {
		return order{}, err
	}
	if err := shopapi.CheckRecord(ctx, id, u, a.recordOrder); err != nil {
		return order{}, err
	}
	return a.db.update(id, u) // checks the transition again, under the store's lock
}

// recordOrder is the service's shopapi.RecordLookup: payments are read at
// their owner, the monolith (pay-1xxxxx) or the payments service
// (pay-5xxxxx); shipments at the monolith, the only side that ships.
func (a *App) recordOrder(ctx context.Context, prefix, id string) (string, error) {
	if shopapi.OwnerOf(prefix, id) == shopapi.OwnerMonolith {
		return a.legacy.recordOrder(ctx, prefix, id)
	}
	var c *shopapi.Client // no service ships
	if prefix == shopapi.PrefixPayment {
		c = a.payments
	}
	return shopapi.OrderOfRecord(ctx, c, prefix, id)
}

func (a *App) handleCreate(w http.ResponseWriter, r *http.Request) {
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
	o, err := a.place(r.Context(), cust, n.Items)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := o.toAPI()
	w.Header().Set("Location", "/api/orders/"+out.ID)
	shopapi.WriteJSON(w, http.StatusCreated, out)
}

// place creates an order owned by the service, with the checks in the
// contract's order: items, customer, products, stock.
func (a *App) place(ctx context.Context, customerID string, items []shopapi.ItemQuantity) (order, error) {
	if err := shopapi.ValidateItems(items); err != nil {
		return order{}, err
	}
	if err := a.legacy.checkCustomer(ctx, customerID); err != nil {
		return order{}, err
	}
	catalog, err := a.legacy.products(ctx)
	if err != nil {
		return order{}, err
	}
	priced, total, err := shopapi.PriceItems(items, func(sku string) (shopapi.Product, bool) {
		p, ok := catalog[sku]
		return p, ok
	})
	if err != nil {
		return order{}, err
	}
	id, err := a.db.nextID()
	if err != nil {
		return order{}, err
	}
	var res shopapi.Reservation
	err = a.inventory.Do(ctx, http.MethodPost, "/api/inventory/reservations", nil,
		shopapi.NewReservation{OrderID: id, Items: items}, &res)
	if err != nil {
		return order{}, err
	}
	o := order{id: id, customerID: customerID, status: pending, totalCents: total,
		placed: time.Now().UTC().Truncate(time.Second)}
	for _, it := range priced {
		o.lines = append(o.lines, line{sku: it.SKU, name: it.Name, qty: it.Quantity, unitCents: it.UnitPriceCents})
	}
	a.db.insert(o)
	return o, nil
}
