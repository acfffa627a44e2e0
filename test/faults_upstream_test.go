package test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// faultMode is how a rawUpstream answers the requests it reads.
type faultMode int32

const (
	answerOK           faultMode = iota // 200 "service", kept alive
	answer503                           // 503 with a JSON body of its own, kept alive
	resetMidBody                        // 200, one chunk, then a TCP reset once the test says so
	blackhole                           // reads the request and never answers
	slowBody                            // 200 at once, then the body in chunks over slowBodyTime
	closeAfterResponse                  // 200, then closes the connection without saying so
)

// slowBodyChunks and slowBodyEvery pace a slowBody answer: the body takes
// slowBodyChunks*slowBodyEvery to arrive, longer than the route timeout the
// fault tests configure.
const (
	slowBodyChunks = 6
	slowBodyEvery  = 100 * time.Millisecond
)

// firstChunk is the first chunk of a resetMidBody answer.
const firstChunk = "partial answer, the rest never comes\n"

// rawUpstream is an HTTP/1.1 upstream written on raw TCP, so that it can
// misbehave in ways net/http never would: reset a body half-way, hold a
// request forever, drop a kept-alive connection silently, or refuse
// connections altogether while keeping its address.
type rawUpstream struct {
	addr string
	url  string
	mode atomic.Int32

	mu    sync.Mutex
	ln    net.Listener      // nil while refusing
	conns map[net.Conn]bool // nil once stopped
	wg    sync.WaitGroup

	held     atomic.Int64  // connections a blackhole holds right now
	dropped  atomic.Int64  // connections closed after an answer, unannounced
	requests atomic.Int64  // requests read
	reset    chan struct{} // one value lets one resetMidBody answer reset
}

// startRawUpstream listens on a loopback port and serves until the test
// ends.
func startRawUpstream(t *testing.T) *rawUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &rawUpstream{addr: ln.Addr().String(), conns: map[net.Conn]bool{}, reset: make(chan struct{}, 16)}
	u.url = "http://" + u.addr
	u.serve(ln)
	t.Cleanup(u.stop)
	return u
}

func (u *rawUpstream) set(m faultMode) { u.mode.Store(int32(m)) }

func (u *rawUpstream) serve(ln net.Listener) {
	u.mu.Lock()
	u.ln = ln
	u.mu.Unlock()
	u.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed
			}
			if !u.track(c) {
				return
			}
			u.wg.Go(func() {
				defer u.untrack(c)
				u.handle(c)
			})
		}
	})
}

// refuse closes the listener and every open connection: from now on a
// connection to addr is refused.
func (u *rawUpstream) refuse() {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.ln != nil {
		u.ln.Close()
		u.ln = nil
	}
	for c := range u.conns {
		c.Close()
	}
}

// listenAgain listens on addr again after refuse.
func (u *rawUpstream) listenAgain(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", u.addr)
	if err != nil {
		t.Fatalf("listen on %s again: %v", u.addr, err)
	}
	u.serve(ln)
}

func (u *rawUpstream) stop() {
	u.refuse()
	u.mu.Lock()
	u.conns = nil
	u.mu.Unlock()
	u.wg.Wait()
}

func (u *rawUpstream) track(c net.Conn) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.conns == nil {
		c.Close()
		return false
	}
	u.conns[c] = true
	return true
}

func (u *rawUpstream) untrack(c net.Conn) {
	c.Close()
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.conns, c)
}

// handle serves one connection, one request after another, each in the
// mode in force when it arrives.
func (u *rawUpstream) handle(c net.Conn) {
	br := bufio.NewReader(c)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, req.Body)
		u.requests.Add(1)
		switch faultMode(u.mode.Load()) {
		case answerOK:
			if writeAnswer(c, 200, "text/plain", "service") != nil {
				return
			}
		case answer503:
			if writeAnswer(c, 503, "application/json", `{"error":"upstream overloaded"}`) != nil {
				return
			}
		case resetMidBody:
			u.resetMidBody(c)
			return
		case blackhole:
			u.held.Add(1)
			_, _ = io.Copy(io.Discard, c) // until the proxy gives up, or stop
			u.held.Add(-1)
			return
		case slowBody:
			if writeSlowBody(c) != nil {
				return
			}
		case closeAfterResponse:
			_ = writeAnswer(c, 200, "text/plain", "service")
			u.dropped.Add(1)
			return
		}
	}
}

func writeAnswer(w io.Writer, code int, contentType, body string) error {
	_, err := fmt.Fprintf(w, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s",
		code, http.StatusText(code), contentType, len(body), body)
	return err
}

// resetMidBody sends the status, the headers and a first chunk of a
// chunked body, waits for the test's word (or the client's hang-up), and
// resets the connection.
func (u *rawUpstream) resetMidBody(c net.Conn) {
	_, err := fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n", len(firstChunk), firstChunk)
	if err != nil {
		return
	}
	gone := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, c)
		close(gone)
	}()
	select {
	case <-u.reset:
	case <-gone:
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // close sends RST
	}
	c.Close()
	<-gone
}

// writeSlowBody answers 200 at once and sends the body in slowBodyChunks
// chunks, slowBodyEvery apart.
func writeSlowBody(w io.Writer) error {
	if _, err := io.WriteString(w, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"); err != nil {
		return err
	}
	tick := time.NewTicker(slowBodyEvery)
	defer tick.Stop()
	for i := range slowBodyChunks {
		<-tick.C
		chunk := fmt.Sprintf("chunk %d\n", i)
		if _, err := fmt.Fprintf(w, "%x\r\n%s\r\n", len(chunk), chunk); err != nil {
			return err
		}
	}
	_, err := io.WriteString(w, "0\r\n\r\n")
	return err
}

// slowBodyWant is the whole body of a slowBody answer.
func slowBodyWant() string {
	var s string
	for i := range slowBodyChunks {
		s += fmt.Sprintf("chunk %d\n", i)
	}
	return s
}

// startLegacyStub is a legacy upstream that answers every request 200
// "legacy".
func startLegacyStub(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "legacy")
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
