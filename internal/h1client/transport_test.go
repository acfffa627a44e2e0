package h1client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestKeepAliveReusesOneConnection proves sequential bodyless GETs whose
// bodies are read to the end share one connection.
func TestKeepAliveReusesOneConnection(t *testing.T) {
	srv := newCountedServer(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s", r.URL.Path)
	})
	d := &countingDialer{}
	tr := newTransport(t, d)

	const n = 20
	for i := range n {
		resp, body := fetch(t, tr, http.MethodGet, fmt.Sprintf("%s/r%d", srv.URL, i))
		if resp.StatusCode != http.StatusOK || body != fmt.Sprintf("hello /r%d", i) {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
		}
	}
	if got := d.count(); got != 1 {
		t.Errorf("%d GETs dialed %d times, want 1", n, got)
	}
	if got := srv.opened.Load(); got != 1 {
		t.Errorf("server saw %d connections, want 1", got)
	}
}

// TestRequestOnTheWire proves the request line, Host and headers the
// upstream receives are the request's own.
func TestRequestOnTheWire(t *testing.T) {
	type seen struct{ method, uri, host, header string }
	got := make(chan seen, 1)
	srv := newCountedServer(t, func(w http.ResponseWriter, r *http.Request) {
		got <- seen{r.Method, r.RequestURI, r.Host, r.Header.Get("X-Test")}
	})
	tr := newTransport(t, &countingDialer{})

	req := newRequest(t, t.Context(), http.MethodGet, srv.URL+"/a/b%2Fc?q=1&r=%20")
	req.Host = "legacy.example"
	req.Header.Set("X-Test", "yes")
	if _, _, err := tryFetch(tr, req); err != nil {
		t.Fatal(err)
	}
	want := seen{http.MethodGet, "/a/b%2Fc?q=1&r=%20", "legacy.example", "yes"}
	if s := recv(t, got, "the request"); s != want {
		t.Errorf("upstream saw %+v, want %+v", s, want)
	}
}

// TestFallback proves which requests Transport hands to its fallback and
// which it sends itself.
func TestFallback(t *testing.T) {
	srv := newCountedServer(t, func(w http.ResponseWriter, r *http.Request) {})
	withBody := func(method string) func(*http.Request) {
		return func(r *http.Request) {
			r.Method = method
			r.Body = io.NopCloser(strings.NewReader("abc"))
			r.ContentLength = 3
		}
	}
	fallbackCases := []struct {
		name   string
		url    string
		modify func(*http.Request)
	}{
		{"POST with a body", srv.URL, withBody(http.MethodPost)},
		{"GET with a body", srv.URL, withBody(http.MethodGet)},
		{"GET with chunked body", srv.URL, func(r *http.Request) {
			r.Body = io.NopCloser(strings.NewReader("abc"))
			r.ContentLength = -1
		}},
		{"DELETE without a body", srv.URL, func(r *http.Request) { r.Method = http.MethodDelete }},
		{"POST without a body", srv.URL, func(r *http.Request) { r.Method = http.MethodPost }},
		{"Upgrade", srv.URL, func(r *http.Request) {
			r.Header.Set("Connection", "Upgrade")
			r.Header.Set("Upgrade", "websocket")
		}},
		{"Expect 100-continue", srv.URL, func(r *http.Request) { r.Header.Set("Expect", "100-continue") }},
		{"https", "https://" + srv.Listener.Addr().String() + "/", nil},
		{"Close", srv.URL, func(r *http.Request) { r.Close = true }},
	}
	for _, tc := range fallbackCases {
		t.Run(tc.name, func(t *testing.T) {
			d := &countingDialer{}
			tr := newTransport(t, d)
			fb := &countingRT{err: errFallback}
			tr.Fallback = fb
			req := newRequest(t, t.Context(), http.MethodGet, tc.url)
			if tc.modify != nil {
				tc.modify(req)
			}
			_, err := tr.RoundTrip(req)
			if !errors.Is(err, errFallback) {
				t.Errorf("RoundTrip error = %v, want the fallback's", err)
			}
			if fb.n.Load() != 1 || d.count() != 0 {
				t.Errorf("fallback got %d requests and Transport dialed %d times, want 1 and 0", fb.n.Load(), d.count())
			}
		})
	}

	for _, method := range []string{http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace} {
		t.Run("own "+method, func(t *testing.T) {
			d := &countingDialer{}
			tr := newTransport(t, d)
			fb := &countingRT{err: errFallback}
			tr.Fallback = fb
			req := newRequest(t, t.Context(), method, srv.URL)
			req.Body = http.NoBody // as an incoming server request has it
			resp, _, err := tryFetch(tr, req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusOK || fb.n.Load() != 0 || d.count() != 1 {
				t.Errorf("status %d, fallback got %d, dials %d; want 200, 0, 1", resp.StatusCode, fb.n.Load(), d.count())
			}
		})
	}

	t.Run("POST reaches the upstream through the fallback", func(t *testing.T) {
		got := make(chan string, 1)
		srv := newCountedServer(t, func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			got <- r.Method + " " + string(b)
			io.WriteString(w, "created")
		})
		d := &countingDialer{}
		tr := newTransport(t, d)
		fb := &countingRT{next: tr.Fallback}
		tr.Fallback = fb
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL, strings.NewReader("payload"))
		if err != nil {
			t.Fatal(err)
		}
		_, body, err := tryFetch(tr, req)
		if err != nil {
			t.Fatal(err)
		}
		if s := recv(t, got, "the POST"); s != "POST payload" || body != "created" {
			t.Errorf("upstream saw %q and answered %q", s, body)
		}
		if fb.n.Load() != 1 || d.count() != 0 {
			t.Errorf("fallback got %d requests and Transport dialed %d times, want 1 and 0", fb.n.Load(), d.count())
		}
	})
}

