package routing

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
)

// routesYAML returns a routes.yaml with the given route lines (flow
// mappings) under routes, and upstreams monolith, orders and items.
func routesYAML(routes ...string) string {
	var b strings.Builder
	b.WriteString("legacy: monolith\nupstreams:\n")
	b.WriteString("  monolith: {url: \"http://legacy\"}\n  orders: {url: \"http://orders\"}\n  items: {url: \"http://items\"}\n")
	b.WriteString("routes:\n")
	for _, r := range routes {
		b.WriteString("  - " + r + "\n")
	}
	return b.String()
}

func TestMatchLongestPrefix(t *testing.T) {
	routes := []string{
		"{prefix: /api, service: items, name: api}",
		"{prefix: /api/orders, service: orders, name: orders}",
		"{prefix: /api/orders/special, service: items, name: special}",
		"{prefix: /static, service: items, name: static}",
	}
	cases := []struct{ path, want string }{
		{"/api/orders", "orders"},
		{"/api/orders/", "orders"},
		{"/api/orders/1", "orders"},
		{"/api/orders/1/lines/2", "orders"},
		{"/api/orders-archive", "api"},
		{"/api/ordersx/1", "api"},
		{"/api/orders/special", "special"},
		{"/api/orders/special/9", "special"},
		{"/api/orders/specials", "orders"},
		{"/api", "api"},
		{"/api/", "api"},
		{"/apis", DefaultRouteName},
		{"/API/orders", DefaultRouteName},
		{"/static/app.js", "static"},
		{"/", DefaultRouteName},
		{"/checkout", DefaultRouteName},
	}
	// Every order of the routes in the file gives the same answers.
	for _, perm := range permutations(len(routes)) {
		ordered := make([]string, len(routes))
		for i, j := range perm {
			ordered[i] = routes[j]
		}
		t.Run(fmt.Sprint(perm), func(t *testing.T) {
			tbl := mustTable(t, routesYAML(ordered...))
			for _, tc := range cases {
				if got := tbl.Match(tc.path, "GET").Name; got != tc.want {
					t.Errorf("Match(%s) = %s, want %s", tc.path, got, tc.want)
				}
			}
		})
	}
}

// permutations returns every order of 0..n-1.
func permutations(n int) [][]int {
	if n == 0 {
		return [][]int{{}}
	}
	var out [][]int
	for _, p := range permutations(n - 1) {
		for i := 0; i <= len(p); i++ {
			q := append(append(append([]int{}, p[:i]...), n-1), p[i:]...)
			out = append(out, q)
		}
	}
	return out
}

func TestMatchMethods(t *testing.T) {
	for _, tc := range []struct {
		name   string
		routes []string
		method string
		path   string
		want   string
	}{
		{"method route matches", []string{
			"{prefix: /api/orders, service: orders, methods: [GET], name: orders-read}",
			"{prefix: /api, service: items, name: api}",
		}, "GET", "/api/orders/1", "orders-read"},
		{"other method falls to shorter prefix", []string{
			"{prefix: /api/orders, service: orders, methods: [GET], name: orders-read}",
			"{prefix: /api, service: items, name: api}",
		}, "POST", "/api/orders/1", "api"},
		{"other method falls to legacy", []string{
			"{prefix: /api/orders, service: orders, methods: [GET, HEAD], name: orders-read}",
		}, "DELETE", "/api/orders/1", DefaultRouteName},
		{"lower-case methods in the file", []string{
			"{prefix: /api/orders, service: orders, methods: [get], name: orders-read}",
		}, "GET", "/api/orders", "orders-read"},
		{"same prefix, first method", []string{
			"{prefix: /api/orders, service: orders, methods: [GET], name: orders-read}",
			"{prefix: /api/orders, service: items, methods: [POST, PUT], name: orders-write}",
		}, "GET", "/api/orders/1", "orders-read"},
		{"same prefix, second method", []string{
			"{prefix: /api/orders, service: orders, methods: [GET], name: orders-read}",
			"{prefix: /api/orders, service: items, methods: [POST, PUT], name: orders-write}",
		}, "PUT", "/api/orders/1", "orders-write"},
		{"same prefix, neither method", []string{
			"{prefix: /api/orders, service: orders, methods: [GET], name: orders-read}",
			"{prefix: /api/orders, service: items, methods: [POST, PUT], name: orders-write}",
			"{prefix: /api, service: items, methods: [DELETE], name: api-delete}",
		}, "DELETE", "/api/orders/1", "api-delete"},
		{"root route catches the rest", []string{
			"{prefix: /, service: items, methods: [POST], name: root-post}",
		}, "POST", "/anything/at/all", "root-post"},
		{"root route is method-restricted", []string{
			"{prefix: /, service: items, methods: [POST], name: root-post}",
		}, "GET", "/anything", DefaultRouteName},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tbl := mustTable(t, routesYAML(tc.routes...))
			if got := tbl.Match(tc.path, tc.method).Name; got != tc.want {
				t.Errorf("Match(%s %s) = %s, want %s", tc.method, tc.path, got, tc.want)
			}
		})
	}
}

