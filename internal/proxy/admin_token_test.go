package proxy

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestAdminToken(t *testing.T) {
	f := newReloadFixture(t)
	f.writeConfig(t, f.path, dashboardConfig)
	if err := f.r.Reload(); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, NewAdmin(AdminOptions{Handler: f.handler, Reloader: f.r, Gatherer: f.reg, Token: func() string { return "s3cret-token" }}))
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

// startRotatingTokenAdmin serves the admin handler of a loaded table with
// a token that starts as first and that set changes.
func startRotatingTokenAdmin(t *testing.T, first string) (srv *httptest.Server, set func(string)) {
	t.Helper()
	f := newReloadFixture(t)
	f.writeConfig(t, f.path, dashboardConfig)
	if err := f.r.Reload(); err != nil {
		t.Fatal(err)
	}
	var current atomic.Pointer[string]
	set = func(s string) { current.Store(&s) }
	set(first)
	srv = startServer(t, NewAdmin(AdminOptions{Handler: f.handler, Reloader: f.r, Gatherer: f.reg,
		Token: func() string { return *current.Load() }}))
	return srv, set
}

// TestAdminTokenMayChange checks RequireToken with a token that changes
// while the admin listener serves (a rotated token file): each request is
// judged by the token of its moment, and an empty token refuses every
// guarded request rather than opening them.
func TestAdminTokenMayChange(t *testing.T) {
	srv, set := startRotatingTokenAdmin(t, "first")
	get := func(path, token string) int {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), "GET", srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	for _, step := range []struct {
		current, sent string
		want          int
	}{
		{"first", "first", http.StatusOK},
		{"first", "second", http.StatusUnauthorized},
		{"second", "second", http.StatusOK},
		{"second", "first", http.StatusUnauthorized},
		{"", "", http.StatusUnauthorized},
		{"", "first", http.StatusUnauthorized},
	} {
		set(step.current)
		if code := get("/api/status", step.sent); code != step.want {
			t.Errorf("token %q, sent %q: %d, want %d", step.current, step.sent, code, step.want)
		}
	}
	if code := get("/readyz", ""); code != http.StatusOK {
		t.Errorf("/readyz without a token: %d, want 200", code)
	}
}

// TestAdminTokenRotationEndsOpenStreams checks that a dashboard event
// stream opened with a token ends once the token is rotated, as a new
// request with the old token would be refused, and keeps going while the
// token stays the same.
func TestAdminTokenRotationEndsOpenStreams(t *testing.T) {
	srv, set := startRotatingTokenAdmin(t, "first")
	req, _ := http.NewRequestWithContext(t.Context(), "GET", srv.URL+"/api/dashboard/events", nil)
	req.Header.Set("Authorization", "Bearer first")
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("events with the token: %d, want 200", res.StatusCode)
	}
	events := make(chan struct{})
	go func() {
		defer close(events)
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "event: dashboard") {
				events <- struct{}{}
			}
		}
	}()
	// The first event comes at once, the second after a tick at which the
	// token was checked and still matched.
	for i := range 2 {
		select {
		case _, ok := <-events:
			if !ok {
				t.Fatalf("the stream ended after %d events while its token was still the admin token", i)
			}
		case <-time.After(waitLimit):
			t.Fatalf("event %d not received", i+1)
		}
	}
	set("second") // the token file was rotated
	select {
	case _, ok := <-events:
		if ok {
			t.Fatal("the stream sent an event after its token was rotated")
		}
	case <-time.After(waitLimit):
		t.Fatal("the stream opened with the old token did not end")
	}
}
