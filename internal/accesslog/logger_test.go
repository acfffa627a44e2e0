package accesslog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func record(i int) Record {
	return Record{
		Time: time.Date(2026, 11, 23, 10, 0, 0, i, time.UTC), RequestID: "req-" + string(rune('a'+i%26)),
		TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", Client: "127.0.0.1:5555",
		Method: "GET", Path: "/api/orders/ord-1", Route: "orders", Side: "legacy", Upstream: "monolith",
		Status: 200, Bytes: 512, Duration: 1500 * time.Microsecond, Fallback: "breaker_open",
	}
}

func TestRecordsAreJSONLinesWithEveryField(t *testing.T) {
	var out safeBuffer
	l, err := New(&out, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		l.Log(record(i))
	}
	l.Close()

	sc := bufio.NewScanner(bytes.NewReader(out.Bytes()))
	lines := 0
	for sc.Scan() {
		lines++
		var got map[string]any
		if err := json.Unmarshal(sc.Bytes(), &got); err != nil {
			t.Fatalf("line %d is not JSON: %v: %s", lines, err, sc.Bytes())
		}
		want := map[string]any{
			"msg": "access", "request_id": "req-" + string(rune('a'+lines-1)), "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
			"client": "127.0.0.1:5555", "method": "GET", "path": "/api/orders/ord-1", "route": "orders",
			"side": "legacy", "upstream": "monolith", "status": 200.0, "bytes": 512.0,
			"duration_seconds": 0.0015, "fallback": "breaker_open",
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("line %d: %s = %v, want %v", lines, k, got[k], v)
			}
		}
		if _, ok := got["time"]; !ok {
			t.Errorf("line %d has no time", lines)
		}
	}
	if lines != 3 {
		t.Fatalf("wrote %d lines, want 3:\n%s", lines, out.Bytes())
	}
}

func TestFallbackIsOmittedWhenThereWasNone(t *testing.T) {
	var out safeBuffer
	l, _ := New(&out, Options{})
	r := record(0)
	r.Fallback = ""
	l.Log(r)
	l.Close()
	if bytes.Contains(out.Bytes(), []byte("fallback")) {
		t.Fatalf("record without fallback mentions one: %s", out.Bytes())
	}
}

// A writer that never returns must not block Log: records beyond the
// buffer are dropped and counted.
func TestAStuckWriterDropsInsteadOfBlocking(t *testing.T) {
	pr, pw := io.Pipe() // nothing reads until the end: every Write blocks
	reg := prometheus.NewRegistry()
	l, err := New(pw, Options{Buffer: 8, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 1000 {
			l.Log(record(i))
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Log blocked behind a stuck writer")
	}
	dropped := testutil.ToFloat64(l.dropped)
	if dropped < 500 {
		t.Fatalf("dropped = %v of 1000 records behind a stuck writer, want most of them", dropped)
	}
	if n, err := testutil.GatherAndCount(reg, "strangler_access_log_dropped_total"); err != nil || n != 1 {
		t.Fatalf("dropped counter registered %d times (%v), want once", n, err)
	}
	// Unblock the writer: every record not dropped is written, once.
	lines := make(chan int)
	go func() {
		n := 0
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			n++
		}
		lines <- n
	}()
	l.Close()
	pw.Close()
	if got := <-lines; float64(got)+dropped != 1000 {
		t.Fatalf("written %d + dropped %v != 1000 logged", got, dropped)
	}
}

func TestLogAfterCloseIsHarmless(t *testing.T) {
	var out safeBuffer
	l, _ := New(&out, Options{Buffer: 2})
	l.Close()
	for i := range 10 {
		l.Log(record(i)) // neither panics nor blocks
	}
	l.Close() // twice is fine
	if out.Len() != 0 {
		t.Fatalf("records logged after Close were written: %s", out.Bytes())
	}
}

func TestSampling(t *testing.T) {
	if _, err := New(io.Discard, Options{Sample: 1.5}); err == nil {
		t.Error("sample 1.5 accepted")
	}
	if _, err := New(io.Discard, Options{Sample: -0.1}); err == nil {
		t.Error("sample -0.1 accepted")
	}
	all, _ := New(io.Discard, Options{})
	defer all.Close()
	half, _ := New(io.Discard, Options{Sample: 0.5})
	defer half.Close()
	const n = 20000
	taken := 0
	for range n {
		if !all.Sampled() {
			t.Fatal("the default logger skipped a request")
		}
		if half.Sampled() {
			taken++
		}
	}
	// 0.5 ± 0.03 is more than eight standard deviations at this n.
	if share := float64(taken) / n; share < 0.47 || share > 0.53 {
		t.Fatalf("sample 0.5 logged %.3f of requests", share)
	}
}

// safeBuffer is a bytes.Buffer the writer goroutine and the test may share.
type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *safeBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}

func (s *safeBuffer) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Len()
}
