package routing

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/strangler-proxy/strangler/internal/resilience"
)

// validate checks cfg after defaults have been applied and returns every
// problem at once, each naming the file and line.
func validate(cfg *Config, at lines) error {
	var errs []error
	fail := func(p []any, format string, args ...any) {
		errs = append(errs, at.errorf(p, format, args...))
	}

	ups := newUpstreamNames(cfg, at)
	if len(cfg.Upstreams) == 0 && !ups.broken && len(ups.written) == 0 {
		fail([]any{"upstreams"}, "upstreams: at least the legacy upstream is required")
	}
	names := make([]string, 0, len(cfg.Upstreams))
	for name := range cfg.Upstreams {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		validateUpstream(name, cfg.Upstreams[name], at, fail)
	}

	switch {
	case cfg.Legacy == "":
		if at.missing("legacy") {
			fail([]any{"legacy"}, "legacy: required: name the upstream that serves every request no route moves")
		}
	case ups.unknown(cfg.Legacy):
		fail([]any{"legacy"}, "legacy: unknown upstream %q (known: %s)", cfg.Legacy, strings.Join(names, ", "))
	}

	for i, r := range cfg.Routes {
		p := []any{"routes", i}
		if r == nil {
			// A null item; anything else was dropped by the decoder,
			// which reported its type.
			if n := at.node(p...); n == nil || isNull(n) {
				fail(p, "route %d: empty route", i+1)
			}
			continue
		}
		validateRoute(cfg, i, r, ups, at, fail)
		if r.Name == DefaultRouteName {
			fail(append(p, "name"), "route %d: name %q is reserved for the catch-all route", i+1, r.Name)
		}
	}
	validateOverlaps(cfg.Routes, at, fail)
	return errors.Join(errs...)
}

type failFunc func(path []any, format string, args ...any)

// upstreamNames tells which upstream names a route or legacy may use.
type upstreamNames struct {
	decoded map[string]*UpstreamConfig
	// written holds the names in the file, including those whose value
	// failed to decode (reported as a type error, not as unknown).
	written map[string]bool
	// broken is set when upstreams is written but is not a mapping (a
	// type error, or empty): every name is then unknowable.
	broken bool
}

func newUpstreamNames(cfg *Config, at lines) upstreamNames {
	n := at.node("upstreams")
	return upstreamNames{
		decoded: cfg.Upstreams,
		written: at.keys("upstreams"),
		broken:  n != nil && n.Kind != yaml.MappingNode,
	}
}

// unknown reports whether name is certainly not an upstream. A key with a
// null value is a known upstream without a url; that is reported once, by
// validateUpstream, not again as "unknown".
func (u upstreamNames) unknown(name string) bool {
	_, decoded := u.decoded[name]
	return !decoded && !u.written[name] && !u.broken && (len(u.decoded) > 0 || len(u.written) > 0)
}

func validateUpstream(name string, u *UpstreamConfig, at lines, fail failFunc) {
	p := []any{"upstreams", name}
	label := fmt.Sprintf("upstream %q", name)
	if !validUpstreamName(name) {
		fail(p, "%s: names may hold only letters, digits, '-', '_' and '.'", label)
	}
	if n := utf8.RuneCountInString(name); n > maxNameLen {
		fail(p, "%s: name is %d characters long; at most %d", label, n, maxNameLen)
	}
	if u == nil {
		fail(p, "%s: url is required", label)
		return
	}
	zeros := refuseWrittenZeros(label, p, reflect.TypeFor[UpstreamConfig](), upstreamZeroRules, u, at, fail)
	badTargets := validateUpstreamURLs(label, p, u, at, fail)
	if u.Timeout < 0 {
		fail(append(p, "timeout"), "%s: timeout must not be negative, got %s", label, u.Timeout)
	}
	tooLarge := tooLargeCounts(name, p, at, fail)

	// The resilience settings check themselves; their messages name the
	// key (such as "breaker.failure_ratio"), reported at that key's line
	// (or its block's, when the key is left out).
	s := u.Settings()
	if len(s.Targets) == 0 {
		return // reported above
	}
	for _, err := range unjoin(s.Validate()) {
		key, _, _ := strings.Cut(err.Error(), ":")
		block, idx, _ := strings.Cut(key, "[") // "targets[2]"
		block, _, _ = strings.Cut(block, ".")
		switch i, _ := strconv.Atoi(strings.TrimSuffix(idx, "]")); {
		case block == "timeout" || tooLarge[key]:
			// reported above, with the exact line
		case key == "health" && zeros["health.path"]:
			// "interval and timeout need a path": path: '' is reported
			// above, and this follows from it
		case block == "targets" && errors.Unwrap(err) != nil:
			// A target's own problem (a duplicate wraps none): reported
			// above in the words of a url, unless only the resilience
			// check refuses it (an empty "?" or "#").
			switch target := errors.Unwrap(err); {
			case badTargets[i]:
			case u.URL != "":
				fail(append(p, "url"), "%s: url %v", label, target)
			default:
				fail(settingPath(p, key), "%s: target %v", label, target)
			}
		default:
			fail(settingPath(p, key), "%s: %v", label, err)
		}
	}
}