func TestMatchNeverNil(t *testing.T) {
	tables := map[string]*Table{
		"no routes": mustTable(t, routesYAML()),
		"routes": mustTable(t, routesYAML(
			"{prefix: /, service: items, methods: [PATCH], name: root}",
			"{prefix: /a, service: orders}",
			"{prefix: /a/b/c, service: items, methods: [GET]}",
		)),
	}
	for name, tbl := range tables {
		t.Run(name, func(t *testing.T) {
			for _, p := range []string{"", "/", "//", "a", "a/b", "/a", "/a/", "/a/b/c/", "/a/b/c/d", "/b", "\x00", "/a\x00"} {
				for _, m := range []string{"GET", "POST", ""} {
					r := tbl.Match(p, m)
					if r == nil {
						t.Fatalf("Match(%q, %q) = nil", p, m)
					}
					if !r.IsDefault() && strings.HasPrefix(p, "/") && !withinPrefix(p, r.Prefix) {
						t.Errorf("Match(%q, %q) = %s with prefix %s", p, m, r.Name, r.Prefix)
					}
				}
			}
		})
	}
}

func TestCompileRoutes(t *testing.T) {
	tbl := mustTable(t, routesYAML(
		"{prefix: /api/orders, service: orders, weight: 25, sticky: 'header:X-Customer-ID', rewrite: /orders, methods: [get], name: orders}",
		"{prefix: /api/items, service: items}",
	))
	if got := len(tbl.Routes); got != 3 {
		t.Fatalf("len(Routes) = %d, want 3", got)
	}
	for i, r := range tbl.Routes {
		if r.Index != i {
			t.Errorf("Routes[%d].Index = %d", i, r.Index)
		}
	}
	o := tbl.Routes[0]
	if o.Name != "orders" || o.Prefix != "/api/orders" || o.Service != "orders" || o.Weight != 25 ||
		o.Sticky != "header:X-Customer-ID" || o.Rewrite != "/orders" || fmt.Sprint(o.Methods) != "[GET]" || o.IsDefault() {
		t.Errorf("Routes[0] = %+v", o)
	}
	if i := tbl.Routes[1]; i.Name != "/api/items" || i.Weight != 100 {
		t.Errorf("Routes[1] = %+v, want name /api/items at 100%%", i)
	}
	d := tbl.Routes[2]
	if d.Name != DefaultRouteName || d.Prefix != "/" || d.Service != "" || !d.IsDefault() || d.Pick(httptest.NewRequest("GET", "/", nil)) != Legacy {
		t.Errorf("catch-all route = %+v", d)
	}
	if tbl.Legacy != "monolith" {
		t.Errorf("Legacy = %q", tbl.Legacy)
	}
	if u := tbl.Upstreams["orders"]; u == nil || u.URL != "http://orders" {
		t.Errorf("Upstreams[orders] = %+v, want url http://orders", u)
	}
}

func TestCompileRefusesUnloaded(t *testing.T) {
	for name, cfg := range map[string]*Config{
		"unknown legacy": {Legacy: "x", Upstreams: map[string]*UpstreamConfig{"y": {URL: "http://y"}}},
		"no defaults": {Legacy: "y", Upstreams: map[string]*UpstreamConfig{"y": {URL: "http://y"}},
			Routes: []*RouteConfig{{Prefix: "/a", Service: "z"}}},
	} {
		t.Run(name, func(t *testing.T) {
			if tbl, err := Compile(cfg); err == nil {
				t.Errorf("Compile = %+v, nil; want an error", tbl)
			}
		})
	}
}

