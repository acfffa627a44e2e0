package monolith

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/strangler-proxy/strangler/internal/shopapi"
)

// Seeded data sizes and the password of every seeded customer.
const (
	seedCustomers = 24
	seedPassword  = "demo"
	seedStream    = 0x5eed0
)

var (
	firstNames = [...]string{"Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken",
		"Margaret", "Dennis", "Radia", "Niklaus", "Hedy", "John", "Karen", "Leslie"}
	lastNames = [...]string{"Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen",
		"Thompson", "Hamilton", "Ritchie", "Perlman", "Wirth", "Lamarr", "Backus", "Jones", "Lamport"}
	carriers = [...]string{"DHL", "UPS", "GLS", "PostNL"}
	// seedEpoch is when the legacy shop opened; seeded times count from it.
	seedEpoch = time.Date(2021, time.March, 1, 9, 0, 0, 0, time.UTC)
)

// seedStore fills an empty store. Everything is drawn from one PCG stream
// of seed in a fixed order, so the same seed always yields the same rows.
func seedStore(s *store, seed int64) {
	r := rand.New(rand.NewPCG(uint64(seed), seedStream))
	for _, e := range shopapi.Catalog(seed) {
		s.products = append(s.products, e.Product)
		s.stock[e.Product.SKU] = &stockRow{onHand: e.OnHand}
	}

	firstCustomer, _ := shopapi.FirstID(shopapi.OwnerMonolith)
	for i := range seedCustomers {
		id := firstCustomer + i
		first, last := firstNames[r.IntN(len(firstNames))], lastNames[r.IntN(len(lastNames))]
		email := fmt.Sprintf("%s.%s.%d@example.com", strings.ToLower(first), strings.ToLower(last), id)
		s.customers[id] = customerRow{id: id, name: first + " " + last, email: email, password: seedPassword,
			created: seedEpoch.Add(time.Duration(i*72+r.IntN(48)) * time.Hour)}
		s.byEmail[email] = id
	}

	// Orders are placed one after another, a few hours apart, by customers
	// drawn at random; about half are shipped, a quarter paid, the rest
	// pending.
	at := seedEpoch.AddDate(2, 0, 0)
	for range seedCustomers * 2 {
		at = at.Add(time.Duration(1+r.IntN(20)) * time.Hour).Add(time.Duration(r.IntN(60)) * time.Minute)
		cust := firstCustomer + r.IntN(seedCustomers)
		o := orderRow{id: s.next.order, customerID: cust, status: statusNew, created: at}
		s.next.order++
		for _, k := range r.Perm(len(s.products))[:1+r.IntN(3)] {
			p := s.products[k]
			l := lineRow{sku: p.SKU, name: p.Name, qty: 1 + r.IntN(3), unitCents: p.PriceCents}
			o.lines = append(o.lines, l)
			o.totalCents += l.unitCents * int64(l.qty)
		}
		roll := r.IntN(4)
		if roll >= 1 {
			o.status, o.paymentID = statusPaid, s.next.payment
			s.payments[s.next.payment] = paymentRow{id: s.next.payment, orderID: o.id, amountCents: o.totalCents,
				method: shopapi.PaymentMethods[r.IntN(len(shopapi.PaymentMethods))], created: at.Add(5 * time.Minute)}
			s.next.payment++
		}
		if roll >= 2 {
			o.status, o.shipmentID = statusShipped, s.next.shipment
			s.shipments[s.next.shipment] = shipmentRow{id: s.next.shipment, orderID: o.id,
				carrier: carriers[r.IntN(len(carriers))], tracking: trackingNumber(s.next.shipment),
				created: at.Add(26 * time.Hour)}
			s.next.shipment++
		}
		s.orders[o.id] = o
	}
}
