package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// logCapture keeps what a logger writes, for a test to read while the
// code under test still writes.
type logCapture struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *logCapture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.Write(p)
}

func (c *logCapture) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

// textLogger returns a logger writing text lines to c, debug and up.
func (c *logCapture) textLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(c, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// count returns how many lines hold s.
func (c *logCapture) count(s string) int {
	n := 0
	for line := range strings.Lines(c.String()) {
		if strings.Contains(line, s) {
			n++
		}
	}
	return n
}

// records parses the JSON lines written so far.
func (c *logCapture) records(t *testing.T) []map[string]any {
	t.Helper()
	var recs []map[string]any
	sc := bufio.NewScanner(strings.NewReader(c.String()))
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("a log line is not JSON: %v: %s", err, sc.Bytes())
		}
		recs = append(recs, rec)
	}
	return recs
}
