package accesslog

import (
	"context"
	"log/slog"
	"time"
)

// Record is one finished request.
type Record struct {
	// Time is when the request arrived.
	Time time.Time
	// RequestID is the X-Request-ID the upstream and the client saw.
	RequestID string
	// TraceID is the trace id of the traceparent sent upstream.
	TraceID string
	// Client is the peer address of the client connection.
	Client string
	// Method and Path are the request's method and cleaned path, without
	// the query string (which may carry secrets). A request refused before
	// it could be routed logs its path as sent, cut at 256 bytes.
	Method, Path string
	// Route is the name of the route that matched, "default" for the
	// catch-all; empty when the request was refused before routing.
	Route string
	// Side is "legacy" or "extracted": who answered; empty when strangler
	// refused the request itself.
	Side string
	// Upstream names the upstream that answered; empty when strangler
	// refused the request itself.
	Upstream string
	// Status is the status code sent, 499 when the client went away first.
	Status int
	// Bytes is the number of response body bytes sent.
	Bytes int64
	// Duration is the time from arrival to the end of the response.
	Duration time.Duration
	// Fallback is why the extracted service could not take the request
	// and legacy served it, or "".
	Fallback string
}

// slogRecord turns r into the slog record the writer prints.
func (r *Record) slogRecord() slog.Record {
	rec := slog.NewRecord(r.Time, slog.LevelInfo, "access", 0)
	rec.AddAttrs(
		slog.String("request_id", r.RequestID),
		slog.String("trace_id", r.TraceID),
		slog.String("client", r.Client),
		slog.String("method", r.Method),
		slog.String("path", r.Path),
		slog.String("route", r.Route),
		slog.String("side", r.Side),
		slog.String("upstream", r.Upstream),
		slog.Int("status", r.Status),
		slog.Int64("bytes", r.Bytes),
		slog.Float64("duration_seconds", r.Duration.Seconds()),
	)
	if r.Fallback != "" {
		rec.AddAttrs(slog.String("fallback", r.Fallback))
	}
	return rec
}

var background = context.Background()
