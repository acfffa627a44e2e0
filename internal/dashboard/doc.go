// Package dashboard owns strangler's built-in live migration dashboard: one
// page and its script, stylesheet and icon, embedded in the binary, and the
// http.Handler that serves them on the admin listener.
//
// The page reads everything it shows from the admin JSON endpoints
// /api/dashboard and /api/dashboard/events, which package proxy serves; it
// fetches nothing from any other origin. This package imports no other
// internal package: it knows the data only through that JSON contract.
package dashboard
