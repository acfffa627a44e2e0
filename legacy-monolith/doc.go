// Package monolith is the legacy shop bundled with strangler: customers,
// catalog, orders, payments, inventory and shipping in one process with one
// in-memory store, seeded deterministically. It serves the JSON shop API
// under /api/..., a few server-rendered HTML pages with a session cookie
// (/, /login, /account, /logout), health endpoints and the fault admin
// endpoint, so that a strangler-fig migration can be run and shown on one
// machine. See README.md for data ownership and the API contract.
//
// The store keeps legacy-style rows (numeric ids, one-letter status codes);
// the API layer translates them into the contract of package shopapi.
//
// monolith imports only internal/faults and internal/shopapi, never the
// proxy's packages.
package monolith
