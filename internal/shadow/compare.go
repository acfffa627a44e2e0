package shadow

import (
	"bytes"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Response is one side's answer as captured by the proxy. Body may be
// truncated when the proxy bounds what it reads: Truncated says so.
type Response struct {
	Status    int         // HTTP status code
	Header    http.Header // response headers
	Body      []byte      // the body as read, possibly cut short
	Truncated bool        // Body is a prefix of the real body
}

// Difference is one way two answers differ.
type Difference struct {
	// Path says what differs: "status", "header:Content-Type", a JSON path
	// such as "$.items[1].price" ("$" for the whole document, in the
	// syntax shadow.ignore accepts), "body" for bodies compared byte for
	// byte, or "..." for the marker that more differences were found.
	// Cut to about 1 KiB (only a huge member name makes it longer).
	Path string `json:"path"`

	// Primary and Shadow render each side's value in short human-readable
	// form: JSON for JSON values, "(absent)" for a missing member, lengths
	// and a snippet for raw bodies. Each is cut to about 200 bytes.
	Primary string `json:"primary"`
	Shadow  string `json:"shadow"`
}

// maxDifferences is the most differences Compare reports before it stops
// and appends the "..." marker.
const maxDifferences = 20

// maxRender bounds the length of Difference.Primary and .Shadow.
const maxRender = 200

// maxPathRender bounds the length of Difference.Path: a JSON path is
// short unless a member name is huge, and a path cut there could not be
// pasted into shadow.ignore anyway.
const maxPathRender = 1 << 10

// noRules ignores nothing; it stands in for a nil *Rules.
var noRules Rules

// Compare returns the differences between the primary answer (the one the
// client got) and the shadow answer; none (nil) means they match. r may be
// nil, meaning nothing is ignored.
//
// Differences come in a deterministic order: status, then headers, then the
// body. The headers compared are r.ComparedHeaders() (Content-Type by
// default), each in the configured order as the ordered list of its values
// (a header absent on one side differs from a present one); Content-Type
// values are compared with media type and parameters normalised
// ("application/json; charset=utf-8" equals "application/json;charset=UTF-8",
// and, since UTF-8 is JSON's only encoding, "application/json"), others
// exactly. A header difference names the header ("header:Date") and
// renders each side as its value, a list of quoted values when there are
// several, or "(absent)"; values of secret-bearing headers are shown as
// "[redacted]" (see Redact). Bodies are compared as given: Compare does not
// look at Content-Encoding (CompareEncoded decodes first). When either
// side is JSON by Content-Type (application/json, text/json or */*+json:
// a legacy answer labelled text/html still compares with the service's
// JSON, the Content-Type difference being reported unless ignored) and
// both bodies parse as JSON (valid UTF-8 without lone surrogate escapes,
// see parseJSON), the bodies are compared semantically: ignore paths are
// removed from both sides, object members are compared in sorted key order
// whatever their order in the body, numbers are compared as exact decimals
// (1, 1.0 and 1e0 are equal), and arrays element by element in index order,
// a length difference being reported once at the array's path first.
// Otherwise the bodies are compared byte for byte and reported as "body".
// After maxDifferences differences Compare stops and appends
// Difference{Path: "...", Primary: "(more differences)"}.
//
// Compare must not be called with a Truncated answer: the caller should skip
// the comparison. Defensively, Compare then returns a single "body"
// difference saying which side was truncated and compares nothing else.
func (r *Rules) Compare(primary, shadow Response) []Difference {
	if r == nil {
		r = &noRules
	}
	if primary.Truncated || shadow.Truncated {
		return []Difference{{Path: "body", Primary: truncNote(primary), Shadow: truncNote(shadow)}}
	}
	var c collector
	r.compareHead(&c, primary, shadow)
	if !r.ignoreBody {
		ctP, _ := headerValue(primary.Header, "Content-Type")
		ctS, _ := headerValue(shadow.Header, "Content-Type")
		r.compareBody(&c, primary.Body, shadow.Body, ctP, ctS)
	}
	return c.result()
}

// compareHead compares the status and the compared headers.
func (r *Rules) compareHead(c *collector, primary, shadow Response) {
	if primary.Status != shadow.Status {
		c.add("status", strconv.Itoa(primary.Status), strconv.Itoa(shadow.Status))
	}
	for _, name := range r.ComparedHeaders() {
		vp, vs := headerValues(primary.Header, name), headerValues(shadow.Header, name)
		if !sameValues(name, vp, vs) {
			c.add("header:"+name, renderValues(name, vp), renderValues(name, vs))
		}
	}
}

// sameValues reports whether two ordered lists of values of the canonical
// header name are equal: Content-Type values as normalised media types,
// others exactly. A header absent on one side (no values) differs from a
// present one, even with an empty value.
func sameValues(name string, a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] == b[i] {
			continue
		}
		if name != "Content-Type" || normMediaType(a[i]) != normMediaType(b[i]) {
			return false
		}
	}
	return true
}

