package monolith

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/strangler-proxy/strangler/internal/shopapi"
)

// stockBook is where the monolith keeps stock: its own table (localStock)
// until inventory moves out, then the inventory service (remoteStock). The
// rest of the monolith does not know which; this seam is the
// branch-by-abstraction step of the migration.
type stockBook interface {
	items(ctx context.Context) ([]shopapi.StockItem, error)
	item(ctx context.Context, sku string) (shopapi.StockItem, error)
	reserve(ctx context.Context, n shopapi.NewReservation) (shopapi.Reservation, error)
	reservation(ctx context.Context, id string) (shopapi.Reservation, error)
}

// localStock is the monolith's own stock table.
type localStock struct{ db *store }

func (l localStock) items(context.Context) ([]shopapi.StockItem, error) {
	l.db.mu.Lock()
	defer l.db.mu.Unlock()
	out := make([]shopapi.StockItem, 0, len(l.db.stock))
	for sku, r := range l.db.stock {
		out = append(out, stockItem(sku, r))
	}
	slices.SortFunc(out, func(a, b shopapi.StockItem) int { return compareSKU(a.SKU, b.SKU) })
	return out, nil
}

func (l localStock) item(_ context.Context, sku string) (shopapi.StockItem, error) {
	l.db.mu.Lock()
	defer l.db.mu.Unlock()
	r, ok := l.db.stock[sku]
	if !ok {
		return shopapi.StockItem{}, shopapi.NotFound404("product", sku)
	}
	return stockItem(sku, r), nil
}

// reserve holds stock for every line or for none.
func (l localStock) reserve(_ context.Context, n shopapi.NewReservation) (shopapi.Reservation, error) {
	l.db.mu.Lock()
	defer l.db.mu.Unlock()
	for _, it := range n.Items {
		r, ok := l.db.stock[it.SKU]
		if !ok {
			return shopapi.Reservation{}, shopapi.UnknownProduct(it.SKU)
		}
		if avail := r.onHand - r.reserved; avail < it.Quantity {
			return shopapi.Reservation{}, shopapi.InsufficientStock(it.SKU, avail, it.Quantity)
		}
	}
	id, err := issue(&l.db.next.reservation, shopapi.PrefixReservation)
	if err != nil {
		return shopapi.Reservation{}, err
	}
	for _, it := range n.Items {
		l.db.stock[it.SKU].reserved += it.Quantity
	}
	row := reservationRow{id: id, orderID: mustNum(shopapi.PrefixOrder, n.OrderID),
		lines: slices.Clone(n.Items), created: time.Now().UTC().Truncate(time.Second)}
	l.db.reservations[id] = row
	return reservationOut(row), nil
}

func (l localStock) reservation(_ context.Context, id string) (shopapi.Reservation, error) {
	n, owner := shopapi.ParseID(shopapi.PrefixReservation, id)
	l.db.mu.Lock()
	defer l.db.mu.Unlock()
	row, ok := l.db.reservations[n]
	if owner != shopapi.OwnerMonolith || !ok {
		return shopapi.Reservation{}, shopapi.NotFound404("reservation", id)
	}
	return reservationOut(row), nil
}

// remoteStock is the extracted inventory service, reached through its API.
type remoteStock struct{ c *shopapi.Client }

func (r remoteStock) items(ctx context.Context) ([]shopapi.StockItem, error) {
	var l shopapi.StockList
	if err := r.c.Get(ctx, "/api/inventory/items", nil, &l); err != nil {
		return nil, err
	}
	return l.Items, nil
}

func (r remoteStock) item(ctx context.Context, sku string) (shopapi.StockItem, error) {
	var it shopapi.StockItem
	err := r.c.Get(ctx, "/api/inventory/items/"+url.PathEscape(sku), nil, &it)
	return it, err
}

func (r remoteStock) reserve(ctx context.Context, n shopapi.NewReservation) (shopapi.Reservation, error) {
	var res shopapi.Reservation
	err := r.c.Do(ctx, http.MethodPost, "/api/inventory/reservations", nil, n, &res)
	return res, err
}

func (r remoteStock) reservation(ctx context.Context, id string) (shopapi.Reservation, error) {
	var res shopapi.Reservation
	err := r.c.Get(ctx, "/api/inventory/reservations/"+url.PathEscape(id), nil, &res)
	return res, err
}

var (
	_ stockBook = localStock{}
	_ stockBook = remoteStock{}
)
