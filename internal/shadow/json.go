package shadow

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// isJSONType reports whether a Content-Type value names JSON:
// application/json, text/json, or any */*+json type such as
// application/problem+json.
func isJSONType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && isJSONMediaType(mt)
}

// isJSONMediaType is isJSONType for a parsed, lower-case media type.
func isJSONMediaType(mt string) bool {
	return mt == "application/json" || mt == "text/json" || strings.HasSuffix(mt, "+json")
}

// parseJSON decodes b as exactly one JSON value, keeping numbers as
// json.Number literals. A text holding invalid UTF-8 or an escaped lone
// UTF-16 surrogate ("\ud800") is refused: the decoder would turn either
// into U+FFFD, and two different strings would then compare equal, so such
// bodies are compared byte for byte instead.
func parseJSON(b []byte) (any, bool) {
	if !utf8.Valid(b) || hasLoneSurrogate(b) {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false // trailing data
	}
	return v, true
}

// hasLoneSurrogate reports whether the JSON text b holds a \u escape of a
// UTF-16 surrogate that is not part of a pair: a high one (\ud800 to
// \udbff) not followed by an escaped low one (\udc00 to \udfff), or a low
// one on its own. A backslash outside a string is a syntax error that the
// decoder reports, so b is scanned as a whole.
func hasLoneSurrogate(b []byte) bool {
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		r, ok := escapedRune(b[i:])
		if !ok {
			i++ // skip the escaped byte: "\\" is not the start of an escape
			continue
		}
		i += 5 // at the escape's last digit, which the loop steps past
		switch {
		case r >= 0xdc00 && r <= 0xdfff:
			return true
		case r >= 0xd800 && r <= 0xdbff:
			low, ok := escapedRune(b[i+1:])
			if !ok || low < 0xdc00 || low > 0xdfff {
				return true
			}
			i += 6
		}
	}
	return false
}

// escapedRune decodes the \uXXXX escape at the start of b.
func escapedRune(b []byte) (rune, bool) {
	if len(b) < 6 || b[0] != '\\' || b[1] != 'u' {
		return 0, false
	}
	var r rune
	for _, c := range b[2:6] {
		if !ishex(c) {
			return 0, false
		}
		r = r<<4 | rune(unhex(c))
	}
	return r, true
}

// match is a partial match of an ignore path: rule's segments before pos
// have matched the steps taken so far.
type match struct{ rule, pos int }

// walker compares two decoded JSON documents, collecting differences.
type walker struct {
	out     *collector
	rules   [][]segment
	path    []step   // where the walk is
	matches []match  // stack of live partial matches, one region per level
	keys    []string // stack of sorted member names, one region per level
}

// compareJSON compares two decoded documents with the ignore paths removed
// from both.
func compareJSON(out *collector, rules [][]segment, a, b any) {
	w := &walker{out: out, rules: rules}
	for i := range rules {
		w.matches = append(w.matches, match{rule: i})
	}
	w.value(a, b, w.matches)
}

// add records a difference at the current path.
func (w *walker) add(primary, shadow string) {
	if w.out.full() {
		w.out.more = true
		return
	}
	w.out.add(renderPath(w.path), primary, shadow)
}

// value compares a and b, reached with the partial matches live.
func (w *walker) value(a, b any, live []match) {
	if w.out.more {
		return
	}
	switch av := a.(type) {
	case map[string]any:
		if bv, ok := b.(map[string]any); ok {
			w.object(av, bv, live)
			return
		}
	case []any:
		if bv, ok := b.([]any); ok {
			w.array(av, bv, live)
			return
		}
	case json.Number:
		if bv, ok := b.(json.Number); ok && numEqual(string(av), string(bv)) {
			return
		}
	case string:
		if bv, ok := b.(string); ok && av == bv {
			return
		}
	case bool:
		if bv, ok := b.(bool); ok && av == bv {
			return
		}
	case nil:
		if b == nil {
			return
		}
	}
	w.add(renderJSON(a), renderJSON(b))
}

