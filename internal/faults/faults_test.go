package faults

import (
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// newServer starts an httptest server on 127.0.0.1 serving "ok" behind f.
func newServer(t *testing.T, f *Faults) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(f.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	})))
	t.Cleanup(srv.Close)
	return srv
}

func mustNew(t *testing.T, s Settings) *Faults {
	t.Helper()
	f, err := New(s, nil, nil)
	if err != nil {
		t.Fatalf("New(%+v): %v", s, err)
	}
	return f
}

// do sends one request without connection reuse, so that a reset affects
// only this request, and returns status and body.
func do(t *testing.T, method, url, body string) (int, string, error) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	res, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, string(b), err
}

// setAtRuntime applies s through the admin endpoint, as an operator would.
func setAtRuntime(t *testing.T, srv *httptest.Server, s Settings) {
	t.Helper()
	b, _ := json.Marshal(s)
	code, body, err := do(t, http.MethodPut, srv.URL+AdminPath, string(b))
	if err != nil || code != http.StatusOK {
		t.Fatalf("PUT %s = %d %s, %v", AdminPath, code, body, err)
	}
}

// TestFaultKinds checks each fault kind, set at start and at run time.
func TestFaultKinds(t *testing.T) {
	const latency = 30 * time.Millisecond
	cases := []struct {
		name  string
		s     Settings
		check func(t *testing.T, srv *httptest.Server)
	}{
		{"latency", Settings{Latency: Duration(latency)}, func(t *testing.T, srv *httptest.Server) {
			start := time.Now()
			code, _, err := do(t, http.MethodGet, srv.URL+"/api/x", "")
			if took := time.Since(start); err != nil || code != 200 || took < latency {
				t.Fatalf("GET = %d, %v after %s; want 200 after at least %s", code, err, took, latency)
			}
		}},
		{"error_rate 1", Settings{ErrorRate: 1}, func(t *testing.T, srv *httptest.Server) {
			code, body, err := do(t, http.MethodGet, srv.URL+"/api/x", "")
			if err != nil || code != 500 || !strings.Contains(body, `"code":"fault_injected"`) {
				t.Fatalf("GET = %d %q, %v; want 500 with a JSON error", code, body, err)
			}
		}},
		{"error_status 503", Settings{ErrorRate: 1, ErrorStatus: 503}, func(t *testing.T, srv *httptest.Server) {
			if code, _, err := do(t, http.MethodGet, srv.URL+"/api/x", ""); err != nil || code != 503 {
				t.Fatalf("GET = %d, %v; want 503", code, err)
			}
		}},
		{"reset", Settings{ResetRate: 1}, func(t *testing.T, srv *httptest.Server) {
			if code, _, err := do(t, http.MethodGet, srv.URL+"/api/x", ""); err == nil {
				t.Fatalf("GET = %d, want a connection error", code)
			}
		}},
		{"unready", Settings{Unready: true}, func(t *testing.T, srv *httptest.Server) {
			if code, _, _ := do(t, http.MethodGet, srv.URL+ReadyPath, ""); code != 503 {
				t.Fatalf("GET %s = %d, want 503", ReadyPath, code)
			}
			if code, _, _ := do(t, http.MethodGet, srv.URL+"/api/x", ""); code != 200 {
				t.Fatalf("GET /api/x = %d, want 200 while unready", code)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name+"/options", func(t *testing.T) {
			tc.check(t, newServer(t, mustNew(t, tc.s)))
		})
		t.Run(tc.name+"/runtime", func(t *testing.T) {
			srv := newServer(t, mustNew(t, Settings{}))
			if code, _, err := do(t, http.MethodGet, srv.URL+"/api/x", ""); err != nil || code != 200 {
				t.Fatalf("GET before faults = %d, %v", code, err)
			}
			setAtRuntime(t, srv, tc.s)
			tc.check(t, srv)
		})
	}
}

func TestExemptPaths(t *testing.T) {
	srv := newServer(t, mustNew(t, Settings{ErrorRate: 1}))
	for _, p := range []string{AdminPath, "/health/live", ReadyPath} {
		if code, _, err := do(t, http.MethodGet, srv.URL+p, ""); err != nil || code != 200 {
			t.Errorf("GET %s = %d, %v; want 200 with error_rate 1", p, code, err)
		}
	}
	srv = newServer(t, mustNew(t, Settings{ResetRate: 1, Unready: true}))
	if code, _, err := do(t, http.MethodGet, srv.URL+AdminPath, ""); err != nil || code != 200 {
		t.Errorf("GET %s = %d, %v; want 200 with reset_rate 1", AdminPath, code, err)
	}
}

func TestErrorRateZeroNeverFails(t *testing.T) {
	srv := newServer(t, mustNew(t, Settings{ErrorRate: 0}))
	for range 20 {
		if code, _, err := do(t, http.MethodGet, srv.URL+"/", ""); err != nil || code != 200 {
			t.Fatalf("GET = %d, %v; want 200", code, err)
		}
	}
}

// TestSeededShare checks that a seeded source makes the failed share
// repeatable and close to the rate.
func TestSeededShare(t *testing.T) {
	count := func() int {
		f, err := New(Settings{ErrorRate: 0.3}, rand.NewPCG(7, 7), nil)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for range 1000 {
			if f.roll(f.Settings().ErrorRate) {
				n++
			}
		}
		return n
	}
	a, b := count(), count()
	if a != b {
		t.Fatalf("same seed failed %d then %d requests", a, b)
	}
	if a < 250 || a > 350 {
		t.Fatalf("failed %d of 1000 with rate 0.3", a)
	}
}
