package routing

import (
	"errors"
	"math/rand/v2"
	"net/url"
	"strings"
	"testing"
)

// ordersTable routes /api/orders to the orders service and everything else
// to legacy.
func ordersTable(t testing.TB) *Table {
	t.Helper()
	return mustTable(t, `
legacy: monolith
upstreams:
  monolith: {url: "http://legacy"}
  orders: {url: "http://orders"}
routes:
  - {prefix: /api/orders, service: orders, name: orders}
`)
}

// mustTable loads and compiles an inline routes.yaml.
func mustTable(t testing.TB, yaml string) *Table {
	t.Helper()
	cfg, err := Load("inline.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	tbl, err := Compile(cfg)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return tbl
}

func TestCleanPath(t *testing.T) {
	tbl := ordersTable(t)
	for _, tc := range []struct {
		name      string
		target    string // the raw request target
		clean     string
		rewritten bool
		bad       bool
		route     string // the route Match gives the clean path for GET
	}{
		{"exact prefix", "/api/orders", "/api/orders", false, false, "orders"},
		{"trailing slash kept", "/api/orders/", "/api/orders/", false, false, "orders"},
		{"below prefix", "/api/orders/1", "/api/orders/1", false, false, "orders"},
		{"query ignored", "/api/orders/1?x=../..", "/api/orders/1", false, false, "orders"},
		{"sibling with same start", "/api/orders-archive", "/api/orders-archive", false, false, "default"},
		{"case-sensitive", "/API/orders", "/API/orders", false, false, "default"},
		{"root", "/", "/", false, false, "default"},

		{"encoded slashes and dots escape", "/api/orders/..%2f..%2fadmin", "/admin", true, false, "default"},
		{"upper-case encoded slash", "/api/orders/..%2F..%2Fadmin", "/admin", true, false, "default"},
		{"encoded slash after prefix", "/api/orders%2f..%2fadmin", "/api/admin", true, false, "default"},
		{"encoded slash inside prefix", "/api%2forders/1", "/api/orders/1", true, false, "orders"},
		{"encoded slash, nothing to clean", "/api/orders/a%2Fb", "/api/orders/a/b", true, false, "orders"},
		{"dot-dot", "/api/orders/../admin", "/api/admin", true, false, "default"},
		{"encoded dot-dot", "/api/orders/%2e%2e/admin", "/api/admin", true, false, "default"},
		{"upper-case encoded dot-dot", "/api/orders/%2E%2E/%2E%2E/admin", "/admin", true, false, "default"},
		{"half-encoded dot-dot", "/api/orders/.%2e/admin", "/api/admin", true, false, "default"},
		{"dot-dot at the end", "/api/orders/..", "/api", true, false, "default"},
		{"dot-dot back into prefix", "/api/orders/1/..", "/api/orders", true, false, "orders"},
		{"dot-dot into prefix from sibling", "/api/x/../orders/2", "/api/orders/2", true, false, "orders"},
		{"dot-dot above root", "/../../api/orders", "/api/orders", true, false, "orders"},
		{"dot-dot after semicolon segment", "/api/orders;x/../admin", "/api/admin", true, false, "default"},
		{"dot", "/api/orders/./1", "/api/orders/1", true, false, "orders"},
		{"dot before prefix", "/api/./orders", "/api/orders", true, false, "orders"},
		{"dot with trailing slash", "/api/orders/./", "/api/orders/", true, false, "orders"},
		{"double slashes", "//api//orders", "/api/orders", true, false, "orders"},
		{"double slash at the end", "/api/orders//", "/api/orders/", true, false, "orders"},
		{"only slashes", "///", "/", true, false, "default"},
		{"three dots are a name", "/api/orders/...", "/api/orders/...", false, false, "orders"},
		{"dots in a name", "/api/orders/..foo/.bar", "/api/orders/..foo/.bar", false, false, "orders"},
		{"double-encoded dot-dot stays a name", "/api/orders/%252e%252e/admin", "/api/orders/%2e%2e/admin", false, false, "orders"},
		{"absolute form", "http://shop.example/api/orders/1", "/api/orders/1", false, false, "orders"},

		{"encoded backslash", "/api/orders/..%5c..%5cadmin", "", false, true, ""},
		{"lower-case encoded backslash", "/api/orders/%5c", "", false, true, ""},
		{"literal backslash", `/api/orders/..\admin`, "", false, true, ""},
		{"encoded NUL", "/api/orders/%00", "", false, true, ""},
		{"asterisk form", "*", "", false, true, ""},
		{"absolute form without path", "http://shop.example", "", false, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// ParseRequestURI is what net/http uses for a request target:
			// url.Parse would take the "api" of "//api//orders" for a host.
			u, err := url.ParseRequestURI(tc.target)
			if err != nil {
				t.Fatalf("ParseRequestURI(%q): %v", tc.target, err)
			}
			clean, rewritten, err := CleanPath(u)
			if tc.bad {
				if !errors.Is(err, ErrBadPath) {
					t.Fatalf("CleanPath(%q) = %q, %v, %v; want ErrBadPath", tc.target, clean, rewritten, err)
				}
				return
			}
			if err != nil || clean != tc.clean || rewritten != tc.rewritten {
				t.Fatalf("CleanPath(%q) = %q, %v, %v; want %q, %v, nil", tc.target, clean, rewritten, err, tc.clean, tc.rewritten)
			}
			checkCleanPath(t, tbl, u, clean, rewritten)
			if r := tbl.Match(clean, "GET"); r.Name != tc.route {
				t.Errorf("Match(%q) = %s, want %s", clean, r.Name, tc.route)
			}
		})
	}
}

