package proxy

import (
	"net/http"
	"testing"
)

func TestAdminToken(t *testing.T) {
	f := newReloadFixture(t)
	f.writeConfig(t, f.path, dashboardConfig)
	if err := f.r.Reload(); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, NewAdmin(AdminOptions{Handler: f.handler, Reloader: f.r, Gatherer: f.reg, Token: "s3cret-token"}))
	get := func(path, auth string) int {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), "GET", srv.URL+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode == http.StatusUnauthorized && res.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: 401 without WWW-Authenticate", path)
		}
		return res.StatusCode
	}
	guarded := []string{"/metrics", "/api/status", "/api/dashboard", "/api/dashboard/events", "/api/shadow/orders"}
	for _, p := range guarded {
		for _, auth := range []string{"", "Bearer wrong", "Basic czNjcmV0LXRva2Vu", "Bearer s3cret-token-and-more", "s3cret-token", "Bearers3cret-token", "Token s3cret-token"} {
			if code := get(p, auth); code != http.StatusUnauthorized {
				t.Errorf("GET %s with Authorization %q: %d, want 401", p, auth, code)
			}
		}
	}
	for _, p := range []string{"/metrics", "/api/status", "/api/dashboard"} {
		// The scheme's name is case-insensitive (RFC 9110).
		for _, auth := range []string{"Bearer s3cret-token", "bearer s3cret-token", "BEARER s3cret-token"} {
			if code := get(p, auth); code != http.StatusOK {
				t.Errorf("GET %s with Authorization %q: %d, want 200", p, auth, code)
			}
		}
	}
	for _, p := range []string{"/", "/healthz", "/readyz"} {
		if code := get(p, ""); code != http.StatusOK {
			t.Errorf("GET %s without a token: %d, want 200 (it holds no data)", p, code)
		}
	}
}