// TestStalePooledConnectionRetried proves a GET on a pooled connection the
// upstream closed while it was idle is sent again on a fresh connection.
// (The idle check sees this close before the request is sent;
// TestStaleAfterTheIdleCheck covers a close that races the request.)
func TestStalePooledConnectionRetried(t *testing.T) {
	closed := make(chan struct{})
	paths := make(chan string, 4)
	srv := newRawServer(t, func(n int, c net.Conn, br *bufio.Reader) {
		if n == 1 {
			if _, err := readRequest(br); err == nil {
				io.WriteString(c, okAnswer)
			}
			c.Close()
			close(closed)
			return
		}
		for range 10 {
			req, err := readRequest(br)
			if err != nil {
				return
			}
			paths <- req.URL.Path
			io.WriteString(c, okAnswer)
		}
	})
	d := &countingDialer{}
	tr := newTransport(t, d)

	fetch(t, tr, http.MethodGet, srv.url+"/first")
	recv(t, closed, "the server to close its connection")
	resp, body := fetch(t, tr, http.MethodGet, srv.url+"/second")
	if resp.StatusCode != http.StatusOK || body != "ok" {
		t.Errorf("retried GET: %d %q", resp.StatusCode, body)
	}
	if p := recv(t, paths, "the retried request"); p != "/second" {
		t.Errorf("fresh connection got %q, want /second", p)
	}
	if d.count() != 2 || srv.count() != 2 {
		t.Errorf("dials %d, server connections %d; want 2 and 2", d.count(), srv.count())
	}
}

