package h1client

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strconv"
	"strings"
	"testing"
	"time"
)

// smuggled is an answer an upstream sends to no request.
const smuggled = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nEVIL"

// head4096 is a 204 answer whose head is exactly bufferSize bytes: read
// in one fill of the connection's buffer, it leaves nothing buffered
// behind it, whatever follows it on the socket.
func head4096(t *testing.T) string {
	t.Helper()
	const pre, post = "HTTP/1.1 204 No Content\r\nX-Pad: ", "\r\n\r\n"
	h := pre + strings.Repeat("p", bufferSize-len(pre)-len(post)) + post
	if len(h) != bufferSize {
		t.Fatalf("head is %d bytes, want %d", len(h), bufferSize)
	}
	return h
}

// TestUnsolicitedBytesOnIdleConnection proves bytes an upstream sends on a
// keep-alive connection after an answer has ended are never read as the
// next request's answer: the connection is closed before it is reused and
// the next request goes on a new one.
func TestUnsolicitedBytesOnIdleConnection(t *testing.T) {
	for _, tc := range []struct {
		name   string
		method string
		// first is what the upstream writes in answer to the first request
		// on the first connection; extra, if any, it writes once that
		// answer has been read and the connection is idle in the pool.
		first, extra func(t *testing.T) string
	}{
		{
			name:   "late extra answer",
			method: http.MethodGet,
			first:  func(*testing.T) string { return okAnswer },
			extra:  func(*testing.T) string { return smuggled },
		},
		{
			name:   "body after a HEAD answer",
			method: http.MethodHead,
			first: func(*testing.T) string {
				return "HTTP/1.1 200 OK\r\nContent-Length: " + strconv.Itoa(len(smuggled)) + "\r\n\r\n"
			},
			extra: func(*testing.T) string { return smuggled },
		},
		{
			name:   "body after a 304 answer",
			method: http.MethodGet,
			first:  func(*testing.T) string { return "HTTP/1.1 304 Not Modified\r\nContent-Length: 4\r\n\r\n" },
			extra:  func(*testing.T) string { return smuggled },
		},
		{
			name:   "4096-byte 204 head and an answer in one write",
			method: http.MethodGet,
			first:  func(t *testing.T) string { return head4096(t) + smuggled },
		},
		{
			name:   "end of file",
			method: http.MethodGet,
			first:  func(*testing.T) string { return okAnswer },
			extra:  func(*testing.T) string { return "" }, // and close
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pooled, sent := make(chan struct{}), make(chan struct{})
			first := tc.first(t)
			srv := newRawServer(t, func(n int, c net.Conn, br *bufio.Reader) {
				if n > 1 {
					serveKeepAlive(c, br, okAnswer)
					return
				}
				if _, err := readRequest(br); err != nil {
					return
				}
				io.WriteString(c, first)
				if tc.extra != nil {
					select { // not recv: this is not the test's goroutine
					case <-pooled:
					case <-time.After(waitLimit):
						return
					}
					if extra := tc.extra(t); extra == "" {
						c.Close()
					} else {
						io.WriteString(c, extra)
					}
				}
				close(sent)
				serveKeepAlive(c, br, smuggled) // the connection's later answers are wrong too
			})
			d := &countingDialer{}
			tr := newTransport(t, d)

			fetch(t, tr, tc.method, srv.url+"/first")
			close(pooled)
			recv(t, sent, "the upstream's unsolicited bytes")
			for i := range 3 {
				resp, body := fetch(t, tr, http.MethodGet, srv.url+"/next")
				if resp.StatusCode != http.StatusOK || body != "ok" {
					t.Fatalf("request %d after the unsolicited bytes: %d %q, want 200 \"ok\"", i, resp.StatusCode, body)
				}
			}
			if d.count() != 2 || srv.count() != 2 {
				t.Errorf("dials %d, server connections %d; want 2 and 2: the first connection closed, the second reused", d.count(), srv.count())
			}
		})
	}
}

