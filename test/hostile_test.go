package test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// echoUpstream is an upstream in the test process that answers every
// request with "METHOD PATH BODYLEN XFF" and remembers the paths it served.
type echoUpstream struct {
	srv  *httptest.Server
	mu   sync.Mutex
	seen []string
}

func startEchoUpstream(t *testing.T) *echoUpstream {
	t.Helper()
	u := &echoUpstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return // an aborted upload
		}
		u.mu.Lock()
		u.seen = append(u.seen, r.URL.Path)
		u.mu.Unlock()
		fmt.Fprintf(w, "%s %s %d %s", r.Method, r.URL.Path, len(b), r.Header.Get("X-Forwarded-For"))
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *echoUpstream) paths() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.seen...)
}

// hostileConfig sends everything to one upstream; /upload takes at most 1KiB.
func hostileConfig(up *echoUpstream) string {
	return fmt.Sprintf("legacy: app\nupstreams:\n  app: {url: %s}\n  up2: {url: %s}\nroutes:\n"+
		"  - {prefix: /upload, service: up2, max_body: 1KiB}\n", up.srv.URL, up.srv.URL)
}

// rawExchange writes raw to addr and returns the status codes of the
// responses read until the connection closes or stays quiet for 2s.
func rawExchange(t *testing.T, addr, raw string) []int {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	var codes []int
	for range 4 {
		_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			break
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		codes = append(codes, res.StatusCode)
	}
	return codes
}

