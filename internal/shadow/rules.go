package shadow

import (
	"errors"
	"fmt"
	"net/textproto"
	"strings"
)

// Rules are one route's comparison settings, parsed from routes.yaml's
// shadow.headers and shadow.ignore. The zero value and a nil *Rules compare
// DefaultHeaders and ignore nothing. Rules are immutable once parsed and
// safe for concurrent use.
type Rules struct {
	compared   []string        // canonical response header names compared; nil means DefaultHeaders
	headers    map[string]bool // canonical header names left out of the comparison
	paths      [][]segment     // JSON paths removed from both bodies
	ignoreBody bool            // "body:$": the bodies are not compared at all
}

// DefaultHeaders are the response headers compared when a route's
// shadow.headers is empty or absent.
var DefaultHeaders = []string{"Content-Type"}

// ErrInvalidHeader is wrapped by every error NewRules and CheckHeaders
// return for a bad shadow.headers entry.
var ErrInvalidHeader = errors.New("invalid shadow header name")

// HeaderError reports one bad shadow.headers entry. Index is the entry's
// position in the list, so a config loader can point at its YAML line.
type HeaderError struct {
	Index int    // position of the entry in the headers list
	Name  string // the entry as written
	Err   error  // what is wrong
}

// Error names the entry and its index, then says what is wrong.
func (e *HeaderError) Error() string {
	return fmt.Sprintf("headers[%d] %q: %v", e.Index, e.Name, e.Err)
}

// Unwrap returns ErrInvalidHeader and the underlying reason.
func (e *HeaderError) Unwrap() []error { return []error{ErrInvalidHeader, e.Err} }

// CheckHeaders validates shadow.headers entries: each must be a valid HTTP
// field name (RFC 9110 token), no name may appear twice (names are
// case-insensitive), and Content-Encoding is refused because bodies are
// compared decoded and the two sides may legitimately compress
// differently. Errors are *HeaderError values, one per bad entry, joined
// with errors.Join; nil means every entry is good.
func CheckHeaders(names []string) error {
	var errs []error
	first := make(map[string]int, len(names))
	for i, name := range names {
		canon := textproto.CanonicalMIMEHeaderKey(name)
		var err error
		switch j, dup := first[canon]; {
		case name == "" || !isToken(name):
			err = errors.New("not a valid header name, want a name such as Content-Type or Cache-Control")
		case dup:
			err = fmt.Errorf("duplicate of headers[%d] %q (header names are case-insensitive)", j, names[j])
		case canon == "Content-Encoding":
			err = errors.New("not comparable: bodies are compared decoded, and the two sides may compress differently")
		default:
			first[canon] = i
			continue
		}
		errs = append(errs, &HeaderError{Index: i, Name: name, Err: err})
	}
	return errors.Join(errs...)
}

// NewRules returns the comparison settings of a route: headers are the
// response headers compared (shadow.headers; empty means DefaultHeaders),
// checked with CheckHeaders, and ignore the shadow.ignore entries, parsed as
// ParseRules does. A "header:Name" ignore entry removes Name from the
// compared headers; ignoring a header that is not compared is harmless.
// Errors are *HeaderError and *RuleError values joined with errors.Join.
func NewRules(headers, ignore []string) (*Rules, error) {
	herr := CheckHeaders(headers)
	r, rerr := ParseRules(ignore)
	if err := errors.Join(herr, rerr); err != nil {
		return nil, err
	}
	if len(headers) > 0 {
		r.compared = make([]string, len(headers))
		for i, name := range headers {
			r.compared[i] = textproto.CanonicalMIMEHeaderKey(name)
		}
	}
	return r, nil
}

// ComparedHeaders returns the canonical names of the response headers r
// compares, in order: the configured list (or DefaultHeaders) without the
// ignored ones. A nil r compares DefaultHeaders.
func (r *Rules) ComparedHeaders() []string {
	if r == nil {
		r = &noRules
	}
	names := r.compared
	if names == nil {
		names = DefaultHeaders
	}
	out := make([]string, 0, len(names))
	for _, name := range names {
		if !r.ignoresHeader(name) {
			out = append(out, name)
		}
	}
	return out
}

// ErrInvalidRule is wrapped by every error ParseRules returns for a bad
// entry.
var ErrInvalidRule = errors.New("invalid shadow ignore entry")

// RuleError reports one bad shadow.ignore entry. Index is the entry's
// position in the list, so a config loader can point at its YAML line.
type RuleError struct {
	Index int    // position of the entry in the ignore list
	Entry string // the entry as written
	Err   error  // what is wrong and what is expected
}

// Error names the entry and its index, then says what is expected.
func (e *RuleError) Error() string {
	return fmt.Sprintf("ignore[%d] %q: %v", e.Index, e.Entry, e.Err)
}

// Unwrap returns ErrInvalidRule and the underlying reason.
func (e *RuleError) Unwrap() []error { return []error{ErrInvalidRule, e.Err} }

// ParseRules parses shadow.ignore entries; the rules compare DefaultHeaders
// (see NewRules for a chosen list). Each entry is one of:
//
//	header:Name          leave response header Name out of the comparison
//	body:$.generated_at  remove a member from both JSON bodies
//	body:$.items[*].etag [*] (or .*) selects every array element or object key
//	body:$.items[0].price [n] selects one array element
//	body:$['odd key'].x  quoted keys for names with spaces, dots or quotes
//	body:$               do not compare the bodies at all
//
// Errors are *RuleError values, one per bad entry, joined with errors.Join.
func ParseRules(ignore []string) (*Rules, error) {
	r := &Rules{}
	var errs []error
	for i, entry := range ignore {
		if err := r.add(entry); err != nil {
			errs = append(errs, &RuleError{Index: i, Entry: entry, Err: err})
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return r, nil
}

// add parses one entry into r.
func (r *Rules) add(entry string) error {
	kind, arg, ok := strings.Cut(entry, ":")
	switch {
	case !ok:
		return errors.New(`want "body:$.path" or "header:Name"`)
	case kind == "header":
		if arg == "" || !isToken(arg) {
			return fmt.Errorf("bad header name %q, want a name such as \"header:Date\"", arg)
		}
		if r.headers == nil {
			r.headers = make(map[string]bool)
		}
		r.headers[textproto.CanonicalMIMEHeaderKey(arg)] = true
		return nil
	case kind == "body":
		segs, err := parsePath(arg)
		if err != nil {
			return err
		}
		if len(segs) == 0 {
			r.ignoreBody = true
			return nil
		}
		r.paths = append(r.paths, segs)
		return nil
	default:
		return fmt.Errorf(`unknown kind %q, want "body:$.path" or "header:Name"`, kind)
	}
}

// ignoresHeader reports whether the canonical header name is ignored.
func (r *Rules) ignoresHeader(name string) bool { return r.headers[name] }

// isToken reports whether s is a valid HTTP header field name (RFC 9110
// token).
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		if strings.IndexByte("!#$%&'*+-.^_`|~", c) < 0 {
			return false
		}
	}
	return true
}
