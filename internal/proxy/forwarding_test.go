package proxy

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// startSwitchingBackend starts a raw TCP upstream on 127.0.0.1 that answers
// every request (after reading its body) with head, a 101 Switching
// Protocols of its own making, and then holds the connection until the
// proxy closes it. The connections still open are closed when the test
// ends.
func startSwitchingBackend(t *testing.T, head string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() {
				req, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil {
					return
				}
				_, _ = io.Copy(io.Discard, req.Body)
				if _, err := io.WriteString(c, head); err != nil {
					return
				}
				_, _ = io.Copy(io.Discard, c) // until the proxy closes it
			})
		}
	})
	return "http://" + ln.Addr().String()
}

// switchConfig puts /ws on an upstream with a single bulkhead slot, no
// retries and no fallback: a request that leaked its slot makes the next
// one fail with 503 instead of reaching the upstream.
const switchConfig = `
legacy: monolith
upstreams:
  monolith: {url: "{{.monolith}}"}
  odd:
    url: "{{.odd}}"
    bulkhead: {max_concurrent: 1}
    retry: {attempts: 1}
routes:
  - {prefix: /ws, service: odd, name: ws, fallback: false}
`

// TestBadSwitchReleasesUpstream checks that a 101 Switching Protocols the
// proxy does not tunnel (another protocol than the one asked for, a
// non-printable one, one that is no protocol switch at all, or one to a
// request that asked for none) is a 502 that gives back the request's
// bulkhead slot: three such requests in a row all reach the upstream.
func TestBadSwitchReleasesUpstream(t *testing.T) {
	upgrade := []string{"Connection: Upgrade", "Upgrade: websocket",
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13"}
	for _, tc := range []struct {
		name, head, method string
		headers            []string
		body               string
	}{
		{name: "other protocol", method: "GET", headers: upgrade,
			head: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n"},
		{name: "non-printable protocol", method: "GET", headers: upgrade,
			head: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: w\xc3\xa9bsocket\r\nConnection: Upgrade\r\n\r\n"},
		{name: "no Connection upgrade", method: "GET", headers: upgrade,
			head: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"},
		{name: "unasked", method: "POST", headers: []string{"Content-Length: 5"}, body: "hello",
			head: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs := newHarness(t, "monolith")
			hs.urls["odd"] = startSwitchingBackend(t, tc.head)
			hs.apply(t, switchConfig)
			addr := hs.front.Listener.Addr().String()
			for i := range 3 {
				res, body := rawExchange(t, addr, tc.method, "/ws/chat", tc.headers, tc.body)
				if res.StatusCode != http.StatusBadGateway {
					t.Fatalf("request %d: status %d, want 502; body %s", i+1, res.StatusCode, body)
				}
				checkErrorReply(t, res, body, http.StatusBadGateway)
			}
			waitMetric(t, hs.reg, "strangler_requests_total", requestLabels("ws", "extracted", "odd", tc.method, "502"), 3)
			if n := hs.handler.Upgraded(); n != 0 {
				t.Errorf("Upgraded() = %d, want 0", n)
			}
		})
	}
}

// startSwitchOrEcho starts an upstream that switches to whatever protocol
// a request asks for (101, then "tunnelled" and the connection closed) and
// answers any other request as the echo backend b.
func startSwitchOrEcho(t *testing.T, b *backend) string {
	return startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		up := r.Header.Get("Upgrade")
		if up == "" {
			b.ServeHTTP(w, r)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: %s\r\nConnection: Upgrade\r\n\r\ntunnelled\n", up)
		_ = brw.Flush()
	})).URL
}

// TestOnlyWebSocketIsUpgraded checks that an upgrade to anything but
// WebSocket (h2c above all, which would give the client a raw connection
// to the upstream outside the route) is forwarded as a plain request,
// without Upgrade, Connection: Upgrade or HTTP2-Settings, while WebSocket,
// in any ASCII case, is still switched.
func TestOnlyWebSocketIsUpgraded(t *testing.T) {
	const settings = "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA"
	for _, tc := range []struct {
		name    string
		headers []string
		want    int
	}{
		{"h2c", []string{"Connection: Upgrade, HTTP2-Settings", "Upgrade: h2c", settings}, http.StatusOK},
		{"h2c without HTTP2-Settings in Connection", []string{"Connection: Upgrade", "Upgrade: h2c", settings}, http.StatusOK},
		{"websocket and h2c", []string{"Connection: Upgrade", "Upgrade: websocket, h2c"}, http.StatusOK},
		{"HTTP2-Settings alone", []string{settings}, http.StatusOK},
		{"WebSocket", []string{"Connection: Upgrade", "Upgrade: WebSocket"}, http.StatusSwitchingProtocols},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs := newHarness(t, "monolith")
			echo := startBackend(t, "payments")
			hs.urls["payments"] = startSwitchOrEcho(t, echo)
			hs.apply(t, "legacy: monolith\nupstreams:\n  monolith: {url: \"{{.monolith}}\"}\n"+
				"  payments: {url: \"{{.payments}}\"}\nroutes:\n  - {prefix: /api/payments, service: payments, name: payments, fallback: false}\n")
			res, body := rawRequest(t, hs.front.Listener.Addr().String(), "GET", "/api/payments/x", tc.headers...)
			if res.StatusCode != tc.want {
				t.Fatalf("status %d, want %d; body %s", res.StatusCode, tc.want, body)
			}
			if tc.want != http.StatusOK {
				return
			}
			var s seenRequest
			if err := json.Unmarshal(body, &s); err != nil {
				t.Fatalf("answer %q: %v", body, err)
			}
			for _, k := range []string{"Upgrade", "Http2-Settings"} {
				if v, ok := s.Header[k]; ok {
					t.Errorf("upstream got %s: %q, want none", k, v)
				}
			}
			if c := s.Header.Get("Connection"); strings.Contains(strings.ToLower(c), "upgrade") {
				t.Errorf("upstream got Connection: %q, want no upgrade", c)
			}
			waitMetric(t, hs.reg, "strangler_requests_total", requestLabels("payments", "extracted", "payments", "GET", "200"), 1)
			if n := hs.handler.Upgraded(); n != 0 {
				t.Errorf("Upgraded() = %d, want 0", n)
			}
		})
	}
}

