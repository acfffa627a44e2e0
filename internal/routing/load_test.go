package routing

import (
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// wantErr is one expected message: the line it must name and a substring.
type wantErr struct {
	line int
	msg  string
}

// badFiles lists every testdata/*.bad.yaml with every message Load must
// report for it, at once and nothing else.
var badFiles = []struct {
	file string
	want []wantErr
}{
	{"empty.bad.yaml", []wantErr{{1, "empty configuration"}}},
	{"comments_only.bad.yaml", []wantErr{{1, "empty configuration"}}},
	{"syntax.bad.yaml", []wantErr{{7, "mapping values are not allowed"}}},
	{"four_problems.bad.yaml", []wantErr{
		{9, "field timout not found"},
		{14, "weight must be between 0 and 100, got 150"},
		{16, `unknown upstream "payments"`},
		{18, `service "monolith" is the legacy upstream`},
	}},
	{"unknown_key.bad.yaml", []wantErr{
		{5, "field timout not found"},
		{11, "field wieght not found"},
		{12, "field extra not found"},
	}},
	{"wrong_type.bad.yaml", []wantErr{
		{5, "`30`"},
		{8, "`soon`"},
		{12, "`half`"},
		{13, "`GET`"},
	}},
	{"weight.bad.yaml", []wantErr{
		{10, "weight must be between 0 and 100, got 100.01"},
		{13, "weight must be between 0 and 100, got -1"},
		{16, "weight must be between 0 and 100, got NaN"},
		{19, "weight must be between 0 and 100, got +Inf"},
	}},
	{"unknown_upstream.bad.yaml", []wantErr{{7, `route "/api/orders": unknown upstream "orders"`}}},
	{"legacy_route.bad.yaml", []wantErr{{7, `service "monolith" is the legacy upstream`}}},
	{"legacy_missing.bad.yaml", []wantErr{{1, "legacy: required"}}},
	{"legacy_unknown.bad.yaml", []wantErr{{1, `legacy: unknown upstream "monolit"`}}},
	{"no_upstreams.bad.yaml", []wantErr{{2, "upstreams: at least the legacy upstream is required"}}},
	{"url.bad.yaml", []wantErr{
		{4, `upstream "monolith": url "ftp://127.0.0.1:8401": scheme must be http or https`},
		{6, `upstream "a": url "http://": host is required`},
		{8, `upstream "b": url "http://xxxxx@127.0.0.1:1": credentials in the URL are not supported`},
		{10, `upstream "c": url "http://127.0.0.1:1/?x=1": query and fragment are not allowed`},
		{12, `upstream "d": url "::": not a valid URL`},
		{14, `upstream "e": url "127.0.0.1:8080"`},
		{15, `upstream "f": url is required`},
		{19, `upstream "g": timeout must not be negative`},
	}},
	// A null upstream is known but has no url: one message each, and
	// neither legacy nor the route calls it unknown.
	{"null_upstream.bad.yaml", []wantErr{
		{3, `upstream "monolith": url is required`},
		{4, `upstream "orders": url is required`},
	}},
	// One message per bad prefix, none about the name it defaults to.
	{"prefix.bad.yaml", []wantErr{
		{8, `route "api/orders": prefix must start with '/'`},
		{10, `route "/api/orders/": prefix must`},
		{12, `route "/api/../admin": prefix must`},
		{14, `route "/api//orders": prefix must`},
		{16, `route "/api/%2e%2e": prefix must`},
		{18, `route "/api?x": prefix must`},
		{20, `route "/api\\orders": prefix must`},
	}},
	// A missing prefix is one problem: not also a bad or duplicate name.
	{"missing_fields.bad.yaml", []wantErr{
		{8, "route 1: prefix is required"},
		{10, "route 2: prefix is required"},
		{12, `route "/api/orders": service is required`},
	}},
	{"sticky.bad.yaml", []wantErr{
		{10, `sticky "X-Customer-ID": want "header:NAME" or "cookie:NAME"`},
		{13, `sticky "query:customer": want "header:NAME" or "cookie:NAME"`},
		{16, `sticky "header:": name must be a non-empty header or cookie name`},
		{19, `sticky "cookie:a b": name must be a non-empty header or cookie name`},
	}},
	{"rewrite_methods_names.bad.yaml", []wantErr{
		{5, `upstream "my orders": names may hold only`},
		{12, `route "/a": rewrite must start with '/'`},
		{15, `route "/b": rewrite must start with '/'`},
		{18, `route "/c": method "GET POST" is not a valid HTTP method token`},
		{18, `route "/c": method "" is not a valid HTTP method token`},
		{21, `route "/d": name "d route" may hold only`},
	}},
	{"reserved_name.bad.yaml", []wantErr{{10, `name "default" is reserved`}}},
	{"overlap.bad.yaml", []wantErr{
		{12, `route "/api/orders": same prefix and overlapping methods as the route on line 8`},
		{19, `route "/api/items": same prefix and overlapping methods as the route on line 16`},
	}},
	// Each repeated key is one message naming both lines; the mapping that
	// holds it is still checked (the typo at line 7, the one in the repeat
	// at line 13), and nothing cascades: no "unknown upstream", no missing
	// legacy upstream.
	{"duplicate_keys.bad.yaml", []wantErr{
		{7, "field timout not found"},
		{10, `upstream "monolith": key "url" defined twice (first at line 9)`},
		{11, `upstream "orders" defined twice (first at line 5)`},
		{13, "field wieght not found"},
		{18, `route 1: key "weight" defined twice (first at line 17)`},
		{19, `key "legacy" defined twice (first at line 3)`},
	}},
	{"duplicate_flow.bad.yaml", []wantErr{
		{4, `upstream "monolith": key "url" defined twice (first at line 4)`},
		{5, `upstream "orders": key "timeout" defined twice (first at line 5)`},
		{7, `route 1: key "weight" defined twice (first at line 7)`},
	}},
	// yaml.v3 refuses a key repeated through one alias as any repeat (and
	// drops the mapping): the file must be refused, not run without the
	// health check. Entries with anchors are never cut out, so the rest of
	// the file is only checked by yaml.v3 on the original text.
	{"duplicate_alias.bad.yaml", []wantErr{
		{15, `upstream "orders": key "*iv" defined twice (first at line 14)`},
	}},
	// Cutting the repeat (and its anchor) would break the alias at line
	// 14: only the repeat and yaml.v3's own errors are reported.
	{"duplicate_anchor.bad.yaml", []wantErr{
		{8, `upstream "orders" defined twice (first at line 6)`},
		{18, "`lots`"},
	}},
	// The closing brace at line 12 is not indented below the key: the
	// entry's end is not known for sure, so nothing is cut out and no
	// syntax error is made up.
	{"duplicate_flow_last.bad.yaml", []wantErr{
		{9, `upstream "orders" defined twice (first at line 7)`},
		{16, "`lots`"},
	}},
	// The repeat's continuation line (15) goes with it: the first name is
	// not read as "orders v2".
	{"duplicate_plain.bad.yaml", []wantErr{
		{12, "weight must be between 0 and 100, got 150"},
		{14, `route 1: key "name" defined twice (first at line 13)`},
		{17, `route "/api/items": unknown upstream "items"`},
	}},
	{"duplicate_crlf.bad.yaml", []wantErr{
		{9, "field timout not found"},
		{10, `upstream "orders" defined twice (first at line 7)`},
		{12, "field wieght not found"},
		{16, "weight must be between 0 and 100, got 150"},
		{17, `route 1: key "weight" defined twice (first at line 16)`},
		{19, `route 1: key "name" defined twice (first at line 18)`},
		{22, `route "/api/items": unknown upstream "items"`},
	}},
	{"port.bad.yaml", []wantErr{
		{4, `upstream "monolith": url "http://127.0.0.1:99999": port must be a number from 1 to 65535`},
		{6, `upstream "a": url "http://127.0.0.1:0": port must be a number from 1 to 65535`},
		{8, `upstream "b": url "http://127.0.0.1:http": port must be a number from 1 to 65535`},
		{10, `upstream "c": url "http://127.0.0.1:": port must be a number from 1 to 65535`},
		{12, `upstream "d": target "http://127.0.0.1:65536": port must be a number from 1 to 65535`},
	}},
	{"same_name.bad.yaml", []wantErr{
		{11, `route "/api/orders": shares its prefix with the route on line 8; give each a distinct name`},
		{19, `duplicate name "shared", already used by the route on line 14`},
	}},
	// A syntax error names the bad line, not the line where its block
	// starts (yaml.v3 says line 5 for the first, 8 for the second).
	{"indent_route.bad.yaml", []wantErr{{48, "did not find expected '-' indicator"}}},
	{"indent_upstream.bad.yaml", []wantErr{{27, "did not find expected key"}}},
	// Bad bytes and an unknown alias name their line (yaml.v3 names none).
	{"latin1.bad.yaml", []wantErr{{5, "invalid trailing UTF-8 octet (byte 0xe9 at column 17 is not UTF-8; save the file as UTF-8)"}}},
	{"control.bad.yaml", []wantErr{{7, "control characters are not allowed (character U+0007 at column 62)"}}},
	{"unknown_alias.bad.yaml", []wantErr{{9, "unknown anchor 'b' referenced"}}},
	// A key with no value is refused, once, with a hint; not read as the
	// default, and not reported again as missing.
	{"empty_values.bad.yaml", []wantErr{
		{7, `upstream "monolith": timeout: is empty; give a duration such as 5s`},
		{9, `upstream "orders": url: is empty; give a base URL`},
		{11, `upstream "orders": breaker.window: is empty; give a duration`},
		{15, `route "/api/orders": weight: is empty; give a number from 0 to 100`},
		{16, `route "/api/orders": fallback: is empty; give true or false`},
		{17, `route "/api/orders": name: is empty; give a name, or leave the key out`},
		{18, `route "/api/orders": shadow: is empty; write shadow: {} for the defaults`},
		{21, `route 2: prefix: is empty; give a path such as /api/orders`},
	}},
	// A prefix serves as the route's name unless it cannot be read; a
	// written name keeps to the documented characters.
	{"prefix_name.bad.yaml", []wantErr{
		{8, `route "/api/a\tb": the prefix holds control or invisible characters, so it cannot name the route; set name:`},
		{17, `route "/~jdoe": name "/~jdoe" may hold only letters, digits`},
	}},
	// Wrong types are worded without Go types, and cause nothing else:
	// not "unknown upstream" for p, not "url is required" for q, not
	// "prefix is required" for route 4, and route 3 keeps its own line
	// although the decoder dropped route 2.
	{"type_words.bad.yaml", []wantErr{
		{6, "cannot unmarshal !!int `5` into an upstream (a mapping with url: ...)"},
		{8, "cannot unmarshal !!seq into a string"},
		{11, "cannot unmarshal !!str `soon` into a duration such as 5s"},
		{15, "cannot unmarshal !!int `5` into a route (a mapping with prefix:, service: ...)"},
		{18, `route "/c": weight must be between 0 and 100, got 200`},
		{19, "cannot unmarshal !!seq into a string"},
		{21, "cannot unmarshal !!str `GET` into a list of strings"},
	}},
	{"upstreams_list.bad.yaml", []wantErr{{4, "cannot unmarshal !!seq into a mapping of upstream names to upstreams"}}},
	{"upstream_names.bad.yaml", []wantErr{
		{6, `upstream "g/h": names may hold only letters, digits, '-', '_' and '.'`},
		{7, `upstream "a:b": names may hold only`},
		{8, `upstream "{c}": names may hold only`},
	}},
	{"two_documents.bad.yaml", []wantErr{{8, "a second YAML document starts here"}}},
	// Counts are capped at what the resilience layer holds (int32).
	{"counts.bad.yaml", []wantErr{
		{11, `upstream "orders": health.unhealthy_after: 3000000000 is too large; at most 2147483647`},
		{13, `breaker.consecutive_failures: 2147483648 is too large`},
		{14, `breaker.min_requests: 4294967295 is too large`},
		{15, `breaker.half_open_requests: 4294967296 is too large`},
		{17, `bulkhead.max_concurrent: 9000000000 is too large`},
		{18, `bulkhead.max_waiting: 2147483648 is too large`},
	}},
	// Resilience errors name the key's own line, or its block's when the
	// key is left out (health.interval is written; the path is not).
	{"resilience_lines.bad.yaml", []wantErr{
		{11, `upstream "orders": breaker.failure_ratio: 2 must be in (0, 1]`},
		{15, `upstream "orders": retry.max_backoff: 1s must not be less than retry.backoff 2s`},
		{18, `upstream "orders": bulkhead.max_waiting: needs max_concurrent`},
		{23, `upstream "items": targets[2]: duplicate target`},
		{24, `upstream "items": health: interval and timeout need a path`},
	}},
}

// leafErrors flattens errors.Join trees into their messages' errors.
func leafErrors(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, leafErrors(e)...)
		}
		return out
	}
	return []error{err}
}

