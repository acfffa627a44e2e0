package inventory

const (
	// maxSegments is how many segments a pattern keeps before "/{...}".
	maxSegments = 8
	// maxSegLen is the longest segment kept literally, in bytes; a longer
	// one is an id.
	maxSegLen = 24
	// hexIDMinLen is the length from which a hex string holding a digit is
	// an id.
	hexIDMinLen = 12
	// idMinDigits is how many digits anywhere make a segment an id.
	idMinDigits = 3
	// maxCapitals is how many capital letters a mixed-case segment may
	// hold and stay literal ("getUserById" has 3).
	maxCapitals = 3
	// maxPatternLen bounds the length of a pattern: 8 segments of at most
	// maxSegLen bytes, each after a "/", then "/{...}".
	maxPatternLen = maxSegments*(1+maxSegLen) + len(truncated)

	idSegment = "{id}"
	truncated = "/{...}"
)

// wordByte[b] is true for the bytes a literal segment may hold besides one
// "." before a known extension: ASCII letters, digits, "-" and "_".
var wordByte = func() (t [256]bool) {
	for b := range t {
		c := byte(b)
		t[b] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
	}
	return t
}()

// knownExtension reports whether ext (without the dot) is a file extension
// legacy applications put in their routes ("orders.php", "Default.aspx"),
// the only case where a literal segment may hold a ".".
func knownExtension(ext string) bool {
	switch ext {
	case "html", "htm", "xhtml", "php", "jsp", "jspx", "do", "action", "asp", "aspx", "ashx", "asmx",
		"cgi", "pl", "cfm", "js", "css", "json", "xml", "txt", "csv", "pdf", "ico", "png", "jpg", "jpeg",
		"gif", "svg", "woff", "woff2", "map":
		return true
	}
	return false
}

// AppendPattern appends the pattern of a cleaned request path to dst and
// returns it. The rules are in the package documentation. A pattern is at
// most 206 bytes, so a [206]byte or larger stack buffer never grows.
//
// AppendPattern applies the character rules only; an Inventory also
// applies the fan-out rule, which needs the traffic seen so far.
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

// isID reports whether a non-empty segment is shown as "{id}" rather than
// literally. A segment is literal only when it looks like a word of a
// route: at most maxSegLen bytes of ASCII letters, digits, "-" and "_",
// optionally followed by one "." and a known extension; not all digits,
// fewer than idMinDigits digits, not a long hex string holding a digit, and
// when it mixes cases, at most maxCapitals capitals, no two in a row.
func isID(seg string) bool {
	if len(seg) > maxSegLen {
		return true
	}
	name := seg
	for i := 0; i < len(seg); i++ {
		if seg[i] == '.' {
			if i == 0 || !knownExtension(seg[i+1:]) {
				return true
			}
			name = seg[:i]
			break
		}
	}
	digits, lower, upper, hex := 0, 0, 0, true
	prevUpper, adjacentUpper := false, false
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !wordByte[c] {
			return true
		}
		isUpper := 'A' <= c && c <= 'Z'
		switch {
		case '0' <= c && c <= '9':
			digits++
		case 'a' <= c && c <= 'f', 'A' <= c && c <= 'F':
		default:
			hex = false
		}
		switch {
		case isUpper:
			upper++
			adjacentUpper = adjacentUpper || prevUpper
		case 'a' <= c && c <= 'z':
			lower++
		}
		prevUpper = isUpper
	}
	if lower > 0 && upper > 0 && (upper > maxCapitals || adjacentUpper) {
		return true
	}
	return digits == len(name) || digits >= idMinDigits ||
		hex && digits > 0 && len(name) >= hexIDMinLen
}
