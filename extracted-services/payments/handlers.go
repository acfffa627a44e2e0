package payments

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/strangler-proxy/strangler/internal/shopapi"
)

// orderOwner returns the client of the side that owns an order, or nil
// when no known side does.
func (a *App) orderOwner(orderID string) *shopapi.Client {
	switch shopapi.OwnerOf(shopapi.PrefixOrder, orderID) {
	case shopapi.OwnerMonolith:
		return a.monolith
	case shopapi.OwnerService:
		return a.orders // may be nil
	}
	return nil
}

// getOrder reads an order from its owner; an order no side has is
// *Error 422 unknown_order.
func (a *App) getOrder(ctx context.Context, id string) (shopapi.Order, error) {
	c := a.orderOwner(id)
	if c == nil {
		return shopapi.Order{}, shopapi.UnknownOrder(id)
	}
	var o shopapi.Order
	err := c.Get(ctx, "/api/orders/"+url.PathEscape(id), nil, &o)
	if shopapi.IsNotFound(err) {
		return shopapi.Order{}, shopapi.UnknownOrder(id)
	}
	return o, err
}

// markPaid tells the order's owner that p paid it.
func (a *App) markPaid(ctx context.Context, p shopapi.Payment) error {
	u := shopapi.OrderUpdate{Status: shopapi.StatusPaid, PaymentID: p.ID}
	return a.orderOwner(p.OrderID).Do(ctx, http.MethodPatch, "/api/orders/"+url.PathEscape(p.OrderID), nil, u, nil)
}

// handleCreate captures the total of a pending order and marks the order
// paid at its owner: body, then order, then status, as in the monolith.
func (a *App) handleCreate(w http.ResponseWriter, r *http.Request) {
	var np shopapi.NewPayment
	if err := shopapi.DecodeJSON(w, r, &np); err != nil {
		a.fail(w, r, err)
		return
	}
	if err := shopapi.ValidateNewPayment(np); err != nil {
		a.fail(w, r, err)
		return
	}
	o, err := a.getOrder(r.Context(), np.OrderID)
	if err == nil && !shopapi.VisibleTo(r, o.CustomerID) {
		err = shopapi.UnknownOrder(np.OrderID)
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if o.Status != shopapi.StatusPending {
		a.fail(w, r, shopapi.AlreadyPaid(o.ID))
		return
	}
	p, err := a.db.add(shopapi.Payment{OrderID: o.ID, AmountCents: o.TotalCents, Currency: shopapi.Currency,
		Method: np.Method, Status: shopapi.PaymentCaptured, CreatedAt: time.Now().UTC().Truncate(time.Second)})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.markPaid(r.Context(), p); err != nil {
		a.db.drop(p.ID) // the order was not paid, so neither is this payment
		var ce *shopapi.Error
		if errors.As(err, &ce) && ce.Code == shopapi.CodeInvalidTransition {
			err = shopapi.AlreadyPaid(o.ID) // someone paid it meanwhile
		}
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/payments/"+p.ID)
	shopapi.WriteJSON(w, http.StatusCreated, p)
}

// handleGet reads a payment: its own, or the monolith's through its API.
func (a *App) handleGet(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	switch shopapi.OwnerOf(shopapi.PrefixPayment, id) {
	case shopapi.OwnerService:
		if p, ok := a.db.get(id); ok {
			shopapi.WriteJSON(w, http.StatusOK, p)
			return
		}
	case shopapi.OwnerMonolith:
		var p shopapi.Payment
		if err := a.monolith.Get(r.Context(), "/api/payments/"+url.PathEscape(id), nil, &p); err != nil {
			a.fail(w, r, err)
			return
		}
		shopapi.WriteJSON(w, http.StatusOK, p)
		return
	}
	a.fail(w, r, shopapi.NotFound404("payment", id))
}

// handleList lists the payments of one order (?order_id=, required): its
// own, and unless scope=local, the monolith's.
func (a *App) handleList(w http.ResponseWriter, r *http.Request) {
	local, err := shopapi.Scope(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	orderID := r.URL.Query().Get("order_id")
	if orderID == "" {
		a.fail(w, r, shopapi.Errorf(http.StatusBadRequest, shopapi.CodeBadRequest, "the order_id query parameter is required"))
		return
	}
	out := append([]shopapi.Payment{}, a.db.ofOrder(orderID)...)
	if !local {
		var l shopapi.PaymentList
		q := url.Values{"order_id": {orderID}, "scope": {shopapi.ScopeLocal}}
		if err := a.monolith.Get(r.Context(), "/api/payments?"+q.Encode(), nil, &l); err != nil {
			a.fail(w, r, err)
			return
		}
		out = append(out, l.Payments...)
	}
	shopapi.SortPayments(out)
	shopapi.WriteJSON(w, http.StatusOK, shopapi.PaymentList{Payments: out})
}
