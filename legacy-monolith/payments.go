package monolith

import (
	"errors"
	"net/http"
	"time"

	"github.com/strangler-proxy/strangler/internal/shopapi"
)

// Payments are still owned by the monolith (pay-1xxxxx). Paying marks the
// order paid at the side that owns the order (see updateOrder), so an order
// of the orders service is paid there too.

func (a *App) routePayments(mux *http.ServeMux) {
	shopapi.Handle(mux, "/api/payments", shopapi.Methods{
		http.MethodGet:  a.handleListPayments,
		http.MethodPost: a.handleCreatePayment,
	})
	shopapi.Handle(mux, "/api/payments/{id}", shopapi.Methods{http.MethodGet: a.handleGetPayment})
}

func (a *App) handleGetPayment(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	n, owner := shopapi.ParseID(shopapi.PrefixPayment, id)
	p, ok := a.db.payment(n)
	if owner != shopapi.OwnerMonolith || !ok {
		a.fail(w, r, shopapi.NotFound404("payment", id))
		return
	}
	shopapi.WriteJSON(w, http.StatusOK, paymentOut(p))
}

// handleListPayments lists the payments of one order (?order_id=, required).
// The monolith knows only the payments it took, whatever the scope.
func (a *App) handleListPayments(w http.ResponseWriter, r *http.Request) {
	if _, err := shopapi.Scope(r); err != nil {
		a.fail(w, r, err)
		return
	}
	orderID := r.URL.Query().Get("order_id")
	if orderID == "" {
		a.fail(w, r, shopapi.Errorf(http.StatusBadRequest, shopapi.CodeBadRequest, "the order_id query parameter is required"))
		return
	}
	out := []shopapi.Payment{}
	if n, owner := shopapi.ParseID(shopapi.PrefixOrder, orderID); owner != shopapi.OwnerNone {
		for _, p := range a.db.paymentsOf(n) {
			out = append(out, paymentOut(p))
		}
	}
	shopapi.SortPayments(out)
	shopapi.WriteJSON(w, http.StatusOK, shopapi.PaymentList{Payments: out})
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
	o, err := a.getOrder(r.Context(), np.OrderID)
	if shopapi.IsNotFound(err) || (err == nil && !shopapi.VisibleTo(r, o.CustomerID)) {
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
	p, err := a.db.addPayment(paymentRow{orderID: mustNum(shopapi.PrefixOrder, o.ID), amountCents: o.TotalCents,
		method: np.Method, created: time.Now().UTC().Truncate(time.Second)})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := paymentOut(p)
	_, err = a.updateOrder(r.Context(), o.ID, shopapi.OrderUpdate{Status: shopapi.StatusPaid, PaymentID: out.ID})
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