// validateUpstreamURLs checks the url or targets of the upstream at p and
// returns the indexes, in the targets the upstream's Settings hold (the
// url is target 0), of those it reported.
func validateUpstreamURLs(label string, p []any, u *UpstreamConfig, at lines, fail failFunc) map[int]bool {
	bad := map[int]bool{}
	switch {
	case u.URL == "" && len(u.Targets) == 0:
		// A url or targets of the wrong type is reported by the decoder,
		// and targets: [] by refuseWrittenZeros.
		if at.missing(append(p, "url")...) && at.node(append(p, "targets")...) == nil {
			fail(p, "%s: url is required (or targets, for several instances)", label)
		}
	case u.URL != "" && len(u.Targets) > 0:
		fail(append(p, "targets"), "%s: set url or targets, not both", label)
		bad[0] = true // the url's own problems can wait for the choice
	case u.URL != "":
		if err := checkUpstreamURL(u.URL); err != nil {
			fail(append(p, "url"), "%s: url %q: %v", label, resilience.RedactURL(u.URL), err)
			bad[0] = true
		}
	}
	for i, t := range u.Targets {
		if err := checkUpstreamURL(t); err != nil {
			fail(append(p, "targets", i), "%s: target %q: %v", label, resilience.RedactURL(t), err)
			bad[i] = true
		}
	}
	return bad
}

// settingPath turns a resilience settings key such as "breaker.window",
// "targets[1]" or "retry.methods[0]" into the path of its node under the
// upstream at p. Indexes are the file's: resilience checks a list as given,
// before sorting it.
func settingPath(p []any, key string) []any {
	path := slices.Clip(p)
	for part := range strings.SplitSeq(key, ".") {
		name, idx, hasIdx := strings.Cut(part, "[")
		path = append(path, name)
		if i, err := strconv.Atoi(strings.TrimSuffix(idx, "]")); hasIdx && err == nil {
			path = append(path, i)
		}
	}
	return path
}

// unjoin flattens an errors.Join tree into its leaves; nil gives none.
func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unjoin(e)...)
		}
		return out
	}
	return []error{err}
}

func checkUpstreamURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) && strings.Contains(ue.Err.Error(), "invalid port") {
			return errors.New("port must be a number from 1 to 65535")
		}
		return errors.New("not a valid URL")
	}
	if err := checkPort(u); err != nil {
		return err
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("scheme must be http or https")
	case u.Host == "" || u.Hostname() == "":
		return errors.New("host is required")
	case u.User != nil:
		return errors.New("credentials in the URL are not supported")
	case u.RawQuery != "" || u.Fragment != "":
		return errors.New("query and fragment are not allowed")
	}
	return nil
}

// checkPort accepts a URL without a port or with a port from 1 to 65535.
func checkPort(u *url.URL) error {
	port := u.Port()
	if port == "" && !strings.HasSuffix(u.Host, ":") {
		return nil
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return errors.New("port must be a number from 1 to 65535")
	}
	return nil
}

func validateRoute(cfg *Config, i int, r *RouteConfig, ups upstreamNames, at lines, fail failFunc) {
	p := []any{"routes", i}
	label := fmt.Sprintf("route %d", i+1)
	if r.Prefix != "" {
		label = fmt.Sprintf("route %q", r.Prefix)
	}
	refuseWrittenZeros(label, p, reflect.TypeFor[RouteConfig](), routeZeroRules, nil, at, fail)

	// A prefix or service written empty or of the wrong type is reported
	// already (see missing).
	switch {
	case r.Prefix == "":
		if at.missing(append(p, "prefix")...) {
			fail(p, "%s: prefix is required", label)
		}
	case !cleanPrefix(r.Prefix):
		fail(append(p, "prefix"), "%s: prefix must start with '/' and hold no empty or dot segments, no trailing '/', no %s", label, refusedPathCharNames)
	}

	switch {
	case r.Service == "":
		if at.missing(append(p, "service")...) {
			fail(p, "%s: service is required", label)
		}
	case r.Service == cfg.Legacy:
		fail(append(p, "service"), "%s: service %q is the legacy upstream; a route moves traffic to an extracted service", label, r.Service)
	case ups.unknown(r.Service):
		fail(append(p, "service"), "%s: unknown upstream %q", label, r.Service)
	}

	if w := *r.Weight; w < 0 || w > 100 || w != w {
		fail(append(p, "weight"), "%s: weight must be between 0 and 100, got %v", label, w)
	}

	if r.Sticky != "" {
		if _, _, err := parseSticky(r.Sticky); err != nil {
			fail(append(p, "sticky"), "%s: sticky %q: %v", label, r.Sticky, err)
		}
	}

	for j, m := range r.Methods {
		if !validToken(m) {
			fail([]any{"routes", i, "methods", j}, "%s: method %q is not a valid HTTP method token", label, m)
		}
	}

	if r.Rewrite != "" && !cleanRewrite(r.Rewrite) {
		fail(append(p, "rewrite"), "%s: rewrite must start with '/' and hold no empty or dot segments, no %s", label, refusedPathCharNames)
	}

	if r.Shadow != nil {
		validateShadow(label, p, r.Shadow, fail)
		validateShadowMethods(label, p, r.Methods, r.Shadow, fail)
	}

	if r.MaxBody != nil && *r.MaxBody <= 0 {
		fail(append(p, "max_body"), "%s: max_body must be at least 1B, got %d; leave it out for no limit", label, *r.MaxBody)
	}

	// A name written in the file must keep to the documented characters.
	// Without one the route is named after its prefix, whatever characters
	// that holds (/~jdoe, /api/users/@me, /api/café: metric labels, logs
	// and the admin API take any UTF-8), except characters that cannot be
	// read in a log or sent in the X-Strangler-Route header. A missing or
	// malformed prefix has been reported above and is not reported again.
	switch {
	case at.written(append(p, "name")...):
		if !validName(r.Name) {
			fail(append(p, "name"), "%s: name %q may hold only letters, digits, '/', '-', '_', '.', ':' and '{}'", label, r.Name)
		}
		if n := utf8.RuneCountInString(r.Name); n > maxNameLen {
			fail(append(p, "name"), "%s: name is %d characters long; at most %d", label, n, maxNameLen)
		}
	case cleanPrefix(r.Prefix) && !readableName(r.Prefix):
		fail(append(p, "prefix"), "%s: the prefix holds control or invisible characters, so it cannot name the route; set name: (letters, digits, '/', '-', '_', '.', ':' and '{}')", label)
	}
}

