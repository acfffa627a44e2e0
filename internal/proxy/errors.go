package proxy

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"

	"github.com/strangler-proxy/strangler/internal/resilience"
)

// StatusClientClosed is recorded when the client went away before the
// answer was ready (nginx's convention). Nothing is written to the client.
const StatusClientClosed = 499

// errorReply is the short JSON body of every error the proxy answers
// itself. It never holds an internal address or an error's text.
type errorReply struct {
	status     int
	message    string
	retryAfter string // Retry-After header value, or ""
	reason     string // for a refusal, the reason label of strangler_refused_requests_total
}

var (
	replyBadPath     = errorReply{http.StatusBadRequest, "bad request path", "", "bad_path"}
	replyNotReady    = errorReply{http.StatusServiceUnavailable, "no routing table loaded yet", "1", "not_ready"}
	replyUnavailable = errorReply{http.StatusBadGateway, "upstream unavailable", "", ""}
	replyTimeout     = errorReply{http.StatusGatewayTimeout, "upstream timed out", "", ""}
	// replyShed answers a request the upstream's breaker, bulkhead or health
	// checks refused without sending it anywhere.
	replyShed = errorReply{http.StatusServiceUnavailable, "upstream temporarily unavailable", "1", ""}
	// The client limits: a request target longer than MaxURIBytes, a body
	// larger than the route's max_body, a body stalled past the body read
	// timeout, a body sent slower than the minimum data rate.
	replyURITooLong   = errorReply{http.StatusRequestURITooLong, "request URI too long", "", "uri_too_long"}
	replyBodyTooLarge = errorReply{http.StatusRequestEntityTooLarge, "request body too large", "", "body_too_large"}
	replyBodyTimeout  = errorReply{http.StatusRequestTimeout, "request body timed out", "", ""}
	replyBodyTooSlow  = errorReply{http.StatusRequestTimeout, "request body too slow", "", "body_too_slow"}
	replyBadBody      = errorReply{http.StatusBadRequest, "malformed request body", "", ""}
)

// classify maps an error from forwarding r to the reply the client gets.
// A client that hung up gets no reply and is recorded as 499: it is not the
// upstream's fault. A request refused by the breaker, the bulkhead or the
// health checks gets 503 with Retry-After. An upstream that could not be
// connected to gets 502, even when the connection attempt timed out; 504
// is for an upstream that had the request and did not answer in time.
func classify(r *http.Request, err error) errorReply {
	switch {
	case errors.Is(r.Context().Err(), context.Canceled):
		// Judged by the request's context, not by err: a client that hangs
		// up halfway through its upload surfaces as the body's unexpected
		// EOF rather than context.Canceled.
		return errorReply{status: StatusClientClosed}
	case errors.Is(err, resilience.ErrBreakerOpen), errors.Is(err, resilience.ErrBulkheadFull),
		errors.Is(err, resilience.ErrNoHealthyTarget):
		return replyShed
	case errors.Is(err, resilience.ErrNotSent):
		// A connection that could not be made, even one that timed out:
		// the upstream is unreachable and never had the request.
		return replyUnavailable
	case isTimeout(err):
		return replyTimeout
	default:
		return replyUnavailable
	}
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// writeError writes e as {"error": ..., "status": ..., "request_id": ...}.
func writeError(w http.ResponseWriter, e errorReply, requestID string) {
	writeErrorJSON(w, e, requestID, errorJSON(e, requestID))
}

// errorJSON is the body writeError sends for e: {"error": ...,
// "status": ..., "request_id": ...} and a newline.
func errorJSON(e errorReply, requestID string) []byte {
	b := make([]byte, 0, 128)
	b = append(b, `{"error":`...)
	b = strconv.AppendQuote(b, e.message)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(e.status), 10)
	b = append(b, `,"request_id":`...)
	b = strconv.AppendQuote(b, requestID)
	b = append(b, "}\n"...)
	return b
}

// writeErrorJSON sends e's status and headers with body, which errorJSON
// made. Nothing is written for StatusClientClosed.
func writeErrorJSON(w http.ResponseWriter, e errorReply, requestID string, body []byte) {
	if e.status == StatusClientClosed {
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if requestID != "" {
		h.Set(headerRequestID, requestID)
	}
	if e.retryAfter != "" {
		h.Set("Retry-After", e.retryAfter)
	}
	w.WriteHeader(e.status)
	_, _ = w.Write(body)
}
