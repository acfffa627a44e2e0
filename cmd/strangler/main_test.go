package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strangler-proxy/strangler/internal/proxy"
	"github.com/strangler-proxy/strangler/internal/testwait"
)

// backend returns a loopback server that answers with its name.
func backend(t *testing.T, name string) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, name)
	}))
	t.Cleanup(s.Close)
	return s
}

func writeConfig(t *testing.T, path, body string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func config(legacyURL, ordersURL string, weight int) string {
	return fmt.Sprintf("legacy: monolith\nupstreams:\n  monolith: {url: %q}\n  orders: {url: %q}\nroutes:\n  - prefix: /api/orders\n    service: orders\n    weight: %d\n", legacyURL, ordersURL, weight)
}

// eventually polls cond every few milliseconds until it holds or the
// deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitLimit bounds each wait of these tests for something that should
// happen promptly, so that a regression fails the test rather than hanging
// it until go test's own timeout.
const waitLimit = 10 * time.Second

// recv receives a value from ch, failing the test when none comes within
// waitLimit.
func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	return testwait.Recv(t, ch, waitLimit, what)
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestValidateCommand(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	writeConfig(t, good, config("http://127.0.0.1:1", "http://127.0.0.1:2", 25))
	bad := filepath.Join(dir, "bad.yaml")
	writeConfig(t, bad, "legacy: monolith\nupstreams:\n  monolith: {url: ftp://x}\n  orders: {url: http://127.0.0.1:2}\nroutes:\n  - prefix: /api/orders\n    service: orders\n    weight: 150\n    colour: blue\n")

	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout []string
		stderr []string
	}{
		{"valid", []string{"validate", good}, exitOK, []string{"valid", "2 upstreams, 1 routes"}, nil},
		{"every problem with its line", []string{"validate", bad}, exitError, nil, []string{
			"bad.yaml:9: field colour not found",
			"bad.yaml:3: upstream \"monolith\": url \"ftp://x\": scheme must be http or https",
			"bad.yaml:8: route \"/api/orders\": weight must be between 0 and 100, got 150",
		}},
		{"missing file", []string{"validate", filepath.Join(dir, "nope.yaml")}, exitError, nil, []string{"no such file"}},
		{"no file", []string{"validate"}, exitUsage, nil, []string{"exactly one FILE"}},
		{"help", []string{"validate", "--help"}, exitOK, []string{"Usage: strangler validate FILE"}, nil},
		{"unknown command", []string{"frobnicate"}, exitUsage, nil, []string{`unknown command "frobnicate"`}},
		{"no command", nil, exitUsage, nil, []string{"Commands:"}},
		{"version", []string{"version"}, exitOK, []string{"strangler "}, nil},
		{"serve help", []string{"serve", "--help"}, exitOK, []string{"--config", "--listen", "--admin"}, nil},
		{"bad flag", []string{"serve", "--bogus"}, exitUsage, nil, []string{"flag provided but not defined: -bogus"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tc.args, &stdout, &stderr)
			if code != tc.code {
				t.Errorf("exit code = %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, &stdout, &stderr)
			}
			for _, want := range tc.stdout {
				if !strings.Contains(stdout.String(), strings.TrimPrefix(want, "-")) {
					t.Errorf("stdout lacks %q:\n%s", want, &stdout)
				}
			}
			for _, want := range tc.stderr {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr lacks %q:\n%s", want, &stderr)
				}
			}
		})
	}
}

// startProxy runs runProxy on loopback ports and returns its addresses and
// a channel that receives its result once ctx is cancelled.
func startProxy(t *testing.T, ctx context.Context, cfgPath string) (proxyAddr, adminAddr string, done <-chan error) {
	t.Helper()
	return startProxyWith(t, ctx, testOptions(cfgPath), nil)
}

// testOptions are the options startProxy runs with: loopback ports of the
// system's choosing, a short debounce and grace period.
func testOptions(cfgPath string) proxyOptions {
	return proxyOptions{config: cfgPath, listen: "127.0.0.1:0", admin: "127.0.0.1:0", shutdownTimeout: 5 * time.Second, debounce: 20 * time.Millisecond,
		bodyMinRateGrace: proxy.DefaultBodyMinRateGrace}
}

