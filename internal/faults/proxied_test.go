package faults_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/strangler-proxy/strangler/internal/faults"
	"github.com/strangler-proxy/strangler/internal/proxy"
	"github.com/strangler-proxy/strangler/internal/routing"
)

// call sends one request and returns its status and body.
func call(t *testing.T, method, url, body string, header http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(b)
}

// TestAdminRefusesProxiedRequests: the fault endpoint answers a direct call
// and refuses, with 403 and no change, one carrying a forwarding header.
func TestAdminRefusesProxiedRequests(t *testing.T) {
	f, err := faults.New(faults.Settings{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	app := httptest.NewServer(f.Wrap(http.NotFoundHandler()))
	t.Cleanup(app.Close)
	u := app.URL + faults.AdminPath
	for _, h := range []http.Header{
		{"X-Forwarded-For": {"203.0.113.7"}},
		{"Forwarded": {"for=203.0.113.7"}},
		{"X-Forwarded-For": {""}},
	} {
		for _, m := range []string{"GET", "PUT", "PATCH", "DELETE", "POST"} {
			code, body := call(t, m, u, `{"error_rate":1}`, h)
			if code != http.StatusForbidden || !strings.Contains(body, `"code":"forbidden"`) {
				t.Errorf("%s with %v = %d %s, want 403 forbidden", m, h, code, body)
			}
		}
	}
	if s := f.Settings(); s.ErrorRate != 0 {
		t.Fatalf("a refused request changed the settings: %+v", s)
	}
	if code, body := call(t, "PATCH", u, `{"error_rate":0.5}`, nil); code != 200 || !strings.Contains(body, `"error_rate":0.5`) {
		t.Fatalf("direct PATCH = %d %s, want 200", code, body)
	}
}

// TestAdminUnreachableThroughStrangler puts a real strangler handler in
// front of a fault-wrapped app, the catch-all forwarding everything to it:
// the shop answers through the proxy, the fault endpoint does not.
func TestAdminUnreachableThroughStrangler(t *testing.T) {
	f, err := faults.New(faults.Settings{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	app := httptest.NewServer(f.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "shop")
	})))
	t.Cleanup(app.Close)

	cfg, err := routing.Load("routes.yaml", fmt.Appendf(nil, "legacy: monolith\nupstreams:\n  monolith:\n    url: %s\n", app.URL))
	if err != nil {
		t.Fatal(err)
	}
	h := proxy.New(proxy.Options{InventorySize: -1})
	t.Cleanup(func() { _ = h.Close() })
	if _, err := h.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(h)
	t.Cleanup(front.Close)

	if code, body := call(t, "GET", front.URL+"/catalog", "", nil); code != 200 || body != "shop" {
		t.Fatalf("GET /catalog through the proxy = %d %q, want 200 shop", code, body)
	}
	for _, m := range []string{"GET", "PATCH", "DELETE"} {
		code, body := call(t, m, front.URL+faults.AdminPath, `{"error_rate":1}`, nil)
		if code != http.StatusForbidden {
			t.Errorf("%s %s through the proxy = %d %s, want 403", m, faults.AdminPath, code, body)
		}
	}
	if s := f.Settings(); s.ErrorRate != 0 {
		t.Fatalf("the fault endpoint was changed through the proxy: %+v", s)
	}
	if code, _ := call(t, "GET", app.URL+faults.AdminPath, "", nil); code != 200 {
		t.Fatalf("direct GET = %d, want 200", code)
	}
}
