package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// streamSize is the body streamed each way: far more than the proxy may
// hold in memory. -short streams less.
func streamSize() int64 {
	if testing.Short() {
		return 16 << 20
	}
	return 256 << 20
}

// firstChunk is what one side must receive before the other sends the
// rest.
const firstChunk = 64 << 10

// pattern generates n deterministic bytes on the fly: byte i is i%251.
type pattern struct{ off, n int64 }

// patternBlock holds the pattern from offset 0, long enough that any
// 256 KiB read starting at any phase is one copy.
var patternBlock = func() []byte {
	b := make([]byte, 251*1100)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}()

func (p *pattern) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	n := copy(b[:min(int64(len(b)), p.n-p.off)], patternBlock[p.off%251:])
	p.off += int64(n)
	return n, nil
}

// patternCRC is the checksum of the first n bytes of pattern.
func patternCRC(t testing.TB, n int64) uint32 {
	t.Helper()
	h := crc32.NewIEEE()
	if _, err := io.CopyBuffer(h, &pattern{n: n}, make([]byte, 256<<10)); err != nil {
		t.Fatal(err)
	}
	return h.Sum32()
}

// allocLimit is how much a transfer of size bytes may allocate: a small
// fraction of the body, so that holding the body in memory fails.
func allocLimit(size int64) uint64 { return uint64(min(size/4, 16<<20)) }

// heapGrowth measures how many bytes f allocates in total. The proxy,
// both servers and the client all count, so it bounds what the proxy
// buffers.
func heapGrowth(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestStreamingUpload streams a large upload through the proxy. The client
// holds back everything after the first chunk until the backend has read
// that chunk, so a proxy that buffered the body would never finish; the
// whole transfer must also allocate far less than the body's size.
func TestStreamingUpload(t *testing.T) {
	size := streamSize()
	gotFirst := make(chan struct{})
	srv := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 256<<10)
		if _, err := io.ReadFull(r.Body, buf[:firstChunk]); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		close(gotFirst)
		h := crc32.NewIEEE()
		h.Write(buf[:firstChunk])
		n, err := io.CopyBuffer(h, r.Body, buf)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "%d %d", firstChunk+n, h.Sum32())
	}))
	hs := newHarness(t)
	hs.urls["sink"] = srv.URL
	hs.apply(t, "legacy: sink\nupstreams:\n  sink: {url: \"{{.sink}}\"}\n")

	var body []byte
	grew := heapGrowth(func() {
		pr, pw := io.Pipe()
		go func() {
			src := &pattern{n: size}
			if _, err := io.CopyN(pw, src, firstChunk); err != nil {
				pw.CloseWithError(err)
				return
			}
			select {
			case <-gotFirst:
			case <-time.After(waitLimit):
				pw.CloseWithError(errors.New("the backend never received the first chunk: the proxy buffers uploads"))
				return
			}
			_, err := io.CopyBuffer(pw, src, make([]byte, 256<<10))
			pw.CloseWithError(err)
		}()
		req, err := http.NewRequestWithContext(t.Context(), "PUT", hs.front.URL+"/upload", pr)
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = size
		res, err := hs.client.Do(req)
		if err != nil {
			t.Fatalf("upload: %v", err)
		}
		defer res.Body.Close()
		body, _ = io.ReadAll(res.Body)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("upload: status %d, body %s", res.StatusCode, body)
		}
	})
	if want := fmt.Sprintf("%d %d", size, patternCRC(t, size)); string(body) != want {
		t.Errorf("backend received %q (bytes, crc32), want %q", body, want)
	}
	if limit := allocLimit(size); grew > limit {
		t.Errorf("streaming %d MiB allocated %d MiB; want under %d MiB", size>>20, grew>>20, limit>>20)
	}
	t.Logf("streaming %d MiB up allocated %d KiB", size>>20, grew>>10)
}

