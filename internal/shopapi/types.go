package shopapi

import (
	"cmp"
	"slices"
	"time"
)

// Headers of the contract.
const (
	// HeaderCustomerID identifies the customer on /api/orders requests. The
	// proxy splits orders traffic by it, so a customer stays on one side.
	HeaderCustomerID = "X-Customer-ID"
	// HeaderRequestID correlates one request across apps; passed on as is.
	HeaderRequestID = "X-Request-ID"
)

// Order statuses. An order moves pending → paid → shipped, never back.
const (
	StatusPending = "pending"
	StatusPaid    = "paid"
	StatusShipped = "shipped"
)

// Currency is the one currency of the shop.
const Currency = "EUR"

// Customer is a shop customer. Only the monolith owns customers.
type Customer struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Email     string    `json:"email"`
	CreatedAt time.Time `json:"created_at"`
}

// CustomerList is the body of GET /api/customers.
type CustomerList struct {
	Customers []Customer `json:"customers"`
}

// Product is a catalog entry. Only the monolith owns the catalog.
type Product struct {
	SKU         string `json:"sku"`
	Name        string `json:"name"`
	Description string `json:"description"`
	PriceCents  int64  `json:"price_cents"`
	Currency    string `json:"currency"`
}

// ProductList is the body of GET /api/products.
type ProductList struct {
	Products []Product `json:"products"`
}

// Order is the body of GET /api/orders/{id}, and of the answers to POST
// /api/orders and PATCH /api/orders/{id}. PaymentID and ShipmentID are ""
// until the order is paid or shipped.
type Order struct {
	ID         string      `json:"id"`
	CustomerID string      `json:"customer_id"`
	Status     string      `json:"status"`
	Items      []OrderItem `json:"items"`
	TotalCents int64       `json:"total_cents"`
	Currency   string      `json:"currency"`
	PaymentID  string      `json:"payment_id"`
	ShipmentID string      `json:"shipment_id"`
	CreatedAt  time.Time   `json:"created_at"`
}

// OrderItem is one line of an order, priced when the order was placed.
type OrderItem struct {
	SKU            string `json:"sku"`
	Name           string `json:"name"`
	Quantity       int    `json:"quantity"`
	UnitPriceCents int64  `json:"unit_price_cents"`
	LineTotalCents int64  `json:"line_total_cents"`
}

// OrderList is the body of GET /api/orders.
type OrderList struct {
	Orders []Order `json:"orders"`
}

// NewOrder is the body of POST /api/orders; the customer comes from
// HeaderCustomerID.
type NewOrder struct {
	Items []ItemQuantity `json:"items"`
}

// ItemQuantity asks for a quantity of one SKU.
type ItemQuantity struct {
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
}

// OrderUpdate is the body of PATCH /api/orders/{id}: a status transition.
// Status paid needs PaymentID; status shipped needs ShipmentID.
type OrderUpdate struct {
	Status     string `json:"status"`
	PaymentID  string `json:"payment_id,omitempty"`
	ShipmentID string `json:"shipment_id,omitempty"`
}

// Payment is the body of GET /api/payments/{id} and of the answer to POST
// /api/payments.
type Payment struct {
	ID          string    `json:"id"`
	OrderID     string    `json:"order_id"`
	AmountCents int64     `json:"amount_cents"`
	Currency    string    `json:"currency"`
	Method      string    `json:"method"`
	Status      string    `json:"status"`
	CreatedAt   time.Time `json:"created_at"`
}

// PaymentList is the body of GET /api/payments?order_id=...
type PaymentList struct {
	Payments []Payment `json:"payments"`
}

// NewPayment is the body of POST /api/payments. The amount is the order's
// total; Method is "card" or "invoice".
type NewPayment struct {
	OrderID string `json:"order_id"`
	Method  string `json:"method"`
}

// PaymentCaptured is the status of every accepted payment.
const PaymentCaptured = "captured"

// StockItem is the stock of one SKU: Available = OnHand - Reserved.
type StockItem struct {
	SKU       string `json:"sku"`
	OnHand    int    `json:"on_hand"`
	Reserved  int    `json:"reserved"`
	Available int    `json:"available"`
}

// StockList is the body of GET /api/inventory/items.
type StockList struct {
	Items []StockItem `json:"items"`
}

// NewReservation is the body of POST /api/inventory/reservations: hold stock
// for an order, all items or none.
type NewReservation struct {
	OrderID string         `json:"order_id"`
	Items   []ItemQuantity `json:"items"`
}

// Reservation is held stock, the answer to POST /api/inventory/reservations.
type Reservation struct {
	ID        string         `json:"id"`
	OrderID   string         `json:"order_id"`
	Items     []ItemQuantity `json:"items"`
	Status    string         `json:"status"`
	CreatedAt time.Time      `json:"created_at"`
}

// ReservationHeld is the status of every accepted reservation.
const ReservationHeld = "held"

// Health is the body of /health/live and /health/ready.
type Health struct {
	Status  string `json:"status"`
	Service string `json:"service"`
}

// SortOrders sorts orders oldest first, by id within the same second, so
// lists merged from both sides come out in one stable order.
func SortOrders(os []Order) {
	slices.SortFunc(os, func(a, b Order) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
}

// SortPayments sorts payments oldest first, then by id.
func SortPayments(ps []Payment) {
	slices.SortFunc(ps, func(a, b Payment) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
}