// checkCleanPath asserts what must hold for every cleaned path: routing on
// it never reaches orders from outside /api/orders; a path that is not
// rewritten is the request's own decoded path without an encoded slash, so
// the upstream sees the segments the router saw; and cleaning is
// idempotent.
func checkCleanPath(t *testing.T, tbl *Table, u *url.URL, clean string, rewritten bool) {
	t.Helper()
	if r := tbl.Match(clean, "GET"); r.Name == "orders" && !withinPrefix(clean, "/api/orders") {
		t.Errorf("%q cleaned to %q routes to orders from outside /api/orders", u, clean)
	}
	if !rewritten {
		if clean != u.Path || strings.Contains(strings.ToLower(u.EscapedPath()), "%2f") {
			t.Errorf("%q: not rewritten, but cleaned %q differs from path %q (raw %q)", u, clean, u.Path, u.EscapedPath())
		}
	}
	again, rewritten2, err := CleanPath(&url.URL{Path: clean})
	if err != nil || again != clean || rewritten2 {
		t.Errorf("CleanPath(%q) again = %q, %v, %v; want it unchanged", clean, again, rewritten2, err)
	}
}

// TestCleanPathRandom builds request targets from pieces that attackers
// combine and checks the invariants of checkCleanPath on each.
func TestCleanPathRandom(t *testing.T) {
	tbl := ordersTable(t)
	pieces := []string{"api", "orders", "orders-archive", "admin", "..", ".", "", "%2e%2e", "%2E", ".%2e", "%2f", "%2F", "..%2f", "x;y", "%25"}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		var b strings.Builder
		for range 1 + rng.IntN(7) {
			b.WriteByte('/')
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		target := b.String()
		u, err := url.ParseRequestURI(target)
		if err != nil {
			t.Fatalf("ParseRequestURI(%q): %v", target, err)
		}
		clean, rewritten, err := CleanPath(u)
		if err != nil {
			t.Fatalf("CleanPath(%q): %v", target, err)
		}
		checkCleanPath(t, tbl, u, clean, rewritten)
		if t.Failed() {
			t.Fatalf("failing target: %q", target)
		}
	}
}

// FuzzCleanPath checks the invariants of checkCleanPath on any target the
// request parser accepts.
func FuzzCleanPath(f *testing.F) {
	for _, s := range []string{"/api/orders/..%2f..%2fadmin", "//api//orders", "/api/orders/%2e%2e/admin", "/a/./b/../", "/%5c", "*"} {
		f.Add(s)
	}
	tbl := ordersTable(f)
	f.Fuzz(func(t *testing.T, target string) {
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return
		}
		clean, rewritten, err := CleanPath(u)
		if err != nil {
			if !errors.Is(err, ErrBadPath) {
				t.Fatalf("CleanPath(%q) = %v, want nil or ErrBadPath", target, err)
			}
			return
		}
		if !strings.HasPrefix(clean, "/") || strings.ContainsAny(clean, "\\\x00") {
			t.Fatalf("CleanPath(%q) = %q", target, clean)
		}
		checkCleanPath(t, tbl, u, clean, rewritten)
	})
}
