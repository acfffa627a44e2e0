// Package orders is the extracted orders service bundled with strangler. It
// serves the same /api/orders contract as the monolith (package shopapi),
// plus /health/live, /health/ready and /_admin/faults.
//
// Data ownership: the service owns the orders it creates (ids ord-5xxxxx) in
// its own store. Orders placed in the monolith (ord-1xxxxx) stay owned by
// the monolith; the service reads and updates them only through the
// monolith's HTTP API, translating them into its own model on the way in
// (legacy.go, the anti-corruption layer). Customers and the catalog are read
// the same way; stock is reserved through the inventory API. A status
// change (PATCH) of an order is checked by its owner: the caller may see
// the order, and the payment or shipment it names exists at its owner and
// belongs to the order.
//
// orders imports only internal/faults and internal/shopapi, never the
// proxy's packages.
package orders
