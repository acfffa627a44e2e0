// Package test holds strangler's end-to-end tests: the real strangler
// binary in front of the real legacy monolith and extracted services, each
// its own process on 127.0.0.1, driven over HTTP, through routes.yaml on
// disk and with signals.
//
// TestMain builds the binaries once; every test starts the processes it
// needs on port 0 and reads the bound addresses from their logs, so tests
// run in parallel without port races. go test -short builds nothing and
// skips them.
package test

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// binDir holds the binaries TestMain built; empty in -short mode.
var binDir string

// raceEnabled is true when the tests run with -race (race_test.go); the
// binaries are then built with -race too, so a data race in any process
// fails its test through a non-zero exit.
var raceEnabled bool

// commands are the packages TestMain builds, relative to the module root.
// Each binary is named after the last element of its path.
var commands = []string{
	"./cmd/strangler",
	"./legacy-monolith/cmd/legacy-monolith",
	"./extracted-services/cmd/orders",
	"./extracted-services/cmd/payments",
	"./extracted-services/cmd/inventory",
}

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(noLeaks(m.Run()))
	}
	dir, err := os.MkdirTemp("", "strangler-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "end-to-end tests:", err)
		os.Exit(1)
	}
	if err := build(dir); err != nil {
		fmt.Fprintln(os.Stderr, "end-to-end tests:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(noLeaks(code))
}

// noLeaks turns a passing run into a failing one when any goroutine the
// tests started (a relay, a witness, a raw upstream, a stream reader) is
// still running after them. The shared client's idle connections are
// closed first: their goroutines are the pool, not a leak.
func noLeaks(code int) int {
	if code != 0 {
		return code
	}
	if tr, ok := client.Transport.(*http.Transport); ok {
		tr.CloseIdleConnections()
	}
	if err := goleak.Find(); err != nil {
		fmt.Fprintln(os.Stderr, "end-to-end tests left goroutines running:", err)
		return 1
	}
	return 0
}

// build compiles commands into dir with the go command on PATH.
func build(dir string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("find the go command: %w", err)
	}
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	if raceEnabled {
		args = append(args, "-race")
	}
	args = append(args, commands...)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, args...)
	cmd.Dir = ".." // the module root; go test runs in test/
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %v: %w\n%s", args, err, out)
	}
	return nil
}
