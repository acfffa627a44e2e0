package proxy

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestFallbackForwardsTheOriginalRequest checks that a request the
// extracted service cannot take reaches legacy as the client sent it: the
// original path (not the service's rewrite), the client's Host as
// X-Forwarded-Host, the body, one request id.
func TestFallbackForwardsTheOriginalRequest(t *testing.T) {
	hs := newHarness(t, "monolith")
	hs.urls["dead"] = deadURL(t)
	hs.apply(t, `
legacy: monolith
upstreams:
  monolith: {url: "{{.monolith}}"}
  dead: {url: "{{.dead}}"}
routes:
  - {prefix: /api/orders, service: dead, name: orders, rewrite: /v2/orders}
`)
	monolith, _ := url.Parse(hs.urls["monolith"])
	for _, tc := range []struct {
		method, target, body string
	}{
		{"GET", "/api/orders/42?x=1", ""},
		{"POST", "/api/orders", "cart=1"},
	} {
		t.Run(tc.method, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), tc.method, hs.front.URL+tc.target, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Host = "shop.example"
			res, err := hs.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusOK || res.Header.Get("X-Backend") != "monolith" {
				t.Fatalf("status %d from %q, want 200 from legacy", res.StatusCode, res.Header.Get("X-Backend"))
			}
			seen := hs.backends["monolith"].requests()
			s := seen[len(seen)-1]
			checks := []struct{ what, got, want string }{
				{"target", s.RequestURI, tc.target},
				{"Host", s.Host, monolith.Host},
				{"X-Forwarded-Host", strings.Join(s.Header.Values("X-Forwarded-Host"), ","), "shop.example"},
				{"X-Forwarded-For", strings.Join(s.Header.Values("X-Forwarded-For"), ","), "127.0.0.1"},
				{HeaderRoute, strings.Join(s.Header.Values(HeaderRoute), ","), "orders"},
				{"body", s.Body, tc.body},
				{"response X-Request-Id", strings.Join(res.Header.Values("X-Request-Id"), ","), s.Header.Get("X-Request-Id")},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("legacy received %s %q, want %q", c.what, c.got, c.want)
				}
			}
		})
	}
	waitMetric(t, hs.reg, "strangler_fallbacks_total", map[string]string{"route": "orders", "reason": "connect_error"}, 2)
	waitMetric(t, hs.reg, "strangler_requests_total", requestLabels("orders", "legacy", "monolith", "POST", "200"), 1)
}