func TestLoadBadFiles(t *testing.T) {
	for _, tc := range badFiles {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join("testdata", tc.file)
			cfg, err := LoadFile(path)
			if err == nil {
				t.Fatalf("LoadFile(%s) = %+v, nil; want an error", path, cfg)
			}
			if cfg != nil {
				t.Errorf("LoadFile(%s) returned a config with its error", path)
			}
			leaves := leafErrors(err)
			msgs := make([]string, len(leaves))
			prevLine := 0
			for i, e := range leaves {
				msgs[i] = e.Error()
				var le *LineError
				if !errors.As(e, &le) {
					t.Errorf("message %q is a %T, want a *LineError", msgs[i], e)
					continue
				}
				if le.File != path || le.Line <= 0 {
					t.Errorf("message %q: File %q Line %d, want %q and a line", msgs[i], le.File, le.Line, path)
				}
				if le.Line < prevLine {
					t.Errorf("message %q is out of line order", msgs[i])
				}
				prevLine = le.Line
			}
			for _, w := range tc.want {
				prefix := fmt.Sprintf("%s:%d: ", path, w.line)
				if !slices.ContainsFunc(msgs, func(m string) bool {
					return strings.HasPrefix(m, prefix) && strings.Contains(m, w.msg)
				}) {
					t.Errorf("no message %q...%q in:\n%s", prefix, w.msg, err)
				}
			}
			if len(msgs) != len(tc.want) {
				t.Errorf("got %d messages, want %d (every problem once, all at once):\n%s", len(msgs), len(tc.want), err)
			}
		})
	}
}

