package routing

import (
	"net/http"
	"slices"
	"strings"

	"github.com/strangler-proxy/strangler/internal/shadow"
)

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

// validateShadowMethods reports each shadow method that a route limited
// to methods (upper-cased, empty meaning every method) never receives, and
// so never copies, at its line in shadow.methods (at the shadow key when
// the methods are the default, [GET, HEAD]). HEAD is let pass on a route
// that serves GET: both are the default, and such a route's GETs are
// still copied. validateRoute calls it for every route with a shadow.
func validateShadowMethods(label string, route []any, methods []string, sh *ShadowConfig, fail failFunc) {
	if len(methods) == 0 {
		return
	}
	for j, m := range sh.Methods {
		if slices.Contains(methods, m) || m == http.MethodHead && slices.Contains(methods, http.MethodGet) {
			continue
		}
		fail(append(slices.Clip(route), "shadow", "methods", j),
			"%s: shadow method %q is never copied: the route serves only %s; list in shadow.methods (default [GET, HEAD]) methods the route serves",
			label, m, strings.Join(methods, ", "))
	}
}

// shadowRulesError checks ignore rules for validate. Load has already
// reported bad entries at their lines as it decoded them (IgnoreEntries,
// which leaves the list empty then); this catches a ShadowConfig built
// otherwise.
func shadowRulesError(ignore []string) error {
	_, err := shadow.ParseRules(ignore)
	return err
}