// TestNoRetry proves the retry happens only on a pooled connection, only
// when no answer byte arrived, and only once.
func TestNoRetry(t *testing.T) {
	t.Run("fresh connection closed before an answer", func(t *testing.T) {
		srv := newRawServer(t, func(n int, c net.Conn, br *bufio.Reader) {
			readRequest(br)
		})
		d := &countingDialer{}
		tr := newTransport(t, d)
		if _, err := tr.RoundTrip(newRequest(t, t.Context(), http.MethodGet, srv.url)); err == nil {
			t.Fatal("RoundTrip succeeded on a connection closed without an answer")
		}
		if d.count() != 1 || srv.count() != 1 {
			t.Errorf("dials %d, server connections %d; want 1 and 1", d.count(), srv.count())
		}
	})

	t.Run("retry closed too", func(t *testing.T) {
		closed := make(chan struct{})
		srv := newRawServer(t, func(n int, c net.Conn, br *bufio.Reader) {
			if _, err := readRequest(br); err == nil && n == 1 {
				io.WriteString(c, okAnswer)
				c.Close()
				close(closed)
			}
		})
		d := &countingDialer{}
		tr := newTransport(t, d)
		fetch(t, tr, http.MethodGet, srv.url)
		recv(t, closed, "the server to close its connection")
		if _, err := tr.RoundTrip(newRequest(t, t.Context(), http.MethodGet, srv.url)); err == nil {
			t.Fatal("RoundTrip succeeded with no answer on either connection")
		}
		if d.count() != 2 || srv.count() != 2 {
			t.Errorf("dials %d, server connections %d; want 2 and 2", d.count(), srv.count())
		}
	})

	t.Run("part of an answer arrived", func(t *testing.T) {
		srv := newRawServer(t, func(n int, c net.Conn, br *bufio.Reader) {
			if _, err := readRequest(br); err != nil {
				return
			}
			io.WriteString(c, okAnswer)
			if _, err := readRequest(br); err != nil {
				return
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Le")
		})
		d := &countingDialer{}
		tr := newTransport(t, d)
		fetch(t, tr, http.MethodGet, srv.url)
		if _, err := tr.RoundTrip(newRequest(t, t.Context(), http.MethodGet, srv.url)); err == nil {
			t.Fatal("RoundTrip succeeded on a truncated answer")
		}
		if d.count() != 1 || srv.count() != 1 {
			t.Errorf("dials %d, server connections %d; want 1 and 1 (no retry)", d.count(), srv.count())
		}
	})
}

// TestNoBodyAnswersKeepConnection proves answers without a body (HEAD, 204,
// 304) leave the connection reusable.
func TestNoBodyAnswersKeepConnection(t *testing.T) {
	srv := newCountedServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/204":
			w.WriteHeader(http.StatusNoContent)
		case "/304":
			w.WriteHeader(http.StatusNotModified)
		default:
			w.Header().Set("Content-Length", "5")
			io.WriteString(w, "hello")
		}
	})
	d := &countingDialer{}
	tr := newTransport(t, d)

	resp, body := fetch(t, tr, http.MethodHead, srv.URL+"/head")
	if resp.StatusCode != http.StatusOK || resp.ContentLength != 5 || body != "" {
		t.Errorf("HEAD: %d, length %d, body %q; want 200, 5, empty", resp.StatusCode, resp.ContentLength, body)
	}
	for _, code := range []int{http.StatusNoContent, http.StatusNotModified} {
		resp, body := fetch(t, tr, http.MethodGet, fmt.Sprintf("%s/%d", srv.URL, code))
		if resp.StatusCode != code || body != "" {
			t.Errorf("GET /%d: %d %q", code, resp.StatusCode, body)
		}
	}
	resp, body = fetch(t, tr, http.MethodGet, srv.URL+"/get")
	if resp.StatusCode != http.StatusOK || body != "hello" {
		t.Errorf("GET after them: %d %q", resp.StatusCode, body)
	}
	if d.count() != 1 || srv.opened.Load() != 1 {
		t.Errorf("dials %d, server connections %d; want 1 and 1", d.count(), srv.opened.Load())
	}
}

// TestCloseDelimitedBody proves a body that ends with the connection is
// read whole, and that connection is not pooled.
func TestCloseDelimitedBody(t *testing.T) {
	payload := strings.Repeat("close-delimited ", 2000)
	srv := newRawServer(t, func(n int, c net.Conn, br *bufio.Reader) {
		if _, err := readRequest(br); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n"+payload)
	})
	d := &countingDialer{}
	tr := newTransport(t, d)

	for i := range 2 {
		resp, body := fetch(t, tr, http.MethodGet, srv.url)
		if resp.StatusCode != http.StatusOK || body != payload {
			t.Fatalf("request %d: %d, %d bytes, want 200 and %d bytes", i, resp.StatusCode, len(body), len(payload))
		}
	}
	if d.count() != 2 || srv.count() != 2 {
		t.Errorf("dials %d, server connections %d; want 2 and 2", d.count(), srv.count())
	}
}

// TestConnectionCloseAnswer proves an answer with "Connection: close" ends
// the connection, even when the upstream would go on serving on it.
func TestConnectionCloseAnswer(t *testing.T) {
	for name, answer := range map[string]string{
		"with a body": "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
		"no body":     "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			clientClosed := make(chan bool, 4)
			srv := newRawServer(t, func(n int, c net.Conn, br *bufio.Reader) {
				if _, err := readRequest(br); err != nil {
					return
				}
				io.WriteString(c, answer)
				// A server that ignores its own header: it would serve more.
				serveKeepAlive(c, br, okAnswer)
				clientClosed <- true
			})
			d := &countingDialer{}
			tr := newTransport(t, d)

			for range 2 {
				if resp, _ := fetch(t, tr, http.MethodGet, srv.url); resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNoContent {
					t.Fatalf("status %d", resp.StatusCode)
				}
			}
			if d.count() != 2 || srv.count() != 2 {
				t.Errorf("dials %d, server connections %d; want 2 and 2", d.count(), srv.count())
			}
			recv(t, clientClosed, "the client to close the first connection")
		})
	}
}

