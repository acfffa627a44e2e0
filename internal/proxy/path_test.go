package proxy

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/strangler-proxy/strangler/internal/routing"
)

// TestPathSafety sends request targets that Go's client would normalise
// over a raw connection and checks that the request is routed and
// forwarded on the cleaned path: nothing reaches the orders service with a
// path outside /api/orders, and each backend receives exactly the path the
// router matched.
func TestPathSafety(t *testing.T) {
	checkPathRouting(t, newMainHarness(t), []pathCase{
		{"/api/orders/..%2f..%2fadmin", "monolith", "/admin"},
		{"/api/orders/..%2F..%2Fadmin", "monolith", "/admin"},
		{"/api/orders/../admin", "monolith", "/api/admin"},
		{"/api/orders/%2e%2e/admin", "monolith", "/api/admin"},
		{"/api/orders/%2E%2E/admin", "monolith", "/api/admin"},
		{"//api/orders/../../admin", "monolith", "/admin"},
		{"/api/orders/..", "monolith", "/api"},
		{"/api/orders%2f..%2f..%2fadmin", "monolith", "/admin"},
		{"/api/inventory/..%2f..%2fadmin", "monolith", "/admin"},
		{"/api/orders/returns/..%2f7", "orders", "/api/orders/7"},
		{"/api/orders/x/../42", "orders", "/api/orders/42"},
		{"/api/orders/./42", "orders", "/api/orders/42"},
		{"/api/orders//42", "orders", "/api/orders/42"},
		{"//api//orders//42/", "orders", "/api/orders/42/"},
		{"/api/orders/a%2Fb", "orders", "/api/orders/a/b"},
		{"/other/../api/orders/42?q=1", "orders", "/api/orders/42"},
		{"/api/inventory/x/..%2f9", "inventory", "/v2/stock/9"},
	})
}

// pathCase is a request target sent as is and where it must arrive.
type pathCase struct {
	target      string
	wantBackend string
	wantPath    string // path part of the target the backend receives
}

// checkPathRouting sends each case's target over a raw connection and
// checks which backend answered and the path it received; then that the
// orders backend never received a path, decoded, outside /api/orders.
func checkPathRouting(t *testing.T, hs *harness, cases []pathCase) {
	t.Helper()
	addr := hs.front.Listener.Addr().String()
	for _, tc := range cases {
		t.Run(tc.target, func(t *testing.T) {
			before := len(hs.backends[tc.wantBackend].requests())
			res, body := rawRequest(t, addr, "GET", tc.target)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status %d, body %s", res.StatusCode, body)
			}
			if got := res.Header.Get("X-Backend"); got != tc.wantBackend {
				t.Fatalf("answered by %q, want %q", got, tc.wantBackend)
			}
			seen := hs.backends[tc.wantBackend].requests()
			if len(seen) != before+1 {
				t.Fatalf("backend %s got %d requests, want 1", tc.wantBackend, len(seen)-before)
			}
			if got := seen[before].wirePath(); got != tc.wantPath {
				t.Errorf("backend %s received path %q, want %q", tc.wantBackend, got, tc.wantPath)
			}
		})
	}
	for _, s := range hs.backends["orders"].requests() {
		if p := s.Path; p != "/api/orders" && !strings.HasPrefix(p, "/api/orders/") {
			t.Errorf("orders backend received %q (decoded %q), outside /api/orders", s.RequestURI, p)
		}
	}
}

// TestBadPath checks that a path with a backslash or a NUL byte, literal or
// encoded, or a segment that is a dot segment once its ";params" are cut
// off (as Tomcat, Jetty and Spring cut them), is refused with the proxy's
// JSON 400 and reaches no backend.
func TestBadPath(t *testing.T) {
	hs := newMainHarness(t)
	addr := hs.front.Listener.Addr().String()
	targets := []string{
		`/api/orders/..\..\admin`,
		`/api/orders\..\..\admin`,
		"/api/orders/..%5c..%5cadmin",
		"/api/orders/..%5C..%5Cadmin",
		"/api/orders/42%00.json",
		"/about%00",
		// To a Java service, /api/orders/..;/admin is /api/admin.
		"/api/orders/..;/admin",
		"/api/orders/.;/..;/..;/admin",
		"/api/orders/..;jsessionid=0123/admin",
		"/api/orders/..%3b/admin",
		"/api/orders/..%3B/admin",
		"/api/orders/%2e%2e;/admin",
		"/api/orders/%2E.%3Bx=1/admin",
		"/api/orders/x/../..;/admin", // cleaning brings ..; next to the prefix
		"/api/orders/..;",
		"/api/orders/.;/42",
		"/..;/api/orders/1",
	}
	for _, target := range targets {
		t.Run(target, func(t *testing.T) {
			res, body := rawRequest(t, addr, "GET", target)
			checkErrorReply(t, res, body, http.StatusBadRequest)
		})
	}
	for name, b := range hs.backends {
		if n := len(b.requests()); n != 0 {
			t.Errorf("backend %s received %d requests, want none", name, n)
		}
	}
	if got, _, err := metricValue(hs.reg, "strangler_refused_requests_total", map[string]string{"reason": "bad_path"}); err != nil || got != float64(len(targets)) {
		t.Errorf("strangler_refused_requests_total{reason=bad_path} = %v (%v), want %d", got, err, len(targets))
	}
}