// renderValues shows one side's values of a header in a Difference:
// "(absent)", the value itself, or the quoted values in brackets when there
// are several (or one empty one); secret-bearing values are redacted.
func renderValues(name string, vs []string) string {
	vs = redactValues(name, vs)
	switch {
	case len(vs) == 0:
		return absent
	case len(vs) == 1 && vs[0] != "":
		return vs[0]
	}
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = strconv.Quote(v)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// compareBody compares the bodies as JSON when either side says it is JSON
// and both parse, else as bytes.
func (r *Rules) compareBody(c *collector, a, b []byte, ctA, ctB string) {
	if bytes.Equal(a, b) {
		return // equal bytes are equal documents, whatever is ignored
	}
	if isJSONType(ctA) || isJSONType(ctB) {
		if va, ok := parseJSON(a); ok {
			if vb, ok := parseJSON(b); ok {
				compareJSON(c, r.paths, va, vb)
				return
			}
		}
	}
	off := 0
	for off < len(a) && off < len(b) && a[off] == b[off] {
		off++
	}
	c.add("body", describeBytes(a, off), describeBytes(b, off))
}

// collector gathers differences up to maxDifferences.
type collector struct {
	diffs []Difference
	more  bool // a difference past the cap was found
}

func (c *collector) full() bool { return len(c.diffs) >= maxDifferences }

func (c *collector) add(path, primary, shadow string) {
	if c.full() {
		c.more = true
		return
	}
	c.diffs = append(c.diffs, Difference{Path: clipTo(path, maxPathRender), Primary: clip(primary), Shadow: clip(shadow)})
}

func (c *collector) result() []Difference {
	if c.more {
		return append(c.diffs, Difference{Path: "...", Primary: "(more differences)"})
	}
	return c.diffs
}

// truncNote describes one side of a comparison refused for truncation.
func truncNote(r Response) string {
	if r.Truncated {
		return fmt.Sprintf("truncated after %d bytes", len(r.Body))
	}
	return fmt.Sprintf("%d bytes", len(r.Body))
}

// headerValue returns the first value of the named header, matching the
// name case-insensitively even in a hand-built http.Header.
func headerValue(h http.Header, canonical string) (string, bool) {
	if vs := headerValues(h, canonical); len(vs) > 0 {
		return vs[0], true
	}
	return "", false
}

// headerValues returns the values of the named header in order, matching
// the name case-insensitively even in a hand-built http.Header (where the
// canonical key wins, then the other spelling that sorts first, so that the
// choice does not depend on map order).
func headerValues(h http.Header, canonical string) []string {
	if v, ok := h[canonical]; ok && len(v) > 0 {
		return v
	}
	var key string
	var out []string
	for k, v := range h {
		if len(v) > 0 && strings.EqualFold(k, canonical) && (out == nil || k < key) {
			key, out = k, v
		}
	}
	return out
}

// normMediaType normalises a Content-Type value: lower-case type and
// parameter names, lower-case charset, sorted parameters, canonical spacing.
// On a JSON type (see isJSONType) charset=utf-8 is dropped: JSON is UTF-8
// (RFC 8259), so it says nothing. Values that do not parse are only
// trimmed and lower-cased.
func normMediaType(v string) string {
	mt, params, err := mime.ParseMediaType(v)
	if err != nil {
		return strings.ToLower(strings.TrimSpace(v))
	}
	if cs, ok := params["charset"]; ok {
		params["charset"] = strings.ToLower(cs)
		if isJSONMediaType(mt) && params["charset"] == "utf-8" {
			delete(params, "charset")
		}
	}
	if s := mime.FormatMediaType(mt, params); s != "" {
		return s
	}
	return strings.ToLower(strings.TrimSpace(v))
}

// Bytes of context shown before and after the first differing offset.
const (
	snippetBefore = 16
	snippetAfter  = 24
)

// describeBytes renders a raw body for a "body" difference: its length, the
// first offset where the two bodies differ and a quoted snippet around it.
func describeBytes(b []byte, off int) string {
	lo, hi := max(0, off-snippetBefore), min(len(b), off+snippetAfter)
	var s strings.Builder
	fmt.Fprintf(&s, "%d bytes, first difference at offset %d: ", len(b), off)
	if lo > 0 {
		s.WriteString("…")
	}
	s.WriteString(strconv.Quote(string(b[lo:hi])))
	switch {
	case off >= len(b):
		s.WriteString(" (end of body)")
	case hi < len(b):
		s.WriteString("…")
	}
	return s.String()
}

// clip cuts s to about maxRender bytes on a UTF-8 boundary, marking the cut
// with "…".
func clip(s string) string { return clipTo(s, maxRender) }

// clipTo cuts s to about limit bytes on a UTF-8 boundary, marking the cut
// with "…".
func clipTo(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	i := limit
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}
