package routing

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadDuplicateShapes covers repeated keys in shapes easier to read
// inline: every message, in line order, and the file always refused.
func TestLoadDuplicateShapes(t *testing.T) {
	const head = "legacy: monolith\nupstreams:\n  monolith: {url: http://l}\n  orders: {url: http://o}\n"
	for _, tc := range []struct {
		name, yaml string
		want       []string // "line: substring", in line order
	}{
		{"three times", head + "legacy: monolith\nlegacy: monolith\n", []string{
			`5: key "legacy" defined twice (first at line 1)`,
			`6: key "legacy" defined twice (first at line 1)`,
		}},
		{"quoted and plain are one key", head + "\"legacy\": monolith\n", []string{
			`5: key "legacy" defined twice (first at line 1)`,
		}},
		// The list sits at the key's indentation and goes with its key;
		// the repeat is still checked for types (line 10).
		{"last repeat is a compact list", head + "routes:\n- {prefix: /a, service: orders}\nroutes:\n- prefix: /b\n  service: orders\n  weight: lots\n", []string{
			`7: key "routes" defined twice (first at line 5)`,
			"10: `lots`",
		}},
		// The outer repeat is checked without the inner one (line 15).
		{"repeat inside a repeat", head + "routes:\n  - prefix: /a\n    service: orders\n    shadow:\n      percent: 10\n      percent: 20\n    shadow:\n      percent: 30\n      percent: 40\n      methods: [GET]\n      wieght: 1\n", []string{
			`10: route 1: key "percent" defined twice (first at line 9)`,
			`11: route 1: key "shadow" defined twice (first at line 8)`,
			`13: route 1: key "percent" defined twice (first at line 12)`,
			`15: field wieght not found`,
		}},
		// A repeat inside a complex key, which yaml.v3 checks too, is
		// found by Load like any other (and never cut out).
		{"repeat inside a complex key", head + "? {a: 1, a: 2}\n: x\n", []string{
			`5: key "a" defined twice (first at line 5)`,
		}},
		{"repeat inside a block complex key", head + "? a: 1\n  a: 2\n: x\n", []string{
			`6: key "a" defined twice (first at line 5)`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Load("inline.yaml", []byte(tc.yaml))
			if err == nil || cfg != nil {
				t.Fatalf("Load = %v, %v; want only an error", cfg, err)
			}
			msgs := leafErrors(err)
			for i, w := range tc.want {
				if i >= len(msgs) {
					break
				}
				line, sub, _ := strings.Cut(w, ": ")
				if m := msgs[i].Error(); !strings.HasPrefix(m, "inline.yaml:"+line+": ") || !strings.Contains(m, sub) {
					t.Errorf("message %d = %q, want inline.yaml:%s: ...%s", i, m, line, sub)
				}
			}
			if len(msgs) != len(tc.want) {
				t.Errorf("got %d messages, want %d:\n%v", len(msgs), len(tc.want), err)
			}
		})
	}
}

// TestDuplicateCRLFFile keeps the CRLF case what it says: an editor or a
// checkout that rewrites line endings would make it test nothing new.
func TestDuplicateCRLFFile(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "duplicate_crlf.bad.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(data, []byte("\n")); n == 0 || bytes.Count(data, []byte("\r\n")) != n {
		t.Errorf("duplicate_crlf.bad.yaml: want every line ended by CRLF")
	}
}