// TestHostileClientsEndToEnd runs strangler serve with the client-limit
// flags set low and checks each limit on the real binary: 431, 414, 413
// for a route's max_body, 408 for a stalled body, a slowloris client
// disconnected by the header timeout while others are served, forged
// forwarding headers replaced unless the peer is a trusted proxy, and a
// request hidden behind Content-Length and Transfer-Encoding never
// reaching the upstream.
func TestHostileClientsEndToEnd(t *testing.T) {
	t.Parallel()
	up := startEchoUpstream(t)
	cfg := newConfig(t, hostileConfig(up))
	sp := startStrangler(t, cfg, "--max-header-bytes", "4096", "--max-uri-bytes", "256",
		"--read-header-timeout", "500ms", "--body-read-timeout", "500ms")

	t.Run("431", func(t *testing.T) {
		code, _ := call(t, http.MethodGet, sp.proxy+"/x", "", "X-Big", strings.Repeat("b", 16<<10))
		if code != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("16 KiB of headers: %d, want 431", code)
		}
	})
	t.Run("414", func(t *testing.T) {
		code, body := rawRequest(t, sp.proxyAddr, http.MethodGet, "/"+strings.Repeat("u", 300))
		if code != http.StatusRequestURITooLong || !strings.Contains(string(body), `"status":414`) {
			t.Errorf("a 301-byte target: %d %s, want the JSON 414", code, body)
		}
	})
	t.Run("413", func(t *testing.T) {
		before := len(up.paths())
		code, body := call(t, http.MethodPost, sp.proxy+"/upload/a", strings.Repeat("x", 2000))
		if code != http.StatusRequestEntityTooLarge || !strings.Contains(string(body), `"status":413`) {
			t.Errorf("2000 bytes to a 1KiB route: %d %s, want the JSON 413", code, body)
		}
		chunked := "POST /upload/b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
		for range 20 {
			chunked += "64\r\n" + strings.Repeat("y", 100) + "\r\n"
		}
		if codes := rawExchange(t, sp.proxyAddr, chunked+"0\r\n\r\n"); fmt.Sprint(codes) != "[413]" {
			t.Errorf("2000 chunked bytes to a 1KiB route: responses %v, want [413]", codes)
		}
		if code, body := call(t, http.MethodPost, sp.proxy+"/upload/c", strings.Repeat("x", 1024)); code != http.StatusOK {
			t.Errorf("1024 bytes: %d %s", code, body)
		}
		if got := up.paths()[before:]; fmt.Sprint(got) != "[/upload/c]" {
			t.Errorf("upstream served %v, want only /upload/c", got)
		}
	})
	t.Run("slow clients", func(t *testing.T) {
		// A slowloris client: headers that never end.
		slow, err := net.DialTimeout("tcp", sp.proxyAddr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer slow.Close()
		fmt.Fprintf(slow, "GET /slow HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n")
		// A stalled body: 3 bytes of 10.
		stalled, err := net.DialTimeout("tcp", sp.proxyAddr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer stalled.Close()
		fmt.Fprintf(stalled, "POST /stalled HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
		// Others are served meanwhile.
		for i := range 5 {
			if code, body := call(t, http.MethodGet, sp.proxy+fmt.Sprintf("/other/%d", i), ""); code != http.StatusOK {
				t.Fatalf("another client: %d %s", code, body)
			}
		}
		_ = slow.SetReadDeadline(time.Now().Add(patience))
		if n, err := slow.Read(make([]byte, 512)); err == nil {
			t.Errorf("slowloris client got %d bytes, want the connection closed", n)
		} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Errorf("slowloris client still connected after %s", patience)
		}
		_ = stalled.SetReadDeadline(time.Now().Add(patience))
		res, err := http.ReadResponse(bufio.NewReader(stalled), nil)
		if err != nil {
			t.Fatalf("stalled body: %v", err)
		}
		if res.StatusCode != http.StatusRequestTimeout {
			t.Errorf("stalled body: %d, want 408", res.StatusCode)
		}
	})
	t.Run("forged forwarding headers", func(t *testing.T) {
		_, body := call(t, http.MethodGet, sp.proxy+"/who", "", "X-Forwarded-For", "6.6.6.6")
		if want := "GET /who 0 127.0.0.1"; string(body) != want {
			t.Errorf("upstream answered %q, want %q: the forged X-Forwarded-For was kept", body, want)
		}
	})
	t.Run("CL.TE", func(t *testing.T) {
		raw := "POST /first HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" +
			"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
		if codes := rawExchange(t, sp.proxyAddr, raw); fmt.Sprint(codes) != "[200]" {
			t.Errorf("responses %v, want [200] and the connection closed", codes)
		}
		for _, p := range up.paths() {
			if p == "/smuggled" {
				t.Errorf("the upstream served the smuggled request")
			}
		}
	})
}

// TestTrustedProxyEndToEnd runs strangler behind a "load balancer" on
// 127.0.0.1, listed in --trusted-proxies: the client address the balancer
// puts in X-Forwarded-For reaches the upstream, with the balancer's own
// appended.
func TestTrustedProxyEndToEnd(t *testing.T) {
	t.Parallel()
	up := startEchoUpstream(t)
	sp := startStrangler(t, newConfig(t, hostileConfig(up)), "--trusted-proxies", "10.0.0.0/8,127.0.0.1")
	_, body := call(t, http.MethodGet, sp.proxy+"/who", "", "X-Forwarded-For", "203.0.113.9")
	if want := "GET /who 0 203.0.113.9, 127.0.0.1"; string(body) != want {
		t.Errorf("upstream answered %q, want %q", body, want)
	}
	_, body = call(t, http.MethodGet, sp.proxy+"/who", "")
	if want := "GET /who 0 127.0.0.1"; string(body) != want {
		t.Errorf("without X-Forwarded-For: upstream answered %q, want %q", body, want)
	}
}

// TestBadTrustedProxiesFlag checks that a malformed --trusted-proxies is a
// usage error naming the value.
func TestBadTrustedProxiesFlag(t *testing.T) {
	t.Parallel()
	p := start(t, "strangler", "serve", "--trusted-proxies", "10.0.0.0/99")
	if code := p.wait(t, stopTimeout); code != 2 {
		t.Errorf("exit code %d, want 2", code)
	}
	if !strings.Contains(p.out.String(), "10.0.0.0/99") {
		t.Errorf("output does not name the bad value:\n%s", p.out)
	}
}
