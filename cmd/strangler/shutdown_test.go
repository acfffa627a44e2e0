package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestShutdownDelayClosesKeepAliveConnections runs strangler serve with
// JSON logs and a long --shutdown-delay, with a request in flight at a
// slow upstream, and checks the shutdown from the operator's side:
//   - during the delay, an answer on a kept-alive connection carries
//     "Connection: close", so that a load balancer's pool lets go of it
//     while strangler still accepts;
//   - a second signal ends the delay and cuts the request in flight, and
//     the log says the signal did it, not the grace period;
//   - durations are logged as seconds under keys ending in _seconds;
//   - the last line says strangler stopped.
//
// The second signal is a real SIGINT, sent once /readyz answers 503: by
// then strangler listens for it.
func TestShutdownDelayClosesKeepAliveConnections(t *testing.T) {
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			entered <- struct{}{}
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		io.WriteString(w, "legacy")
	}))
	defer up.Close()
	defer close(release)
	cfg := filepath.Join(t.TempDir(), "routes.yaml")
	writeConfig(t, cfg, config(up.URL, up.URL, 0))

	var logs logCapture
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	exit := make(chan int, 1)
	go func() {
		exit <- run(ctx, []string{"serve", "--config", cfg, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
			"--log-format", "json", "--shutdown-delay", "1m", "--shutdown-timeout", "1m"}, io.Discard, &logs)
	}()
	var proxyAddr, adminAddr string
	eventually(t, "strangler to serve", func() bool {
		for _, rec := range logs.records(t) {
			if rec["msg"] == "strangler serving" {
				proxyAddr, adminAddr = rec["proxy"].(string), rec["admin"].(string)
				return true
			}
		}
		return false
	})

	client := &http.Client{Timeout: waitLimit, Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	fetch := func(path string) *http.Response {
		t.Helper()
		res, err := client.Get("http://" + proxyAddr + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	if res := fetch("/before"); res.Close {
		t.Fatalf("before the signal: Connection: close; want the connection kept alive")
	}
	slow := make(chan error, 1)
	go func() {
		res, err := (&http.Client{Timeout: waitLimit}).Get("http://" + proxyAddr + "/slow")
		if err == nil {
			_, err = io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
		slow <- err
	}()
	recv(t, entered, "the slow request to reach the upstream")

	cancel() // as the first SIGTERM does
	eventually(t, "/readyz to answer 503", func() bool {
		code, _ := get(t, "http://"+adminAddr+"/readyz")
		return code == http.StatusServiceUnavailable
	})
	// The connection of /before, idle since, must still be open: the
	// request goes on it, and its answer says to close it.
	var reused bool
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(),
		&httptrace.ClientTrace{GotConn: func(c httptrace.GotConnInfo) { reused = c.Reused }}),
		http.MethodGet, "http://"+proxyAddr+"/during-delay", nil)
	mustDo(t, err)
	res, err := client.Do(req)
	mustDo(t, err)
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	mustDo(t, syscall.Kill(os.Getpid(), syscall.SIGINT))
	// The client reads "Connection: close" into res.Close.
	if res.StatusCode != http.StatusOK || !res.Close || !reused {
		t.Errorf("during the shutdown delay: %d, close %t, on the kept-alive connection %t; want 200 with Connection: close on it",
			res.StatusCode, res.Close, reused)
	}
	if code := recv(t, exit, "serve to exit after the second signal"); code != exitOK {
		t.Errorf("exit code %d, want %d", code, exitOK)
	}
	if err := recv(t, slow, "the slow request to end"); err == nil {
		t.Errorf("the request in flight got its answer; want it cut by the second signal")
	}

	recs := logs.records(t)
	seen := map[string]map[string]any{}
	for _, rec := range recs {
		msg, _ := rec["msg"].(string)
		seen[msg] = rec
		for k, v := range rec {
			if (k == "delay" || k == "timeout" || k == "took" || k == "grace") || (strings.HasSuffix(k, "_seconds") && !isFloat(v)) {
				t.Errorf("%q logs %s=%v: want durations as seconds under a key ending in _seconds", msg, k, v)
			}
		}
	}
	for msg, want := range map[string][2]any{
		"shutting down: still accepting requests while load balancers notice": {"delay_seconds", 60.0},
		"shutting down: draining in-flight requests":                          {"timeout_seconds", 60.0},
	} {
		if rec, ok := seen[msg]; !ok || rec[want[0].(string)] != want[1] {
			t.Errorf("log line %q: %v, want %s = %v", msg, rec, want[0], want[1])
		}
	}
	if rec, ok := seen["routing table swapped"]; !ok || !isFloat(rec["duration_seconds"]) {
		t.Errorf("log line \"routing table swapped\": %v, want duration_seconds", rec)
	}
	if _, ok := seen["second signal: closing the connections still open"]; !ok {
		t.Errorf("no line says the second signal cut the connections still open:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "grace period over") {
		t.Errorf("the log blames the grace period (1m) for a cut the second signal made:\n%s", logs.String())
	}
	if last := recs[len(recs)-1]; last["msg"] != "strangler stopped" || last["level"] != "INFO" {
		t.Errorf("last log line %v, want INFO strangler stopped", last)
	}
}

// isFloat reports whether a JSON value is a number.
func isFloat(v any) bool {
	_, ok := v.(float64)
	return ok
}

// TestDurationsLoggedInSeconds checks the logger strangler builds from its
// flags: a time.Duration logged as one comes out in seconds under a key
// ending in _seconds, in JSON and in text, nested in a group too.
func TestDurationsLoggedInSeconds(t *testing.T) {
	for format, want := range map[string][]string{
		"json": {`"grace_seconds":5`, `"took_seconds":0.25`, `"g":{"delay_seconds":1.5}`, `"timeout_seconds":30`},
		"text": {"grace_seconds=5", "took_seconds=0.25", "g.delay_seconds=1.5", "timeout_seconds=30"},
	} {
		var out logCapture
		log, err := (&logFlags{format: format, level: "info"}).logger(&out)
		if err != nil {
			t.Fatal(err)
		}
		log.Info("x", "grace", 5*time.Second, "took", 250*time.Millisecond, "timeout_seconds", 30*time.Second)
		log.WithGroup("g").Info("y", "delay", 1500*time.Millisecond)
		for _, w := range want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("%s: lacks %s:\n%s", format, w, out.String())
			}
		}
	}
}
