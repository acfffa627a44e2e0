package routing

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// validate checks cfg after defaults have been applied and returns every
// problem at once, each naming the file and line.
func validate(cfg *Config, at lines) error {
	var errs []error
	fail := func(p []any, format string, args ...any) {
		errs = append(errs, at.errorf(p, format, args...))
	}

	if len(cfg.Upstreams) == 0 {
		fail([]any{"upstreams"}, "upstreams: at least the legacy upstream is required")
	}
	names := make([]string, 0, len(cfg.Upstreams))
	for name := range cfg.Upstreams {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		validateUpstream(name, cfg.Upstreams[name], fail)
	}

	// A key with a null value is a known upstream without a url; that is
	// reported once, by validateUpstream, not again as "unknown".
	_, legacyKnown := cfg.Upstreams[cfg.Legacy]
	switch {
	case cfg.Legacy == "":
		fail([]any{"legacy"}, "legacy: required: name the upstream that serves every request no route moves")
	case !legacyKnown && len(cfg.Upstreams) > 0:
		fail([]any{"legacy"}, "legacy: unknown upstream %q (known: %s)", cfg.Legacy, strings.Join(names, ", "))
	}

	for i, r := range cfg.Routes {
		p := []any{"routes", i}
		if r == nil {
			fail(p, "route %d: empty route", i+1)
			continue
		}
		validateRoute(cfg, i, r, fail)
		if r.Name == DefaultRouteName {
			fail(append(p, "name"), "route %d: name %q is reserved for the catch-all route", i+1, r.Name)
		}
	}
	validateOverlaps(cfg.Routes, at, fail)
	return errors.Join(errs...)
}

type failFunc func(path []any, format string, args ...any)

func validateUpstream(name string, u *UpstreamConfig, fail failFunc) {
	p := []any{"upstreams", name}
	if !validName(name) {
		fail(p, "upstream %q: names may hold only letters, digits, '-', '_' and '.'", name)
	}
	if u == nil {
		fail(p, "upstream %q: url is required", name)
		return
	}
	switch {
	case u.URL == "" && len(u.Targets) == 0:
		fail(p, "upstream %q: url is required (or targets, for several instances)", name)
	case u.URL != "" && len(u.Targets) > 0:
		fail(append(p, "targets"), "upstream %q: set url or targets, not both", name)
	case u.URL != "":
		if err := checkUpstreamURL(u.URL); err != nil {
			fail(append(p, "url"), "upstream %q: url %q: %v", name, u.URL, err)
		}
	}
	for i, t := range u.Targets {
		if err := checkUpstreamURL(t); err != nil {
			fail([]any{"upstreams", name, "targets", i}, "upstream %q: target %q: %v", name, t, err)
		}
	}
	if u.Timeout < 0 {
		fail(append(p, "timeout"), "upstream %q: timeout must not be negative, got %s", name, u.Timeout)
	}
	// The resilience settings check themselves; their messages name the
	// key (such as "breaker.failure_ratio"), reported at the block's line.
	s := u.Settings()
	if len(s.Targets) == 0 {
		return // reported above
	}
	for _, err := range unjoin(s.WithDefaults().Validate()) {
		key, _, _ := strings.Cut(err.Error(), ":")
		block, _, _ := strings.Cut(key, ".")
		block, _, _ = strings.Cut(block, "[")
		if block == "timeout" || block == "targets" && !strings.Contains(err.Error(), "duplicate") {
			continue // reported above, with the exact line
		}
		fail(append(p, block), "upstream %q: %v", name, err)
	}
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

func validateRoute(cfg *Config, i int, r *RouteConfig, fail failFunc) {
	p := []any{"routes", i}
	label := fmt.Sprintf("route %d", i+1)
	if r.Prefix != "" {
		label = fmt.Sprintf("route %q", r.Prefix)
	}

	switch {
	case r.Prefix == "":
		fail(p, "%s: prefix is required", label)
	case !cleanPrefix(r.Prefix):
		fail(append(p, "prefix"), "%s: prefix must start with '/' and hold no empty or dot segments, no trailing '/', no '?', '#' or '\\'", label)
	}

	_, serviceKnown := cfg.Upstreams[r.Service]
	switch {
	case r.Service == "":
		fail(p, "%s: service is required", label)
	case r.Service == cfg.Legacy:
		fail(append(p, "service"), "%s: service %q is the legacy upstream; a route moves traffic to an extracted service", label, r.Service)
	case !serviceKnown:
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
		fail(append(p, "rewrite"), "%s: rewrite must start with '/' and hold no empty or dot segments, no '?', '#' or '\\'", label)
	}

	if r.Shadow != nil {
		validateShadow(label, p, r.Shadow, fail)
	}

	if r.MaxBody != nil && *r.MaxBody <= 0 {
		fail(append(p, "max_body"), "%s: max_body must be at least 1B, got %d; leave it out for no limit", label, *r.MaxBody)
	}

	// Name defaults to the prefix: a missing or malformed prefix has been
	// reported above and is not reported again as a bad name.
	if (r.Name != r.Prefix || cleanPrefix(r.Prefix)) && !validName(r.Name) {
		fail(append(p, "name"), "%s: name %q may hold only letters, digits, '/', '-', '_', '.', ':' and '{}'", label, r.Name)
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

// cleanRewrite reports whether p is an absolute, clean path (a trailing
// slash is allowed).
func cleanRewrite(p string) bool {
	if p == "" || p[0] != '/' || strings.ContainsAny(p, "?#\\%\x00") {
		return false
	}
	trimmed := strings.TrimSuffix(p, "/")
	if trimmed == "" {
		return true
	}
	return path.Clean(trimmed) == trimmed
}

// validName reports whether s is safe as a metric label value and readable
// in logs.
func validName(s string) bool {
	if s == "" || len(s) > 128 {
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

// maxShadowBody bounds shadow.max_body: every shadowed request may hold
// two bodies of this size in memory until they are compared.
const maxShadowBody = 64 << 20

func validateShadow(label string, route []any, sh *ShadowConfig, fail failFunc) {
	p := append(route, "shadow")
	if w := *sh.Percent; !(w >= 0 && w <= 100) {
		fail(append(p, "percent"), "%s: shadow.percent must be between 0 and 100, got %v", label, w)
	}
	for j, m := range sh.Methods {
		if !validToken(m) {
			fail(append(p, "methods", j), "%s: shadow method %q is not a valid HTTP method token", label, m)
		}
	}
	if mb := *sh.MaxBody; mb <= 0 || mb > maxShadowBody {
		fail(append(p, "max_body"), "%s: shadow.max_body must be between 1B and %s, got %s", label, ByteSize(maxShadowBody), mb)
	}
	// One message per bad entry: each names the entry and why. (Only the
	// top level is split; a rule's own error keeps its context.)
	var ruleErrs []error
	if err := shadowRulesError(sh.Ignore); err != nil {
		ruleErrs = []error{err}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			ruleErrs = j.Unwrap()
		}
	}
	for _, err := range ruleErrs {
		fail(append(p, "ignore"), "%s: shadow.ignore: %v", label, err)
	}
}
