package orders

import (
	"slices"
	"sync"
	"time"

	"github.com/strangler-proxy/strangler/internal/shopapi"
)

// status is the service's own order status; the contract's strings exist
// only at the edges (toAPI, fromLegacy).
type status int8

const (
	pending status = iota
	paid
	shipped
)

var statusNames = map[status]string{pending: shopapi.StatusPending, paid: shopapi.StatusPaid, shipped: shopapi.StatusShipped}

// String returns the contract name of the status.
func (s status) String() string { return statusNames[s] }

// parseStatus maps a contract status to the service's.
func parseStatus(s string) (status, bool) {
	for k, v := range statusNames {
		if v == s {
			return k, true
		}
	}
	return 0, false
}

// order is the service's model of an order, owned here or read from the
// monolith.
type order struct {
	id, customerID        string
	status                status
	lines                 []line
	totalCents            int64
	paymentID, shipmentID string
	placed                time.Time
}

type line struct {
	sku, name string
	qty       int
	unitCents int64
}

// toAPI renders an order in the contract's shape.
func (o order) toAPI() shopapi.Order {
	items := make([]shopapi.OrderItem, len(o.lines))
	for i, l := range o.lines {
		items[i] = shopapi.OrderItem{SKU: l.sku, Name: l.name, Quantity: l.qty,
			UnitPriceCents: l.unitCents, LineTotalCents: l.unitCents * int64(l.qty)}
	}
	return shopapi.Order{ID: o.id, CustomerID: o.customerID, Status: o.status.String(), Items: items,
		TotalCents: o.totalCents, Currency: shopapi.Currency, PaymentID: o.paymentID, ShipmentID: o.shipmentID,
		CreatedAt: o.placed}
}

// store is the service's own database: only orders it created.
type store struct {
	mu     sync.Mutex
	orders map[string]order
	ids    *shopapi.Sequence
}

func newStore() *store {
	return &store{orders: map[string]order{}, ids: shopapi.NewSequence(shopapi.PrefixOrder, shopapi.OwnerService)}
}

func (s *store) nextID() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ids.Next()
}

func (s *store) insert(o order) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.orders[o.id] = o
}

func (s *store) get(id string) (order, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[id]
	return o, ok
}

func (s *store) ofCustomer(customerID string) []order {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []order
	for _, o := range s.orders {
		if o.customerID == customerID {
			out = append(out, o)
		}
	}
	slices.SortFunc(out, func(a, b order) int { return a.placed.Compare(b.placed) })
	return out
}

// update applies a status transition atomically.
func (s *store) update(id string, u shopapi.OrderUpdate) (order, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[id]
	if !ok {
		return order{}, shopapi.NotFound404("order", id)
	}
	if err := shopapi.CheckTransition(o.status.String(), u); err != nil {
		return order{}, err
	}
	switch u.Status {
	case shopapi.StatusPaid:
		o.status, o.paymentID = paid, u.PaymentID
	case shopapi.StatusShipped:
		o.status, o.shipmentID = shipped, u.ShipmentID
	}
	s.orders[id] = o
	return o, nil
}
