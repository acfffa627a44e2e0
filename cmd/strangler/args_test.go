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

// TestFlagValuesOutOfRange checks that serve refuses flag values out of
// range as a bad command line (exit 2), naming the flag, before it does
// anything, and accepts the edges of each range (it then goes on to the
// config, which is missing here: exit 1).
func TestFlagValuesOutOfRange(t *testing.T) {
	missing := t.TempDir() + "/no-such.yaml"
	for _, tc := range []struct {
		flag, value string
		refused     bool
	}{
		{"--body-min-rate-grace", "0", true}, {"--body-min-rate-grace", "-1s", true}, {"--body-min-rate-grace", "1ms", false},
		{"--body-min-rate", "-1", true}, {"--body-min-rate", "0", false},
		{"--inventory-size", "20000", true}, {"--inventory-size", "-1", true}, {"--inventory-size", "0", false},
		{"--access-log-sample", "0", true}, {"--access-log-sample", "1.5", true}, {"--access-log-sample", "1", false},
		{"--read-header-timeout", "-1s", true}, {"--read-header-timeout", "1s", false},
		{"--shutdown-timeout", "-1s", true}, {"--max-header-bytes", "-1", true}, {"--max-header-bytes", "4096", false},
		{"--reload-debounce", "-5s", true}, {"--reload-debounce", "0s", false},
		{"--write-timeout", "-1s", false}, {"--write-timeout", "1s", false},
	} {
		var stdout, stderr bytes.Buffer
		args := []string{"serve", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--config", missing, tc.flag, tc.value}
		code := run(context.Background(), args, &stdout, &stderr)
		want := exitError
		if tc.refused {
			want = exitUsage
		}
		if code != want {
			t.Errorf("%s %s: exit code %d, want %d\nstderr: %s", tc.flag, tc.value, code, want, &stderr)
		}
		if named := strings.Contains(stderr.String(), tc.flag+" "+tc.value); named != tc.refused {
			t.Errorf("%s %s: refusal naming the flag %t, want %t\nstderr: %s", tc.flag, tc.value, named, tc.refused, &stderr)
		}
	}
}
