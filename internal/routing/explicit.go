package routing

import (
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// zeroRule refuses one setting written with its zero value: 0, 0s, an
// empty string or []. yaml.v3 decodes such a value into the same zero as a
// key left out, and for these settings the zero stands for the default
// (or, for route methods, for every method), so `attempts: 0` would
// silently mean two attempts and `methods: []` every method: the opposite
// of what its writer meant. Settings whose zero is in their documented
// range (weight, shadow.percent, bulkhead.max_concurrent and max_waiting,
// fallback and breaker.disabled, retry.methods and shadow.ignore) have no
// rule; nor have those whose zero the checks refuse anyway (max_body).
type zeroRule struct {
	key  string // dotted from the upstream or route, such as "retry.attempts"
	hint string // why the zero is refused and what to write instead
	// unused, when set, reports whether the upstream's other settings leave
	// this one unused (the ratio of a disabled breaker, the wait of a
	// bulkhead without a queue, the backoff of one attempt): its zero then
	// means nothing and is not refused.
	unused func(u *UpstreamConfig) bool
}

// Conditions under which a group of settings is unused (zeroRule.unused).
var (
	breakerOff = func(u *UpstreamConfig) bool { return u.Breaker.Disabled }
	noQueue    = func(u *UpstreamConfig) bool { return u.Bulkhead.MaxWaiting == 0 }
	noRetries  = func(u *UpstreamConfig) bool { return u.Retry.Attempts == 1 }
)

// upstreamZeroRules are the zeroRules of an upstream's settings.
var upstreamZeroRules = []zeroRule{
	{"targets", "give at least one base URL, or leave targets out and set url", nil},
	{"timeout", "give a positive duration such as 5s, or leave timeout out for 30s", nil},
	{"health.path", "give a path such as /health, or leave path out for no active checks", nil},
	{"health.interval", "give a positive duration such as 2s, or leave interval out for 5s", nil},
	{"health.timeout", "give a positive duration such as 500ms, or leave timeout out for 1s (or interval, if shorter)", nil},
	{"health.healthy_after", "it counts passed checks, at least 1; leave healthy_after out for 2", nil},
	{"health.unhealthy_after", "it counts failures, at least 1; leave unhealthy_after out for 3", nil},
	{"breaker.consecutive_failures", "it counts failures, at least 1; leave consecutive_failures out for 5, or write disabled: true to turn the breaker off", breakerOff},
	{"breaker.failure_ratio", "the ratio is in (0, 1]; leave failure_ratio out for 0.5, or write disabled: true to turn the breaker off", breakerOff},
	{"breaker.min_requests", "it counts requests, at least 1; leave min_requests out for 20", breakerOff},
	{"breaker.window", "give a duration of at least 10ms, or leave window out for 10s", breakerOff},
	{"breaker.open_for", "give a positive duration such as 5s, or leave open_for out for 15s", breakerOff},
	{"breaker.half_open_requests", "it counts probes, at least 1; leave half_open_requests out for 3", breakerOff},
	{"bulkhead.max_wait", "a queued request needs time to wait; give a positive duration such as 50ms, leave max_wait out for 100ms, or write max_waiting: 0 for no queue", noQueue},
	{"retry.attempts", "attempts count the first try; write 1 to switch retries off, or leave attempts out for 2", nil},
	{"retry.backoff", "give a positive duration such as 10ms, or leave backoff out for 50ms", noRetries},
	{"retry.max_backoff", "give a positive duration, or leave max_backoff out for 1s (or backoff, if larger)", noRetries},
	{"retry.budget", "the budget is in (0, 1]; write attempts: 1 to switch retries off, or leave budget out for 0.2", noRetries},
}

// routeZeroRules are the zeroRules of a route and its shadow.
var routeZeroRules = []zeroRule{
	{"sticky", "give header:NAME or cookie:NAME, or leave sticky out to split at random", nil},
	{"methods", "it would move no method; leave methods out to move every method, or write weight: 0 to move none", nil},
	{"rewrite", "give a path such as /orders, or leave rewrite out to keep the path", nil},
	{"name", "give a name, or leave name out to name the route after its prefix", nil},
	{"shadow.methods", "it would copy no method; leave methods out to copy GET and HEAD, or write percent: 0 to copy none", nil},
	{"shadow.headers", `leave headers out to compare Content-Type, or add "header:Content-Type" to ignore to compare no header`, nil},
}

// refuseWrittenZeros reports each setting of rules that the file writes
// with its zero value under the node at p, which decodes into t; label
// names the upstream or route, and u is the upstream (nil for a route). It
// returns the keys it reported.
func refuseWrittenZeros(label string, p []any, t reflect.Type, rules []zeroRule, u *UpstreamConfig, at lines, fail failFunc) map[string]bool {
	refused := map[string]bool{}
	for _, r := range rules {
		if r.unused != nil && u != nil && r.unused(u) {
			continue
		}
		path := settingPath(p, r.key)
		if shown, ok := writtenZero(at.node(path...), fieldType(t, r.key)); ok {
			fail(path, "%s: %s: %s is not allowed: %s", label, r.key, shown, r.hint)
			refused[r.key] = true
		}
	}
	return refused
}

// writtenZero reports whether n, a value written in the file, decodes into
// the zero of t (an empty list for a list), and returns it as written.
// A null is left to emptyValues, and a value of the wrong type to the
// decoder.
func writtenZero(n *yaml.Node, t reflect.Type) (shown string, ok bool) {
	switch {
	case n == nil || t == nil:
		return "", false
	case n.Kind == yaml.SequenceNode:
		return "[]", t.Kind() == reflect.Slice && len(n.Content) == 0
	case n.Kind != yaml.ScalarNode || isNull(n):
		return "", false
	}
	v := reflect.New(t)
	if n.Decode(v.Interface()) != nil {
		return "", false
	}
	switch {
	case n.Value == "" && n.Style&yaml.DoubleQuotedStyle != 0:
		shown = `""`
	case n.Value == "":
		shown = "''"
	default:
		shown = n.Value
	}
	if e := v.Elem(); e.CanFloat() {
		return shown, e.Float() == 0 // -0.0 too, which is not IsZero
	}
	return shown, v.Elem().IsZero()
}

// fieldType returns the type of the field the dotted key names under t
// (pointers followed), or nil when there is none.
func fieldType(t reflect.Type, key string) reflect.Type {
	for part := range strings.SplitSeq(key, ".") {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return nil
		}
		f, ok := fieldOf(t, part)
		if !ok {
			return nil
		}
		t = f.Type
	}
	return t
}
