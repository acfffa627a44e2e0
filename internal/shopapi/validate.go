package shopapi

import (
	"context"
	"net/http"
)

// Limits of request bodies.
const (
	MaxLines    = 20 // order or reservation lines
	MaxQuantity = 99 // per line
)

// PaymentMethods are the payment methods POST /api/payments accepts.
var PaymentMethods = []string{"card", "invoice"}

// ValidateItems checks the lines of an order or a reservation: 1 to
// MaxLines lines, each with a SKU, a quantity from 1 to MaxQuantity, and no
// SKU twice. Failures are *Error 400 bad_request.
func ValidateItems(items []ItemQuantity) error {
	if len(items) == 0 || len(items) > MaxLines {
		return Errorf(http.StatusBadRequest, CodeBadRequest, "items: want 1 to %d lines, got %d", MaxLines, len(items))
	}
	seen := make(map[string]bool, len(items))
	for i, it := range items {
		switch {
		case it.SKU == "":
			return Errorf(http.StatusBadRequest, CodeBadRequest, "items[%d]: sku is required", i)
		case it.Quantity < 1 || it.Quantity > MaxQuantity:
			return Errorf(http.StatusBadRequest, CodeBadRequest, "items[%d]: quantity must be 1 to %d", i, MaxQuantity)
		case seen[it.SKU]:
			return Errorf(http.StatusBadRequest, CodeBadRequest, "items[%d]: sku %s appears twice", i, it.SKU)
		}
		seen[it.SKU] = true
	}
	return nil
}

// ValidateNewPayment checks a POST /api/payments body.
func ValidateNewPayment(p NewPayment) error {
	if p.OrderID == "" {
		return Errorf(http.StatusBadRequest, CodeBadRequest, "order_id is required")
	}
	for _, m := range PaymentMethods {
		if p.Method == m {
			return nil
		}
	}
	return Errorf(http.StatusBadRequest, CodeBadRequest, "method must be card or invoice")
}

// ValidateNewReservation checks a POST /api/inventory/reservations body.
func ValidateNewReservation(n NewReservation) error {
	if OwnerOf(PrefixOrder, n.OrderID) == OwnerNone {
		return Errorf(http.StatusBadRequest, CodeBadRequest, "order_id must be an order id such as ord-100001")
	}
	return ValidateItems(n.Items)
}

// PriceItems turns requested lines into priced order lines using product,
// which looks a SKU up in the catalog. It returns the lines and the total,
// or *Error 422 unknown_product.
func PriceItems(items []ItemQuantity, product func(sku string) (Product, bool)) ([]OrderItem, int64, error) {
	out := make([]OrderItem, len(items))
	var total int64
	for i, it := range items {
		p, ok := product(it.SKU)
		if !ok {
			return nil, 0, UnknownProduct(it.SKU)
		}
		line := p.PriceCents * int64(it.Quantity)
		out[i] = OrderItem{SKU: p.SKU, Name: p.Name, Quantity: it.Quantity, UnitPriceCents: p.PriceCents, LineTotalCents: line}
		total += line
	}
	return out, total, nil
}

// CheckTransition checks that u may be applied to an order whose status is
// cur: pending → paid with a payment_id, paid → shipped with a shipment_id.
// Failures are *Error 400 bad_request or 409 invalid_transition.
func CheckTransition(cur string, u OrderUpdate) error {
	switch u.Status {
	case StatusPaid:
		if OwnerOf(PrefixPayment, u.PaymentID) == OwnerNone {
			return Errorf(http.StatusBadRequest, CodeBadRequest, "a valid payment_id is required to mark an order paid")
		}
		if cur != StatusPending {
			return Errorf(http.StatusConflict, CodeInvalidTransition, "order is %s, cannot become paid", cur)
		}
	case StatusShipped:
		if OwnerOf(PrefixShipment, u.ShipmentID) == OwnerNone {
			return Errorf(http.StatusBadRequest, CodeBadRequest, "a valid shipment_id is required to mark an order shipped")
		}
		if cur != StatusPaid {
			return Errorf(http.StatusConflict, CodeInvalidTransition, "order is %s, cannot become shipped", cur)
		}
	default:
		return Errorf(http.StatusBadRequest, CodeBadRequest, "status must be paid or shipped")
	}
	return nil
}