// validateOverlaps rejects two routes with the same prefix whose methods
// overlap (one of them could never match), and two routes with the same
// name (their metrics would mix).
func validateOverlaps(routes []*RouteConfig, at lines, fail failFunc) {
	for i, a := range routes {
		if a == nil {
			continue
		}
		for j, b := range routes[:i] {
			if b == nil {
				continue
			}
			samePrefix := a.Prefix == b.Prefix && a.Prefix != ""
			switch {
			case samePrefix && methodsOverlap(a.Methods, b.Methods):
				fail([]any{"routes", i}, "route %q: same prefix and overlapping methods as the route on line %d; one of them could never match", a.Prefix, at.line("routes", j))
			case a.Name == b.Name && samePrefix:
				fail([]any{"routes", i}, "route %q: shares its prefix with the route on line %d; give each a distinct name", a.Prefix, at.line("routes", j))
			case a.Name == b.Name && a.Name != "":
				fail([]any{"routes", i, "name"}, "route %q: duplicate name %q, already used by the route on line %d", a.Prefix, a.Name, at.line("routes", j))
			}
		}
	}
}

func methodsOverlap(a, b []string) bool {
	if len(a) == 0 || len(b) == 0 {
		return true
	}
	for _, m := range a {
		if slices.Contains(b, m) {
			return true
		}
	}
	return false
}

// cleanPrefix reports whether p is a usable route prefix.
func cleanPrefix(p string) bool {
	if p == "/" {
		return true
	}
	return cleanRewrite(p) && !strings.HasSuffix(p, "/")
}

// refusedPathChars are the characters a prefix or rewrite may not hold,
// and refusedPathCharNames names them for messages.
const (
	refusedPathChars     = "?#%\\\x00"
	refusedPathCharNames = `'?', '#', '%', '\' or NUL`
)

// cleanRewrite reports whether p is an absolute, clean path (a trailing
// slash is allowed).
func cleanRewrite(p string) bool {
	if p == "" || p[0] != '/' || strings.ContainsAny(p, refusedPathChars) {
		return false
	}
	trimmed := strings.TrimSuffix(p, "/")
	if trimmed == "" {
		return true
	}
	return path.Clean(trimmed) == trimmed
}

// validUpstreamName reports whether s is a valid upstream name: letters,
// digits, '-', '_' and '.' (it is the upstream label of metrics).
func validUpstreamName(s string) bool {
	return validName(s) && !strings.ContainsAny(s, "/:{}")
}

// readableName reports whether s, a prefix serving as a route's name, can
// be read in logs and sent in a header: letters, marks, digits,
// punctuation, symbols and spaces only (no control or format characters).
func readableName(s string) bool {
	for _, c := range s {
		if !unicode.IsGraphic(c) {
			return false
		}
	}
	return true
}

// maxNameLen bounds the length, in characters, of route and upstream
// names: they are metric label values.
const maxNameLen = 128

// validName reports whether s, a route name given in the file, holds only
// characters safe in a metric label value and readable in logs. Its length
// is checked apart (maxNameLen), for a message of its own.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.ContainsRune("-_./:{}", c):
		default:
			return false
		}
	}
	return true
}

// validToken reports whether m is an HTTP method token (RFC 9110 tchar).
func validToken(m string) bool {
	if m == "" {
		return false
	}
	for _, c := range m {
		if c > 127 || !strings.ContainsRune("!#$%&'*+-.^_`|~", c) && !(c >= '0' && c <= '9') && !(c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}
