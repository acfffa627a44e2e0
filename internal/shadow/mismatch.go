package shadow

import (
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// Mismatch is one recorded disagreement, ready for JSON at
// /api/shadow/{route}.
type Mismatch struct {
	Time        time.Time    `json:"time"`         // when the shadow answer was compared
	RequestID   string       `json:"request_id"`   // the request's X-Request-ID, if any
	Request     RequestInfo  `json:"request"`      // the request both sides answered
	PrimarySide string       `json:"primary_side"` // "legacy" or "extracted": who answered the client
	Primary     ResponseInfo `json:"primary"`      // the answer the client got
	Shadow      ResponseInfo `json:"shadow"`       // the answer the other side gave
	Differences []Difference `json:"differences"`  // what Compare found
}

// RequestInfo describes the request of a Mismatch. Build it with
// NewRequestInfo, which redacts the secrets.
type RequestInfo struct {
	Method string      `json:"method"`
	Path   string      `json:"path"`
	Query  string      `json:"query,omitempty"` // raw query, without '?', redacted with RedactQuery
	Header http.Header `json:"header"`          // redacted with Redact
}

// NewRequestInfo describes a request for a Mismatch: rawQuery (without '?')
// redacted with RedactQuery, header with Redact (a copy: header itself is
// left alone).
func NewRequestInfo(method, path, rawQuery string, header http.Header) RequestInfo {
	return RequestInfo{Method: method, Path: path, Query: RedactQuery(rawQuery), Header: Redact(header)}
}

// ResponseInfo describes one side's answer in a Mismatch.
type ResponseInfo struct {
	Status int         `json:"status"`
	Header http.Header `json:"header"` // redacted; as received, Content-Encoding included
	Body   string      `json:"body"`   // decoded when CompareEncoded could; at most MaxBodyInfo bytes, then "…(truncated)"
}

// MaxBodyInfo is the most body bytes a ResponseInfo keeps.
const MaxBodyInfo = 4 << 10

// truncatedMark ends a ResponseInfo body that was cut.
const truncatedMark = "…(truncated)"

// NewResponseInfo builds a ResponseInfo from a Response: headers redacted
// with Redact, body cut to MaxBodyInfo bytes on a UTF-8 boundary with
// "…(truncated)" appended (also when the proxy had already truncated it).
// Invalid UTF-8 in the body becomes U+FFFD.
func NewResponseInfo(r Response) ResponseInfo {
	body, cut := r.Body, r.Truncated
	if len(body) > MaxBodyInfo {
		i := MaxBodyInfo
		for i > MaxBodyInfo-utf8.UTFMax && i > 0 && !utf8.RuneStart(body[i]) {
			i--
		}
		if !utf8.RuneStart(body[i]) {
			i = MaxBodyInfo // not UTF-8 here anyway: cut at the limit
		}
		body, cut = body[:i], true
	}
	s := strings.ToValidUTF8(string(body), "\uFFFD")
	if cut {
		s += truncatedMark
	}
	return ResponseInfo{Status: r.Status, Header: Redact(r.Header), Body: s}
}