// startProxyWith is startProxy with options and a logger (nil: none) of
// the test's.
func startProxyWith(t *testing.T, ctx context.Context, o proxyOptions, log *slog.Logger) (proxyAddr, adminAddr string, done <-chan error) {
	t.Helper()
	type addrs struct{ proxy, admin string }
	started := make(chan addrs, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- runProxy(ctx, o, log, func(p, a string) { started <- addrs{p, a} })
	}()
	select {
	case a := <-started:
		return a.proxy, a.admin, errc
	case err := <-errc:
		t.Fatalf("runProxy: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("proxy did not start")
	}
	return "", "", nil
}

func TestServeReloadsOnEditAndStops(t *testing.T) {
	legacy, orders := backend(t, "legacy"), backend(t, "orders")
	cfg := filepath.Join(t.TempDir(), "routes.yaml")
	writeConfig(t, cfg, config(legacy.URL, orders.URL, 0))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	proxyAddr, adminAddr, done := startProxy(t, ctx, cfg)

	if _, body := get(t, "http://"+proxyAddr+"/api/orders/1"); body != "legacy" {
		t.Fatalf("weight 0: answered by %q, want legacy", body)
	}
	writeConfig(t, cfg, config(legacy.URL, orders.URL, 100))
	eventually(t, "the edit to move /api/orders", func() bool {
		_, body := get(t, "http://"+proxyAddr+"/api/orders/1")
		return body == "orders"
	})

	// A broken edit is refused; the old table keeps serving and the
	// status shows why.
	writeConfig(t, cfg, "legacy: monolith\nupstreams: {}\n")
	eventually(t, "the broken edit to be reported", func() bool {
		_, body := get(t, "http://"+adminAddr+"/api/status")
		var st struct {
			Generation uint64
			LastReload struct{ Result, Error string } `json:"last_reload"`
		}
		_ = json.Unmarshal([]byte(body), &st)
		return st.LastReload.Result == "failure" && strings.Contains(st.LastReload.Error, "routes.yaml:2") && st.Generation == 2
	})
	if _, body := get(t, "http://"+proxyAddr+"/api/orders/1"); body != "orders" {
		t.Fatalf("after a broken edit: answered by %q, want orders (the old table)", body)
	}
	if code, _ := get(t, "http://"+adminAddr+"/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz = %d, want 200", code)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("runProxy returned %v after shutdown, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("runProxy did not return after cancel")
	}
}

// TestServeRefusesInvalidConfigAtStart checks that a config refused at
// start is printed for a person: a heading naming the file, then each
// problem on its own line as file:line: message, as validate prints them.
func TestServeRefusesInvalidConfigAtStart(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "routes.yaml")
	writeConfig(t, cfg, "legacy: monolith\nupstreams:\n  monolith: {url: \"ftp://x\"}\nroutes:\n  - {prefix: api, service: monolith}\n")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"serve", "--config", cfg, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"}, &stdout, &stderr)
	if code != exitError {
		t.Fatalf("exit code = %d, want %d", code, exitError)
	}
	for _, want := range []string{
		"strangler serve: " + cfg + " is not valid; nothing to serve until it is:\n",
		"\n  " + cfg + ":3: ",
		"\n  " + cfg + ":5: ",
	} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, &stderr)
		}
	}
}

func TestShutdownLetsInFlightRequestsFinish(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		close(entered)
		<-release
		io.WriteString(w, "finished")
	}))
	defer slow.Close()
	defer close(release)
	cfg := filepath.Join(t.TempDir(), "routes.yaml")
	writeConfig(t, cfg, config(slow.URL, "http://127.0.0.1:1", 0))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	proxyAddr, _, done := startProxy(t, ctx, cfg)

	type result struct {
		code int
		body string
		err  error
	}
	resc := make(chan result, 1)
	go func() {
		res, err := (&http.Client{Timeout: waitLimit}).Get("http://" + proxyAddr + "/slow")
		if err != nil {
			resc <- result{err: err}
			return
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		resc <- result{res.StatusCode, string(b), err}
	}()
	recv(t, entered, "the request to reach the slow upstream")
	cancel() // as SIGTERM does
	eventually(t, "the listener to stop accepting", func() bool {
		c, err := (&http.Client{Timeout: time.Second}).Get("http://" + proxyAddr + "/")
		if err == nil {
			c.Body.Close()
		}
		return err != nil
	})
	release <- struct{}{} // the handler waits for it since entered
	r := recv(t, resc, "the in-flight request's answer")
	if r.err != nil || r.code != http.StatusOK || r.body != "finished" {
		t.Fatalf("in-flight request: code %d body %q err %v, want 200 finished", r.code, r.body, r.err)
	}
	if err := recv(t, done, "runProxy to return"); err != nil {
		t.Fatalf("runProxy: %v", err)
	}
}
