package proxy

import (
	"encoding/hex"
	"math/rand/v2"
	"net/http"
)

// headerTraceparent is the W3C Trace Context header
// (https://www.w3.org/TR/trace-context/), in its canonical form.
const headerTraceparent = "Traceparent"

// ensureIDs returns the request's id and trace id. A usable X-Request-ID
// (printable, at most 128 bytes) and a valid traceparent from the client
// pass unchanged; a missing or malformed one is replaced on r, so that the
// upstream receives both. A new traceparent reuses the request id as its
// trace id when that is 32 lowercase hex digits, as the proxy's own ids
// are; when the proxy makes both, the request id is cut from the new
// traceparent, and both header values share one slice. The proxy records
// no span of its own, so a new traceparent's sampled flag is off: the
// upstream's tracer decides.
func ensureIDs(r *http.Request) (id, traceID string) {
	h := r.Header
	if v := h[headerRequestID]; len(v) == 1 && usableRequestID(v[0]) {
		id = v[0]
	}
	if v := h[headerTraceparent]; len(v) == 1 && validTraceparent(v[0]) {
		traceID = v[0][3:35]
	}
	switch {
	case id != "" && traceID != "":
	case id == "" && traceID == "":
		tp := newTraceparent("")
		id, traceID = tp[3:35], tp[3:35]
		vals := []string{id, tp}
		h[headerRequestID], h[headerTraceparent] = vals[0:1:1], vals[1:2:2]
	case id == "":
		id = randomID()
		h[headerRequestID] = []string{id}
	default:
		tp := newTraceparent(id)
		traceID = tp[3:35]
		h[headerTraceparent] = []string{tp}
	}
	return id, traceID
}

// newTraceparent returns a version-00 traceparent with traceID as its
// trace id when that is a valid one, a random trace id otherwise, a random
// parent id, and no flags.
func newTraceparent(traceID string) string {
	var tp [55]byte
	copy(tp[:], "00-")
	if isTraceID(traceID) {
		copy(tp[3:], traceID)
	} else {
		var b [16]byte
		putUint64(b[:8], rand.Uint64())
		putUint64(b[8:], rand.Uint64()|1) // an all-zero trace id is invalid
		hex.Encode(tp[3:35], b[:])
	}
	tp[35] = '-'
	var span [8]byte
	putUint64(span[:], rand.Uint64()|1) // an all-zero parent id is invalid
	hex.Encode(tp[36:52], span[:])
	copy(tp[52:], "-00")
	return string(tp[:])
}

// validTraceparent reports whether v is a version-00 traceparent:
// 00-<32 hex trace id, not all zero>-<16 hex parent id, not all zero>-<2 hex flags>,
// lowercase only, as the specification requires.
func validTraceparent(v string) bool {
	if len(v) != 55 || v[:3] != "00-" || v[35] != '-' || v[52] != '-' {
		return false
	}
	return isTraceID(v[3:35]) && isLowerHex(v[36:52]) && !allZero(v[36:52]) && isLowerHex(v[53:55])
}

// isTraceID reports whether s is 32 lowercase hex digits, not all zero.
func isTraceID(s string) bool {
	return len(s) == 32 && isLowerHex(s) && !allZero(s)
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func allZero(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '0' {
			return false
		}
	}
	return true
}

// randomID returns 128 random bits as 32 lowercase hex digits: a request
// id, and a valid trace id.
func randomID() string {
	var b [16]byte
	putUint64(b[:8], rand.Uint64())
	putUint64(b[8:], rand.Uint64()|1)
	return hex.EncodeToString(b[:])
}

// putUint64 writes x into b[:8], low byte first.
func putUint64(b []byte, x uint64) {
	for i := range 8 {
		b[i] = byte(x >> (8 * i))
	}
}
