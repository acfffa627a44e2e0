// Package resilience wraps every upstream of strangler so that a failing or
// slow extracted service never takes the shop down.
//
// It owns, per upstream:
//   - a circuit breaker, a thin wrapper over gobreaker/v2's
//     TwoStepCircuitBreaker (breaker.go);
//   - a bulkhead: a bounded number of requests in flight plus a bounded,
//     time-limited queue (bulkhead.go);
//   - retries with jittered exponential backoff and a retry budget
//     (retry.go);
//   - target picking across instances (balancer.go) with active and passive
//     health checks (health.go);
//   - the state registry that keeps all of the above across config reloads
//     (registry.go), its Prometheus metrics (metrics.go) and a JSON-ready
//     status snapshot for the admin API (status.go);
//   - the release of all of the above when the response body ends, with
//     the body's idle deadline (body.go), and the marking of fallback
//     requests whose outcome must not count against the legacy app
//     (spillover.go).
//
// The unit handed to the proxy is *Upstream, an http.RoundTripper meant to be
// the Transport of an httputil.ReverseProxy. A request flows through it as
//
//	bulkhead -> breaker -> pick healthy target -> attempt (retry within budget)
//
// and the bulkhead slot, the breaker verdict and the target's in-flight count
// are released when the response body is closed or read to EOF. A request
// the breaker admits as a half-open probe gets one attempt, never a retry;
// a timeout is never retried either. The upstream's timeout bounds the wait
// for the response headers and, as an idle deadline, every wait for more of
// the body (except event streams and upgraded connections): a body that
// stalls is cut, counted as a failure, and its slot released. It also caps
// every dial (at most 5s anyway) and the time in which retries may start
// and connect, counted from the first attempt.
//
// Errors that prove the upstream never received the request (open breaker,
// full bulkhead, no healthy target, failed dial) satisfy
// errors.Is(err, ErrNotSent), so the proxy may fall back to the legacy side
// for any method.
//
// This package imports internal/h1client (the HTTP/1.1 client its
// attempts use) and must not import internal/routing or internal/proxy.
// routing only parses the YAML into Settings and its BreakerSettings,
// BulkheadSettings, RetrySettings and HealthSettings, and never calls into
// this package. proxy owns the
// Registry: it builds it with NewRegistry, calls Registry.Acquire for each
// upstream when it builds a generation and Registry.Retain when the
// generation goes live, uses each *Upstream as a RoundTripper, marks
// fallback requests with Spillover, reads Upstream.Status (UpstreamStatus)
// for /api/status and the dashboard, and tells refusals apart with the
// exported errors.
package resilience
