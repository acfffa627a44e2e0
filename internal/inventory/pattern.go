package inventory

const (
	// maxSegments is how many segments a pattern keeps before "/{...}".
	maxSegments = 8
	// idMinLen is the length from which any segment is an id; a kept
	// segment is at most idMinLen-1 bytes.
	idMinLen = 32
	// hexIDMinLen is the length from which a hex string holding a digit is
	// an id.
	hexIDMinLen = 12
	// idMinDigits is how many digits anywhere make a segment an id.
	idMinDigits = 3
	// maxPatternLen bounds the length of a pattern: 8 segments of at most
	// 31 bytes, each after a "/", then "/{...}".
	maxPatternLen = maxSegments*idMinLen + len(truncated)

	idSegment = "{id}"
	truncated = "/{...}"
)

// pathByte[b] is true for the bytes a pattern may show: the pchar of
// RFC 3986 (letters, digits, "-._~!$&'()*+,;=:@") without "%", since the path
// is decoded.
var pathByte = func() (t [256]bool) {
	for b := range t {
		c := byte(b)
		t[b] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
	}
	for _, c := range []byte("-._~!$&'()*+,;=:@") {
		t[c] = true
	}
	return t
}()

// AppendPattern appends the pattern of a cleaned request path to dst and
// returns it. The rules are in the package documentation. A pattern is at
// most 262 bytes, so a [262]byte or larger stack buffer never grows.
func AppendPattern(dst []byte, path string) []byte {
	segments := 0
	for i := 0; i < len(path); {
		if path[i] == '/' {
			i++
			continue
		}
		end := i + 1
		for end < len(path) && path[end] != '/' {
			end++
		}
		if segments == maxSegments {
			return append(dst, truncated...)
		}
		segments++
		dst = append(dst, '/')
		if seg := path[i:end]; isID(seg) {
			dst = append(dst, idSegment...)
		} else {
			dst = append(dst, seg...)
		}
		i = end
	}
	if segments == 0 || path[len(path)-1] == '/' {
		dst = append(dst, '/')
	}
	return dst
}

// Pattern returns the pattern of path (see AppendPattern). When the path is
// its own pattern, the path itself is returned without allocating.
func Pattern(path string) string {
	var buf [maxPatternLen]byte
	p := AppendPattern(buf[:0], path)
	if string(p) == path {
		return path
	}
	return string(p)
}

// isID reports whether a non-empty segment is shown as "{id}": it is long,
// holds a byte a pattern may not show, is all digits, holds idMinDigits
// digits or is a long enough hex string holding a digit.
func isID(seg string) bool {
	if len(seg) >= idMinLen {
		return true
	}
	digits, hex := 0, true
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		if !pathByte[c] {
			return true
		}
		switch {
		case '0' <= c && c <= '9':
			digits++
		case 'a' <= c && c <= 'f', 'A' <= c && c <= 'F':
		default:
			hex = false
		}
	}
	return digits == len(seg) || digits >= idMinDigits ||
		hex && digits > 0 && len(seg) >= hexIDMinLen
}
