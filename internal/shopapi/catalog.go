package shopapi

import (
	"fmt"
	"math/rand/v2"
)

// CatalogEntry is one product of the seeded catalog with its stock on hand
// at seeding time.
type CatalogEntry struct {
	Product Product
	OnHand  int
}

// catalogStream separates the catalog's random stream from other seeded
// data generated from the same seed.
const catalogStream = 0xca7a1095

var catalogNames = [...]struct{ name, desc string }{
	{"Enamel Mug", "Speckled blue enamel camping mug, 350 ml."},
	{"Wool Socks", "Merino hiking socks, one pair."},
	{"Field Notebook", "Dot-grid notebook, 80 pages, waterproof cover."},
	{"Pocket Knife", "Three-blade pocket knife with ash handle."},
	{"Headlamp", "Rechargeable headlamp, 300 lumen."},
	{"Water Bottle", "Insulated steel bottle, 750 ml."},
	{"Trail Map", "Folding map of the northern trails, 1:25,000."},
	{"Rain Jacket", "Packable rain jacket with taped seams."},
	{"Camp Stove", "Compact gas stove with piezo ignition."},
	{"Sleeping Mat", "Self-inflating sleeping mat, 5 cm."},
	{"Compass", "Baseplate compass with declination scale."},
	{"First Aid Kit", "Forty-piece first aid kit in a zip pouch."},
}

// Catalog returns the seeded catalog, sku-1001 onwards: fixed names and
// descriptions, with prices and stock drawn from seed. The same seed always
// yields the same catalog, so the monolith and the inventory service (whose
// store is a one-off migration of the monolith's stock table) start from the
// same numbers without sharing a store.
func Catalog(seed int64) []CatalogEntry {
	r := rand.New(rand.NewPCG(uint64(seed), catalogStream))
	out := make([]CatalogEntry, len(catalogNames))
	for i, n := range catalogNames {
		out[i] = CatalogEntry{
			Product: Product{
				SKU:         fmt.Sprintf("sku-%d", 1001+i),
				Name:        n.name,
				Description: n.desc,
				PriceCents:  int64(499 + 100*r.IntN(60)), // 4.99 to 63.99
				Currency:    Currency,
			},
			OnHand: 10 + r.IntN(91), // 10 to 100
		}
	}
	return out
}
