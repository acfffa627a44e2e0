package proxy

import (
	"errors"
	"io"
	"net/http"

	"github.com/strangler-proxy/strangler/internal/resilience"
)

// Fallback reasons, the values of strangler_fallbacks_total's reason label.
const (
	reasonBreakerOpen   = "breaker_open"
	reasonBulkheadFull  = "bulkhead_full"
	reasonNoHealthy     = "no_healthy_target"
	reasonConnect       = "connect_error"
	reasonTimeout       = "timeout"
	reasonUpstreamError = "upstream_error"
	reasonBadStatus     = "bad_status"
)

var fallbackReasons = []string{reasonBreakerOpen, reasonBulkheadFull, reasonNoHealthy, reasonConnect, reasonTimeout, reasonUpstreamError, reasonBadStatus}

// errBadStatus is returned by ModifyResponse for a 502, 503 or 504 answer
// of an extracted service to an idempotent request, so that the request is
// served by legacy instead.
type errBadStatus struct{ code int }

func (e *errBadStatus) Error() string { return "extracted service answered " + http.StatusText(e.code) }

// fallbackReason says why err lets a request fall back to legacy, and
// whether it may: a request the service certainly never received falls
// back whatever its method; any other failure only for an idempotent
// request without a body, which is safe to send twice.
func fallbackReason(r *http.Request, err error, idempotent bool) (string, bool) {
	var bad *errBadStatus
	switch {
	case errors.Is(err, resilience.ErrBreakerOpen):
		return reasonBreakerOpen, true
	case errors.Is(err, resilience.ErrBulkheadFull):
		return reasonBulkheadFull, true
	case errors.Is(err, resilience.ErrNoHealthyTarget):
		return reasonNoHealthy, true
	case errors.Is(err, resilience.ErrNotSent):
		return reasonConnect, true
	}
	if !idempotent || hasBody(r) {
		return "", false
	}
	switch {
	case errors.As(err, &bad):
		return reasonBadStatus, true
	case isTimeout(err):
		return reasonTimeout, true
	default:
		return reasonUpstreamError, true
	}
}

func hasBody(r *http.Request) bool {
	return r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0
}

// keepOpen shields the client's request body from the extracted side's
// transport, which closes a body when it fails: the body must still be
// readable when the request falls back to legacy. The server closes the
// real body when the handler returns.
type keepOpen struct{ io.Reader }

func (keepOpen) Close() error { return nil }
