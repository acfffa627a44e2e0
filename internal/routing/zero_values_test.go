package routing

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// zeroValuesYAML is a routes.yaml whose upstream "orders" (url at line 5)
// ends with the lines of upstream, from line 6, and whose one route
// (/api/orders, service at line 8 plus the upstream's extra lines) ends
// with the lines of route.
func zeroValuesYAML(upstream, route string) string {
	var b strings.Builder
	b.WriteString("legacy: monolith\nupstreams:\n  monolith: {url: \"http://127.0.0.1:18501\"}\n  orders:\n    url: http://127.0.0.1:18502\n")
	for l := range strings.Lines(upstream) {
		b.WriteString("    " + l)
	}
	b.WriteString("routes:\n  - prefix: /api/orders\n    service: orders\n")
	for l := range strings.Lines(route) {
		b.WriteString("    " + l)
	}
	return b.String()
}

// writeRoutes writes data to a routes.yaml of its own and returns its path.
func writeRoutes(t *testing.T, data string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "routes.yaml")
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestWrittenZerosRefused checks that a setting written with a zero (0,
// 0s, an empty string or []) that its documented range does not allow is
// refused, once, at its line, with what to write instead, rather than
// silently meaning its default: `attempts: 0` is not two attempts,
// `methods: []` is not every method.
func TestWrittenZerosRefused(t *testing.T) {
	const up, rt = `upstream "orders": `, `route "/api/orders": `
	for _, tc := range []struct {
		upstream, route string
		line            int
		want            string
	}{
		{"timeout: 0s\n", "", 6, up + "timeout: 0s is not allowed: give a positive duration such as 5s, or leave timeout out for 30s"},
		{"targets: []\n", "", 6, up + "targets: [] is not allowed: give at least one base URL, or leave targets out and set url"},
		{"health: {path: ''}\n", "", 6, up + "health.path: '' is not allowed: give a path such as /health, or leave path out for no active checks"},
		// One message: that interval needs a path follows from it.
		{"health: {path: '', interval: 2s}\n", "", 6, up + "health.path: '' is not allowed"},
		{"health: {path: /h, interval: 0s}\n", "", 6, up + "health.interval: 0s is not allowed: give a positive duration such as 2s, or leave interval out for 5s"},
		{"health:\n  path: /h\n  timeout: 0ms\n", "", 8, up + "health.timeout: 0ms is not allowed: give a positive duration such as 500ms, or leave timeout out for 1s (or interval, if shorter)"},
		{"health: {healthy_after: 0}\n", "", 6, up + "health.healthy_after: 0 is not allowed: it counts passed checks, at least 1; leave healthy_after out for 2"},
		{"health: {unhealthy_after: 0}\n", "", 6, up + "health.unhealthy_after: 0 is not allowed: it counts failures, at least 1; leave unhealthy_after out for 3"},
		{"breaker: {consecutive_failures: 0}\n", "", 6, up + "breaker.consecutive_failures: 0 is not allowed: it counts failures, at least 1; leave consecutive_failures out for 5, or write disabled: true to turn the breaker off"},
		{"breaker: {failure_ratio: 0}\n", "", 6, up + "breaker.failure_ratio: 0 is not allowed: the ratio is in (0, 1]; leave failure_ratio out for 0.5, or write disabled: true to turn the breaker off"},
		{"breaker: {failure_ratio: -0.0}\n", "", 6, up + "breaker.failure_ratio: -0.0 is not allowed: the ratio is in (0, 1]"},
		{"breaker: {min_requests: 0}\n", "", 6, up + "breaker.min_requests: 0 is not allowed: it counts requests, at least 1; leave min_requests out for 20"},
		{"breaker: {window: 0s}\n", "", 6, up + "breaker.window: 0s is not allowed: give a duration of at least 10ms, or leave window out for 10s"},
		{"breaker: {open_for: 0s}\n", "", 6, up + "breaker.open_for: 0s is not allowed: give a positive duration such as 5s, or leave open_for out for 15s"},
		{"breaker: {half_open_requests: 0}\n", "", 6, up + "breaker.half_open_requests: 0 is not allowed: it counts probes, at least 1; leave half_open_requests out for 3"},
		{"bulkhead: {max_concurrent: 5, max_waiting: 5, max_wait: 0s}\n", "", 6, up + "bulkhead.max_wait: 0s is not allowed: a queued request needs time to wait; give a positive duration such as 50ms, leave max_wait out for 100ms, or write max_waiting: 0 for no queue"},
		{"retry:\n  attempts: 0\n", "", 7, up + "retry.attempts: 0 is not allowed: attempts count the first try; write 1 to switch retries off, or leave attempts out for 2"},
		{"retry: {backoff: 0s}\n", "", 6, up + "retry.backoff: 0s is not allowed: give a positive duration such as 10ms, or leave backoff out for 50ms"},
		{"retry: {backoff: 2s, max_backoff: 0s}\n", "", 6, up + "retry.max_backoff: 0s is not allowed: give a positive duration, or leave max_backoff out for 1s (or backoff, if larger)"},
		{"retry: {budget: 0}\n", "", 6, up + "retry.budget: 0 is not allowed: the budget is in (0, 1]; write attempts: 1 to switch retries off, or leave budget out for 0.2"},
		{"", "sticky: ''\n", 9, rt + "sticky: '' is not allowed: give header:NAME or cookie:NAME, or leave sticky out to split at random"},
		{"", "sticky: \"\"\n", 9, rt + `sticky: "" is not allowed`},
		{"", "methods: []\n", 9, rt + "methods: [] is not allowed: it would move no method; leave methods out to move every method, or write weight: 0 to move none"},
		{"", "rewrite: ''\n", 9, rt + "rewrite: '' is not allowed: give a path such as /orders, or leave rewrite out to keep the path"},
		{"", "name: ''\n", 9, rt + "name: '' is not allowed: give a name, or leave name out to name the route after its prefix"},
		{"", "shadow:\n  methods: []\n", 10, rt + "shadow.methods: [] is not allowed: it would copy no method; leave methods out to copy GET and HEAD, or write percent: 0 to copy none"},
		{"", "shadow: {headers: []}\n", 9, rt + `shadow.headers: [] is not allowed: leave headers out to compare Content-Type, or add "header:Content-Type" to ignore to compare no header`},
	} {
		t.Run(strings.TrimSpace(tc.upstream+tc.route), func(t *testing.T) {
			path := writeRoutes(t, zeroValuesYAML(tc.upstream, tc.route))
			cfg, err := LoadFile(path)
			msgs := leafErrors(err)
			prefix := path + ":" + strconv.Itoa(tc.line) + ": " + tc.want
			if cfg != nil || len(msgs) != 1 || !strings.HasPrefix(msgs[0].Error(), prefix) {
				t.Errorf("LoadFile = %v\nwant only %q", err, prefix)
			}
		})
	}
}

// TestZerosInRangeAccepted checks that a zero the documented range
// allows keeps its meaning: no bulkhead queue, no extra retry methods, a
// route at weight 0, a paused shadow.
func TestZerosInRangeAccepted(t *testing.T) {
	path := writeRoutes(t, zeroValuesYAML(
		"bulkhead: {max_concurrent: 0, max_waiting: 0}\nretry: {methods: []}\nbreaker: {disabled: false}\n",
		"weight: 0\nfallback: false\nshadow: {percent: 0, ignore: []}\n"))
	cfg, err := LoadFile(path)
	if err != nil {
		t.Fatalf("LoadFile: %v", err)
	}
	r := cfg.Routes[0]
	if *r.Weight != 0 || *r.Fallback || *r.Shadow.Percent != 0 {
		t.Errorf("route = weight %v, fallback %v, shadow.percent %v; want 0, false, 0", *r.Weight, *r.Fallback, *r.Shadow.Percent)
	}
}

// TestUnusedZerosAccepted checks that a zero is not refused where the
// upstream's other settings leave it unused, so that no message tells the
// user to write what the file already says: the settings of a disabled
// breaker, the wait of a bulkhead without a queue, the backoff and budget
// of a single attempt.
func TestUnusedZerosAccepted(t *testing.T) {
	for _, upstream := range []string{
		"breaker: {disabled: true, failure_ratio: 0, consecutive_failures: 0, window: 0s}\n",
		"bulkhead: {max_concurrent: 10, max_waiting: 0, max_wait: 0s}\n",
		"bulkhead: {max_wait: 0s}\n",
		"retry: {attempts: 1, budget: 0, backoff: 0s, max_backoff: 0s}\n",
	} {
		t.Run(strings.TrimSpace(upstream), func(t *testing.T) {
			if _, err := LoadFile(writeRoutes(t, zeroValuesYAML(upstream, ""))); err != nil {
				t.Errorf("LoadFile: %v", err)
			}
		})
	}
}

// TestZeroRulesNameFields checks that every zeroRule names a field of the
// configuration: a misspelt key would refuse nothing.
func TestZeroRulesNameFields(t *testing.T) {
	for _, set := range []struct {
		t     reflect.Type
		rules []zeroRule
	}{
		{reflect.TypeFor[UpstreamConfig](), upstreamZeroRules},
		{reflect.TypeFor[RouteConfig](), routeZeroRules},
	} {
		for _, r := range set.rules {
			if fieldType(set.t, r.key) == nil {
				t.Errorf("%s: no field %q", set.t, r.key)
			}
		}
	}
}

// TestUpstreamURLOnce checks that a url or target the resilience layer
// refuses is reported, once, although the loader's own URL check passes
// it: an empty query or fragment. A URL both refuse is still one message.
func TestUpstreamURLOnce(t *testing.T) {
	const head = "legacy: monolith\nupstreams:\n  monolith: {url: \"http://127.0.0.1:18501\"}\n"
	for _, tc := range []struct{ name, upstream, want string }{
		{"empty query", "  c: {url: \"http://127.0.0.1:1?\"}\n",
			`:4: upstream "c": url "http://127.0.0.1:1?": user info, query and fragment are not allowed`},
		{"empty fragment", "  c: {url: \"http://127.0.0.1:1/#\"}\n",
			`:4: upstream "c": url "http://127.0.0.1:1/#": user info, query and fragment are not allowed`},
		{"target with empty query", "  c:\n    targets:\n      - http://127.0.0.1:18503\n      - http://127.0.0.1:18504?\n",
			`:7: upstream "c": target "http://127.0.0.1:18504?": user info, query and fragment are not allowed`},
		{"both refuse", "  c: {url: \"ftp://127.0.0.1:1\"}\n",
			`:4: upstream "c": url "ftp://127.0.0.1:1": scheme must be http or https`},
		{"duplicate target", "  c: {targets: [\"http://127.0.0.1:18503\", \"http://127.0.0.1:18503\"]}\n",
			`:4: upstream "c": targets[1]: duplicate target "http://127.0.0.1:18503"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeRoutes(t, head+tc.upstream)
			_, err := LoadFile(path)
			if msgs := leafErrors(err); len(msgs) != 1 || msgs[0].Error() != path+tc.want {
				t.Errorf("LoadFile = %v\nwant only %q", err, path+tc.want)
			}
		})
	}
}

// TestCountBounds checks that counts are refused outside 1..2147483647
// with one message naming that range, whatever the end they miss, and on
// 32-bit platforms as on 64-bit ones.
func TestCountBounds(t *testing.T) {
	for _, tc := range []struct {
		upstream string
		want     string // "" for none
	}{
		{"health: {healthy_after: 2147483647}\n", ""},
		{"health: {healthy_after: -1}\n", `:6: upstream "orders": health.healthy_after: -1 must be between 1 and 2147483647`},
		{"health: {healthy_after: 2147483648}\n", `:6: upstream "orders": health.healthy_after: 2147483648 is too large; at most 2147483647`},
		{"bulkhead: {max_concurrent: 0x100000000}\n", `:6: upstream "orders": bulkhead.max_concurrent: 4294967296 is too large; at most 2147483647`},
		{"breaker:\n  min_requests: 12345678901\n", `:7: upstream "orders": breaker.min_requests: 12345678901 is too large; at most 2147483647`},
		// Whole floats decode into an int where it holds them, so the
		// bound applies to them too.
		{"bulkhead: {max_concurrent: 1e10}\n", `:6: upstream "orders": bulkhead.max_concurrent: 10000000000 is too large; at most 2147483647`},
		{"bulkhead: {max_concurrent: 5, max_waiting: 3.0e9}\n", `:6: upstream "orders": bulkhead.max_waiting: 3000000000 is too large; at most 2147483647`},
		{"health: {unhealthy_after: 3e9}\n", `:6: upstream "orders": health.unhealthy_after: 3000000000 is too large; at most 2147483647`},
		{"bulkhead: {max_concurrent: 2.147483647e9}\n", ""},
	} {
		t.Run(strings.TrimSpace(tc.upstream), func(t *testing.T) {
			path := writeRoutes(t, zeroValuesYAML(tc.upstream, ""))
			_, err := LoadFile(path)
			msgs := leafErrors(err)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("LoadFile: %v", err)
			case tc.want != "" && (len(msgs) != 1 || msgs[0].Error() != path+tc.want):
				t.Errorf("LoadFile = %v\nwant only %q", err, path+tc.want)
			}
		})
	}
}
