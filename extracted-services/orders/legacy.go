package orders

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/strangler-proxy/strangler/internal/shopapi"
)

// legacy is the anti-corruption layer in front of the monolith. It is the
// only code that talks to the monolith: over its HTTP API, never its store.
// Everything it reads is checked and translated into the service's own model
// (fromLegacy), so a quirk of the monolith cannot leak into the service.
type legacy struct{ c *shopapi.Client }

// orders lists the monolith's own orders of a customer. It asks with
// scope=local so the monolith does not call back here.
func (l legacy) orders(ctx context.Context, customerID string) ([]order, error) {
	var list shopapi.OrderList
	h := http.Header{shopapi.HeaderCustomerID: {customerID}}
	if err := l.c.Get(ctx, "/api/orders?scope="+shopapi.ScopeLocal, h, &list); err != nil {
		return nil, err
	}
	out := make([]order, 0, len(list.Orders))
	for _, o := range list.Orders {
		t, err := l.translate(o)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// order reads one monolith-owned order.
func (l legacy) order(ctx context.Context, id string) (order, error) {
	var o shopapi.Order
	if err := l.c.Get(ctx, "/api/orders/"+url.PathEscape(id), nil, &o); err != nil {
		return order{}, err
	}
	return l.translate(o)
}

// update applies a status transition to a monolith-owned order, at the
// monolith, which still owns it and checks it for caller, the
// X-Customer-ID passed on ("" for internal callers).
func (l legacy) update(ctx context.Context, id, caller string, u shopapi.OrderUpdate) (order, error) {
	var o shopapi.Order
	if err := l.c.Do(ctx, http.MethodPatch, "/api/orders/"+url.PathEscape(id), shopapi.CustomerHeader(caller), u, &o); err != nil {
		return order{}, err
	}
	return l.translate(o)
}

// recordOrder returns the order of a monolith payment or shipment
// (shopapi.OrderOfRecord).
func (l legacy) recordOrder(ctx context.Context, prefix, id string) (string, error) {
	return shopapi.OrderOfRecord(ctx, l.c, prefix, id)
}

// checkCustomer returns *Error 422 unknown_customer unless the monolith
// knows the customer.
func (l legacy) checkCustomer(ctx context.Context, id string) error {
	var c shopapi.Customer
	err := l.c.Get(ctx, "/api/customers/"+url.PathEscape(id), nil, &c)
	if shopapi.IsNotFound(err) {
		return shopapi.UnknownCustomer(id)
	}
	return err
}

// products reads the catalog, keyed by SKU.
func (l legacy) products(ctx context.Context) (map[string]shopapi.Product, error) {
	var list shopapi.ProductList
	if err := l.c.Get(ctx, "/api/products", nil, &list); err != nil {
		return nil, err
	}
	out := make(map[string]shopapi.Product, len(list.Products))
	for _, p := range list.Products {
		out[p.SKU] = p
	}
	return out, nil
}

// translate checks a monolith order and turns it into the service's model.
// An order that breaks the contract is an upstream failure (502), never
// passed on.
func (l legacy) translate(o shopapi.Order) (order, error) {
	t, err := fromLegacy(o)
	if err != nil {
		return order{}, &shopapi.UpstreamError{Service: l.c.Service(), Err: fmt.Errorf("order %s breaks the contract: %w", o.ID, err)}
	}
	return t, nil
}

// fromLegacy is the translation proper: ownership, status, currency and
// totals are checked.
func fromLegacy(o shopapi.Order) (order, error) {
	if shopapi.OwnerOf(shopapi.PrefixOrder, o.ID) != shopapi.OwnerMonolith {
		return order{}, fmt.Errorf("id is not a monolith order id")
	}
	st, ok := parseStatus(o.Status)
	if !ok {
		return order{}, fmt.Errorf("unknown status %q", o.Status)
	}
	if o.Currency != shopapi.Currency {
		return order{}, fmt.Errorf("currency %q, want %s", o.Currency, shopapi.Currency)
	}
	t := order{id: o.ID, customerID: o.CustomerID, status: st, totalCents: o.TotalCents,
		paymentID: o.PaymentID, shipmentID: o.ShipmentID, placed: o.CreatedAt.UTC()}
	var sum int64
	for _, it := range o.Items {
		t.lines = append(t.lines, line{sku: it.SKU, name: it.Name, qty: it.Quantity, unitCents: it.UnitPriceCents})
		sum += it.UnitPriceCents * int64(it.Quantity)
	}
	if sum != o.TotalCents {
		return order{}, fmt.Errorf("total %d, lines add up to %d", o.TotalCents, sum)
	}
	return t, nil
}