// TestExtraBytesAfterAnswer proves a connection with unread bytes after
// an answer is not pooled: they would be taken for the next answer.
func TestExtraBytesAfterAnswer(t *testing.T) {
	srv := newRawServer(t, func(n int, c net.Conn, br *bufio.Reader) {
		if _, err := readRequest(br); err != nil {
			return
		}
		io.WriteString(c, okAnswer+"HTTP/1.1 500 Unsolicited\r\nContent-Length: 0\r\n\r\n")
		serveKeepAlive(c, br, okAnswer)
	})
	d := &countingDialer{}
	tr := newTransport(t, d)

	for i := range 2 {
		if resp, body := fetch(t, tr, http.MethodGet, srv.url); resp.StatusCode != http.StatusOK || body != "ok" {
			t.Fatalf("request %d: %d %q, want 200 ok", i, resp.StatusCode, body)
		}
	}
	if d.count() != 2 {
		t.Errorf("dials %d, want 2", d.count())
	}
}

// TestChunkedWithTrailers proves a chunked body and its trailers arrive
// and the connection is reused afterwards.
func TestChunkedWithTrailers(t *testing.T) {
	srv := newCountedServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Checksum")
		io.WriteString(w, "part one, ")
		w.(http.Flusher).Flush()
		io.WriteString(w, "part two")
		w.Header().Set("X-Checksum", "c0ffee")
	})
	d := &countingDialer{}
	tr := newTransport(t, d)

	for i := range 3 {
		resp, body := fetch(t, tr, http.MethodGet, srv.URL)
		if body != "part one, part two" {
			t.Errorf("request %d: body %q", i, body)
		}
		if len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked" {
			t.Errorf("request %d: TransferEncoding %q, want chunked", i, resp.TransferEncoding)
		}
		if got := resp.Trailer.Get("X-Checksum"); got != "c0ffee" {
			t.Errorf("request %d: trailer X-Checksum %q, want c0ffee", i, got)
		}
	}
	if d.count() != 1 || srv.opened.Load() != 1 {
		t.Errorf("dials %d, server connections %d; want 1 and 1", d.count(), srv.opened.Load())
	}
}

