package payments

import (
	"sync"

	"github.com/strangler-proxy/strangler/internal/shopapi"
)

// store is the service's own database: only payments it took.
type store struct {
	mu       sync.Mutex
	payments map[string]shopapi.Payment
	ids      *shopapi.Sequence
}

func newStore() *store {
	return &store{payments: map[string]shopapi.Payment{}, ids: shopapi.NewSequence(shopapi.PrefixPayment, shopapi.OwnerService)}
}

// add issues an id for p and stores it.
func (s *store) add(p shopapi.Payment) (shopapi.Payment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, err := s.ids.Next()
	if err != nil {
		return shopapi.Payment{}, err
	}
	p.ID = id
	s.payments[id] = p
	return p, nil
}

// drop removes a payment whose order could not be marked paid.
func (s *store) drop(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.payments, id)
}

func (s *store) get(id string) (shopapi.Payment, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.payments[id]
	return p, ok
}

func (s *store) ofOrder(orderID string) []shopapi.Payment {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []shopapi.Payment
	for _, p := range s.payments {
		if p.OrderID == orderID {
			out = append(out, p)
		}
	}
	return out
}