// TestUnsolicitedAnswerWithNoWait is the one-write case with the next
// request sent at once and from another goroutine, as a proxy's next client
// would: it still gets its own answer.
func TestUnsolicitedAnswerWithNoWait(t *testing.T) {
	head := head4096(t)
	srv := newRawServer(t, func(n int, c net.Conn, br *bufio.Reader) {
		if _, err := readRequest(br); err != nil {
			return
		}
		if n == 1 {
			io.WriteString(c, head+smuggled)
		} else {
			io.WriteString(c, okAnswer)
		}
		serveKeepAlive(c, br, okAnswer)
	})
	d := &countingDialer{}
	tr := newTransport(t, d)

	if resp, body := fetch(t, tr, http.MethodGet, srv.url); resp.StatusCode != http.StatusNoContent || body != "" {
		t.Fatalf("first request: %d %q, want 204", resp.StatusCode, body)
	}
	type result struct {
		resp *http.Response
		body string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, body, err := tryFetch(tr, newRequest(t, t.Context(), http.MethodGet, srv.url))
		done <- result{resp, body, err}
	}()
	r := recv(t, done, "the second request")
	if r.err != nil || r.resp.StatusCode != http.StatusOK || r.body != "ok" {
		t.Fatalf("second request: %v %q, want 200 \"ok\"", r.err, r.body)
	}
	if d.count() != 2 || srv.count() != 2 {
		t.Errorf("dials %d, server connections %d; want 2 and 2", d.count(), srv.count())
	}
}

// TestStaleAfterTheIdleCheck proves an upstream's close or idle 408 that
// arrives after the idle check passed (it raced the request) is still
// taken for a stale connection: the GET goes again on a new connection.
func TestStaleAfterTheIdleCheck(t *testing.T) {
	for name, then := range map[string]func(c net.Conn){
		"close": func(c net.Conn) { c.Close() },
		"408 idle": func(c net.Conn) {
			io.WriteString(c, "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
		},
	} {
		t.Run(name, func(t *testing.T) {
			srv := newRawServer(t, func(n int, c net.Conn, br *bufio.Reader) {
				if n > 1 {
					serveKeepAlive(c, br, okAnswer)
					return
				}
				if _, err := readRequest(br); err != nil {
					return
				}
				io.WriteString(c, okAnswer)
				if _, err := readRequest(br); err != nil {
					return
				}
				then(c)
				awaitClose(br)
			})
			d := &countingDialer{}
			tr := newTransport(t, d)
			fetch(t, tr, http.MethodGet, srv.url)
			if resp, body := fetch(t, tr, http.MethodGet, srv.url); resp.StatusCode != http.StatusOK || body != "ok" {
				t.Errorf("second GET: %d %q, want 200 \"ok\"", resp.StatusCode, body)
			}
			if d.count() != 2 || srv.count() != 2 {
				t.Errorf("dials %d, server connections %d; want 2 and 2", d.count(), srv.count())
			}
		})
	}
}

// opaqueConn hides the connection's descriptor.
type opaqueConn struct{ net.Conn }

// TestUncheckableConnectionNotPooled proves a connection that cannot be
// checked before reuse (its descriptor is hidden) is closed after its
// answer rather than pooled.
func TestUncheckableConnectionNotPooled(t *testing.T) {
	srv := newRawServer(t, func(n int, c net.Conn, br *bufio.Reader) {
		serveKeepAlive(c, br, okAnswer)
	})
	d := &countingDialer{}
	tr := newTransport(t, d)
	tr.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return opaqueConn{nc}, nil
	}
	for range 2 {
		fetch(t, tr, http.MethodGet, srv.url)
	}
	if d.count() != 2 || srv.count() != 2 {
		t.Errorf("dials %d, server connections %d; want 2 and 2", d.count(), srv.count())
	}
}

// TestIdleCheckAllocatesNothing proves the check made before every reuse
// allocates nothing.
func TestIdleCheckAllocatesNothing(t *testing.T) {
	srv := newRawServer(t, func(n int, c net.Conn, br *bufio.Reader) {
		serveKeepAlive(c, br, okAnswer)
	})
	d := &countingDialer{}
	tr := newTransport(t, d)
	fetch(t, tr, http.MethodGet, srv.url)
	c := tr.takeIdle(dialAddress(newRequest(t, t.Context(), http.MethodGet, srv.url).URL))
	if c == nil {
		t.Fatal("no idle connection")
	}
	defer c.close()
	if !c.idle.clean() {
		t.Fatal("a quiet idle connection is not clean")
	}
	if n := testing.AllocsPerRun(100, func() { c.idle.clean() }); n != 0 {
		t.Errorf("idle check allocates %v times, want 0", n)
	}
}

