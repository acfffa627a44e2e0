package shadow

import (
	"errors"
	"fmt"
	"net/textproto"
	"strings"
)

// Rules are one route's comparison settings, parsed from routes.yaml's
// shadow.ignore. The zero value and a nil *Rules ignore nothing. Rules are
// immutable once parsed and safe for concurrent use.
type Rules struct {
	headers    map[string]bool // canonical header names left out of the comparison
	paths      [][]segment     // JSON paths removed from both bodies
	ignoreBody bool            // "body:$": the bodies are not compared at all
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

// ParseRules parses shadow.ignore entries. Each entry is one of:
//
//	header:Name          leave header Name out of the comparison
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