// TestStreamingDownload streams a large response through the proxy. The
// backend sends the first chunk and holds back the rest until the client
// has read it, so a proxy that buffered the response would never deliver
// anything.
func TestStreamingDownload(t *testing.T) {
	size := streamSize()
	clientGotFirst := make(chan struct{})
	srv := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
		w.Header().Set("Content-Type", "application/octet-stream")
		src := &pattern{n: size}
		buf := make([]byte, 256<<10)
		if _, err := io.CopyBuffer(w, io.LimitReader(src, firstChunk), buf); err != nil {
			return
		}
		_ = http.NewResponseController(w).Flush()
		select {
		case <-clientGotFirst:
		case <-r.Context().Done():
			return
		case <-time.After(waitLimit):
			panic(http.ErrAbortHandler) // the client will see a truncated body
		}
		_, _ = io.CopyBuffer(w, src, buf)
	}))
	hs := newHarness(t)
	hs.urls["source"] = srv.URL
	hs.apply(t, "legacy: source\nupstreams:\n  source: {url: \"{{.source}}\"}\n")

	var n int64
	var sum uint32
	grew := heapGrowth(func() {
		res, err := hs.client.Get(hs.front.URL + "/download")
		if err != nil {
			t.Fatalf("download: %v", err)
		}
		defer res.Body.Close()
		if res.ContentLength != size {
			t.Errorf("Content-Length = %d, want %d", res.ContentLength, size)
		}
		buf := make([]byte, 256<<10)
		h := crc32.NewIEEE()
		if _, err := io.ReadFull(res.Body, buf[:firstChunk]); err != nil {
			t.Fatalf("read the first chunk: %v", err)
		}
		close(clientGotFirst)
		h.Write(buf[:firstChunk])
		n, err = io.CopyBuffer(h, res.Body, buf)
		if err != nil {
			t.Fatalf("read the rest: %v", err)
		}
		n += firstChunk
		sum = h.Sum32()
	})
	if want := patternCRC(t, size); n != size || sum != want {
		t.Errorf("client received %d bytes, crc32 %d; want %d bytes, crc32 %d", n, sum, size, want)
	}
	if limit := allocLimit(size); grew > limit {
		t.Errorf("streaming %d MiB allocated %d MiB; want under %d MiB", size>>20, grew>>20, limit>>20)
	}
	t.Logf("streaming %d MiB down allocated %d KiB", size>>20, grew>>10)
}

// TestServerSentEvents checks that each event reaches the client as soon
// as the backend flushes it: the backend sends the second event only after
// the client has read the first.
func TestServerSentEvents(t *testing.T) {
	next := make(chan struct{})
	srv := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		fmt.Fprint(w, "id: 1\ndata: one\n\n")
		_ = http.NewResponseController(w).Flush()
		select {
		case <-next:
		case <-r.Context().Done():
			return
		}
		fmt.Fprint(w, "id: 2\ndata: two\n\n")
	}))
	hs := newHarness(t)
	hs.urls["events"] = srv.URL
	hs.apply(t, "legacy: events\nupstreams:\n  events: {url: \"{{.events}}\"}\n")

	res, err := hs.client.Get(hs.front.URL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type = %q", ct)
	}
	events := make(chan string)
	go func() {
		defer close(events)
		br := bufio.NewReader(res.Body)
		var ev strings.Builder
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			if line == "\n" {
				events <- ev.String()
				ev.Reset()
				continue
			}
			ev.WriteString(line)
		}
	}()
	for i, want := range []string{"id: 1\ndata: one\n", "id: 2\ndata: two\n"} {
		select {
		case got := <-events:
			if got != want {
				t.Fatalf("event %d = %q, want %q", i+1, got, want)
			}
		case <-time.After(waitLimit):
			t.Fatalf("event %d not received within %s: the proxy holds back flushed events", i+1, waitLimit)
		}
		if i == 0 {
			close(next)
		}
	}
	select {
	case _, ok := <-events:
		if ok {
			t.Error("more than two events")
		}
	case <-time.After(waitLimit):
		t.Fatal("the stream did not end after its two events")
	}
}

// TestWebSocket checks a protocol upgrade through the proxy: the 101
// handshake, then bytes echoed both ways on the hijacked connections, and
// the request counted as code 101.
func TestWebSocket(t *testing.T) {
	hs := newHarness(t)
	hs.urls["ws"] = startUpgradeEcho(t).URL
	hs.apply(t, "legacy: ws\nupstreams:\n  ws: {url: \"{{.ws}}\"}\n")
	conn, br, res := dialUpgrade(t, hs)
	if got := res.Header.Get("Upgrade"); got != "websocket" {
		t.Errorf("Upgrade = %q, want websocket", got)
	}
	if got := res.Header.Get("X-Saw-Route"); got != "default" {
		t.Errorf("backend saw %s %q, want default", HeaderRoute, got)
	}
	if got := res.Header.Values("X-Request-Id"); len(got) != 1 {
		t.Errorf("X-Request-Id = %q, want one id", got)
	}
	line, err := br.ReadString('\n')
	if err != nil || line != "hello\n" {
		t.Fatalf("first bytes from the backend = %q, %v; want hello", line, err)
	}
	for _, msg := range []string{"ping 1\n", strings.Repeat("z", 100<<10) + "\n", "ping 3\n"} {
		if _, err := io.WriteString(conn, msg); err != nil {
			t.Fatal(err)
		}
		got, err := br.ReadString('\n')
		if err != nil || got != msg {
			t.Fatalf("echo of %d bytes = %d bytes, %v", len(msg), len(got), err)
		}
	}
	conn.Close()
	waitMetric(t, hs.reg, "strangler_requests_total", requestLabels("default", "legacy", "ws", "GET", "101"), 1)
}

