package inventory

import (
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/strangler-proxy/strangler/internal/shopapi"
)

// level is the stock of one SKU.
type level struct{ onHand, reserved int }

// store is the service's own database of stock and reservations.
type store struct {
	mu           sync.Mutex
	stock        map[string]*level
	reservations map[string]shopapi.Reservation
	ids          *shopapi.Sequence
}

// newStore migrates the stock of a catalog: on-hand counts, no open
// reservations.
func newStore(catalog []shopapi.CatalogEntry) *store {
	s := &store{stock: map[string]*level{}, reservations: map[string]shopapi.Reservation{},
		ids: shopapi.NewSequence(shopapi.PrefixReservation, shopapi.OwnerService)}
	for _, e := range catalog {
		s.stock[e.Product.SKU] = &level{onHand: e.OnHand}
	}
	return s
}

func itemOf(sku string, l *level) shopapi.StockItem {
	return shopapi.StockItem{SKU: sku, OnHand: l.onHand, Reserved: l.reserved, Available: l.onHand - l.reserved}
}

func (s *store) items() []shopapi.StockItem {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]shopapi.StockItem, 0, len(s.stock))
	for sku, l := range s.stock {
		out = append(out, itemOf(sku, l))
	}
	slices.SortFunc(out, func(a, b shopapi.StockItem) int { return strings.Compare(a.SKU, b.SKU) })
	return out
}

func (s *store) item(sku string) (shopapi.StockItem, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.stock[sku]
	if !ok {
		return shopapi.StockItem{}, false
	}
	return itemOf(sku, l), true
}

// reserve holds stock for every line or for none.
func (s *store) reserve(n shopapi.NewReservation) (shopapi.Reservation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, it := range n.Items {
		l, ok := s.stock[it.SKU]
		if !ok {
			return shopapi.Reservation{}, shopapi.UnknownProduct(it.SKU)
		}
		if avail := l.onHand - l.reserved; avail < it.Quantity {
			return shopapi.Reservation{}, shopapi.InsufficientStock(it.SKU, avail, it.Quantity)
		}
	}
	id, err := s.ids.Next()
	if err != nil {
		return shopapi.Reservation{}, err
	}
	for _, it := range n.Items {
		s.stock[it.SKU].reserved += it.Quantity
	}
	res := shopapi.Reservation{ID: id, OrderID: n.OrderID, Items: slices.Clone(n.Items),
		Status: shopapi.ReservationHeld, CreatedAt: time.Now().UTC().Truncate(time.Second)}
	s.reservations[id] = res
	return res, nil
}

func (s *store) reservation(id string) (shopapi.Reservation, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.reservations[id]
	return r, ok
}
