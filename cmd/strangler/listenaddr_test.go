package main

import (
	"bytes"
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
)

// TestListenAddressesMustBeGiven checks that an empty or portless --listen
// or --admin is refused as a bad command line (exit 2) before anything
// listens: Go would read "" or ":" as every interface on a port of the
// system's choosing, and an unset value in a deployment template would
// open the admin listener to the network, with no token and no Host
// check. Port 0 written out is still accepted (the config is missing
// here: exit 1).
func TestListenAddressesMustBeGiven(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-such.yaml")
	for _, tc := range []struct {
		cmd, flag, value string
		refused          bool
		want             string // in stderr
	}{
		{"serve", "--admin", "", true, "--admin is empty: want host:port"},
		{"serve", "--listen", "", true, "--listen is empty: want host:port"},
		{"serve", "--admin", ":", true, "--admin :: want host:port"},
		{"serve", "--admin", "127.0.0.1:", true, "--admin 127.0.0.1:: want host:port"},
		{"serve", "--admin", "9090", true, "--admin 9090: want host:port"},
		{"serve", "--listen", "localhost", true, "--listen localhost: want host:port"},
		{"demo", "--admin", "", true, "--admin is empty"},
		{"serve", "--admin", "127.0.0.1:0", false, "no-such.yaml"},
		{"serve", "--listen", "127.0.0.1:0", false, "no-such.yaml"},
	} {
		args := []string{tc.cmd, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--config", missing, tc.flag, tc.value}
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), args, &stdout, &stderr)
		want := exitError
		if tc.refused {
			want = exitUsage
		}
		if code != want {
			t.Errorf("%s %s %q: exit code %d, want %d\nstderr: %s", tc.cmd, tc.flag, tc.value, code, want, &stderr)
		}
		if !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%s %s %q: stderr lacks %q:\n%s", tc.cmd, tc.flag, tc.value, tc.want, &stderr)
		}
		if tc.refused && strings.Contains(stderr.String(), "strangler serving") {
			t.Errorf("%s %s %q: served before refusing:\n%s", tc.cmd, tc.flag, tc.value, &stderr)
		}
	}
}

// TestWarnsWhenTheAdminListenerIsExposed checks the WARN logged at start
// when the admin listener is off loopback (--admin :9090, as in the Docker
// image) and no token guards it: it names the address, what is exposed
// and how to protect it. A loopback listener, or a token, needs no
// warning. The addresses are made up: nothing listens off loopback.
func TestWarnsWhenTheAdminListenerIsExposed(t *testing.T) {
	for _, tc := range []struct {
		addr     net.Addr
		hasToken bool
		warn     bool
	}{
		{&net.TCPAddr{IP: net.IPv6unspecified, Port: 9090}, false, true},
		{&net.TCPAddr{IP: net.IPv4zero, Port: 9090}, false, true},
		{&net.TCPAddr{IP: net.IPv4(10, 1, 2, 3), Port: 9090}, false, true},
		{&net.TCPAddr{IP: net.IPv6unspecified, Port: 9090}, true, false},
		{&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9090}, false, false},
		{&net.TCPAddr{IP: net.IPv6loopback, Port: 9090}, false, false},
	} {
		var logs logCapture
		warnIfAdminExposed(logs.textLogger(), tc.addr, tc.hasToken)
		got := logs.String()
		if !tc.warn {
			if got != "" {
				t.Errorf("admin %s, token %t: logged %q, want nothing", tc.addr, tc.hasToken, got)
			}
			continue
		}
		if n := logs.count("level=WARN"); n != 1 {
			t.Errorf("admin %s, token %t: %d WARN lines, want 1:\n%s", tc.addr, tc.hasToken, n, got)
		}
		for _, want := range []string{"admin=" + tc.addr.String(), "/api/status", "/api/shadow", "/metrics", "--admin-token-file", "127.0.0.1"} {
			if !strings.Contains(got, want) {
				t.Errorf("admin %s: the warning lacks %q:\n%s", tc.addr, want, got)
			}
		}
	}
}

// TestLoopbackAdminStartsWithoutWarning runs the proxy as the tests do,
// admin on 127.0.0.1 without a token: no WARN at start.
func TestLoopbackAdminStartsWithoutWarning(t *testing.T) {
	legacy := backend(t, "legacy")
	cfg := filepath.Join(t.TempDir(), "routes.yaml")
	writeConfig(t, cfg, config(legacy.URL, legacy.URL, 0))
	var logs logCapture
	ctx, cancel := context.WithCancel(context.Background())
	_, _, done := startProxyWith(t, ctx, testOptions(cfg), logs.textLogger())
	cancel()
	if err := recv(t, done, "runProxy to return"); err != nil {
		t.Fatal(err)
	}
	if n := logs.count("level=WARN"); n != 0 {
		t.Errorf("%d WARN lines with the admin listener on loopback:\n%s", n, logs.String())
	}
}