// TestEarlyCloseDoesNotDrain proves closing a body before its end returns
// at once, closes the connection (the upstream's writes fail) and leaves
// it out of the pool.
func TestEarlyCloseDoesNotDrain(t *testing.T) {
	writeErr := make(chan error, 1)
	srv := newCountedServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/small" {
			io.WriteString(w, "small")
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(int64(1)<<40)) // far more than is ever sent
		// The deadline bounds the stream when the client keeps reading.
		if err := http.NewResponseController(w).SetWriteDeadline(time.Now().Add(waitLimit)); err != nil {
			writeErr <- err
			return
		}
		chunk := make([]byte, 32<<10)
		for {
			if _, err := w.Write(chunk); err != nil {
				writeErr <- err
				return
			}
		}
	})
	d := &countingDialer{}
	tr := newTransport(t, d)

	resp, err := tr.RoundTrip(newRequest(t, t.Context(), http.MethodGet, srv.URL+"/endless"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(resp.Body, make([]byte, 64<<10)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	resp.Body.Close()
	if el := time.Since(start); el > time.Second {
		t.Errorf("Close took %s; it must not drain the body", el)
	}
	if err := recv(t, writeErr, "the upstream's write to fail"); isTimeout(err) {
		t.Fatalf("the upstream kept writing until its own deadline (%v): connection not closed", err)
	}
	eventually(t, "the server to see the connection closed", func() bool { return srv.closed.Load() == 1 })
	if _, body := fetch(t, tr, http.MethodGet, srv.URL+"/small"); body != "small" {
		t.Errorf("next GET: %q", body)
	}
	if d.count() != 2 {
		t.Errorf("dials %d, want 2", d.count())
	}
}

// hangingServer reads each request and never answers; it reports the
// requests it read and whether the client closed the connection.
func hangingServer(t *testing.T) (srv *rawServer, got <-chan struct{}, clientClosed <-chan bool) {
	gotc := make(chan struct{}, 8)
	closedc := make(chan bool, 8)
	srv = newRawServer(t, func(n int, c net.Conn, br *bufio.Reader) {
		if _, err := readRequest(br); err != nil {
			return
		}
		gotc <- struct{}{}
		closedc <- awaitClose(br)
	})
	return srv, gotc, closedc
}

// TestResponseHeaderTimeout proves an upstream that never answers fails
// the request with a timeout net.Error after ResponseHeaderTimeout.
func TestResponseHeaderTimeout(t *testing.T) {
	const timeout = 200 * time.Millisecond
	srv, got, clientClosed := hangingServer(t)
	d := &countingDialer{}
	tr := newTransport(t, d)
	tr.ResponseHeaderTimeout = timeout

	start := time.Now()
	_, err := tr.RoundTrip(newRequest(t, t.Context(), http.MethodGet, srv.url))
	el := time.Since(start)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("RoundTrip error = %v, want a timeout net.Error", err)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v is a context error; the context did not end", err)
	}
	if el < timeout || el > 5*time.Second {
		t.Errorf("RoundTrip returned after %s, want about %s", el, timeout)
	}
	recv(t, got, "the request")
	if !recv(t, clientClosed, "the client to close the connection") {
		t.Error("the connection was not closed by the client")
	}
	if d.count() != 1 {
		t.Errorf("dials %d, want 1", d.count())
	}
}

// TestResponseHeaderTimeoutOnPooledConnection proves a timeout on a pooled
// connection is not taken for a stale connection: the GET is not sent again.
func TestResponseHeaderTimeoutOnPooledConnection(t *testing.T) {
	requests := make(chan struct{}, 8)
	srv := newRawServer(t, func(n int, c net.Conn, br *bufio.Reader) {
		if _, err := readRequest(br); err != nil {
			return
		}
		requests <- struct{}{}
		io.WriteString(c, okAnswer)
		if _, err := readRequest(br); err != nil {
			return
		}
		requests <- struct{}{}
		awaitClose(br)
	})
	d := &countingDialer{}
	tr := newTransport(t, d)
	tr.ResponseHeaderTimeout = 200 * time.Millisecond

	fetch(t, tr, http.MethodGet, srv.url)
	_, err := tr.RoundTrip(newRequest(t, t.Context(), http.MethodGet, srv.url))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("RoundTrip error = %v, want a timeout net.Error", err)
	}
	if d.count() != 1 || srv.count() != 1 || len(requests) != 2 {
		t.Errorf("dials %d, server connections %d, requests %d; want 1, 1, 2", d.count(), srv.count(), len(requests))
	}
}

// TestCancelWhileAwaitingHeaders proves the end of the request's context
// ends the wait for an answer at once, with the context's error.
func TestCancelWhileAwaitingHeaders(t *testing.T) {
	srv, got, clientClosed := hangingServer(t)
	tr := newTransport(t, &countingDialer{})
	tr.ResponseHeaderTimeout = 0 // only the context can end the wait

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	req := newRequest(t, ctx, http.MethodGet, srv.url)
	errc := make(chan error, 1)
	go func() {
		_, err := tr.RoundTrip(req)
		errc <- err
	}()
	recv(t, got, "the request")
	cancel()
	start := time.Now()
	wantCanceled(t, "RoundTrip", recv(t, errc, "RoundTrip to return"), start, clientClosed)
}

