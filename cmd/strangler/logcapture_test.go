package main

import (
	"bufio"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

// logCapture keeps what a logger writes, for a test to read while the
// code under test still writes, and reads it as log lines.
type logCapture struct{ lockedBuffer }

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
