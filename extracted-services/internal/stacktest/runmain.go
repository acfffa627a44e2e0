package stacktest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strangler-proxy/strangler/internal/appmain"
)

// RunFunc is the run function of a service binary.
type RunFunc func(ctx context.Context, args []string, stdout io.Writer) error

// syncBuffer is a bytes.Buffer safe for concurrent use that signals on
// wrote after each write.
type syncBuffer struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	wrote chan struct{} // capacity 1
}

// Write appends p and signals wrote.
func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case b.wrote <- struct{}{}:
	default: // a signal is already pending
	}
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// RunMain starts run with args plus --addr 127.0.0.1:0 and --log-format
// json, waits for its "listening" log line, and returns the base URL and a
// stop function that cancels the context and returns run's error.
func RunMain(t *testing.T, run RunFunc, args ...string) (base string, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{wrote: make(chan struct{}, 1)}
	done := make(chan error, 1)
	go func() { done <- run(ctx, append(args, "--addr", "127.0.0.1:0", "--log-format", "json"), out) }()
	stop = func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(15 * time.Second):
			t.Fatal("run did not return after cancel")
			return nil
		}
	}
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		select {
		case err := <-done:
			cancel()
			t.Fatalf("run returned before listening: %v\n%s", err, out)
		case <-deadline.C:
			_ = stop()
			t.Fatalf("no listening line within 10s:\n%s", out)
		case <-out.wrote:
			if addr := listeningAddr(out.String()); addr != "" {
				return "http://" + addr, stop
			}
		}
	}
}

// listeningAddr finds the addr of the "listening" JSON log line, or "".
func listeningAddr(logs string) string {
	sc := bufio.NewScanner(strings.NewReader(logs))
	for sc.Scan() {
		var rec struct{ Msg, Addr string }
		if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "listening" {
			return rec.Addr
		}
	}
	return ""
}

// GetStatus returns the status of GET url, or fails the test.
func GetStatus(t *testing.T, url string) int {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	res.Body.Close()
	return res.StatusCode
}

// CheckServiceBinary checks a service binary's run: it serves on a free
// port, honours --fault-unready, shuts down cleanly when its context ends,
// and refuses bad flags.
func CheckServiceBinary(t *testing.T, run RunFunc) {
	t.Run("serves and stops", func(t *testing.T) {
		base, stop := RunMain(t, run, "--monolith-url", "http://127.0.0.1:1", "--fault-unready")
		if code := GetStatus(t, base+"/health/live"); code != http.StatusOK {
			t.Errorf("GET /health/live = %d", code)
		}
		if code := GetStatus(t, base+"/health/ready"); code != http.StatusServiceUnavailable {
			t.Errorf("GET /health/ready with --fault-unready = %d", code)
		}
		if err := stop(); err != nil {
			t.Fatalf("run after cancel: %v", err)
		}
	})
	t.Run("rejects bad flags", func(t *testing.T) {
		CheckUsageErrors(t, run, [][]string{
			{"--log-format", "xml"},
			{"--fault-error-rate", "2"},
			{"--no-such-flag"},
			{"extra-arg", "--addr", "127.0.0.1:0"},
			{"--addr", "127.0.0.1:0", "extra-arg"},
			{"--monolith-url", ""},
			{"--monolith-url", "localhost:8401"},
		})
		if err := run(t.Context(), []string{"--addr", "127.0.0.1:99999"}, io.Discard); err == nil {
			t.Errorf("run(--addr 127.0.0.1:99999) = nil, want an error")
		}
	})
}

// CheckUsageErrors checks that run refuses each command line with an
// *appmain.UsageError (exit 2), before it listens, and prints nothing.
func CheckUsageErrors(t *testing.T, run RunFunc, cases [][]string) {
	t.Helper()
	for _, args := range cases {
		var out bytes.Buffer
		err := run(t.Context(), args, &out)
		if _, ok := errors.AsType[*appmain.UsageError](err); !ok || out.Len() != 0 {
			t.Errorf("run(%q) = %v (%T), printed %q; want an *appmain.UsageError and nothing on stdout", args, err, err, out.String())
		}
	}
}