// TestCancelWhileReadingBody proves the end of the request's context ends
// a body read with the context's error and keeps the connection out of the
// pool.
func TestCancelWhileReadingBody(t *testing.T) {
	clientClosed := make(chan bool, 1)
	srv := newRawServer(t, func(n int, c net.Conn, br *bufio.Reader) {
		if n > 1 {
			serveKeepAlive(c, br, okAnswer)
			return
		}
		if _, err := readRequest(br); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
		clientClosed <- awaitClose(br)
	})
	d := &countingDialer{}
	tr := newTransport(t, d)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	resp, err := tr.RoundTrip(newRequest(t, ctx, http.MethodGet, srv.url))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := io.ReadFull(resp.Body, make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	readErr := make(chan error, 1)
	go func() {
		_, err := resp.Body.Read(make([]byte, 100))
		readErr <- err
	}()
	cancel()
	start := time.Now()
	wantCanceled(t, "Read", recv(t, readErr, "the body read to return"), start, clientClosed)
	if _, body := fetch(t, tr, http.MethodGet, srv.url); body != "ok" {
		t.Errorf("next GET: %q", body)
	}
	if d.count() != 2 || srv.count() != 2 {
		t.Errorf("dials %d, server connections %d; want 2 and 2", d.count(), srv.count())
	}
}

// TestInterimAnswers proves 1xx answers reach the request's ClientTrace
// and the final answer is returned, however many there are (their bytes
// are bounded, see TestMaxResponseHeaderBytes, not their number, as in
// net/http), and that a 101 fails the request.
func TestInterimAnswers(t *testing.T) {
	const hints = "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
	interimServer := func(t *testing.T, head string) *rawServer {
		return newRawServer(t, func(n int, c net.Conn, br *bufio.Reader) {
			if _, err := readRequest(br); err != nil {
				return
			}
			io.WriteString(c, head+okAnswer)
			serveKeepAlive(c, br, okAnswer)
		})
	}
	type interim struct {
		code int
		link string
	}
	traced := func(t *testing.T) (context.Context, *[]interim) {
		var got []interim
		ctx := httptrace.WithClientTrace(t.Context(), &httptrace.ClientTrace{
			Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
				got = append(got, interim{code, h.Get("Link")})
				return nil
			},
		})
		return ctx, &got
	}

	for _, count := range []int{1, 5, 6, 50} {
		t.Run(fmt.Sprintf("%d Early Hints", count), func(t *testing.T) {
			srv := interimServer(t, strings.Repeat(hints, count))
			d := &countingDialer{}
			tr := newTransport(t, d)
			ctx, got := traced(t)
			resp, body, err := tryFetch(tr, newRequest(t, ctx, http.MethodGet, srv.url))
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusOK || body != "ok" {
				t.Errorf("final answer %d %q, want 200 ok", resp.StatusCode, body)
			}
			if len(*got) != count {
				t.Fatalf("Got1xxResponse called %d times, want %d", len(*got), count)
			}
			for _, g := range *got {
				if g != (interim{103, "</a.css>; rel=preload"}) {
					t.Errorf("Got1xxResponse(%d, Link %q), want 103 and the Link", g.code, g.link)
				}
			}
			fetch(t, tr, http.MethodGet, srv.url)
			if d.count() != 1 {
				t.Errorf("dials %d, want 1: the connection stays usable", d.count())
			}
		})
	}

	failing := map[string]string{
		"101 to a request without one":  "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
		"100 then 101 without an offer": "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n",
	}
	for name, head := range failing {
		t.Run(name, func(t *testing.T) {
			srv := interimServer(t, head)
			tr := newTransport(t, &countingDialer{})
			if resp, err := tr.RoundTrip(newRequest(t, t.Context(), http.MethodGet, srv.url)); err == nil {
				resp.Body.Close()
				t.Fatalf("RoundTrip returned %d, want an error", resp.StatusCode)
			}
		})
	}

	t.Run("trace refuses", func(t *testing.T) {
		srv := interimServer(t, hints)
		tr := newTransport(t, &countingDialer{})
		refused := errors.New("refused")
		ctx := httptrace.WithClientTrace(t.Context(), &httptrace.ClientTrace{
			Got1xxResponse: func(int, textproto.MIMEHeader) error { return refused },
		})
		if _, err := tr.RoundTrip(newRequest(t, ctx, http.MethodGet, srv.url)); !errors.Is(err, refused) {
			t.Errorf("RoundTrip error = %v, want the trace's", err)
		}
	})
}