// TestLoadBadFilesListed keeps badFiles and testdata in step: a new
// *.bad.yaml without expected messages would otherwise test nothing.
func TestLoadBadFilesListed(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.bad.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, tc := range badFiles {
		listed[tc.file] = true
	}
	for _, f := range files {
		if !listed[filepath.Base(f)] {
			t.Errorf("%s has no entry in badFiles", f)
		}
		delete(listed, filepath.Base(f))
	}
	for f := range listed {
		t.Errorf("badFiles lists %s, which is not in testdata", f)
	}
}

func TestLoadGoodFiles(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.good.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no testdata/*.good.yaml")
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			cfg, err := LoadFile(path)
			if err != nil {
				t.Fatalf("LoadFile(%s): %v", path, err)
			}
			tbl, err := Compile(cfg)
			if err != nil {
				t.Fatalf("Compile(%s): %v", path, err)
			}
			if got := len(tbl.Routes); got != len(cfg.Routes)+1 {
				t.Errorf("len(Routes) = %d, want %d routes and the catch-all", got, len(cfg.Routes))
			}
		})
	}
}

// TestLoadExample keeps the shipped config/routes.yaml loadable and saying
// what its comments say.
func TestLoadExample(t *testing.T) {
	path := filepath.Join("..", "..", "config", "routes.yaml")
	cfg, err := LoadFile(path)
	if err != nil {
		t.Fatalf("LoadFile(%s): %v", path, err)
	}
	tbl, err := Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path, route string
		weight      float64
	}{
		{"/api/inventory/sku-1", "/api/inventory", 100},
		{"/api/orders/42", "orders", 25},
		{"/api/payments", "payments", 0},
		{"/checkout", DefaultRouteName, 0},
	} {
		r := tbl.Match(tc.path, "GET")
		if r.Name != tc.route || r.Weight != tc.weight {
			t.Errorf("Match(%s) = %s at %v%%, want %s at %v%%", tc.path, r.Name, r.Weight, tc.route, tc.weight)
		}
	}
}

func TestLoadDefaults(t *testing.T) {
	cfg, err := LoadFile(filepath.Join("testdata", "full.good.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]time.Duration{
		"monolith":  10 * time.Second,
		"orders":    DefaultTimeout,
		"payments":  1500 * time.Millisecond,
		"inventory": DefaultTimeout,
	} {
		if got := cfg.Upstreams[name].Timeout; got != want {
			t.Errorf("upstream %s: Timeout = %v, want %v", name, got, want)
		}
	}
	if DefaultTimeout != 30*time.Second {
		t.Errorf("DefaultTimeout = %v, want 30s", DefaultTimeout)
	}

	type route struct {
		Name, Prefix string
		Weight       float64
		Methods      []string
	}
	var got []route
	for _, r := range cfg.Routes {
		got = append(got, route{r.Name, r.Prefix, *r.Weight, r.Methods})
	}
	want := []route{
		{"/api/inventory", "/api/inventory", 100, nil},
		{"orders", "/api/orders", 25, nil},
		{"payments-read", "/api/payments", 12.5, []string{"GET", "HEAD"}},
		{"payments-write", "/api/payments", 0, []string{"POST"}},
		{"root", "/", 0, nil},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("routes after defaults:\n got %v\nwant %v", got, want)
	}
}

// TestLoadInline covers shapes that are easier to read inline than as files.
func TestLoadInline(t *testing.T) {
	const head = "legacy: monolith\nupstreams:\n  monolith: {url: http://l}\n  orders: {url: http://o}\n"
	for _, tc := range []struct {
		name, yaml string
		want       []string // substrings of the messages, in line order; nil: valid
	}{
		{"document start only", "---\n", []string{"upstreams: at least", "legacy: required"}},
		{"null document", "null\n", []string{"upstreams: at least", "legacy: required"}},
		// One type error, not also the keys a list cannot hold.
		{"top-level list", "- a\n", []string{"cannot unmarshal !!seq into a mapping with legacy:"}},
		{"routes not a list", head + "routes: {prefix: /a}\n", []string{"cannot unmarshal"}},
		{"null route", head + "routes:\n  -\n", []string{"route 1: empty route"}},
		{"disjoint methods, distinct names", head + "routes:\n" +
			"  - {prefix: /a, service: orders, methods: [GET], name: a-get}\n" +
			"  - {prefix: /a, service: orders, methods: [POST, PUT], name: a-write}\n", nil},
		{"methods differ only in case", head + "routes:\n" +
			"  - {prefix: /a, service: orders, methods: [get], name: a1}\n" +
			"  - {prefix: /a, service: orders, methods: [GET], name: a2}\n", []string{"overlapping methods"}},
		{"all methods overlaps one method", head + "routes:\n" +
			"  - {prefix: /a, service: orders, methods: [GET], name: a1}\n" +
			"  - {prefix: /a, service: orders, name: a2}\n", []string{"overlapping methods"}},
		{"weight bounds are inclusive", head + "routes:\n" +
			"  - {prefix: /a, service: orders, weight: 0}\n" +
			"  - {prefix: /b, service: orders, weight: 100}\n" +
			"  - {prefix: /c, service: orders, weight: 0.01}\n", nil},
		{"weight null is refused", head + "routes:\n  - {prefix: /a, service: orders, weight: null}\n", []string{`route "/a": weight: is empty`}},
		{"weight as a string", head + "routes:\n  - {prefix: /a, service: orders, weight: \"50\"}\n", []string{"`50`"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Load("inline.yaml", []byte(tc.yaml))
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if _, err := Compile(cfg); err != nil {
					t.Fatalf("Compile: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Load = nil error, want %q", tc.want)
			}
			msgs := leafErrors(err)
			if len(msgs) != len(tc.want) {
				t.Fatalf("got %d messages, want %d:\n%v", len(msgs), len(tc.want), err)
			}
			for i, w := range tc.want {
				if m := msgs[i].Error(); !strings.HasPrefix(m, "inline.yaml:") || !strings.Contains(m, w) {
					t.Errorf("message %d = %q, want the file name and %q", i, m, w)
				}
			}
		})
	}
}

// TestLoadDuplicateKey checks that a key given twice is reported once, at
// the second one, naming the first, and that nothing else is reported: the
// rest of the file is valid.
func TestLoadDuplicateKey(t *testing.T) {
	const data = "legacy: monolith\nupstreams:\n  monolith: {url: http://l}\nlegacy: monolith\n"
	_, err := Load("dup.yaml", []byte(data))
	const want = `dup.yaml:4: key "legacy" defined twice (first at line 1)`
	if err == nil || err.Error() != want {
		t.Errorf("Load = %v, want exactly %q", err, want)
	}
}

func TestLoadFileMissing(t *testing.T) {
	_, err := LoadFile(filepath.Join(t.TempDir(), "routes.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadFile(missing) = %v, want an os.ErrNotExist", err)
	}
}

var lineRe = regexp.MustCompile(`^fuzz\.yaml:(\d+:)? `)

// FuzzLoad checks that no input makes Load panic, that every message names
// the file, that Load decides alike twice, and that whatever Load accepts
// compiles into a table that routes without panicking.
func FuzzLoad(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("legacy: m\nupstreams: {m: {url: 'http://m'}, o: {url: 'http://o'}}\nroutes: [{prefix: /, service: o, rewrite: /x/, weight: 50, sticky: 'cookie:c'}]\n"))
	f.Add([]byte("a: &x [*x]\n"))

	paths := []string{"", "/", "//", "/api", "/api/", "/api/orders", "/api/orders/1", "/api/orders-archive", "relative", "/a/b/c/d"}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Load("fuzz.yaml", data)
		if err != nil {
			if cfg != nil {
				t.Fatalf("Load returned a config and an error: %v", err)
			}
			for _, e := range leafErrors(err) {
				if !lineRe.MatchString(e.Error()) {
					t.Fatalf("message %q does not start with the file name", e)
				}
			}
			if _, err2 := Load("fuzz.yaml", data); err2 == nil || err2.Error() != err.Error() {
				t.Fatalf("Load is not deterministic:\n%v\n---\n%v", err, err2)
			}
			return
		}
		tbl, err := Compile(cfg)
		if err != nil {
			t.Fatalf("Load accepted a config Compile refuses: %v", err)
		}
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Cookie", "c=1")
		check := func(p, method string) {
			r := tbl.Match(p, method)
			if r == nil {
				t.Fatalf("Match(%q, %s) = nil", p, method)
			}
			r.Pick(req)
			if r.IsDefault() || !strings.HasPrefix(p, "/") {
				// Match is only given cleaned paths; others must
				// merely not panic.
				return
			}
			if !withinPrefix(p, r.Prefix) {
				t.Fatalf("Match(%q) = route with prefix %q", p, r.Prefix)
			}
			if got := r.RewritePath(p); !strings.HasPrefix(got, "/") {
				t.Fatalf("RewritePath(%q) = %q on route %+v", p, got, r)
			}
		}
		for _, p := range paths {
			check(p, "GET")
			check(p, "DELETE")
		}
		for _, r := range cfg.Routes {
			check(r.Prefix, "GET")
			check(r.Prefix+"/x", "POST")
		}
	})
}

// withinPrefix reports whether p is prefix or below it on whole segments.
func withinPrefix(p, prefix string) bool {
	if prefix == "/" {
		return strings.HasPrefix(p, "/")
	}
	return p == prefix || strings.HasPrefix(p, prefix+"/")
}
