package routing

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadSyntaxErrorLine checks that a syntax error names the line where
// the file stops parsing, also when a multi-line flow mapping comes first
// (a prefix of the file cut inside it fails otherwise) and when the error
// is in a second document.
func TestLoadSyntaxErrorLine(t *testing.T) {
	const head = "legacy: monolith\nupstreams: {\n  monolith: {url: \"http://l\"},\n  orders: {url: \"http://o\"}\n}\nroutes:\n" +
		"  - prefix: /a\n    service: orders\n" // lines 7 and 8
	for _, tc := range []struct {
		name, tail string
		want       string // "line: substring"
	}{
		{"under-indented key", "   weight: 10\n  - prefix: /b\n    service: orders\n", "9: did not find expected '-' indicator"},
		{"key at the list's indentation", "  weight: 10\n", "9: did not find expected '-' indicator"},
		{"over-indented key", "    weight: 10\n      name: x\n", "10: mapping values are not allowed"},
		{"tab", "\tweight: 10\n", "9: found a tab character"},
		{"key after the last item", "  - prefix: /b\n    service: orders\n  name: x\n", "11: did not find expected '-' indicator"},
		{"error in a second document", "---\nfoo: [\n", "10: did not find expected node content"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load("inline.yaml", []byte(head+tc.tail))
			line, sub, _ := strings.Cut(tc.want, ": ")
			if err == nil || !strings.HasPrefix(err.Error(), "inline.yaml:"+line+": ") || !strings.Contains(err.Error(), sub) || len(leafErrors(err)) != 1 {
				t.Errorf("Load = %v, want one message inline.yaml:%s: ...%s", err, line, sub)
			}
		})
	}
}

// TestLoadExtraDocuments checks that a second document is refused at its
// line, while a bare "---" or "..." at the end (nothing in it) is not.
func TestLoadExtraDocuments(t *testing.T) {
	const doc = "legacy: monolith\nupstreams:\n  monolith: {url: \"http://l\"}\n"
	for _, tc := range []struct {
		name, yaml string
		want       string // "" for valid
	}{
		{"document end marker", doc + "...\n", ""},
		{"trailing document start", doc + "---\n", ""},
		{"trailing empty documents and a comment", doc + "---\n# nothing here\n---\n", ""},
		{"second document", doc + "---\nlegacy: other\n", "inline.yaml:4: a second YAML document starts here"},
		{"second document after empty ones", doc + "---\n---\nlegacy: other\n", "inline.yaml:5: a second YAML document starts here"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Load("inline.yaml", []byte(tc.yaml))
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Load: %v", err)
			case tc.want != "" && (err == nil || cfg != nil || !strings.HasPrefix(err.Error(), tc.want) || len(leafErrors(err)) != 1):
				t.Errorf("Load = %v, want exactly %q...", err, tc.want)
			}
		})
	}
}

// TestLoadPrefixNames checks that a route without a name is named after
// its prefix whatever characters the prefix holds, as the README says.
func TestLoadPrefixNames(t *testing.T) {
	cfg, err := LoadFile(filepath.Join("testdata", "prefix_names.good.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, name string }{
		{"/~jdoe/repos", "/~jdoe"},
		{"/api/users/@me", "/api/users/@me"},
		{"/api/café/menu", "/api/café"},
		{"/api/users/me", "users-me"},
	} {
		if r := tbl.Match(tc.path, "GET"); r.Name != tc.name {
			t.Errorf("Match(%s) = route %q, want %q", tc.path, r.Name, tc.name)
		}
	}
}

// TestLoadEmptyThroughAlias checks that an empty value reached through an
// alias is refused like one written in place.
func TestLoadEmptyThroughAlias(t *testing.T) {
	const data = "legacy: monolith\nupstreams:\n  monolith: {url: \"http://l\"}\n  orders: {url: \"http://o\"}\n" +
		"nothing: &none\nroutes:\n  - {prefix: /a, service: orders, weight: *none}\n"
	_, err := Load("inline.yaml", []byte(data))
	if err == nil || !strings.Contains(err.Error(), `inline.yaml:7: route "/a": weight: is empty`) {
		t.Errorf("Load = %v, want the empty weight at line 7", err)
	}
}

// TestLoadEmptyRoutes checks the one key that may be empty: routes: with
// every route commented out sends everything back to legacy (a rollback
// must not be refused), while an empty key inside a route is refused.
func TestLoadEmptyRoutes(t *testing.T) {
	const head = "legacy: monolith\nupstreams:\n  monolith: {url: \"http://l\"}\n  orders: {url: \"http://o\"}\n"
	cfg, err := Load("inline.yaml", []byte(head+"routes:\n  # - prefix: /api/orders\n  #   service: orders\n"))
	if err != nil || len(cfg.Routes) != 0 {
		t.Errorf("Load(routes: all commented out) = %v, %v; want no routes", cfg, err)
	}
	_, err = Load("inline.yaml", []byte(head+"routes:\n  - prefix: /api/orders\n    service: orders\n    methods:\n"))
	if err == nil || err.Error() != `inline.yaml:8: route "/api/orders": methods: is empty; give a list, or leave the key out` {
		t.Errorf("Load(methods:) = %v, want only the empty methods at line 8", err)
	}
}
