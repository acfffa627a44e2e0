package proxy

import (
	"bufio"
	"net"
	"net/http"
	"time"
)

// recorder remembers the status code of a response for metrics. It passes
// Flush and Hijack through, and Unwrap lets http.ResponseController reach
// the connection for everything else.
type recorder struct {
	http.ResponseWriter
	code     int
	bytes    int64         // response body bytes written
	served   *forwarder    // who answered: the picked side, or legacy after a fallback
	in       *http.Request // the client's request, for a fallback
	fallback string        // why legacy served a request meant for the service, or ""
	ownReply bool          // the answer is strangler's error reply (502, 503, 504), not an upstream's

	// For a request being shadowed: the answer's headers and body as the
	// client got them, the body up to the route's max_body.
	tee *cappedBuffer
	hdr http.Header

	// The client connection once it is hijacked for an upgrade, recorded
	// in tunnels until the handler returns.
	hijacked net.Conn
	tunnels  *tunnels

	// writeIdle bounds how long one write to the client may block: a
	// client that stops reading is cut off (nginx's send_timeout). Zero:
	// no bound. writeBy is the write deadline last set.
	writeIdle time.Duration
	writeBy   time.Time
}

// extendWriteDeadline moves the connection's write deadline to writeIdle
// from now before something is written, so that the bound applies to each
// write, not to the whole answer: a stream may run for hours, and a quiet
// one may wait longer than writeIdle between two writes. The deadline is
// moved only once a quarter of it is used up, so that an answer written in
// many small pieces does not reset it for each.
func (r *recorder) extendWriteDeadline() {
	if r.writeIdle <= 0 {
		return
	}
	now := time.Now()
	if r.writeBy.Sub(now) > r.writeIdle-r.writeIdle/4 {
		return
	}
	r.writeBy = now.Add(r.writeIdle)
	_ = http.NewResponseController(r.ResponseWriter).SetWriteDeadline(r.writeBy)
}

// WriteHeader records the first final (non-1xx) status code. A final
// answer without a Content-Type goes out without one: net/http would
// otherwise sniff the body and add one (text/html for an upstream's
// untyped answer that starts with a tag), which the upstream never said.
func (r *recorder) WriteHeader(code int) {
	r.extendWriteDeadline()
	if h := r.Header(); code >= 200 {
		if _, ok := h["Content-Type"]; !ok {
			h["Content-Type"] = nil
		}
	}
	if r.code == 0 && code >= 200 {
		r.code = code
		if r.tee != nil {
			r.hdr = r.Header().Clone()
		}
	}
	r.ResponseWriter.WriteHeader(code)
}

// Write records an implicit 200 when no status was written.
func (r *recorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.WriteHeader(http.StatusOK)
	}
	if r.tee != nil {
		r.tee.write(b)
	}
	r.extendWriteDeadline()
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// Flush sends buffered data to the client, as server-sent events need.
func (r *recorder) Flush() {
	r.extendWriteDeadline()
	_ = http.NewResponseController(r.ResponseWriter).Flush()
}

// Hijack hands the connection over for a protocol upgrade (WebSocket),
// records 101 Switching Protocols and keeps the connection in tunnels.
func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(r.ResponseWriter).Hijack()
	if err != nil {
		return c, rw, err
	}
	if r.code == 0 {
		r.code = http.StatusSwitchingProtocols
	}
	if r.writeIdle > 0 {
		// The tunnel's traffic is the two peers'; a quiet WebSocket must
		// not find a stale deadline when it next writes.
		_ = c.SetWriteDeadline(time.Time{})
	}
	r.hijacked = c
	r.tunnels.add(c)
	return c, rw, nil
}

// Unwrap returns the wrapped writer for http.ResponseController.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// status returns the recorded code, or 499 for a response never started
// because the client went away.
func (r *recorder) status() int {
	if r.code == 0 {
		return StatusClientClosed
	}
	return r.code
}

var (
	_ http.Flusher  = (*recorder)(nil)
	_ http.Hijacker = (*recorder)(nil)
)