// TestNoContentTypeAdded checks that an answer the upstream sent without a
// Content-Type reaches the client without one (net/http would sniff the
// body and add text/html), directly and after a fallback to legacy, and
// that an upstream's own Content-Type passes once and unchanged.
func TestNoContentTypeAdded(t *testing.T) {
	hs := newHarness(t)
	hs.urls["bare"] = startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("hints") {
			// An informational answer first: ReverseProxy clears the
			// client's header map after forwarding it.
			w.Header().Set("Link", "</style.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			w.Header().Del("Link")
		}
		if ct := r.URL.Query().Get("type"); ct != "" {
			w.Header().Set("Content-Type", ct)
		} else {
			w.Header()["Content-Type"] = nil // the backend's server must not add one either
		}
		io.WriteString(w, "<html><body>hello</body></html>")
	})).URL
	hs.urls["dead"] = deadURL(t)
	hs.apply(t, `
legacy: bare
upstreams:
  bare: {url: "{{.bare}}"}
  dead: {url: "{{.dead}}"}
routes:
  - {prefix: /fb, service: dead, name: fb}
`)
	for _, tc := range []struct{ target, want string }{
		{"/page", ""},
		{"/page?hints", ""},
		{"/fb/page", ""},
		{"/page?type=text/plain", "text/plain"},
	} {
		res, body := hs.do(t, "GET", tc.target, nil)
		if res.StatusCode != http.StatusOK || string(body) != "<html><body>hello</body></html>" {
			t.Fatalf("GET %s: status %d, body %q", tc.target, res.StatusCode, body)
		}
		got := res.Header["Content-Type"]
		switch {
		case tc.want == "" && got != nil:
			t.Errorf("GET %s: Content-Type %q, want none", tc.target, got)
		case tc.want != "" && (len(got) != 1 || got[0] != tc.want):
			t.Errorf("GET %s: Content-Type %q, want [%s]", tc.target, got, tc.want)
		}
	}
}
