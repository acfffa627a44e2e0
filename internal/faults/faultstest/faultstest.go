// Package faultstest checks that an app injects every fault kind of package
// faults, set at start and at run time. It is for the bundled apps' tests
// only and imports no internal package other than faults.
package faultstest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/strangler-proxy/strangler/internal/faults"
)

// Latency is the small latency the check configures and then measures.
const Latency = 25 * time.Millisecond

// NewApp builds the app under test with s as its start-up faults (as
// Options.Faults would set them).
type NewApp func(t *testing.T, s faults.Settings) http.Handler

// Check runs each fault kind against the app: once set through newApp, once
// set at run time with PUT faults.AdminPath on an app started without
// faults. path is an endpoint that answers GET with 200 when no fault is set.
func Check(t *testing.T, path string, newApp NewApp) {
	t.Helper()
	kinds := []struct {
		name  string
		s     faults.Settings
		check func(t *testing.T, base string)
	}{
		{"latency", faults.Settings{Latency: faults.Duration(Latency)}, func(t *testing.T, base string) {
			start := time.Now()
			code, err := get(base + path)
			if took := time.Since(start); err != nil || code >= 500 || took < Latency {
				t.Fatalf("GET %s = %d, %v after %s; want an answer after at least %s", path, code, err, took, Latency)
			}
		}},
		{"error_rate", faults.Settings{ErrorRate: 1}, func(t *testing.T, base string) {
			if code, err := get(base + path); err != nil || code < 500 {
				t.Fatalf("GET %s = %d, %v; want 5xx", path, code, err)
			}
			if code, err := get(base + faults.AdminPath); err != nil || code != http.StatusOK {
				t.Fatalf("GET %s = %d, %v; the admin endpoint must not be faulted", faults.AdminPath, code, err)
			}
		}},
		{"reset", faults.Settings{ResetRate: 1}, func(t *testing.T, base string) {
			if code, err := get(base + path); err == nil {
				t.Fatalf("GET %s = %d; want a connection error", path, code)
			}
		}},
		{"unready", faults.Settings{Unready: true}, func(t *testing.T, base string) {
			if code, err := get(base + faults.ReadyPath); err != nil || code != http.StatusServiceUnavailable {
				t.Fatalf("GET %s = %d, %v; want 503", faults.ReadyPath, code, err)
			}
			if code, err := get(base + "/health/live"); err != nil || code != http.StatusOK {
				t.Fatalf("GET /health/live = %d, %v; want 200 while unready", code, err)
			}
		}},
	}
	for _, k := range kinds {
		t.Run(k.name+"/options", func(t *testing.T) {
			k.check(t, start(t, newApp(t, k.s)))
		})
		t.Run(k.name+"/runtime", func(t *testing.T) {
			base := start(t, newApp(t, faults.Settings{}))
			if code, err := get(base + faults.ReadyPath); err != nil || code != http.StatusOK {
				t.Fatalf("GET %s before faults = %d, %v; want 200", faults.ReadyPath, code, err)
			}
			if code, err := get(base + path); err != nil || code >= 500 {
				t.Fatalf("GET %s before faults = %d, %v; want an answer below 500", path, code, err)
			}
			b, _ := json.Marshal(k.s)
			req, _ := http.NewRequest(http.MethodPut, base+faults.AdminPath, bytes.NewReader(b))
			res, err := client().Do(req)
			if err != nil {
				t.Fatalf("PUT %s: %v", faults.AdminPath, err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				t.Fatalf("PUT %s = %d", faults.AdminPath, res.StatusCode)
			}
			k.check(t, base)
		})
	}
}

func start(t *testing.T, h http.Handler) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// client does not reuse connections, so a reset hits only its own request.
func client() *http.Client {
	return &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
}

func get(url string) (int, error) {
	res, err := client().Get(url)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	_, err = io.Copy(io.Discard, res.Body)
	return res.StatusCode, err
}
