package shadow

import (
	"fmt"
	"strconv"
	"strings"
)

// segKind says what one step of a JSON path selects.
type segKind uint8

const (
	segKey   segKind = iota // one object key: .name or ['name']
	segIndex                // one array element: [3]
	segWild                 // every array element or every object key: [*] or .*
)

// segment is one step of a parsed JSON path.
type segment struct {
	kind  segKind
	key   string
	index int
}

// matchesKey reports whether s selects the object member named key.
func (s segment) matchesKey(key string) bool {
	return s.kind == segWild || (s.kind == segKey && s.key == key)
}

// matchesIndex reports whether s selects the array element at i.
func (s segment) matchesIndex(i int) bool {
	return s.kind == segWild || (s.kind == segIndex && s.index == i)
}

// parsePath parses a JSON path of the form $, $.a.b, $.items[*].etag,
// $.items[0], $['odd key'].x or $.map.* into its segments after the root.
func parsePath(p string) ([]segment, error) {
	if !strings.HasPrefix(p, "$") {
		return nil, fmt.Errorf("path %q must start with \"$\", as in \"$.items[*].etag\"", p)
	}
	var segs []segment
	for i := 1; i < len(p); {
		var (
			s   segment
			n   int
			err error
		)
		switch p[i] {
		case '.':
			s, n, err = parseDot(p, i)
		case '[':
			s, n, err = parseBracket(p, i)
		default:
			err = fmt.Errorf("path %q: unexpected %q at offset %d, want '.' or '['", p, p[i], i)
		}
		if err != nil {
			return nil, err
		}
		segs = append(segs, s)
		i += n
	}
	return segs, nil
}

// parseDot parses ".name" or ".*" starting at p[i] == '.' and returns the
// segment and the number of bytes it used.
func parseDot(p string, i int) (segment, int, error) {
	j := i + 1
	for j < len(p) && p[j] != '.' && p[j] != '[' {
		if strings.IndexByte(dotForbidden, p[j]) >= 0 {
			return segment{}, 0, fmt.Errorf("path %q: %q not allowed in a .key at offset %d, write ['...'] instead", p, p[j], j)
		}
		j++
	}
	key := p[i+1 : j]
	switch key {
	case "":
		return segment{}, 0, fmt.Errorf("path %q: empty key after '.' at offset %d", p, i)
	case "*":
		return segment{kind: segWild}, j - i, nil
	}
	return segment{kind: segKey, key: key}, j - i, nil
}

// dotForbidden lists the bytes a .key may not contain; such keys need the
// bracket form.
const dotForbidden = "]'\" \t\r\n"

// parseBracket parses "[*]", "[12]", "['key']" or "[\"key\"]" starting at
// p[i] == '[' and returns the segment and the number of bytes it used.
func parseBracket(p string, i int) (segment, int, error) {
	unterminated := fmt.Errorf("path %q: unterminated '[' at offset %d, want [*], [index] or ['key']", p, i)
	j := i + 1
	if j >= len(p) {
		return segment{}, 0, unterminated
	}
	var s segment
	switch c := p[j]; {
	case c == '*':
		s, j = segment{kind: segWild}, j+1
	case c >= '0' && c <= '9':
		k := j
		for k < len(p) && p[k] >= '0' && p[k] <= '9' {
			k++
		}
		digits := p[j:k]
		n, err := strconv.Atoi(digits)
		if err != nil || (len(digits) > 1 && digits[0] == '0') {
			return segment{}, 0, fmt.Errorf("path %q: bad index %q at offset %d, want a non-negative integer without leading zeros", p, digits, j)
		}
		s, j = segment{kind: segIndex, index: n}, k
	case c == '\'' || c == '"':
		key, n, ok := unquoteKey(p[j:])
		if !ok {
			return segment{}, 0, unterminated
		}
		s, j = segment{kind: segKey, key: key}, j+n
	default:
		return segment{}, 0, fmt.Errorf("path %q: unexpected %q at offset %d, want [*], [index] or ['key']", p, c, j)
	}
	if j >= len(p) {
		return segment{}, 0, unterminated
	}
	if p[j] != ']' {
		return segment{}, 0, fmt.Errorf("path %q: unexpected %q at offset %d, want ']'", p, p[j], j)
	}
	return s, j + 1 - i, nil
}

// unquoteKey reads a key quoted with s[0] (' or "), where a backslash makes
// the next byte literal. It returns the key and the bytes used, quotes
// included.
func unquoteKey(s string) (string, int, bool) {
	q := s[0]
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 == len(s) {
				return "", 0, false
			}
			i++
			b.WriteByte(s[i])
		case q:
			return b.String(), i + 1, true
		default:
			b.WriteByte(s[i])
		}
	}
	return "", 0, false
}

// step is one element of the path to a JSON value being compared.
type step struct {
	key   string
	index int // -1 for an object key
}

// renderPath writes the path in the syntax parsePath accepts, so a path
// reported in a Difference can be pasted into shadow.ignore as is.
func renderPath(steps []step) string {
	b := []byte{'$'}
	for _, s := range steps {
		if s.index >= 0 {
			b = append(b, '[')
			b = strconv.AppendInt(b, int64(s.index), 10)
			b = append(b, ']')
			continue
		}
		if isPlainKey(s.key) {
			b = append(b, '.')
			b = append(b, s.key...)
			continue
		}
		b = append(b, "['"...)
		for i := 0; i < len(s.key); i++ {
			if c := s.key[i]; c == '\'' || c == '\\' {
				b = append(b, '\\')
			}
			b = append(b, s.key[i])
		}
		b = append(b, "']"...)
	}
	return string(b)
}

// isPlainKey reports whether key can be written as .key: ASCII letters,
// digits, '_' and '-' only.
func isPlainKey(key string) bool {
	if key == "" {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