// TestPoolBound proves no more than MaxIdlePerHost connections stay open
// once a burst of concurrent requests has ended.
func TestPoolBound(t *testing.T) {
	const burst, maxIdle = 5, 2
	var (
		mu      sync.Mutex
		arrived int
		all     = make(chan struct{})
	)
	srv := newCountedServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/burst" {
			mu.Lock()
			if arrived++; arrived == burst {
				close(all)
			}
			mu.Unlock()
			select { // hold every request until all are in flight at once
			case <-all:
			case <-time.After(waitLimit):
			}
		}
		io.WriteString(w, "ok")
	})
	d := &countingDialer{}
	tr := newTransport(t, d)
	tr.MaxIdlePerHost = maxIdle

	errs := make(chan error, burst)
	var wg sync.WaitGroup
	for range burst {
		req := newRequest(t, t.Context(), http.MethodGet, srv.URL+"/burst")
		wg.Go(func() {
			_, body, err := tryFetch(tr, req)
			if err == nil && body != "ok" {
				err = fmt.Errorf("body %q", body)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if d.count() != burst {
		t.Fatalf("dials %d, want %d", d.count(), burst)
	}
	eventually(t, fmt.Sprintf("the server to have %d connections open", maxIdle), func() bool {
		return srv.open() == maxIdle
	})
	for range 2 * maxIdle {
		fetch(t, tr, http.MethodGet, srv.URL+"/after")
	}
	if d.count() != burst {
		t.Errorf("dials after the burst %d, want none: the idle ones are reused", d.count()-burst)
	}
}

// TestZeroMaxIdleKeepsNone proves MaxIdlePerHost 0 pools no connection.
func TestZeroMaxIdleKeepsNone(t *testing.T) {
	srv := newCountedServer(t, func(w http.ResponseWriter, r *http.Request) {})
	d := &countingDialer{}
	tr := newTransport(t, d)
	tr.MaxIdlePerHost = 0
	for range 3 {
		fetch(t, tr, http.MethodGet, srv.URL)
	}
	if d.count() != 3 {
		t.Errorf("dials %d, want 3", d.count())
	}
	eventually(t, "the server to see every connection closed", func() bool { return srv.open() == 0 })
}

// TestIdleTimeout proves a connection idle for longer than IdleTimeout is
// closed instead of used.
func TestIdleTimeout(t *testing.T) {
	for _, tc := range []struct {
		idle  time.Duration
		dials int
	}{
		{time.Millisecond, 2},
		{time.Minute, 1}, // the control: same wait, connection reused
	} {
		t.Run(tc.idle.String(), func(t *testing.T) {
			srv := newCountedServer(t, func(w http.ResponseWriter, r *http.Request) {})
			d := &countingDialer{}
			tr := newTransport(t, d)
			tr.IdleTimeout = tc.idle

			fetch(t, tr, http.MethodGet, srv.URL)
			pooled := time.Now()
			eventually(t, "time to pass", func() bool { return time.Since(pooled) > 10*time.Millisecond })
			fetch(t, tr, http.MethodGet, srv.URL)
			if d.count() != tc.dials {
				t.Errorf("dials %d, want %d", d.count(), tc.dials)
			}
			if tc.dials == 2 {
				eventually(t, "the expired connection to close", func() bool { return srv.closed.Load() == 1 })
			}
		})
	}
}

// TestIdleSweptWithoutRequests proves an idle connection is closed once
// IdleTimeout has passed even when no request comes to look at the pool,
// and that the sweep comes back for connections pooled after it ran.
func TestIdleSweptWithoutRequests(t *testing.T) {
	srv := newCountedServer(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	d := &countingDialer{}
	tr := newTransport(t, d)
	tr.IdleTimeout = 20 * time.Millisecond

	for round := int32(1); round <= 2; round++ {
		fetch(t, tr, http.MethodGet, srv.URL)
		eventually(t, "the idle connection to be swept", func() bool { return srv.closed.Load() == round })
		if srv.open() != 0 || d.count() != int(round) {
			t.Fatalf("round %d: server has %d open, dials %d; want 0 and %d", round, srv.open(), d.count(), round)
		}
	}
}

// TestSweepKeepsFreshConnections proves the sweep closes only the
// connections that expired, and comes back for the ones it left.
func TestSweepKeepsFreshConnections(t *testing.T) {
	release := make(chan struct{})
	srv := newCountedServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			select {
			case <-release:
			case <-time.After(waitLimit):
			}
		}
		io.WriteString(w, "ok")
	})
	tr := newTransport(t, &countingDialer{})
	tr.IdleTimeout = time.Second

	slow := make(chan error, 1)
	go func() {
		_, _, err := tryFetch(tr, newRequest(t, t.Context(), http.MethodGet, srv.URL+"/slow"))
		slow <- err
	}()
	eventually(t, "the slow request to be in flight", func() bool { return srv.open() == 1 })
	fetch(t, tr, http.MethodGet, srv.URL+"/fast") // a second connection, idle from now
	fastIdle := time.Now()
	eventually(t, "the fast connection to wait a quarter of IdleTimeout", func() bool {
		return time.Since(fastIdle) > tr.IdleTimeout/4
	})
	close(release) // the slow connection goes idle well before the fast one expires
	if err := recv(t, slow, "the slow request's answer"); err != nil {
		t.Fatal(err)
	}
	slowIdle := time.Now()
	eventually(t, "the first idle connection to be swept", func() bool { return srv.closed.Load() >= 1 })
	// The sweep takes connections out of the pool before closing them.
	if got := idleCount(tr); got != 1 && time.Since(slowIdle) < tr.IdleTimeout {
		t.Fatalf("after the first sweep %d connections are idle in the pool, want 1", got)
	}
	eventually(t, "the second idle connection to be swept", func() bool { return srv.closed.Load() == 2 })
}

// idleCount is how many connections wait in tr's pool, over all hosts.
func idleCount(tr *Transport) int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	n := 0
	for _, stack := range tr.idle {
		n += len(stack)
	}
	return n
}

