package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// rawUpstream is an upstream that parses, on a plain net.Listener, every
// request the proxy sends on every connection, the way any HTTP/1.1 server
// would, and answers each with 200 "ok". What it parsed is what a real
// upstream would have served: a request smuggled inside another shows up
// as a request of its own.
type rawUpstream struct {
	ln net.Listener

	mu   sync.Mutex
	seen []string // "METHOD /path body" per request parsed, marked incomplete when its body broke off
}

// incomplete marks a request whose body broke off: the proxy aborted it.
const incomplete = " [incomplete]"

func startRawUpstream(t testing.TB) *rawUpstream {
	u := &rawUpstream{}
	u.ln = serveTCP(t, u.serve)
	return u
}

// serveTCP listens on a loopback port and runs serve on a goroutine of its
// own for every connection accepted. Cleanup closes the listener and every
// connection, and waits for the goroutines.
func serveTCP(t testing.TB, serve func(net.Conn)) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var conns sync.Map
	t.Cleanup(func() {
		ln.Close()
		conns.Range(func(c, _ any) bool { c.(net.Conn).Close(); return true })
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Store(c, true)
			wg.Go(func() { serve(c) })
		}
	})
	return ln
}

func (u *rawUpstream) url() string { return "http://" + u.ln.Addr().String() }

func (u *rawUpstream) serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		body, err := io.ReadAll(req.Body)
		s := fmt.Sprintf("%s %s %s", req.Method, req.URL.Path, body)
		if err != nil {
			s += incomplete
		}
		u.mu.Lock()
		u.seen = append(u.seen, s)
		u.mu.Unlock()
		if err != nil {
			return
		}
		if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"); err != nil {
			return
		}
	}
}

func (u *rawUpstream) requests() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.seen...)
}

// exchangeRaw writes raw to a new connection to addr and reads every
// response until the proxy closes the connection or, with none coming,
// the client gives up after quiet. It returns their status codes.
func exchangeRaw(t testing.TB, addr, raw string, quiet time.Duration) []int {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	var codes []int
	for range 5 {
		_ = conn.SetReadDeadline(time.Now().Add(quiet))
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			break // closed by the proxy, or nothing more within quiet
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		codes = append(codes, res.StatusCode)
	}
	return codes
}

// smuggle is a request that hides "GET /smuggled" where one parser or
// another might read it as a request of its own.
const smuggle = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"