// TestHugeResponseHead proves an answer whose head exceeds the limit
// fails the request and closes the connection, before the transport has
// buffered much more than the limit.
func TestHugeResponseHead(t *testing.T) {
	closedByClient := make(chan bool, 1)
	srv := newRawServer(t, func(n int, c net.Conn, br *bufio.Reader) {
		if _, err := readRequest(br); err != nil {
			return
		}
		w := bufio.NewWriter(c)
		w.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Big: ")
		chunk := strings.Repeat("a", 64<<10)
		for range (20 << 20) / len(chunk) { // 20 MiB, twice the default limit
			if _, err := w.WriteString(chunk); err != nil {
				break // the client has closed the connection
			}
		}
		w.WriteString("\r\n\r\nok")
		w.Flush()
		closedByClient <- awaitClose(br)
	})
	d := &countingDialer{}
	tr := newTransport(t, d)

	resp, err := tr.RoundTrip(newRequest(t, t.Context(), http.MethodGet, srv.url))
	if err == nil {
		resp.Body.Close()
		t.Fatalf("RoundTrip accepted a %d-byte header", len(resp.Header.Get("X-Big")))
	}
	if !strings.Contains(err.Error(), "exceed 10485760 bytes") {
		t.Errorf("RoundTrip error = %v, want one naming the 10 MiB limit", err)
	}
	if !recv(t, closedByClient, "the client to close the connection") {
		t.Error("the connection was not closed by the client")
	}
	if d.count() != 1 {
		t.Errorf("dials %d, want 1: no retry", d.count())
	}
}

// TestMaxResponseHeaderBytes proves the limit is the Transport's setting,
// counts every head of one answer (1xx and final) together, and is lifted
// for the body.
func TestMaxResponseHeaderBytes(t *testing.T) {
	const hints = "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n" // 57 bytes
	const bigBody = 64 << 10
	final := "HTTP/1.1 200 OK\r\nContent-Length: " + strconv.Itoa(bigBody) + "\r\n\r\n" + strings.Repeat("b", bigBody)
	for _, tc := range []struct {
		name  string
		head  string
		limit int64
		ok    bool
	}{
		{"one head under the limit, body over it", "", 100, true},
		{"one head over the limit", "", 30, false},
		{"each head under the limit, all together over it", strings.Repeat(hints, 4), 200, false},
		{"all heads under the limit", strings.Repeat(hints, 4), 300, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newRawServer(t, func(n int, c net.Conn, br *bufio.Reader) {
				if _, err := readRequest(br); err != nil {
					return
				}
				io.WriteString(c, tc.head+final)
				serveKeepAlive(c, br, okAnswer)
			})
			d := &countingDialer{}
			tr := newTransport(t, d)
			tr.MaxResponseHeaderBytes = tc.limit
			got := 0
			ctx := httptrace.WithClientTrace(t.Context(), &httptrace.ClientTrace{
				Got1xxResponse: func(int, textproto.MIMEHeader) error { got++; return nil },
			})
			resp, body, err := tryFetch(tr, newRequest(t, ctx, http.MethodGet, srv.url))
			if !tc.ok {
				if err == nil {
					t.Fatalf("answer accepted with a limit of %d bytes", tc.limit)
				}
				if !strings.Contains(err.Error(), "exceed "+strconv.FormatInt(tc.limit, 10)+" bytes") {
					t.Errorf("error = %v, want one naming the limit", err)
				}
				return
			}
			if err != nil || resp.StatusCode != http.StatusOK || len(body) != bigBody {
				t.Fatalf("answer: %v, %d bytes of body", err, len(body))
			}
			if want := strings.Count(tc.head, "103"); got != want {
				t.Errorf("Got1xxResponse called %d times, want %d", got, want)
			}
			// The next answer on the same connection has a budget again.
			if resp, body := fetch(t, tr, http.MethodGet, srv.url); resp.StatusCode != http.StatusOK || body != "ok" {
				t.Errorf("next answer %d %q", resp.StatusCode, body)
			}
			if d.count() != 1 {
				t.Errorf("dials %d, want 1", d.count())
			}
		})
	}
}
