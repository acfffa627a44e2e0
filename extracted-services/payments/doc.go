// Package payments is the extracted payments service bundled with
// strangler. It serves the same /api/payments contract as the monolith
// (package shopapi), plus /health/live, /health/ready and /_admin/faults.
//
// Data ownership: the service owns the payments it takes (ids pay-5xxxxx) in
// its own store; payments the monolith took (pay-1xxxxx) stay there and are
// read through the monolith's API. Orders are never stored here: paying an
// order reads it from, and marks it paid at, the side that owns it, found
// from its id (ord-1xxxxx: the monolith; ord-5xxxxx: the orders service),
// so the order reads back as paid on either side.
//
// payments imports only internal/faults and internal/shopapi, never the
// proxy's packages.
package payments
