// Package inventory is the extracted inventory service bundled with
// strangler. It serves the same /api/inventory contract as the monolith
// (package shopapi), plus /health/live, /health/ready and /_admin/faults.
//
// Data ownership: inventory has moved completely. The service's store was
// filled by a one-off migration of the monolith's stock table, modelled
// here by seeding it from the same deterministic catalog (shopapi.Catalog)
// with the same seed. From then on the service owns stock and reservations
// (ids res-5xxxxx); a monolith started with --inventory-url stops using its
// own table and reserves here. The service calls no other app.
//
// inventory imports only internal/faults and internal/shopapi, never the
// proxy's packages.
package inventory
