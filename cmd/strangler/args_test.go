package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
)

// TestStrayArgumentsRefused checks that serve and demo refuse arguments
// left after their flags, with exit code 2 and a message naming them,
// instead of ignoring them and every flag after them: "serve my.yaml
// --listen 127.0.0.1:8081" must not serve config/routes.yaml on :8080.
// Nothing is started: the command line is refused before any listener.
func TestStrayArgumentsRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want []string // in stderr
	}{
		{"serve yaml first", []string{"serve", "my.yaml", "--listen", "127.0.0.1:8081"},
			[]string{`"my.yaml" "--listen" "127.0.0.1:8081"`, "--config my.yaml", "not read as flags"}},
		{"serve yml after flags", []string{"serve", "--listen", "127.0.0.1:0", "routes.YML"},
			[]string{`unexpected argument "routes.YML"`, "--config routes.YML"}},
		{"serve other", []string{"serve", "now"}, []string{`unexpected argument "now"`}},
		{"demo", []string{"demo", "shop.yaml", "--admin", "127.0.0.1:0"},
			[]string{`"shop.yaml" "--admin" "127.0.0.1:0"`, "--config shop.yaml"}},
		{"version", []string{"version", "extra"}, []string{`unexpected argument "extra"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), tc.args, &stdout, &stderr); code != exitUsage {
				t.Errorf("exit code = %d, want %d\nstderr: %s", code, exitUsage, &stderr)
			}
			for _, want := range tc.want {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr lacks %q:\n%s", want, &stderr)
				}
			}
			if !strings.Contains(stderr.String(), "strangler "+tc.args[0]+" --help") {
				t.Errorf("stderr does not point to --help:\n%s", &stderr)
			}
			if yaml := strings.Contains(strings.Join(tc.want, " "), "--config"); !yaml && strings.Contains(stderr.String(), "--config") {
				t.Errorf("--config suggested for a non-YAML argument:\n%s", &stderr)
			}
		})
	}
	// validate still takes its FILE.
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"validate", "no-such.yaml"}, &stdout, &stderr); code != exitError {
		t.Errorf("validate FILE: exit code = %d, want %d (the file is missing)\nstderr: %s", code, exitError, &stderr)
	}
}

// TestAdminListenerDefaultsToLoopback checks the default of serve's
// --admin, as the flag set parses it with no arguments: the admin listener
// (metrics, status, the dashboard) must bind to a loopback address unless
// the operator asks otherwise.
func TestAdminListenerDefaultsToLoopback(t *testing.T) {
	fs, o, _ := serveFlags(io.Discard)
	if code := parseFlags(fs, nil, io.Discard); code >= 0 {
		t.Fatalf("parsing no flags: exit code %d", code)
	}
	for what, addr := range map[string]string{"parsed --admin": o.admin, "--admin default": fs.Lookup("admin").DefValue} {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatalf("%s %q: %v", what, addr, err)
		}
		if host == "localhost" {
			continue
		}
		ip, err := netip.ParseAddr(host)
		if err != nil || !ip.IsLoopback() {
			t.Errorf("%s is %q: not a loopback address, so the admin listener would be reachable from other machines", what, addr)
		}
	}
	if o.listen == o.admin {
		t.Errorf("--listen and --admin both default to %q", o.admin)
	}
}

// TestBodyMinRateGraceMustBePositive checks that serve refuses a
// --body-min-rate-grace of 0 (or less), naming the flag, instead of
// running with the 5s default: 0 reads as "no grace", which strangler
// does not offer. A positive grace passes the check (the run then stops
// at the missing config, before any listener).
func TestBodyMinRateGraceMustBePositive(t *testing.T) {
	missing := t.TempDir() + "/no-such.yaml"
	for _, tc := range []struct {
		grace   string
		refused bool
	}{{"0", true}, {"0s", true}, {"-1s", true}, {"1ms", false}} {
		var stdout, stderr bytes.Buffer
		args := []string{"serve", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--config", missing,
			"--body-min-rate-grace", tc.grace}
		if code := run(context.Background(), args, &stdout, &stderr); code != exitError {
			t.Errorf("--body-min-rate-grace %s: exit code %d, want %d\nstderr: %s", tc.grace, code, exitError, &stderr)
		}
		refused := strings.Contains(stderr.String(), "--body-min-rate-grace") &&
			strings.Contains(stderr.String(), "want a positive duration")
		if refused != tc.refused {
			t.Errorf("--body-min-rate-grace %s: refused %t, want %t\nstderr: %s", tc.grace, refused, tc.refused, &stderr)
		}
		if !tc.refused && !strings.Contains(stderr.String(), "no-such.yaml") {
			t.Errorf("--body-min-rate-grace %s: did not go on to load the config\nstderr: %s", tc.grace, &stderr)
		}
	}
}
