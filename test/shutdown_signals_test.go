package test

import (
	"context"
	"net/http"
	"net/http/httptrace"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// quickExit bounds how long a process may take to exit after a second
// SIGINT: well under the apps' grace periods (5s in the demo, 10s alone).
const quickExit = 3 * time.Second

// inFlight sends GET base+path from its own goroutine and returns once
// the app has accepted its connection; the returned channel gets the
// request's error (nil for an answer) when it ends. A written request may
// still wait in the listen queue, where a shutdown drops it rather than
// drains it: so inFlight then asks base for /health/live (which faults
// spare) on a connection of its own, which the app accepts after the
// first.
func inFlight(t *testing.T, base, path string) <-chan error {
	t.Helper()
	wrote := make(chan struct{})
	ended := make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 2*patience)
	t.Cleanup(cancel)
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { close(wrote) }})
	url := base + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		res, err := (&http.Transport{}).RoundTrip(req)
		if err == nil {
			res.Body.Close()
		}
		ended <- err
	}()
	select {
	case <-wrote:
	case err := <-ended:
		t.Fatalf("GET %s ended before it was in flight: %v", url, err)
	case <-time.After(patience):
		t.Fatalf("GET %s was never written", url)
	}
	probe := &http.Client{Timeout: patience, Transport: &http.Transport{DisableKeepAlives: true}}
	res, err := probe.Get(base + "/health/live")
	if err != nil {
		t.Fatalf("GET %s/health/live behind the request in flight: %v", base, err)
	}
	res.Body.Close()
	return ended
}

// secondSIGINT sends SIGINT to p, waits for the line that says it is
// draining, sends SIGINT again and wants exit 0 within quickExit, the
// request in flight cut.
func secondSIGINT(t *testing.T, p *proc, draining *regexp.Regexp, req <-chan error) {
	t.Helper()
	p.signal(t, os.Interrupt)
	p.waitLine(t, draining)
	sent := time.Now()
	p.signal(t, os.Interrupt)
	if code := p.wait(t, patience); code != 0 || time.Since(sent) > quickExit {
		t.Fatalf("%s exited with code %d %s after the second SIGINT; want 0 within %s", p.name, code,
			time.Since(sent).Round(time.Millisecond), quickExit)
	}
	select {
	case err := <-req:
		if err == nil {
			t.Fatal("the request in flight got an answer; want its connection closed")
		}
	case <-time.After(patience):
		t.Fatal("the request in flight was not cut")
	}
}

// TestShutdownAppSecondSIGINT stops a bundled app with a request in flight
// (60s of injected latency): a second SIGINT closes it at once, exit 0.
func TestShutdownAppSecondSIGINT(t *testing.T) {
	t.Parallel()
	p := start(t, "legacy-monolith", "--addr", "127.0.0.1:0", "--fault-latency", "60s")
	base := "http://" + p.waitLine(t, listening)[1]
	req := inFlight(t, base, "/api/products")
	secondSIGINT(t, p, regexp.MustCompile(`msg="shutting down"`), req)
}

// TestShutdownDemoSecondSIGINT stops strangler demo with a request in
// flight at an app (60s of injected latency, by --fault): a second SIGINT
// while the apps drain stops it at once, exit 0.
func TestShutdownDemoSecondSIGINT(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("../config/routes.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, addrs := string(src), freeAddrs(t, 4)
	for i, port := range []string{"8401", "8411", "8412", "8413"} {
		cfg = strings.Replace(cfg, "http://127.0.0.1:"+port, "http://"+addrs[i], 1)
	}
	p := start(t, "strangler", "demo", "--config", newConfig(t, cfg), "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
		"--fault", "monolith:latency=60s")
	p.waitLine(t, regexp.MustCompile(`Shop, through the proxy`))
	req := inFlight(t, "http://"+addrs[0], "/api/products")
	secondSIGINT(t, p, regexp.MustCompile(`msg="demo: stopping the apps"`), req)
}

// TestShutdownAppUsageErrors checks that a wrong command line of a bundled
// app exits 2, saying why on stderr, instead of running with flags
// ignored.
func TestShutdownAppUsageErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		says string
	}{
		{"orders", []string{"extra-arg", "--addr", "127.0.0.1:0"}, `unexpected argument "extra-arg"`},
		{"payments", []string{"--addr", "127.0.0.1:0", "--monolith-url", ""}, "must not be empty"},
		{"legacy-monolith", []string{"--addr", "127.0.0.1:0", "--no-such-flag"}, "flag provided but not defined"},
	} {
		p := start(t, tc.name, tc.args...)
		if code := p.wait(t, patience); code != 2 || !strings.Contains(p.out.String(), tc.says) || !strings.Contains(p.out.String(), "for usage") {
			t.Errorf("%s %q: exit %d, output:\n%s\nwant exit 2 saying %q", tc.name, tc.args, code, p.out, tc.says)
		}
	}
	p := start(t, "inventory", "-h")
	if code := p.wait(t, patience); code != 0 || !strings.Contains(p.out.String(), "-addr") {
		t.Errorf("inventory -h: exit %d, output:\n%s\nwant exit 0 with the flags", code, p.out)
	}
}