// TestDrainUpgraded checks the shutdown of upgraded connections, which
// http.Server.Shutdown leaves alone: DrainUpgraded waits while one is open
// and working, and when its context ends it cuts the ones still open.
func TestDrainUpgraded(t *testing.T) {
	hs := newHarness(t)
	hs.urls["ws"] = startUpgradeEcho(t).URL
	hs.apply(t, "legacy: ws\nupstreams:\n  ws: {url: \"{{.ws}}\"}\n")
	if n := hs.handler.DrainUpgraded(context.Background()); n != 0 {
		t.Fatalf("DrainUpgraded with nothing upgraded closed %d", n)
	}
	ended, _, _ := dialUpgrade(t, hs)
	kept, br, _ := dialUpgrade(t, hs)
	if hello, err := br.ReadString('\n'); err != nil || hello != "hello\n" {
		t.Fatalf("first bytes from the backend = %q, %v; want hello", hello, err)
	}
	if n := hs.handler.Upgraded(); n != 2 {
		t.Fatalf("Upgraded() = %d with two upgraded connections open, want 2", n)
	}
	ended.Close()
	eventually(t, "the closed upgrade to be forgotten", upgradedIs(hs, 1))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	drained := make(chan int, 1)
	go func() { drained <- hs.handler.DrainUpgraded(ctx) }()
	if _, err := io.WriteString(kept, "during the drain\n"); err != nil {
		t.Fatal(err)
	}
	if got, err := br.ReadString('\n'); err != nil || got != "during the drain\n" {
		t.Fatalf("echo during the drain = %q, %v", got, err)
	}
	select {
	case n := <-drained:
		t.Fatalf("DrainUpgraded returned (%d closed) while a connection was open and its context live", n)
	default:
	}
	cancel()
	select {
	case n := <-drained:
		if n != 1 {
			t.Errorf("DrainUpgraded closed %d connections at the end of its context, want 1", n)
		}
	case <-time.After(waitLimit):
		t.Fatal("DrainUpgraded did not return after its context ended")
	}
	if line, err := br.ReadString('\n'); err == nil {
		t.Fatalf("the connection still delivers %q after the drain cut it", line)
	}
	eventually(t, "the cut upgrade to be forgotten", upgradedIs(hs, 0))
}

// upgradedIs is a condition for eventually: hs's handler has n upgraded
// connections open.
func upgradedIs(hs *harness, n int) func() error {
	return func() error {
		if got := hs.handler.Upgraded(); got != n {
			return fmt.Errorf("%d open, want %d", got, n)
		}
		return nil
	}
}

// startUpgradeEcho starts a backend that accepts any WebSocket upgrade,
// says hello, and then echoes what it receives.
func startUpgradeEcho(t *testing.T) *httptest.Server {
	return startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			http.Error(w, "want an upgrade", http.StatusBadRequest)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Saw-Route: %s\r\n\r\nhello\n", r.Header.Get(HeaderRoute))
		if brw.Flush() != nil {
			return
		}
		_, _ = io.Copy(conn, brw) // echo until the proxy closes
	}))
}

// dialUpgrade opens a WebSocket upgrade of /chat through hs and returns the
// connection, its reader and the 101 answer; the connection is closed when
// the test ends.
func dialUpgrade(t *testing.T, hs *harness) (net.Conn, *bufio.Reader, *http.Response) {
	t.Helper()
	conn, err := net.Dial("tcp", hs.front.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.SetDeadline(time.Now().Add(waitLimit)); err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(conn, "GET /chat HTTP/1.1\r\nHost: shop.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d, want 101", res.StatusCode)
	}
	return conn, br, res
}