// TestCloseIdleConnections proves idle connections are closed, here and in
// the fallback, and later requests dial anew.
func TestCloseIdleConnections(t *testing.T) {
	srv := newCountedServer(t, func(w http.ResponseWriter, r *http.Request) {})
	d := &countingDialer{}
	tr := newTransport(t, d)
	fb := &countingRT{next: tr.Fallback}
	tr.Fallback = fb

	fetch(t, tr, http.MethodGet, srv.URL)
	tr.CloseIdleConnections()
	if fb.closeIdle.Load() != 1 {
		t.Errorf("fallback's CloseIdleConnections called %d times, want 1", fb.closeIdle.Load())
	}
	eventually(t, "the idle connection to close", func() bool { return srv.open() == 0 })
	fetch(t, tr, http.MethodGet, srv.URL)
	fetch(t, tr, http.MethodGet, srv.URL)
	if d.count() != 2 {
		t.Errorf("dials %d, want 2: one before, one after, reused after", d.count())
	}
}

// TestCloseKeepsBusyConnectionOut proves that after Close a body finishing
// does not return its connection to the pool: the connection is closed.
func TestCloseKeepsBusyConnectionOut(t *testing.T) {
	clientClosed := make(chan bool, 4)
	srv := newRawServer(t, func(n int, c net.Conn, br *bufio.Reader) {
		serveKeepAlive(c, br, okAnswer)
		clientClosed <- true
	})
	d := &countingDialer{}
	tr := newTransport(t, d)

	resp, err := tr.RoundTrip(newRequest(t, t.Context(), http.MethodGet, srv.url))
	if err != nil {
		t.Fatal(err)
	}
	tr.Close()
	if b, err := io.ReadAll(resp.Body); err != nil || string(b) != "ok" {
		t.Fatalf("body %q, %v", b, err)
	}
	resp.Body.Close()
	recv(t, clientClosed, "the client to close the connection")
	if _, body := fetch(t, tr, http.MethodGet, srv.url); body != "ok" {
		t.Errorf("GET after Close: %q", body)
	}
	if d.count() != 2 {
		t.Errorf("dials %d, want 2", d.count())
	}
	recv(t, clientClosed, "the client to close the second connection")
}

// TestDialError proves a failed dial surfaces as a *net.OpError with Op
// "dial", which callers recognise.
func TestDialError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	d := &countingDialer{}
	tr := newTransport(t, d)
	_, err = tr.RoundTrip(newRequest(t, t.Context(), http.MethodGet, "http://"+addr+"/"))
	var opErr *net.OpError
	if !errors.As(err, &opErr) || opErr.Op != "dial" {
		t.Fatalf("RoundTrip error = %#v, want a *net.OpError with Op dial", err)
	}
	if d.count() != 1 {
		t.Errorf("dials %d, want 1", d.count())
	}
}

// TestConcurrentUse proves many goroutines share the pool safely: every
// request succeeds and no more connections are dialed than run at once.
func TestConcurrentUse(t *testing.T) {
	const workers, perWorker = 8, 25
	srv := newCountedServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.URL.Path)
	})
	d := &countingDialer{}
	tr := newTransport(t, d)
	tr.MaxIdlePerHost = workers

	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				path := fmt.Sprintf("/w%d/%d", w, i)
				req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+path, nil)
				if err != nil {
					errs <- err
					return
				}
				_, body, err := tryFetch(tr, req)
				if err == nil && body != path {
					err = fmt.Errorf("GET %s answered %q", path, body)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if d.count() > workers {
		t.Errorf("dials %d, want at most %d", d.count(), workers)
	}
}
