package main

import (
	"io"
	"net/http"
	"testing"

	"github.com/strangler-proxy/strangler/extracted-services/internal/stacktest"
)

// TestRun starts the binary's run on a free port, checks it serves, and
// checks it shuts down cleanly when its context ends.
func TestRun(t *testing.T) {
	base, stop := stacktest.RunMain(t, run, "--monolith-url", "http://127.0.0.1:1", "--fault-unready")
	if code := stacktest.GetStatus(t, base+"/health/live"); code != http.StatusOK {
		t.Errorf("GET /health/live = %d", code)
	}
	if code := stacktest.GetStatus(t, base+"/health/ready"); code != http.StatusServiceUnavailable {
		t.Errorf("GET /health/ready with --fault-unready = %d", code)
	}
	if err := stop(); err != nil {
		t.Fatalf("run after cancel: %v", err)
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--log-format", "xml"},
		{"--fault-error-rate", "2"},
		{"--no-such-flag"},
		{"--addr", "127.0.0.1:99999"},
	} {
		if err := run(t.Context(), args, io.Discard); err == nil {
			t.Errorf("run(%q) = nil, want an error", args)
		}
	}
}