// TestAbsoluteFormTarget checks that a request target naming a host, as
// sent to forward proxies, is routed on its path to the configured
// upstream and never to the host it names.
func TestAbsoluteFormTarget(t *testing.T) {
	hs := newMainHarness(t)
	res, body := rawRequest(t, hs.front.Listener.Addr().String(), "GET", "http://169.254.169.254:80/api/orders/x/..%2f1?x=1")
	if res.StatusCode != http.StatusOK || res.Header.Get("X-Backend") != "orders" {
		t.Fatalf("status %d from %q: %s", res.StatusCode, res.Header.Get("X-Backend"), body)
	}
	s := hs.backends["orders"].requests()[0]
	if u, _ := url.Parse(hs.urls["orders"]); s.Host != u.Host || s.RequestURI != "/api/orders/1?x=1" {
		t.Errorf("orders received Host %q target %q, want %q and /api/orders/1?x=1", s.Host, s.RequestURI, u.Host)
	}
}

// TestUpstreamBasePath checks that the path of an upstream's URL is put in
// front of every forwarded path, and that a cleaned path cannot climb out
// of it.
func TestUpstreamBasePath(t *testing.T) {
	hs := newHarness(t, "monolith", "orders")
	hs.apply(t, `
legacy: monolith
upstreams:
  monolith: {url: "{{.monolith}}/legacy/"}
  orders: {url: "{{.orders}}/v1"}
routes:
  - {prefix: /api/orders, service: orders}
  - {prefix: /api/shop/orders, service: orders, rewrite: /orders}
`)
	addr := hs.front.Listener.Addr().String()
	for _, tc := range []struct{ target, backend, want string }{
		{"/api/orders/1?x=1", "orders", "/v1/api/orders/1?x=1"},
		{"/api/shop/orders/2", "orders", "/v1/orders/2"},
		{"/home", "monolith", "/legacy/home"},
		{"/api/orders/..%2f..%2f..%2fadmin", "monolith", "/legacy/admin"},
		{"/../../etc/passwd", "monolith", "/legacy/etc/passwd"},
	} {
		res, body := rawRequest(t, addr, "GET", tc.target)
		if res.StatusCode != http.StatusOK || res.Header.Get("X-Backend") != tc.backend {
			t.Errorf("%s: status %d from %q: %s", tc.target, res.StatusCode, res.Header.Get("X-Backend"), body)
			continue
		}
		seen := hs.backends[tc.backend].requests()
		if got := seen[len(seen)-1].RequestURI; got != tc.want {
			t.Errorf("%s: %s received %q, want %q", tc.target, tc.backend, got, tc.want)
		}
	}
}

// javaPath is the path a Tomcat, Jetty or Spring service serves for the
// path p it receives: each segment's ";params" cut off, then "." and ".."
// resolved and empty segments dropped.
func javaPath(p string) string {
	var out []string
	for _, seg := range strings.Split(p, "/") {
		seg, _, _ = strings.Cut(seg, ";")
		switch seg {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, seg)
		}
	}
	return "/" + strings.Join(out, "/")
}

// FuzzPathParams checks, for any path below /api/orders/ that the proxy
// accepts and routes on, that a Java service behind the route sees a path
// below /api/orders too: no spelling of ";params" climbs out of the
// prefix.
func FuzzPathParams(f *testing.F) {
	for _, s := range []string{
		"..;/admin", ".;/..;/..;/admin", "..;jsessionid=1/admin", "..%3b/admin", "%2e%2e%3B/admin",
		"x/../..;/admin", "..;", "42;v=1", "a;b/c;d", "...;/x", "..x;/y", ";/..;/z", "42",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, suffix string) {
		u, err := url.Parse("/api/orders/" + suffix)
		if err != nil || u.Path == "" {
			return
		}
		clean, _, err := routing.CleanPath(u)
		if err != nil || dotSegmentWithParams(clean) || !strings.HasPrefix(clean, "/api/orders/") {
			return // refused, or routed elsewhere
		}
		if j := javaPath(clean); j != "/api/orders" && !strings.HasPrefix(j, "/api/orders/") {
			t.Errorf("%q: routed on %q, which a Java service reads as %q", u.String(), clean, j)
		}
	})
}