// Scopes of list endpoints (query parameter scope).
const (
	// ScopeAll lists every record the client may see, whichever side owns
	// it. It is the default.
	ScopeAll = "all"
	// ScopeLocal lists only the records the answering side owns. The
	// anti-corruption layer always asks with it, so two sides that read
	// each other never call back and forth.
	ScopeLocal = "local"
)

// Scope returns whether r asks for ScopeLocal, or *Error 400 for an unknown
// scope.
func Scope(r *http.Request) (local bool, err error) {
	switch s := r.URL.Query().Get("scope"); s {
	case "", ScopeAll:
		return false, nil
	case ScopeLocal:
		return true, nil
	default:
		return false, Errorf(http.StatusBadRequest, CodeBadRequest, "scope must be all or local, got %q", s)
	}
}

// UnknownProduct returns *Error 422 unknown_product for sku.
func UnknownProduct(sku string) *Error {
	return Errorf(http.StatusUnprocessableEntity, CodeUnknownProduct, "unknown product %s", sku)
}

// InsufficientStock returns *Error 409 insufficient_stock for sku.
func InsufficientStock(sku string, available, requested int) *Error {
	return Errorf(http.StatusConflict, CodeInsufficientStock,
		"not enough stock of %s: %d available, %d requested", sku, available, requested)
}

// UnknownCustomer returns *Error 422 unknown_customer for id.
func UnknownCustomer(id string) *Error {
	return Errorf(http.StatusUnprocessableEntity, CodeUnknownCustomer, "unknown customer %s", id)
}

// UnknownOrder returns *Error 422 unknown_order for id.
func UnknownOrder(id string) *Error {
	return Errorf(http.StatusUnprocessableEntity, CodeUnknownOrder, "unknown order %s", id)
}

// VisibleTo reports whether an order of customerID may be shown to the
// request r: always without X-Customer-ID (internal callers such as
// payments), else only to that customer. Hidden orders answer 404, as if
// they did not exist.
func VisibleTo(r *http.Request, customerID string) bool {
	return Visible(r.Header.Get(HeaderCustomerID), customerID)
}

// Visible is VisibleTo for a caller given by its X-Customer-ID: "" (an
// internal caller) sees every order, a customer only its own. The same
// rule guards PATCH /api/orders/{id}: a hidden order answers 404.
func Visible(caller, customerID string) bool {
	return caller == "" || caller == customerID
}

// CustomerHeader returns the X-Customer-ID header of caller for a call to
// another app, or nil for "" (an internal caller).
func CustomerHeader(caller string) http.Header {
	if caller == "" {
		return nil
	}
	return http.Header{HeaderCustomerID: {caller}}
}

// RecordLookup returns the id of the order a payment (prefix
// PrefixPayment) or shipment (PrefixShipment) belongs to, read from the
// side that owns the record; a record that side does not have is *Error
// 404 (see OrderOfRecord).
type RecordLookup func(ctx context.Context, prefix, id string) (orderID string, err error)

// CheckRecord checks that the record an order update names, the payment of
// status paid or the shipment of status shipped, exists at its owner and
// belongs to the order orderID, so that a PATCH cannot mark an order paid
// with a made-up payment or with another order's. u must have passed
// CheckTransition. A record that does not exist or belongs to another
// order is *Error 422 unknown_payment or unknown_shipment; a failed lookup
// is returned as it is (502 when the owner is down).
func CheckRecord(ctx context.Context, orderID string, u OrderUpdate, lookup RecordLookup) error {
	prefix, id, code := PrefixPayment, u.PaymentID, CodeUnknownPayment
	if u.Status == StatusShipped {
		prefix, id, code = PrefixShipment, u.ShipmentID, CodeUnknownShipment
	}
	got, err := lookup(ctx, prefix, id)
	if IsNotFound(err) || (err == nil && got != orderID) {
		kind, _ := recordKind(prefix)
		return Errorf(http.StatusUnprocessableEntity, code, "%s %s is not a %s of order %s", kind, id, kind, orderID)
	}
	return err
}

// AlreadyPaid returns *Error 409 already_paid for paying an order that is
// not pending.
func AlreadyPaid(orderID string) *Error {
	return Errorf(http.StatusConflict, CodeAlreadyPaid, "order %s is already paid", orderID)
}