// object compares two objects member by member in sorted key order.
func (w *walker) object(a, b map[string]any, live []match) {
	start := len(w.keys)
	for k := range a {
		w.keys = append(w.keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			w.keys = append(w.keys, k)
		}
	}
	keys := w.keys[start:]
	slices.Sort(keys)
	for _, k := range keys {
		next, ignored := w.advance(live, func(s segment) bool { return s.matchesKey(k) })
		if !ignored {
			av, aok := a[k]
			bv, bok := b[k]
			w.path = append(w.path, step{key: k, index: -1})
			switch {
			case !aok:
				w.add(absent, renderJSON(bv))
			case !bok:
				w.add(renderJSON(av), absent)
			default:
				w.value(av, bv, next)
			}
			w.path = w.path[:len(w.path)-1]
		}
		w.matches = w.matches[:len(w.matches)-len(next)]
		if w.out.more {
			break
		}
	}
	w.keys = w.keys[:start]
}

// array compares two arrays element by element. A length difference is
// reported once at the array's path, then the common prefix is compared.
// Lengths count only the elements left after ignore paths are removed.
func (w *walker) array(a, b []any, live []match) {
	lenA, lenB, all := len(a), len(b), false
	var seen []int
	for _, m := range live {
		r := w.rules[m.rule]
		if m.pos != len(r)-1 {
			continue
		}
		switch s := r[m.pos]; s.kind {
		case segWild:
			all = true
		case segIndex:
			if slices.Contains(seen, s.index) {
				continue
			}
			seen = append(seen, s.index)
			if s.index < len(a) {
				lenA--
			}
			if s.index < len(b) {
				lenB--
			}
		}
	}
	if all {
		return // every element removed from both sides
	}
	if lenA != lenB {
		w.add(arrayLen(len(a)), arrayLen(len(b)))
	}
	for i := range min(len(a), len(b)) {
		next, ignored := w.advance(live, func(s segment) bool { return s.matchesIndex(i) })
		if !ignored {
			w.path = append(w.path, step{index: i})
			w.value(a[i], b[i], next)
			w.path = w.path[:len(w.path)-1]
		}
		w.matches = w.matches[:len(w.matches)-len(next)]
		if w.out.more {
			break
		}
	}
}

// advance pushes the partial matches that survive one more step onto
// w.matches and returns them; ignored reports that some ignore path ends
// exactly here. The caller pops the returned matches when done.
func (w *walker) advance(live []match, hit func(segment) bool) (next []match, ignored bool) {
	start := len(w.matches)
	for _, m := range live {
		r := w.rules[m.rule]
		if !hit(r[m.pos]) {
			continue
		}
		if m.pos+1 == len(r) {
			ignored = true
			continue
		}
		w.matches = append(w.matches, match{rule: m.rule, pos: m.pos + 1})
	}
	return w.matches[start:], ignored
}

// absent renders the side of a member that is missing.
const absent = "(absent)"

func arrayLen(n int) string { return "array of length " + strconv.Itoa(n) }

// renderJSON renders a decoded value as compact JSON with sorted keys,
// cut to about maxRender bytes.
func renderJSON(v any) string {
	b := appendJSON(nil, v, maxRender)
	return clip(string(b))
}

// appendJSON appends v as compact JSON with sorted keys, stopping early
// once b is past limit bytes.
func appendJSON(b []byte, v any, limit int) []byte {
	if len(b) > limit {
		return b
	}
	switch v := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		return strconv.AppendBool(b, v)
	case json.Number:
		return append(b, v...)
	case string:
		return appendString(b, v)
	case []any:
		b = append(b, '[')
		for i, e := range v {
			if i > 0 {
				b = append(b, ',')
			}
			if b = appendJSON(b, e, limit); len(b) > limit {
				return b
			}
		}
		return append(b, ']')
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(appendString(b, k), ':')
			if b = appendJSON(b, v[k], limit); len(b) > limit {
				return b
			}
		}
		return append(b, '}')
	}
	return append(b, "?"...) // not produced by parseJSON
}

// appendString appends s as a JSON string without HTML escaping.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\t':
			b = append(b, '\\', 't')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
