package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strangler-proxy/strangler/internal/appmain"
)

// syncBuffer is a bytes.Buffer safe for concurrent use that signals on
// wrote after each write.
type syncBuffer struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	wrote chan struct{} // capacity 1
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case b.wrote <- struct{}{}:
	default:
	}
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestRun starts run on a free port, checks that it serves, and that it
// shuts down cleanly when its context ends.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	out := &syncBuffer{wrote: make(chan struct{}, 1)}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--addr", "127.0.0.1:0", "--log-format", "json", "--seed", "3"}, out)
	}()

	var base string
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for base == "" {
		select {
		case err := <-done:
			t.Fatalf("run returned before listening: %v\n%s", err, out)
		case <-deadline.C:
			t.Fatalf("no listening line within 10s:\n%s", out)
		case <-out.wrote:
			sc := bufio.NewScanner(strings.NewReader(out.String()))
			for sc.Scan() {
				var rec struct{ Msg, Addr string }
				if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "listening" {
					base = "http://" + rec.Addr
				}
			}
		}
	}

	for _, p := range []string{"/health/live", "/health/ready", "/api/products", "/"} {
		res, err := http.Get(base + p)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d", p, res.StatusCode)
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run after cancel: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}

// TestRunRejectsBadFlags checks that a wrong command line is an
// *appmain.UsageError (exit 2) and prints nothing on stdout.
func TestRunRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--log-format", "xml"},
		{"--fault-latency", "-1s"},
		{"--inventory-url", "nope"},
		{"--payments-url", "localhost:8412"},
		{"--no-such-flag"},
		{"extra-arg", "--addr", "127.0.0.1:0"},
	} {
		var out bytes.Buffer
		err := run(t.Context(), args, &out)
		if _, ok := errors.AsType[*appmain.UsageError](err); !ok || out.Len() != 0 {
			t.Errorf("run(%q) = %v (%T), printed %q; want an *appmain.UsageError and nothing on stdout", args, err, err, out.String())
		}
	}
}