// TestRequestSmuggling sends, over raw connections, requests whose framing
// two HTTP parsers could read differently, and checks with a raw upstream
// that the upstream never parses the request hidden in them: each is
// refused (400, or 501 for a transfer coding other than chunked) without
// reaching the upstream (or aborted there, for a bad chunk found
// midway), or forwarded as exactly one request with the body
// its chunks frame, and then the connection is closed, so that a proxy in
// front that framed it otherwise cannot slip a second request in.
func TestRequestSmuggling(t *testing.T) {
	up := startRawUpstream(t)
	hs := newHarness(t)
	hs.urls["monolith"] = up.url()
	hs.apply(t, "legacy: monolith\nupstreams:\n  monolith: {url: \"{{.monolith}}\"}\n")
	addr := hs.front.Listener.Addr().String()
	chunk := func(s string) string { return fmt.Sprintf("%x\r\n%s\r\n", len(s), s) }
	const post = "POST /a HTTP/1.1\r\nHost: x\r\n"

	for i, tc := range []struct {
		name  string
		raw   string
		codes []int    // responses the client gets before the connection closes
		seen  []string // requests the upstream parses
	}{
		{"CL.TE: the chunks end where Content-Length would not",
			post + "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggle,
			[]int{200}, []string{"POST /a "}},
		{"TE.CL: Content-Length would end inside the chunks",
			post + "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n" + chunk(smuggle) + "0\r\n\r\n",
			[]int{200}, []string{"POST /a " + smuggle}},
		{"TE before CL, CL.TE order reversed",
			post + "Transfer-Encoding: chunked\r\nContent-Length: 60\r\n\r\n0\r\n\r\n" + smuggle,
			[]int{200}, []string{"POST /a "}},
		{"two different Content-Lengths",
			post + "Content-Length: 5\r\nContent-Length: 40\r\n\r\nhello" + smuggle, []int{400}, nil},
		{"a Content-Length list", post + "Content-Length: 5, 40\r\n\r\nhello" + smuggle, []int{400}, nil},
		{"a signed Content-Length", post + "Content-Length: +5\r\n\r\nhello" + smuggle, []int{400}, nil},
		{"Transfer-Encoding: xchunked", post + "Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n" + smuggle, []int{501}, nil},
		{"Transfer-Encoding: chunked, identity", post + "Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n" + smuggle, []int{501}, nil},
		{"Transfer-Encoding: identity, chunked", post + "Transfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n" + smuggle, []int{501}, nil},
		{"two Transfer-Encoding fields",
			post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n" + smuggle, []int{501}, nil},
		{"a space before the colon", post + "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n" + smuggle, []int{400}, nil},
		{"a folded Transfer-Encoding (unfolded, as RFC 9112 allows)",
			post + "Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n" + smuggle, []int{200}, []string{"POST /a "}},
		{"a bare CR inside a header", post + "X-A: b\rTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggle, []int{400}, nil},
		{"HTTP/1.0 with Transfer-Encoding, kept alive",
			"POST /a HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n" + smuggle,
			[]int{200}, []string{"POST /a "}},
		{"an overlong chunk size",
			post + "Transfer-Encoding: chunked\r\n\r\n00000000000000000000005\r\nhello\r\n0\r\n\r\n" + smuggle, []int{400}, nil},
		{"a chunk size past 2^64",
			post + "Transfer-Encoding: chunked\r\n\r\n1ffffffffffffffff\r\nhello\r\n0\r\n\r\n" + smuggle, []int{400}, nil},
		{"a negative chunk size", post + "Transfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n" + smuggle, []int{400}, nil},
		{"a 0x chunk size", post + "Transfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n" + smuggle, []int{400}, nil},
		{"a chunk longer than its size",
			post + "Transfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n" + smuggle, []int{400}, nil},
		{"a chunk extension hiding a line feed",
			post + "Transfer-Encoding: chunked\r\n\r\n5;a=\"b\n" + smuggle + "\"\r\nhello\r\n0\r\n\r\n", []int{400}, nil},
		{"a plain chunk extension",
			post + "Transfer-Encoding: chunked\r\n\r\n5;name=value\r\nhello\r\n0\r\n\r\n" + smuggle,
			[]int{200}, []string{"POST /a hello"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Each case posts to a path of its own, so that an aborted
			// request of an earlier case, parsed late, is not counted.
			path := fmt.Sprintf("/case%d", i)
			codes := exchangeRaw(t, addr, strings.Replace(tc.raw, "/a ", path+" ", 1), 2*time.Second)
			if fmt.Sprint(codes) != fmt.Sprint(tc.codes) {
				t.Errorf("client got responses %v, want %v and then the connection closed", codes, tc.codes)
			}
			want := make([]string, len(tc.seen))
			for j, s := range tc.seen {
				want[j] = strings.Replace(s, "/a ", path+" ", 1)
			}
			// A request refused for a bad chunk may have reached the
			// upstream in part before the proxy read that chunk: it must
			// have been aborted there, never completed, and nothing after
			// it parsed as a second request.
			var seen []string
			eventually(t, "the upstream to finish reading", func() error {
				seen = seen[:0]
				for _, s := range up.requests() {
					if strings.Contains(s, " "+path+" ") || strings.HasPrefix(s, "GET /smuggled") {
						seen = append(seen, s)
					}
				}
				if len(seen) < len(want) {
					return fmt.Errorf("upstream parsed %q", seen)
				}
				return nil
			})
			for _, s := range seen {
				if strings.HasPrefix(s, "GET /smuggled") {
					t.Fatalf("the upstream parsed the smuggled request: %q", seen)
				}
			}
			if tc.seen != nil && fmt.Sprintf("%q", seen) != fmt.Sprintf("%q", want) {
				t.Errorf("upstream parsed %q, want %q", seen, want)
			}
			for _, s := range seen {
				if tc.seen == nil && !strings.HasSuffix(s, incomplete) {
					t.Errorf("upstream parsed %q, want nothing but aborted requests", seen)
				}
			}
		})
	}
}
