package monolith

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/strangler-proxy/strangler/internal/shopapi"
)

// Payments are still owned by the monolith (pay-1xxxxx). Paying marks the
// order paid at the side that owns the order (see updateOrder), so an order
// of the orders service is paid there too. Payments the payments service
// took (pay-5xxxxx) are read there when Options.PaymentsURL is set.

func (a *App) routePayments(mux *http.ServeMux) {
	shopapi.Handle(mux, "/api/payments", shopapi.Methods{
		http.MethodGet:  a.handleListPayments,
		http.MethodPost: a.handleCreatePayment,
	})
	shopapi.Handle(mux, "/api/payments/{id}", shopapi.Methods{http.MethodGet: a.handleGetPayment})
}

func (a *App) handleGetPayment(w http.ResponseWriter, r *http.Request) {
	p, err := a.getPayment(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	shopapi.WriteJSON(w, http.StatusOK, p)
}

// handleListPayments lists the payments of one order (?order_id=, required):
// the monolith's own and, unless scope=local, the payments service's (see
// servicePaid). While that service fails, it lists its own, marked
// partial, as the orders list does.
func (a *App) handleListPayments(w http.ResponseWriter, r *http.Request) {
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
	out, err := a.listPayments(r.Context(), orderID, local)
	if err != nil && !local {
		a.log.Warn("listing payments without the payments service", "order", orderID, "error", err)
		if out, err = a.listPayments(r.Context(), orderID, true); err == nil {
			w.Header().Set(HeaderPartial, "payments service unavailable: its payments are missing")
		}
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	shopapi.WriteJSON(w, http.StatusOK, shopapi.PaymentList{Payments: out})
}

// listPayments lists the payments of an order, oldest first: the
// monolith's own and, unless local, the payments service's, asked only
// when the order may have one there (servicePaid). A malformed order id
// has none.
func (a *App) listPayments(ctx context.Context, orderID string, local bool) ([]shopapi.Payment, error) {
	out := []shopapi.Payment{}
	n, owner := shopapi.ParseID(shopapi.PrefixOrder, orderID)
	if owner == shopapi.OwnerNone {
		return out, nil
	}
	for _, p := range a.db.paymentsOf(n) {
		out = append(out, paymentOut(p))
	}
	if !local && a.paymentsSvc != nil && a.servicePaid(n, owner) {
		var l shopapi.PaymentList
		q := url.Values{"order_id": {orderID}, "scope": {shopapi.ScopeLocal}}
		if err := a.paymentsSvc.Get(ctx, "/api/payments?"+q.Encode(), nil, &l); err != nil {
			return nil, err
		}
		out = append(out, l.Payments...)
	}
	shopapi.SortPayments(out)
	return out, nil
}

// servicePaid reports whether order n, owned by owner, may have a payment
// of the payments service: an order of the orders service may, a monolith
// order only if it was paid by a pay-5xxxxx payment (a payment that did
// not pay its order is dropped). As the orders service asks the monolith
// only about the records ids say it owns, the list of a monolith-only
// order is read from the store alone, and a slow or failing payments
// service does not hold it up.
func (a *App) servicePaid(n int, owner shopapi.Owner) bool {
	if owner == shopapi.OwnerService {
		return true
	}
	o, ok := a.db.order(n)
	return ok && shopapi.OwnerOf(shopapi.PrefixPayment, idOrEmpty(shopapi.PrefixPayment, o.paymentID)) == shopapi.OwnerService
}

// getPayment reads a payment from the side that owns it.
func (a *App) getPayment(ctx context.Context, id string) (shopapi.Payment, error) {
	n, owner := shopapi.ParseID(shopapi.PrefixPayment, id)
	switch {
	case owner == shopapi.OwnerMonolith:
		if p, ok := a.db.payment(n); ok {
			return paymentOut(p), nil
		}
	case owner == shopapi.OwnerService && a.paymentsSvc != nil:
		var p shopapi.Payment
		err := a.paymentsSvc.Get(ctx, "/api/payments/"+url.PathEscape(id), nil, &p)
		return p, err
	}
	return shopapi.Payment{}, shopapi.NotFound404("payment", id)
}

// handleCreatePayment captures the total of a pending order and marks the
// order paid: body, then order, then status.
func (a *App) handleCreatePayment(w http.ResponseWriter, r *http.Request) {
	var np shopapi.NewPayment
	if err := shopapi.DecodeJSON(w, r, &np); err != nil {
		a.fail(w, r, err)
		return
	}
	if err := shopapi.ValidateNewPayment(np); err != nil {
		a.fail(w, r, err)
		return
	}
	o, err := a.orderOfRequest(r, np.OrderID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if o.Status != shopapi.StatusPending {
		a.fail(w, r, shopapi.AlreadyPaid(o.ID))
		return
	}
	p, err := a.db.addPayment(paymentRow{orderID: mustNum(shopapi.PrefixOrder, o.ID), amountCents: o.TotalCents,
		method: np.Method, created: time.Now().UTC().Truncate(time.Second)})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := paymentOut(p)
	_, err = a.updateOrder(r.Context(), o.ID, "", shopapi.OrderUpdate{Status: shopapi.StatusPaid, PaymentID: out.ID})
	if err != nil {
		a.db.dropPayment(p.id) // the order was not paid, so neither is this payment
		var ce *shopapi.Error
		if errors.As(err, &ce) && ce.Code == shopapi.CodeInvalidTransition {
			err = shopapi.AlreadyPaid(o.ID) // someone paid it meanwhile
		}
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/payments/"+out.ID)
	shopapi.WriteJSON(w, http.StatusCreated, out)
}
