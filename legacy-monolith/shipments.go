package monolith

import (
	"net/http"
	"slices"
	"time"

	"github.com/strangler-proxy/strangler/internal/shopapi"
)

// Shipment is the body of GET /api/shipments/{id}. Shipping is monolith-only
// in this demo, so its type lives here rather than in shopapi.
type Shipment struct {
	ID             string    `json:"id"`
	OrderID        string    `json:"order_id"`
	Carrier        string    `json:"carrier"`
	TrackingNumber string    `json:"tracking_number"`
	Status         string    `json:"status"`
	CreatedAt      time.Time `json:"created_at"`
}

// ShipmentList is the body of GET /api/shipments?order_id=...
type ShipmentList struct {
	Shipments []Shipment `json:"shipments"`
}

// NewShipment is the body of POST /api/shipments: ship a paid order.
// Carrier is optional; empty means DHL.
type NewShipment struct {
	OrderID string `json:"order_id"`
	Carrier string `json:"carrier"`
}

func (a *App) routeShipments(mux *http.ServeMux) {
	shopapi.Handle(mux, "/api/shipments", shopapi.Methods{
		http.MethodGet:  a.handleListShipments,
		http.MethodPost: a.handleCreateShipment,
	})
	shopapi.Handle(mux, "/api/shipments/{id}", shopapi.Methods{http.MethodGet: a.handleGetShipment})
}

func (a *App) handleGetShipment(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	n, owner := shopapi.ParseID(shopapi.PrefixShipment, id)
	sh, ok := a.db.shipment(n)
	if owner != shopapi.OwnerMonolith || !ok {
		a.fail(w, r, shopapi.NotFound404("shipment", id))
		return
	}
	shopapi.WriteJSON(w, http.StatusOK, shipmentOut(sh))
}

func (a *App) handleListShipments(w http.ResponseWriter, r *http.Request) {
	orderID := r.URL.Query().Get("order_id")
	if orderID == "" {
		a.fail(w, r, shopapi.Errorf(http.StatusBadRequest, shopapi.CodeBadRequest, "the order_id query parameter is required"))
		return
	}
	out := []Shipment{}
	if n, owner := shopapi.ParseID(shopapi.PrefixOrder, orderID); owner != shopapi.OwnerNone {
		for _, sh := range a.db.shipmentsOf(n) {
			out = append(out, shipmentOut(sh))
		}
	}
	slices.SortFunc(out, func(x, y Shipment) int { return x.CreatedAt.Compare(y.CreatedAt) })
	shopapi.WriteJSON(w, http.StatusOK, ShipmentList{Shipments: out})
}

// handleCreateShipment ships a paid order and marks it shipped at the side
// that owns it.
func (a *App) handleCreateShipment(w http.ResponseWriter, r *http.Request) {
	var ns NewShipment
	if err := shopapi.DecodeJSON(w, r, &ns); err != nil {
		a.fail(w, r, err)
		return
	}
	if ns.OrderID == "" {
		a.fail(w, r, shopapi.Errorf(http.StatusBadRequest, shopapi.CodeBadRequest, "order_id is required"))
		return
	}
	if ns.Carrier == "" {
		ns.Carrier = "DHL"
	}
	o, err := a.orderOfRequest(r, ns.OrderID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if o.Status != shopapi.StatusPaid {
		a.fail(w, r, shopapi.Errorf(http.StatusConflict, shopapi.CodeInvalidTransition, "order %s is %s, only paid orders ship", o.ID, o.Status))
		return
	}
	sh, err := a.db.addShipment(shipmentRow{orderID: mustNum(shopapi.PrefixOrder, o.ID), carrier: ns.Carrier,
		created: time.Now().UTC().Truncate(time.Second)})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := shipmentOut(sh)
	if _, err := a.updateOrder(r.Context(), o.ID, "", shopapi.OrderUpdate{Status: shopapi.StatusShipped, ShipmentID: out.ID}); err != nil {
		a.db.dropShipment(sh.id) // the order was not marked shipped, so nothing ships
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/shipments/"+out.ID)
	shopapi.WriteJSON(w, http.StatusCreated, out)
}
