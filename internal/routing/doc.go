// Package routing owns the routes.yaml contract and the routing decision.
//
// It defines the configuration types (config.go), loads and validates a file
// with line numbers in every error (load.go; syntax.go for YAML-level
// errors, empty.go for keys left empty, validate.go), compiles a
// configuration into an immutable Table that answers "which route, which
// side" for a request (table.go, split.go, path.go), and watches the file for
// changes (watch.go).
//
// A Table is built once per configuration generation and is read-only
// afterwards, so the request path takes no lock.
//
// routing must not import internal/proxy: it knows nothing about forwarding,
// metrics of requests, or the admin listener.
package routing
