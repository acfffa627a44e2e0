package shadow

import (
	"cmp"
	"fmt"
	"maps"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Mismatch is one recorded disagreement, ready for JSON at
// /api/shadow/{route}. Its size is bounded whatever the request and the
// answers held: see RequestInfo and ResponseInfo (and Difference, whose
// rendered values are cut to about 200 bytes and paths to about 1 KiB).
type Mismatch struct {
	Time        time.Time    `json:"time"`         // when the shadow answer was compared
	RequestID   string       `json:"request_id"`   // the request's X-Request-ID, if any
	Request     RequestInfo  `json:"request"`      // the request both sides answered
	PrimarySide string       `json:"primary_side"` // "legacy" or "extracted": who answered the client
	Primary     ResponseInfo `json:"primary"`      // the answer the client got
	Shadow      ResponseInfo `json:"shadow"`       // the answer the other side gave
	Differences []Difference `json:"differences"`  // what Compare found
}

// Bounds of what a Mismatch keeps of a request or an answer.
const (
	// MaxBodyInfo is the most body bytes a RequestInfo or ResponseInfo
	// keeps; a longer body is cut and ends with "…(truncated)".
	MaxBodyInfo = 4 << 10
	// MaxHeaderInfo is the most bytes of header names and values a
	// RequestInfo or ResponseInfo keeps (and the most bytes of a request's
	// path, and of its query).
	MaxHeaderInfo = 8 << 10
	// maxHeaderValueInfo is the most bytes kept of one header value, so
	// that one huge header does not crowd the others out.
	maxHeaderValueInfo = 2 << 10
)

// truncatedMark ends a body, header value, path or query that was cut.
const truncatedMark = "…(truncated)"

// RequestInfo describes the request of a Mismatch. Build it with
// NewRequestInfo, which redacts the secrets and bounds the size.
type RequestInfo struct {
	Method string `json:"method"`
	Path   string `json:"path"`            // at most MaxHeaderInfo bytes, then "…(truncated)"
	Query  string `json:"query,omitempty"` // raw query, without '?', redacted with RedactQuery; cut as Path
	// Header is redacted with Redact and bounded as ResponseInfo.Header is.
	Header http.Header `json:"header"`
	// OmittedHeaders counts the header values left out of Header for want
	// of room.
	OmittedHeaders int `json:"omitted_headers,omitempty"`
	// Body is the request body, so that the request can be replayed, at
	// most MaxBodyInfo bytes (then "…(truncated)"): a JSON body as sent,
	// or, when it has members whose names are secret (see isSecretName),
	// with their values redacted and re-encoded compactly with sorted
	// keys; a form body (application/x-www-form-urlencoded) redacted as a
	// query. Other
	// bodies, and content-encoded ones, are not kept: a note in
	// parentheses gives their size and type. Empty when there was none.
	Body string `json:"body,omitempty"`
}

// NewRequestInfo describes a request for a Mismatch: rawQuery (without '?')
// redacted with RedactQuery, header with Redact (a copy: header itself is
// left alone), body as RequestInfo.Body says, each bounded as RequestInfo
// says.
func NewRequestInfo(method, path, rawQuery string, header http.Header, body []byte) RequestInfo {
	h, omitted := capHeader(Redact(header))
	return RequestInfo{
		Method:         method,
		Path:           cutText([]byte(path), MaxHeaderInfo, false),
		Query:          cutText([]byte(RedactQuery(rawQuery)), MaxHeaderInfo, false),
		Header:         h,
		OmittedHeaders: omitted,
		Body:           requestBody(header, body),
	}
}

// ResponseInfo describes one side's answer in a Mismatch.
type ResponseInfo struct {
	Status int `json:"status"`
	// Header is the answer's headers as received (Content-Encoding
	// included), redacted with Redact, and bounded: each value cut to 2 KiB
	// (then "…(truncated)"), and, names in sorted order, values kept while
	// names and values total at most MaxHeaderInfo bytes; the others are
	// left out and counted in OmittedHeaders.
	Header http.Header `json:"header"`
	// OmittedHeaders counts the header values left out of Header for want
	// of room.
	OmittedHeaders int `json:"omitted_headers,omitempty"`
	// Body is decoded when CompareEncoded could; at most MaxBodyInfo
	// bytes, then "…(truncated)".
	Body string `json:"body"`
}

// NewResponseInfo builds a ResponseInfo from a Response: headers redacted
// with Redact and bounded, body cut to MaxBodyInfo bytes on a UTF-8
// boundary with "…(truncated)" appended (also when the proxy had already
// truncated it). Invalid UTF-8 in the body becomes U+FFFD.
func NewResponseInfo(r Response) ResponseInfo {
	h, omitted := capHeader(Redact(r.Header))
	return ResponseInfo{Status: r.Status, Header: h, OmittedHeaders: omitted, Body: cutText(r.Body, MaxBodyInfo, r.Truncated)}
}

// cutText returns b as valid UTF-8 (invalid bytes become U+FFFD), cut to
// at most limit bytes on a UTF-8 boundary, with "…(truncated)" appended
// when it was cut or already was (cut).
func cutText(b []byte, limit int, cut bool) string {
	if len(b) > limit {
		i := limit
		for i > limit-utf8.UTFMax && i > 0 && !utf8.RuneStart(b[i]) {
			i--
		}
		if !utf8.RuneStart(b[i]) {
			i = limit // not UTF-8 here anyway: cut at the limit
		}
		b, cut = b[:i], true
	}
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	if cut {
		s += truncatedMark
	}
	return s
}

// capHeader bounds a (redacted) header for a Mismatch: each value is cut
// to maxHeaderValueInfo bytes, then, names in sorted order, values are
// kept while names and values total at most MaxHeaderInfo bytes. It
// returns the kept header and the number of values left out.
func capHeader(h http.Header) (http.Header, int) {
	if h == nil {
		return nil, 0
	}
	out := make(http.Header, len(h))
	room, omitted := MaxHeaderInfo, 0
	for _, name := range slices.Sorted(maps.Keys(h)) {
		for _, v := range h[name] {
			v = cutText([]byte(v), maxHeaderValueInfo, false)
			if n := len(name) + len(v); n <= room {
				room -= n
				out[name] = append(out[name], v)
				continue
			}
			omitted++
		}
	}
	return out, omitted
}

// requestBody renders a request body for RequestInfo.Body.
func requestBody(h http.Header, body []byte) string {
	if len(body) == 0 {
		return ""
	}
	if enc := encodings(h); len(enc) > 0 {
		return fmt.Sprintf("(%d bytes in Content-Encoding %s, not kept)", len(body), strings.Join(enc, ", "))
	}
	if v, ok := parseJSON(body); ok {
		if redactJSON(v) {
			return cutText(appendJSON(nil, v, MaxBodyInfo), MaxBodyInfo, false)
		}
		return cutText(body, MaxBodyInfo, false)
	}
	ct, _ := headerValue(h, "Content-Type")
	mt, _, _ := mime.ParseMediaType(ct)
	if mt == "application/x-www-form-urlencoded" {
		return cutText([]byte(RedactQuery(string(body))), MaxBodyInfo, false)
	}
	return fmt.Sprintf("(%d bytes of %s, not kept: only JSON and form bodies are kept, with their secrets redacted)",
		len(body), cmp.Or(mt, "unknown type"))
}

// redactJSON replaces, in place, the value of every object member of v
// whose name is secret (see isSecretName) with "[redacted]", at any depth,
// and reports whether it replaced any.
func redactJSON(v any) bool {
	changed := false
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if isSecretName(k) {
				v[k], changed = Redacted, true
			} else if redactJSON(e) {
				changed = true
			}
		}
	case []any:
		for _, e := range v {
			if redactJSON(e) {
				changed = true
			}
		}
	}
	return changed
}
