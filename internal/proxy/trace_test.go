package proxy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
)

var proxyTraceparent = regexp.MustCompile(`^00-([0-9a-f]{32})-[0-9a-f]{16}-00$`)

const monolithOnly = "legacy: monolith\nupstreams:\n  monolith: {url: \"{{.monolith}}\"}\n"

func TestTraceparent(t *testing.T) {
	hs := newHarness(t, "monolith")
	hs.apply(t, monolithOnly)
	const valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

	t.Run("a valid one is forwarded unchanged", func(t *testing.T) {
		_, s := hs.forward(t, "GET", "/", http.Header{"Traceparent": {valid}})
		if got := s.Header.Values("Traceparent"); len(got) != 1 || got[0] != valid {
			t.Fatalf("upstream got traceparent %q, want %q", got, valid)
		}
	})
	t.Run("a missing one is created with the request id as trace id", func(t *testing.T) {
		_, s := hs.forward(t, "GET", "/", nil)
		m := proxyTraceparent.FindStringSubmatch(s.Header.Get("Traceparent"))
		if m == nil {
			t.Fatalf("upstream got traceparent %q", s.Header.Get("Traceparent"))
		}
		if id := s.Header.Get("X-Request-Id"); m[1] != id {
			t.Errorf("trace id %s differs from the generated request id %s", m[1], id)
		}
	})
	for name, bad := range map[string]string{
		"uppercase":       "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01",
		"zero trace id":   "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
		"zero parent id":  "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
		"short":           "00-4bf92f3577b34da6a3ce929d0e0e47-00f067aa0ba902b7-01",
		"unknown version": "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"garbage":         "hello",
	} {
		t.Run("malformed: "+name, func(t *testing.T) {
			_, s := hs.forward(t, "GET", "/", http.Header{"Traceparent": {bad}, "X-Request-Id": {"client-id"}})
			got := s.Header.Values("Traceparent")
			if len(got) != 1 || !proxyTraceparent.MatchString(got[0]) {
				t.Fatalf("upstream got traceparent %q for %q, want a new one", got, bad)
			}
		})
	}
	t.Run("listing it in Connection does not strip it", func(t *testing.T) {
		addr := hs.front.Listener.Addr().String()
		res, body := rawRequest(t, addr, "GET", "/", "Connection: close, Traceparent", "Traceparent: "+valid)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", res.StatusCode, body)
		}
		seen := hs.backends["monolith"].requests()
		if got := seen[len(seen)-1].Header.Values("Traceparent"); len(got) != 1 || got[0] != valid {
			t.Errorf("upstream got traceparent %q, want %q", got, valid)
		}
	})
}

func TestAccessLog(t *testing.T) {
	hs, out, access := newAccessLogHarness(t, "monolith", "orders")
	hs.apply(t, `legacy: monolith
upstreams:
  monolith: {url: "{{.monolith}}"}
  orders:   {url: "{{.orders}}"}
  dead:     {url: "http://127.0.0.1:1"}
routes:
  - {prefix: /api/orders, service: orders, name: orders}
  - {prefix: /api/dead, service: dead, name: dead}
`)
	res, s := hs.forward(t, "GET", "/api/orders/1?secret=x", http.Header{"X-Request-Id": {"req-1"}})
	_, body := hs.do(t, "GET", "/api/dead/2", http.Header{"X-Request-Id": {"req-2"}})
	// Refused by strangler itself: logged too, without side or upstream.
	if res, _ := hs.do(t, "GET", "/api/orders/..%5c..%5cadmin", http.Header{"X-Request-Id": {"req-3"}}); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("backslash path: %d, want 400", res.StatusCode)
	}
	if res, _ := hs.do(t, "GET", "/api/orders/"+strings.Repeat("x", DefaultMaxURIBytes), http.Header{"X-Request-Id": {"req-4"}}); res.StatusCode != http.StatusRequestURITooLong {
		t.Fatalf("long target: %d, want 414", res.StatusCode)
	}
	// A request is logged once its answer is out, so the last records may
	// still be on their way when the client has the answers.
	eventually(t, "four access log records", func() error {
		if n := bytes.Count(out.Bytes(), []byte("\n")); n < 4 {
			return fmt.Errorf("%d records", n)
		}
		return nil
	})
	access.Close()

	type line struct {
		RequestID string  `json:"request_id"`
		TraceID   string  `json:"trace_id"`
		Client    string  `json:"client"`
		Method    string  `json:"method"`
		Path      string  `json:"path"`
		Route     string  `json:"route"`
		Side      string  `json:"side"`
		Upstream  string  `json:"upstream"`
		Status    int     `json:"status"`
		Bytes     int64   `json:"bytes"`
		Duration  float64 `json:"duration_seconds"`
		Fallback  string  `json:"fallback"`
	}
	var lines []line
	sc := bufio.NewScanner(bytes.NewReader(out.Bytes()))
	for sc.Scan() {
		var l line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("access log line %s: %v", sc.Bytes(), err)
		}
		lines = append(lines, l)
	}
	if len(lines) != 4 {
		t.Fatalf("access log has %d lines, want 4:\n%s", len(lines), out.Bytes())
	}
	for i, want := range []struct {
		id     string
		status int
	}{{"req-3", http.StatusBadRequest}, {"req-4", http.StatusRequestURITooLong}} {
		l := lines[2+i]
		if l.RequestID != want.id || l.Status != want.status || l.Side != "" || l.Upstream != "" ||
			len(l.TraceID) != 32 || len(l.Path) > maxLoggedPath {
			t.Errorf("refusal record = %+v, want %s with status %d, no side, a path of at most %d bytes", l, want.id, want.status, maxLoggedPath)
		}
	}
	m := proxyTraceparent.FindStringSubmatch(s.Header.Get("Traceparent"))
	if m == nil {
		t.Fatalf("upstream traceparent %q", s.Header.Get("Traceparent"))
	}
	first := lines[0]
	if first.RequestID != "req-1" || first.TraceID != m[1] || first.Method != "GET" || first.Path != "/api/orders/1" ||
		first.Route != "orders" || first.Side != "extracted" || first.Upstream != "orders" || first.Status != 200 ||
		first.Bytes != res.ContentLength || first.Duration <= 0 || first.Fallback != "" || first.Client == "" {
		t.Errorf("first record = %+v; response length %d, trace id %s", first, res.ContentLength, m[1])
	}
	second := lines[1]
	if second.RequestID != "req-2" || second.Route != "dead" || second.Side != "legacy" || second.Upstream != "monolith" ||
		second.Fallback != reasonConnect || second.Status != 200 || second.Bytes != int64(len(body)) {
		t.Errorf("second record = %+v, want legacy serving a connect_error fallback", second)
	}
}

// lockedBuffer is a bytes.Buffer the access log's writer and the test may
// share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// Bytes returns a copy of what has been written.
func (l *lockedBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.b.Bytes())
}
