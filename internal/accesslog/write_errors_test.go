package accesslog

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// flakyWriter fails its first fails writes with ENOSPC, as a full disk
// does, writing the first partial bytes of each (none when 0), and then
// writes everything.
type flakyWriter struct {
	mu      sync.Mutex
	fails   int
	partial int
	calls   int
	out     bytes.Buffer
}

func (f *flakyWriter) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.fails > 0 {
		f.fails--
		n := min(f.partial, len(p))
		f.out.Write(p[:n])
		return n, fmt.Errorf("write access.log: %w", syscall.ENOSPC)
	}
	return f.out.Write(p)
}

func (f *flakyWriter) Calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func (f *flakyWriter) Bytes() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return bytes.Clone(f.out.Bytes())
}

// levelCounter counts the log lines of each level written through it.
type levelCounter struct {
	mu sync.Mutex
	n  map[slog.Level]int
}

func (c *levelCounter) Enabled(context.Context, slog.Level) bool { return true }
func (c *levelCounter) WithAttrs([]slog.Attr) slog.Handler       { return c }
func (c *levelCounter) WithGroup(string) slog.Handler            { return c }
func (c *levelCounter) Handle(_ context.Context, r slog.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[slog.Level]int{}
	}
	c.n[r.Level]++
	return nil
}

func (c *levelCounter) count(l slog.Level) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[l]
}

// waitFor fails the test when cond does not hold within rotationPatience.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(rotationPatience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestWritesResumeAfterAFailedWrite fills the disk for three writes: the
// records those writes held are dropped and counted, the operator is
// warned once, and the records after them are written, every line whole.
func TestWritesResumeAfterAFailedWrite(t *testing.T) {
	for _, partial := range []int{0, 10} {
		t.Run(fmt.Sprintf("partial=%d", partial), func(t *testing.T) {
			const fails = 3
			w := &flakyWriter{fails: fails, partial: partial}
			logs := &levelCounter{}
			l, err := New(w, Options{Registerer: prometheus.NewRegistry(), Log: slog.New(logs)})
			if err != nil {
				t.Fatal(err)
			}
			// One record at a time, each flushed on its own as the queue
			// runs dry: each of the first three meets a failed write.
			for i := range fails {
				l.Log(numbered(i))
				waitFor(t, fmt.Sprintf("write %d to be tried (after a failed write, the log must try again)", i+1), func() bool { return w.Calls() > i })
			}
			const total = 10
			for i := fails; i < total; i++ {
				l.Log(numbered(i))
			}
			l.Close()

			dropped := testutil.ToFloat64(l.dropped)
			if dropped != fails {
				t.Errorf("dropped = %v, want %d: the records the failed writes held", dropped, fails)
			}
			if n := logs.count(slog.LevelWarn); n != 1 {
				t.Errorf("%d WARN lines, want one for the run of failures", n)
			}
			if n := logs.count(slog.LevelInfo); n != 1 {
				t.Errorf("%d INFO lines, want one when writes succeed again", n)
			}
			var got []int
			broken := 0
			sc := bufio.NewScanner(bytes.NewReader(w.Bytes()))
			for sc.Scan() {
				var rec struct{ Bytes int }
				if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
					broken++ // the part of a record a failed write left
					continue
				}
				got = append(got, rec.Bytes)
			}
			// Each failed write may leave a part of a line, ended by a
			// newline before the next record: never a record glued to it.
			if broken > fails || partial == 0 && broken != 0 {
				t.Errorf("%d lines are not JSON after %d failed writes of %d bytes:\n%s", broken, fails, partial, w.Bytes())
			}
			if len(got) != total-fails || got[0] != fails || got[len(got)-1] != total-1 {
				t.Errorf("written records %v, want %d to %d", got, fails, total-1)
			}
		})
	}
}

// TestAFailedWriteCountsOnlyTheRecordsItLost writes two records in one
// write that fails after the first line and part of the second: the first
// is in the file and not counted, the second is dropped, and the next
// record starts a line of its own.
func TestAFailedWriteCountsOnlyTheRecordsItLost(t *testing.T) {
	l, err := newLogger(Options{Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	var line bytes.Buffer
	h := slog.NewJSONHandler(&line, nil)
	r := numbered(0)
	if err := h.Handle(background, r.slogRecord()); err != nil {
		t.Fatal(err)
	}
	w := &flakyWriter{fails: 1, partial: line.Len() + 10}
	s := newSink(l, w)
	s.put(numbered(0))
	s.put(numbered(1))
	s.flush()
	if d := testutil.ToFloat64(l.dropped); d != 1 {
		t.Fatalf("dropped = %v after a write that wrote one of two records, want 1", d)
	}
	s.put(numbered(2))
	s.flush()
	if d := testutil.ToFloat64(l.dropped); d != 1 {
		t.Fatalf("dropped = %v after a write that succeeded, want still 1", d)
	}
	lines := bytes.Split(bytes.TrimSuffix(w.Bytes(), []byte("\n")), []byte("\n"))
	if len(lines) != 3 {
		t.Fatalf("%d lines, want the first record, the part of the second, the third:\n%s", len(lines), w.Bytes())
	}
	for i, want := range map[int]int{0: 0, 2: 2} {
		var rec struct{ Bytes int }
		if err := json.Unmarshal(lines[i], &rec); err != nil || rec.Bytes != want {
			t.Errorf("line %d = %s (%v), want record %d", i+1, lines[i], err, want)
		}
	}
}
