// Package proxy owns the request path and the admin surface.
//
// Handler (handler.go) serves every request: it reads the live routing
// generation once, matches the cleaned path, picks the side, and forwards
// through an httputil.ReverseProxy built for that route and side when the
// generation was built (generation.go, forward.go). Errors become short
// JSON answers (errors.go); request metrics are resolved at build time
// (metrics.go); upgraded (WebSocket) connections are kept until they end,
// so that a shutdown can drain them (tunnels.go). Reloader (reload.go)
// turns a routes.yaml on disk into a new generation and keeps the result
// of the last attempt; the admin handlers (admin.go, status.go) serve
// /metrics, /healthz, /readyz and /api/status.
//
// proxy may import internal/routing and internal/resilience; nothing under
// internal imports proxy.
package proxy
