package monolith

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/strangler-proxy/strangler/internal/shopapi"
)

// Legacy rows. The monolith's tables predate the API: numeric ids, one-letter
// status codes. translate.go turns them into the contract.
type (
	customerRow struct {
		id                    int
		name, email, password string
		created               time.Time
	}
	orderRow struct {
		id, customerID        int
		status                byte // statusNew, statusPaid or statusShipped
		lines                 []lineRow
		totalCents            int64
		paymentID, shipmentID int // 0: none yet
		created               time.Time
	}
	lineRow struct {
		sku, name string
		qty       int
		unitCents int64
	}
	paymentRow struct {
		id, orderID int // orderID may be an orders-service order (5xxxxx)
		amountCents int64
		method      string
		created     time.Time
	}
	shipmentRow struct {
		id, orderID       int
		carrier, tracking string
		created           time.Time
	}
	stockRow struct {
		onHand, reserved int
	}
	reservationRow struct {
		id, orderID int
		lines       []shopapi.ItemQuantity
		created     time.Time
	}
)

// Legacy order status codes.
const (
	statusNew     byte = 'N'
	statusPaid    byte = 'P'
	statusShipped byte = 'S'
)

// store is the monolith's single database: every table behind one lock, as
// the legacy code had it. Rows are copied out; slices inside rows are never
// changed after insert.
type store struct {
	mu           sync.Mutex
	customers    map[int]customerRow
	byEmail      map[string]int
	products     []shopapi.Product // read-only after seeding
	orders       map[int]orderRow
	payments     map[int]paymentRow
	shipments    map[int]shipmentRow
	stock        map[string]*stockRow
	reservations map[int]reservationRow
	sessions     map[string]int // token → customer id
	next         struct{ order, payment, shipment, reservation int }
}

// newStore returns a store seeded from seed.
func newStore(seed int64) *store {
	first, _ := shopapi.FirstID(shopapi.OwnerMonolith)
	s := &store{
		customers: map[int]customerRow{}, byEmail: map[string]int{},
		orders: map[int]orderRow{}, payments: map[int]paymentRow{}, shipments: map[int]shipmentRow{},
		stock: map[string]*stockRow{}, reservations: map[int]reservationRow{}, sessions: map[string]int{},
	}
	s.next.order, s.next.payment, s.next.shipment, s.next.reservation = first, first, first, first
	seedStore(s, seed)
	return s
}

// issue returns the next number of a monolith id counter. Callers hold mu.
func issue(counter *int, prefix string) (int, error) {
	_, limit := shopapi.FirstID(shopapi.OwnerMonolith)
	if *counter >= limit {
		return 0, fmt.Errorf("issue %s id: %w", prefix, shopapi.ErrIDsExhausted)
	}
	n := *counter
	*counter++
	return n, nil
}

func (s *store) customer(id int) (customerRow, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.customers[id]
	return c, ok
}

func (s *store) customerByEmail(email string) (customerRow, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.customers[s.byEmail[email]]
	return c, ok
}

func (s *store) allCustomers() []customerRow {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]customerRow, 0, len(s.customers))
	for _, c := range s.customers {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b customerRow) int { return a.id - b.id })
	return out
}

func (s *store) product(sku string) (shopapi.Product, bool) {
	i := slices.IndexFunc(s.products, func(p shopapi.Product) bool { return p.SKU == sku })
	if i < 0 {
		return shopapi.Product{}, false
	}
	return s.products[i], true
}

func (s *store) order(id int) (orderRow, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[id]
	return o, ok
}

func (s *store) ordersOf(customerID int) []orderRow {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []orderRow
	for _, o := range s.orders {
		if o.customerID == customerID {
			out = append(out, o)
		}
	}
	return out
}

// nextOrderID issues an order id. The order is stored by insertOrder once
// its stock is reserved; an id whose order failed is never reused.
func (s *store) nextOrderID() (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return issue(&s.next.order, shopapi.PrefixOrder)
}

func (s *store) insertOrder(o orderRow) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.orders[o.id] = o
}

// updateOrder applies a status transition atomically.
func (s *store) updateOrder(id int, u shopapi.OrderUpdate) (orderRow, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[id]
	if !ok {
		return orderRow{}, shopapi.NotFound404("order", shopapi.FormatID(shopapi.PrefixOrder, id))
	}
	if err := shopapi.CheckTransition(statusName(o.status), u); err != nil {
		return orderRow{}, err
	}
	switch u.Status {
	case shopapi.StatusPaid:
		o.status, o.paymentID = statusPaid, mustNum(shopapi.PrefixPayment, u.PaymentID)
	case shopapi.StatusShipped:
		o.status, o.shipmentID = statusShipped, mustNum(shopapi.PrefixShipment, u.ShipmentID)
	}
	s.orders[id] = o
	return o, nil
}

// addPayment issues a payment id for p and stores it.
func (s *store) addPayment(p paymentRow) (paymentRow, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := issue(&s.next.payment, shopapi.PrefixPayment)
	if err != nil {
		return paymentRow{}, err
	}
	p.id = n
	s.payments[n] = p
	return p, nil
}

// dropPayment removes a payment whose order could not be marked paid.
func (s *store) dropPayment(id int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.payments, id)
}

func (s *store) payment(id int) (paymentRow, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.payments[id]
	return p, ok
}

func (s *store) paymentsOf(orderID int) []paymentRow {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []paymentRow
	for _, p := range s.payments {
		if p.orderID == orderID {
			out = append(out, p)
		}
	}
	return out
}

// orderOfRecord returns the order number of payment n (prefix
// PrefixPayment) or shipment n (PrefixShipment).
func (s *store) orderOfRecord(prefix string, n int) (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if prefix == shopapi.PrefixShipment {
		sh, ok := s.shipments[n]
		return sh.orderID, ok
	}
	p, ok := s.payments[n]
	return p.orderID, ok
}

// addShipment issues a shipment id and tracking number for sh and stores it.
func (s *store) addShipment(sh shipmentRow) (shipmentRow, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := issue(&s.next.shipment, shopapi.PrefixShipment)
	if err != nil {
		return shipmentRow{}, err
	}
	sh.id = n
	sh.tracking = trackingNumber(n)
	s.shipments[n] = sh
	return sh, nil
}

// dropShipment removes a shipment whose order could not be marked shipped.
func (s *store) dropShipment(id int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.shipments, id)
}

func (s *store) shipment(id int) (shipmentRow, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sh, ok := s.shipments[id]
	return sh, ok
}

func (s *store) shipmentsOf(orderID int) []shipmentRow {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []shipmentRow
	for _, sh := range s.shipments {
		if sh.orderID == orderID {
			out = append(out, sh)
		}
	}
	return out
}

// newSession starts a session for a customer and returns its token. Tokens
// are random, the one thing the seed does not decide.
func (s *store) newSession(customerID int) (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("session token: %w", err)
	}
	tok := hex.EncodeToString(b)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessions[tok] = customerID
	return tok, nil
}

func (s *store) sessionCustomer(tok string) (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.sessions[tok]
	return id, ok
}

func (s *store) endSession(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sessions, tok)
}

// mustNum returns the number of an id already validated by the caller, or 0.
func mustNum(prefix, id string) int {
	n, _ := shopapi.ParseID(prefix, id)
	return n
}

// passwordMatches compares in constant time. The legacy table keeps
// passwords in clear text; every seeded customer's is "demo".
func passwordMatches(stored, given string) bool {
	return subtle.ConstantTimeCompare([]byte(stored), []byte(given)) == 1
}
