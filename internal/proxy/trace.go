package proxy

import (
	"encoding/hex"
	"math/rand/v2"
	"net/http"
)

// headerTraceparent is the W3C Trace Context header
// (https://www.w3.org/TR/trace-context/), in its canonical form.
const headerTraceparent = "Traceparent"

// ensureTraceparent returns the trace id of the request's traceparent. A
// valid traceparent from the client is forwarded unchanged; a missing or
// malformed one is replaced by a new one, so that every upstream request
// carries a trace id the access log shares. The proxy records no span of
// its own, so the new header's sampled flag is off: the upstream's tracer
// decides. requestID is reused as the trace id when it is a fresh one of
// the proxy's (32 lowercase hex digits, as a trace id is).
func ensureTraceparent(r *http.Request, requestID string) string {
	if v := r.Header[headerTraceparent]; len(v) == 1 && validTraceparent(v[0]) {
		return v[0][3:35]
	}
	traceID := requestID
	if !isTraceID(traceID) {
		traceID = randomID()
	}
	var tp [55]byte
	copy(tp[:], "00-")
	copy(tp[3:], traceID)
	tp[35] = '-'
	var span [8]byte
	putUint64(span[:], rand.Uint64()|1) // an all-zero parent id is invalid
	hex.Encode(tp[36:52], span[:])
	copy(tp[52:], "-00")
	s := string(tp[:])
	r.Header[headerTraceparent] = []string{s}
	return traceID
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
