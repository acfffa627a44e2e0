package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// TestClientThatStopsReadingIsCutOff checks that a client that asks for a
// large answer and never reads it is cut off once a write has blocked for
// WriteTimeout, freeing the upstream's only bulkhead slot: the next client
// is served. Without the write deadline the stalled client would hold the
// slot (and the upstream connection) for as long as it keeps its
// connection open, and every other request would get 503.
func TestClientThatStopsReadingIsCutOff(t *testing.T) {
	const timeout = 200 * time.Millisecond
	chunk := strings.Repeat("x", 32<<10)
	backend := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/big" {
			_, _ = io.WriteString(w, "small")
			return
		}
		// 256 MiB, far more than the loopback socket buffers hold; the
		// copy ends as soon as the proxy stops reading.
		for range 8 << 10 {
			if _, err := io.WriteString(w, chunk); err != nil {
				return
			}
		}
	}))
	// No http.Server.WriteTimeout here (serve sets one as well): the
	// handler's own deadline must cut the client off.
	hs := newHarnessWith(t, Options{WriteTimeout: timeout})
	hs.urls["legacy"] = backend.URL
	hs.apply(t, `
legacy: legacy
upstreams:
  legacy: {url: "{{.legacy}}", bulkhead: {max_concurrent: 1}}
`)

	stalled := dialRaw(t, hs.front.Listener.Addr().String())
	defer stalled.Close()
	if _, err := fmt.Fprintf(stalled, "GET /big HTTP/1.1\r\nHost: shop\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	// The stalled request holds the slot until it is cut off; from then
	// on the next request is served.
	eventually(t, "a request to be served while a client stalls on a large answer", func() error {
		res, body := hs.do(t, http.MethodGet, "/small", nil)
		if res.StatusCode != http.StatusOK || string(body) != "small" {
			return fmt.Errorf("%d %s", res.StatusCode, body)
		}
		return nil
	})
	// And the stalled client's connection was closed by the proxy: what
	// it reads now ends, after the bytes the socket buffers held.
	if _, err := io.Copy(io.Discard, bufio.NewReader(stalled)); err != nil && !isConnReset(err) {
		t.Fatalf("reading the cut-off answer: %v, want its end", err)
	}
}

// TestStreamEndingAfterQuietSpellIsWhole checks that a streamed answer
// whose upstream stays quiet for longer than WriteTimeout and then ends
// reaches the client whole: net/http writes the last chunk after the
// handler returns, and it must not find the last write's deadline passed.
// The wait is not measured: a client that stops reading a large answer on
// another route, started after the stream's first write, is the witness.
// Once it is cut off (its request is counted), more than WriteTimeout has
// passed since the stream's last write.
func TestStreamEndingAfterQuietSpellIsWhole(t *testing.T) {
	const timeout = 200 * time.Millisecond
	release := make(chan struct{})
	stream := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "one\n")
		_ = http.NewResponseController(w).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
		// The stream ends without another byte: only the last chunk is
		// left to write.
	}))
	chunk := strings.Repeat("x", 32<<10)
	big := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for range 8 << 10 {
			if _, err := io.WriteString(w, chunk); err != nil {
				return
			}
		}
	}))
	hs := newHarnessWith(t, Options{WriteTimeout: timeout})
	hs.urls["stream"], hs.urls["big"] = stream.URL, big.URL
	hs.apply(t, `
legacy: stream
upstreams:
  stream: {url: "{{.stream}}"}
  big: {url: "{{.big}}"}
routes:
  - {prefix: /big, service: big, name: big}
`)

	res, err := hs.client.Get(hs.front.URL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	rd := bufio.NewReader(res.Body)
	if line, err := rd.ReadString('\n'); err != nil || line != "one\n" {
		t.Fatalf("first line %q, %v", line, err)
	}

	stalled := dialRaw(t, hs.front.Listener.Addr().String())
	defer stalled.Close()
	if _, err := fmt.Fprintf(stalled, "GET /big/x HTTP/1.1\r\nHost: shop\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	waitMetric(t, hs.reg, "strangler_requests_total", requestLabels("big", "extracted", "big", "GET", "200"), 1)

	close(release)
	rest, err := io.ReadAll(rd)
	if err != nil || len(rest) != 0 {
		t.Fatalf("after the quiet spell: %q, %v; want a clean end", rest, err)
	}
}

func isConnReset(err error) bool {
	return strings.Contains(err.Error(), "connection reset")
}

// deadlineWriter is an http.ResponseWriter that records the write
// deadlines set on it, and hands over a deadlineConn when hijacked.
type deadlineWriter struct {
	http.ResponseWriter
	deadlines []time.Time
	conn      *deadlineConn
}

func (w *deadlineWriter) SetWriteDeadline(d time.Time) error {
	w.deadlines = append(w.deadlines, d)
	return nil
}

func (w *deadlineWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return w.conn, nil, nil
}

type deadlineConn struct {
	net.Conn
	deadlines []time.Time
}

func (c *deadlineConn) SetWriteDeadline(d time.Time) error {
	c.deadlines = append(c.deadlines, d)
	return nil
}

// TestWriteDeadlineMovesWithEachWrite checks, on a fake clock, that the
// recorder sets the write deadline before the first write and moves it
// only once a quarter of it is used up, so that a long stream or a quiet
// one is never cut while its client reads; and that a hijacked connection
// (a WebSocket tunnel) is left with no deadline.
func TestWriteDeadlineMovesWithEachWrite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const idle = time.Minute
		w := &deadlineWriter{ResponseWriter: httptest.NewRecorder(), conn: &deadlineConn{}}
		rec := &recorder{ResponseWriter: w, writeIdle: idle, tunnels: newTunnels()}
		start := time.Now()

		rec.WriteHeader(http.StatusOK)
		time.Sleep(10 * time.Second)
		_, _ = rec.Write([]byte("a")) // 10 s of 60 used: kept
		time.Sleep(10 * time.Second)
		_, _ = rec.Write([]byte("b")) // 20 s used: moved
		time.Sleep(5 * time.Minute)   // a quiet stream
		rec.Flush()                   // long past the deadline: moved first
		want := []time.Time{start.Add(idle), start.Add(20*time.Second + idle), start.Add(20*time.Second + 5*time.Minute + idle)}
		if len(w.deadlines) != len(want) {
			t.Fatalf("deadlines set %v, want %v", w.deadlines, want)
		}
		for i := range want {
			if !w.deadlines[i].Equal(want[i]) {
				t.Errorf("deadline %d = +%s, want +%s", i, w.deadlines[i].Sub(start), want[i].Sub(start))
			}
		}

		if _, _, err := rec.Hijack(); err != nil {
			t.Fatal(err)
		}
		if d := w.conn.deadlines; len(d) != 1 || !d[0].IsZero() {
			t.Errorf("hijacked connection's write deadlines %v, want one cleared (zero)", d)
		}
		rec.tunnels.remove(w.conn)
	})
}
