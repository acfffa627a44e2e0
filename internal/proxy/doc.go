// Package proxy owns the request path and the admin surface.
//
// Handler (handler.go) serves every request: it reads the live routing
// generation once, matches the cleaned path, picks the side, and forwards
// through an httputil.ReverseProxy built for that route and side when the
// generation was built (generation.go, forward.go), falling back to the
// legacy side when the service cannot take the request (fallback.go).
// Requests it turns away itself (a bad path, too long a target, too large
// a body, CONNECT, no table yet) are refused before any upstream
// (refuse.go); errors become short JSON answers (errors.go). The client
// limits (target length, body size, body read timeout and minimum rate,
// write timeout) are in limits.go and recorder.go; forwarding headers
// are believed only from trusted proxies (trusted.go), and trace context
// and request ids are kept or made (trace.go). Request metrics are
// resolved at build time (metrics.go); the last minute of each route's
// traffic is kept for the dashboard (live.go); upgraded (WebSocket)
// connections are kept until they end, so that a shutdown can drain them
// (tunnels.go). Shadowed routes copy a sample of requests to the service
// after the client has its answer (shadow_capture.go takes the copy,
// shadow_queue.go holds it in a bounded queue, shadow.go sends it and has
// internal/shadow compare the two answers). Reloader (reload.go) turns a routes.yaml on disk
// into a new generation and keeps the result of the last attempt.
//
// The admin handler (admin.go, guarded by admin_token.go) serves the
// built-in dashboard page at / and its assets, /metrics, /healthz,
// /readyz, /api/status (status.go), /api/dashboard and
// /api/dashboard/events (dashboard.go, events.go: the routes, their last
// minute and the legacy traffic inventory) and /api/shadow/{route}
// (status.go, the shadow report of a route).
//
// proxy imports internal/routing (the table and its paths),
// internal/resilience (the upstreams), internal/shadow (the comparison of
// answers), internal/inventory (the legacy traffic inventory),
// internal/livestats (the last minute per route), internal/accesslog and
// internal/dashboard (the page); nothing under internal imports proxy, and
// proxy must not import the bundled applications (legacy-monolith,
// extracted-services) or internal/appmain, which it reaches over HTTP only.
package proxy
