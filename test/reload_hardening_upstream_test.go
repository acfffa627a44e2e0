package test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// sseEvery is how often a streamUpstream sends a server-sent event.
const sseEvery = 20 * time.Millisecond

// streamUpstream is an upstream that names itself in every answer and
// serves long-lived streams: a path holding /ws/ upgrades to a line echo
// over the hijacked connection (the Upgrade handshake of a WebSocket,
// without a WebSocket library: the proxy only sees the 101 and copies
// bytes), and one holding /sse/ sends an event every sseEvery until the
// client goes. Anything else is answered 200 with the name.
type streamUpstream struct {
	name string
	url  string

	quit chan struct{} // closed at cleanup: streams end

	mu     sync.Mutex
	conns  map[net.Conn]bool // hijacked connections, closed at cleanup
	closed bool
	wg     sync.WaitGroup
}

func startStreamUpstream(t *testing.T, name string) *streamUpstream {
	t.Helper()
	u := &streamUpstream{name: name, quit: make(chan struct{}), conns: map[net.Conn]bool{}}
	srv := httptest.NewServer(u)
	u.url = srv.URL
	t.Cleanup(srv.Close) // runs last: streams have ended by then
	t.Cleanup(func() {
		close(u.quit)
		u.mu.Lock()
		u.closed = true
		for c := range u.conns {
			c.Close()
		}
		u.mu.Unlock()
		u.wg.Wait()
	})
	return u
}

func (u *streamUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	switch {
	case strings.Contains(r.URL.Path, "/ws/"):
		u.echo(w, r)
	case strings.Contains(r.URL.Path, "/sse/"):
		u.events(w, r)
	default:
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, u.name)
	}
}

// echo completes an Upgrade: websocket handshake and then answers every
// line with "name: line" until either side closes.
func (u *streamUpstream) echo(w http.ResponseWriter, r *http.Request) {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		http.Error(w, "want Upgrade: websocket", http.StatusBadRequest)
		return
	}
	c, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		c.Close()
		return
	}
	u.conns[c] = true
	u.wg.Add(1)
	u.mu.Unlock()
	go func() {
		defer u.wg.Done()
		defer c.Close()
		_, err := brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		for err == nil {
			if err = brw.Flush(); err != nil {
				break
			}
			var line string
			if line, err = brw.ReadString('\n'); err == nil {
				_, err = brw.WriteString(u.name + ": " + line)
			}
		}
	}()
}

// events sends "data: name n" events until the client or the test goes.
func (u *streamUpstream) events(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	rc := http.NewResponseController(w)
	tick := time.NewTicker(sseEvery)
	defer tick.Stop()
	for n := 0; ; n++ {
		if _, err := fmt.Fprintf(w, "data: %s %d\n\n", u.name, n); err != nil {
			return
		}
		if rc.Flush() != nil {
			return
		}
		select {
		case <-tick.C:
		case <-r.Context().Done():
			return
		case <-u.quit:
			return
		}
	}
}

// wsConn is the client end of an upgraded connection through the proxy.
type wsConn struct {
	c  net.Conn
	br *bufio.Reader
}

// dialWS opens an upgraded connection to path through the proxy at addr.
func dialWS(t *testing.T, addr, path string) *wsConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(patience))
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", path, addr); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("upgrade %s: %v", path, err)
	}
	if res.StatusCode != http.StatusSwitchingProtocols {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		t.Fatalf("upgrade %s: %d %s, want 101", path, res.StatusCode, b)
	}
	return &wsConn{c: c, br: br}
}

// roundTrip sends one line and returns the echo, within patience.
func (w *wsConn) roundTrip(line string) (string, error) {
	_ = w.c.SetDeadline(time.Now().Add(patience))
	if _, err := io.WriteString(w.c, line+"\n"); err != nil {
		return "", fmt.Errorf("write %q: %w", line, err)
	}
	got, err := w.br.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("read the echo of %q: %w", line, err)
	}
	return strings.TrimSuffix(got, "\n"), nil
}

// sseStream reads the events of one server-sent event stream through the
// proxy on its own goroutine and counts them.
type sseStream struct {
	count atomic.Int64 // events received
	ended atomic.Bool  // the stream ended, cleanly or not
	from  string       // the upstream name in the first event
	close func()       // closes the stream and waits for its reader
}

// openSSE opens path through the proxy at base and waits for its first
// event; the stream is closed when the test ends.
func openSSE(t *testing.T, base, path string) *sseStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	tr := &http.Transport{}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	res, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		cancel()
		t.Fatalf("GET %s: %v", path, err)
	}
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/event-stream" {
		res.Body.Close()
		cancel()
		t.Fatalf("GET %s: %d %s, want a 200 event stream", path, res.StatusCode, res.Header.Get("Content-Type"))
	}
	s := &sseStream{}
	first := make(chan string, 1)
	var wg sync.WaitGroup
	wg.Go(func() {
		defer s.ended.Store(true)
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				if s.count.Add(1) == 1 {
					first <- data
				}
			}
		}
	})
	s.close = sync.OnceFunc(func() {
		cancel()
		res.Body.Close()
		wg.Wait()
		tr.CloseIdleConnections()
	})
	t.Cleanup(s.close)
	select {
	case data := <-first:
		s.from, _, _ = strings.Cut(data, " ")
	case <-time.After(patience):
		t.Fatalf("GET %s: no event within %s", path, patience)
	}
	return s
}

// flowing waits until the stream has delivered n more events, failing the
// test if it ends first.
func (s *sseStream) flowing(t *testing.T, what string, n int64) {
	t.Helper()
	want := s.count.Load() + n
	eventually(t, fmt.Sprintf("%s: %d more events", what, n), func() bool {
		if s.ended.Load() {
			t.Fatalf("%s: the event stream from %s ended after %d events", what, s.from, s.count.Load())
		}
		return s.count.Load() >= want
	})
}
