package monolith

import (
	"fmt"
	"strings"

	"github.com/strangler-proxy/strangler/internal/shopapi"
)

// This file is the monolith's own translation layer: legacy rows in, API
// contract out. Nothing outside it needs to know the row layout.

// statusName maps a legacy status code to the contract's status.
func statusName(code byte) string {
	switch code {
	case statusPaid:
		return shopapi.StatusPaid
	case statusShipped:
		return shopapi.StatusShipped
	}
	return shopapi.StatusPending
}

// idOrEmpty formats n as an id, or "" for 0 (none).
func idOrEmpty(prefix string, n int) string {
	if n == 0 {
		return ""
	}
	return shopapi.FormatID(prefix, n)
}

func customerOut(c customerRow) shopapi.Customer {
	return shopapi.Customer{ID: shopapi.FormatID(shopapi.PrefixCustomer, c.id), Name: c.name, Email: c.email, CreatedAt: c.created}
}

func orderOut(o orderRow) shopapi.Order {
	items := make([]shopapi.OrderItem, len(o.lines))
	for i, l := range o.lines {
		items[i] = shopapi.OrderItem{SKU: l.sku, Name: l.name, Quantity: l.qty,
			UnitPriceCents: l.unitCents, LineTotalCents: l.unitCents * int64(l.qty)}
	}
	return shopapi.Order{
		ID:         shopapi.FormatID(shopapi.PrefixOrder, o.id),
		CustomerID: shopapi.FormatID(shopapi.PrefixCustomer, o.customerID),
		Status:     statusName(o.status),
		Items:      items,
		TotalCents: o.totalCents,
		Currency:   shopapi.Currency,
		PaymentID:  idOrEmpty(shopapi.PrefixPayment, o.paymentID),
		ShipmentID: idOrEmpty(shopapi.PrefixShipment, o.shipmentID),
		CreatedAt:  o.created,
	}
}

// linesIn turns priced contract lines into legacy line rows.
func linesIn(items []shopapi.OrderItem) []lineRow {
	out := make([]lineRow, len(items))
	for i, it := range items {
		out[i] = lineRow{sku: it.SKU, name: it.Name, qty: it.Quantity, unitCents: it.UnitPriceCents}
	}
	return out
}

func paymentOut(p paymentRow) shopapi.Payment {
	return shopapi.Payment{
		ID:          shopapi.FormatID(shopapi.PrefixPayment, p.id),
		OrderID:     shopapi.FormatID(shopapi.PrefixOrder, p.orderID),
		AmountCents: p.amountCents,
		Currency:    shopapi.Currency,
		Method:      p.method,
		Status:      shopapi.PaymentCaptured,
		CreatedAt:   p.created,
	}
}

func shipmentOut(s shipmentRow) Shipment {
	return Shipment{
		ID:             shopapi.FormatID(shopapi.PrefixShipment, s.id),
		OrderID:        shopapi.FormatID(shopapi.PrefixOrder, s.orderID),
		Carrier:        s.carrier,
		TrackingNumber: s.tracking,
		Status:         "in_transit",
		CreatedAt:      s.created,
	}
}

func reservationOut(r reservationRow) shopapi.Reservation {
	return shopapi.Reservation{
		ID:        shopapi.FormatID(shopapi.PrefixReservation, r.id),
		OrderID:   shopapi.FormatID(shopapi.PrefixOrder, r.orderID),
		Items:     r.lines,
		Status:    shopapi.ReservationHeld,
		CreatedAt: r.created,
	}
}

func stockItem(sku string, r *stockRow) shopapi.StockItem {
	return shopapi.StockItem{SKU: sku, OnHand: r.onHand, Reserved: r.reserved, Available: r.onHand - r.reserved}
}

// trackingNumber derives a carrier tracking number from a shipment number.
func trackingNumber(n int) string { return fmt.Sprintf("TRK%09d", (n*7919)%1000000007) }

func compareSKU(a, b string) int { return strings.Compare(a, b) }
