package routing

import (
	"time"

	"github.com/strangler-proxy/strangler/internal/resilience"
)

// DefaultTimeout is the upstream timeout used when an upstream sets none.
const DefaultTimeout = 30 * time.Second

// DefaultRouteName is the name of the implicit catch-all route that sends
// every request no other route moves to the legacy upstream. It is reserved:
// no route in routes.yaml may use it.
const DefaultRouteName = "default"

// Config is the decoded form of routes.yaml.
type Config struct {
	// Legacy names the upstream that serves every request no route moves.
	// Required; it must be a key of Upstreams.
	Legacy string `yaml:"legacy"`

	// Upstreams maps an upstream name to where it lives. Required; it must
	// contain the legacy upstream. Names appear in metrics and logs.
	Upstreams map[string]*UpstreamConfig `yaml:"upstreams"`

	// Routes lists the path prefixes that have moved, wholly or in part, to
	// extracted services. Optional: with no routes everything goes to legacy.
	// The longest matching prefix wins, whatever the order in the file.
	Routes []*RouteConfig `yaml:"routes"`
}

// UpstreamConfig is one application the proxy forwards to.
type UpstreamConfig struct {
	// URL is the base URL of the upstream, such as http://127.0.0.1:9001.
	// A path in the URL is put in front of every forwarded path. Exactly
	// one of URL and Targets is required.
	URL string `yaml:"url"`

	// Targets lists the base URLs of several instances of the upstream,
	// load-balanced (least requests in flight among healthy targets, ties
	// round robin). Use it instead of URL. Load refuses an empty list
	// written in the file (targets: []).
	Targets []string `yaml:"targets"`

	// Timeout bounds how long one request waits for the upstream's response
	// headers, counted from when the request has been sent. Optional; left
	// out (zero) means DefaultTimeout (30s); negative values are rejected,
	// and so is a zero written in the file (timeout: 0s). It does not
	// bound a response body that is still streaming, so server-sent events
	// and WebSockets live as long as both ends want.
	Timeout time.Duration `yaml:"timeout"`

	// Health configures active health checks of every target (off unless
	// path is set) and passive checks from real traffic (always on).
	//
	// In this block and the three below, a field left out takes the
	// default its resilience type documents for zero; Load refuses a zero
	// (0, 0s or '') written in the file wherever zero is outside the
	// field's range, since it would silently mean that default:
	// everything but bulkhead.max_concurrent, bulkhead.max_waiting,
	// breaker.disabled and retry.methods.
	Health resilience.HealthSettings `yaml:"health"`

	// Breaker configures the upstream's circuit breaker (on by default).
	Breaker resilience.BreakerSettings `yaml:"breaker"`

	// Bulkhead bounds the requests in flight to the upstream (unbounded by
	// default).
	Bulkhead resilience.BulkheadSettings `yaml:"bulkhead"`

	// Retry configures retries of idempotent requests (two attempts in all
	// by default, within a retry budget).
	Retry resilience.RetrySettings `yaml:"retry"`
}

// Settings returns the upstream's settings for the resilience layer.
func (u *UpstreamConfig) Settings() resilience.Settings {
	targets := u.Targets
	if u.URL != "" {
		targets = []string{u.URL}
	}
	return resilience.Settings{
		Targets:  targets,
		Timeout:  u.Timeout,
		Health:   u.Health,
		Breaker:  u.Breaker,
		Bulkhead: u.Bulkhead,
		Retry:    u.Retry,
	}
}

// RouteConfig moves one path prefix, wholly or for a share of requests, from the
// legacy upstream to an extracted service.
type RouteConfig struct {
	// Prefix is the path prefix the route matches, on whole segments:
	// /api/orders matches /api/orders and /api/orders/..., never
	// /api/orders-archive. Required; it must start with "/", hold no dot
	// segments, no empty segments and no trailing slash (except "/" itself).
	// Matching is case-sensitive.
	Prefix string `yaml:"prefix"`

	// Service names the upstream matching requests move to. Required; it
	// must be a key of upstreams other than the legacy one.
	Service string `yaml:"service"`

	// Weight is the percentage of matching requests sent to Service, from 0
	// to 100 with a resolution of 0.01. Optional; absent means 100 (fully
	// moved); 0 keeps every request on legacy.
	Weight *float64 `yaml:"weight"`

	// Sticky makes the split stable per client: "header:NAME" or
	// "cookie:NAME". The same key always lands on the same side, raising the
	// weight never sends a key back to legacy, and two proxies with the same
	// file decide alike. A request without the key is split at random.
	// Optional; left out (empty) means every request is split at random;
	// Load refuses sticky: '' written in the file.
	Sticky string `yaml:"sticky"`

	// Methods restricts the route to these HTTP methods; requests with other
	// methods are matched by the next shorter prefix, and in the end by
	// legacy. Optional; left out (empty) means every method; Load refuses
	// methods: [] written in the file, which would read as "no method".
	Methods []string `yaml:"methods"`

	// Rewrite replaces the matched prefix before a request is forwarded to
	// Service (legacy always receives the original path). Optional; empty
	// keeps the path as it is. Example: prefix /api/orders with rewrite
	// /orders forwards /api/orders/42 as /orders/42. Load refuses
	// rewrite: '' written in the file.
	Rewrite string `yaml:"rewrite"`

	// Name identifies the route in metrics, logs and the admin status.
	// Optional; left out (empty) it defaults to Prefix, and Load refuses
	// name: '' written in the file. Names must be unique, and "default" is
	// reserved for the catch-all route.
	Name string `yaml:"name"`

	// Fallback says what happens when Service cannot take a request (its
	// breaker is open, its bulkhead full, no target healthy, or it could
	// not be reached): true serves the request from legacy instead, false
	// answers 502, 503 or 504. Requests the service certainly never received
	// fall back whatever their method; others only when idempotent and
	// without a body. Optional; default true.
	Fallback *bool `yaml:"fallback"`

	// Shadow copies the route's requests to the other side and compares
	// the answers. Optional; absent means no copies.
	Shadow *ShadowConfig `yaml:"shadow"`

	// MaxBody bounds the request body a client may send on this route,
	// such as 10MiB: a larger declared Content-Length is refused with 413
	// before any upstream is contacted, and a chunked body that grows past
	// it is cut off. Optional; absent means unlimited; zero is rejected.
	MaxBody *ByteSize `yaml:"max_body"`
}
