// Package faultstest checks that an app injects every fault kind of package
// faults, set at start and at run time. It is for the bundled apps' tests
// only and imports no internal package other than faults.
package faultstest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
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
// faults. path is an endpoint that answers GET, when no fault is set, below
// 500 with a JSON body that has an object key and is the same on every
// run; alter_field is checked on the first key with a scalar value (keys
// sorted, depth first).
func Check(t *testing.T, path string, newApp NewApp) {
	t.Helper()
	field, baseCode, baseline := jsonBaseline(t, start(t, newApp(t, faults.Settings{}))+path)
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
		{"alter_field", faults.Settings{AlterField: field}, func(t *testing.T, base string) {
			code, ct, body, err := getBody(base + path)
			if err != nil || code != baseCode {
				t.Fatalf("GET %s = %d, %v; want %d", path, code, err, baseCode)
			}
			var got any
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("GET %s with alter_field %q: %v in %q (%s)", path, field, err, body, ct)
			}
			if want := alterRef(baseline, field); !reflect.DeepEqual(got, want) {
				t.Fatalf("GET %s with alter_field %q = %s; want %s", path, field, body, mustJSON(want))
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

// getBody GETs url and returns status, Content-Type and body, checking the
// body against Content-Length.
func getBody(url string) (int, string, []byte, error) {
	res, err := client().Get(url)
	if err != nil {
		return 0, "", nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err == nil && res.Header.Get("Content-Length") != strconv.Itoa(len(b)) {
		err = fmt.Errorf("Content-Length %q for a body of %d bytes", res.Header.Get("Content-Length"), len(b))
	}
	return res.StatusCode, res.Header.Get("Content-Type"), b, err
}

// jsonBaseline returns the unfaulted answer of url (status, decoded body)
// and the key alter_field is checked with.
func jsonBaseline(t *testing.T, url string) (field string, code int, body any) {
	t.Helper()
	code, ct, b, err := getBody(url)
	if err != nil || code >= 500 {
		t.Fatalf("GET %s without faults = %d, %v; want an answer below 500", url, code, err)
	}
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatalf("GET %s without faults: %v in %q (%s); want JSON", url, err, b, ct)
	}
	if field = pickKey(body); field == "" {
		t.Fatalf("GET %s without faults = %s; want JSON with an object key", url, b)
	}
	return field, code, body
}

// pickKey returns the first key with a scalar value (keys sorted, depth
// first), else the first key, else "".
func pickKey(v any) string {
	var first string
	var walk func(v any) string
	walk = func(v any) string {
		switch v := v.(type) {
		case map[string]any:
			for _, k := range slices.Sorted(maps.Keys(v)) {
				if first == "" {
					first = k
				}
				switch v[k].(type) {
				case map[string]any, []any:
					if found := walk(v[k]); found != "" {
						return found
					}
				default:
					return k
				}
			}
		case []any:
			for _, e := range v {
				if found := walk(e); found != "" {
					return found
				}
			}
		}
		return ""
	}
	if k := walk(v); k != "" {
		return k
	}
	return first
}

// alterRef is what alter_field makes of the decoded JSON v, worked out on
// the decoded values (numbers as float64).
func alterRef(v any, field string) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			if k != field {
				out[k] = alterRef(e, field)
				continue
			}
			switch e := e.(type) {
			case string:
				out[k] = e + " (altered)"
			case float64:
				out[k] = e + 1
			case bool:
				out[k] = !e
			default: // null, object, array
				out[k] = "altered"
			}
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = alterRef(e, field)
		}
		return out
	}
	return v
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
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