func TestRewritePath(t *testing.T) {
	for _, tc := range []struct {
		prefix, rewrite, path, want string
	}{
		{"/api/orders", "/orders", "/api/orders", "/orders"},
		{"/api/orders", "/orders", "/api/orders/42", "/orders/42"},
		{"/api/orders", "/orders", "/api/orders/", "/orders/"},
		{"/api/orders", "/orders", "/api/orders/42/lines/", "/orders/42/lines/"},
		{"/api/orders", "/", "/api/orders/42", "/42"},
		{"/api/orders", "/", "/api/orders", "/"},
		{"/api/orders", "/", "/api/orders/", "/"},
		{"/api/orders", "/v2/orders/", "/api/orders/42", "/v2/orders/42"},
		{"/api/orders", "/v2/orders/", "/api/orders", "/v2/orders/"},
		{"/api/orders", "/api/v2/orders", "/api/orders/42", "/api/v2/orders/42"},
		{"/api/orders", "", "/api/orders/42", "/api/orders/42"},
		{"/", "/v1", "/x/y", "/v1/x/y"},
		{"/", "/", "/x", "/x"},
	} {
		t.Run(tc.prefix+"→"+tc.rewrite+" "+tc.path, func(t *testing.T) {
			route := fmt.Sprintf("{prefix: %q, service: orders, rewrite: %q, name: r}", tc.prefix, tc.rewrite)
			if tc.rewrite == "" { // no rewrite: the key left out (rewrite: "" is refused)
				route = fmt.Sprintf("{prefix: %q, service: orders, name: r}", tc.prefix)
			}
			tbl := mustTable(t, routesYAML(route))
			r := tbl.Match(tc.path, "GET")
			if r.Name != "r" {
				t.Fatalf("Match(%s) = %s, want r", tc.path, r.Name)
			}
			if got := r.RewritePath(tc.path); got != tc.want {
				t.Errorf("RewritePath(%s) = %s, want %s", tc.path, got, tc.want)
			}
		})
	}
	if got := mustTable(t, routesYAML()).Match("/a/b", "GET").RewritePath("/a/b"); got != "/a/b" {
		t.Errorf("catch-all RewritePath(/a/b) = %s, want it unchanged", got)
	}
}

// TestMatchPickAllocs checks that routing a request allocates nothing.
func TestMatchPickAllocs(t *testing.T) {
	tbl := benchTable(t, 100)
	header := mustTable(t, routesYAML("{prefix: /api/orders, service: orders, weight: 25, sticky: 'header:X-Customer-ID'}")).Routes[0]
	cookie := mustTable(t, routesYAML("{prefix: /api/orders, service: orders, weight: 25, sticky: 'cookie:customer'}")).Routes[0]
	random := mustTable(t, routesYAML("{prefix: /api/orders, service: orders, weight: 25}")).Routes[0]
	req := httptest.NewRequest("GET", "/api/orders/1", nil)
	req.Header.Set("X-Customer-ID", "customer-42")
	req.Header.Set("Cookie", "a=1; customer=42; b=2")
	paths := benchPaths(100)

	for name, f := range map[string]func(){
		"match": func() {
			for _, p := range paths {
				tbl.Match(p, "GET")
			}
		},
		"pick header": func() { header.Pick(req) },
		"pick cookie": func() { cookie.Pick(req) },
		"pick random": func() { random.Pick(req) },
	} {
		t.Run(name, func(t *testing.T) {
			if n := testing.AllocsPerRun(100, f); n != 0 {
				t.Errorf("%s: %v allocs per run, want 0", name, n)
			}
		})
	}
}

// benchTable compiles a table of n routes with prefixes of two and three
// segments, such as /api/svc7 and /api/svc7/res3.
func benchTable(t testing.TB, n int) *Table {
	t.Helper()
	routes := make([]string, 0, n)
	for i := 0; len(routes) < n; i++ {
		routes = append(routes, fmt.Sprintf("{prefix: /api/svc%d, service: orders}", i))
		for j := 0; j < 4 && len(routes) < n; j++ {
			routes = append(routes, fmt.Sprintf("{prefix: /api/svc%d/res%d, service: items, methods: [GET]}", i, j))
		}
	}
	return mustTable(t, routesYAML(routes...))
}

// benchPaths returns request paths of three and four segments for a
// benchTable of n routes: some hit a route, some hit a shorter one, some
// miss every route.
func benchPaths(n int) []string {
	services := max(n/5, 1)
	var paths []string
	for i := range 64 {
		s := (i / 4 * 7) % (services + 2) // two in every services+2 miss
		switch i % 4 {
		case 0:
			paths = append(paths, fmt.Sprintf("/api/svc%d/res%d/%d", s, (i/4)%4, i))
		case 1:
			paths = append(paths, fmt.Sprintf("/api/svc%d/res%d/%d/lines", s, (i/4)%6, i))
		case 2:
			paths = append(paths, fmt.Sprintf("/api/svc%d/other/%d", s, i))
		default:
			paths = append(paths, fmt.Sprintf("/legacy/page/%d/view", i))
		}
	}
	return paths
}

func BenchmarkMatch(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("routes=%d", n), func(b *testing.B) {
			tbl := benchTable(b, n)
			paths := benchPaths(n)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				tbl.Match(paths[i%len(paths)], "GET")
				i++
			}
		})
	}
}
