package proxy

import (
	"bufio"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// newHarnessWith is newHarness with a Handler built from o (its
// Registerer is the harness's registry).
func newHarnessWith(t testing.TB, o Options, names ...string) *harness {
	hs := newHarness(t, names...)
	o.Registerer = prometheus.NewPedanticRegistry()
	hs.reg = o.Registerer.(*prometheus.Registry)
	hs.handler = New(o)
	h := hs.handler
	t.Cleanup(func() { _ = h.Close() }) // after the frontend's Close
	hs.front = httptest.NewUnstartedServer(hs.handler)
	hs.front.Config.ErrorLog = log.New(serverLog{t}, "", 0)
	hs.front.Start()
	t.Cleanup(hs.front.Close)
	hs.client = hs.front.Client()
	return hs
}

// TestHopByHopCannotStripProxyHeaders lists every header the proxy sets
// in the client's Connection header, which makes them hop-by-hop: each
// must still reach the upstream, with the proxy's value.
func TestHopByHopCannotStripProxyHeaders(t *testing.T) {
	hs := newMainHarness(t)
	addr := hs.front.Listener.Addr().String()
	const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	res, body := rawRequest(t, addr, "GET", "/api/orders/1",
		"Connection: close, X-Forwarded-For, X-Forwarded-Host, X-Forwarded-Proto, X-Request-Id, Traceparent, X-Strangler-Route",
		"X-Request-Id: hop-1", "Traceparent: "+traceparent, "X-Forwarded-For: 6.6.6.6")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", res.StatusCode, body)
	}
	seen := hs.backends["orders"].requests()
	s := seen[len(seen)-1]
	for k, v := range map[string]string{
		"X-Forwarded-For":   "127.0.0.1",
		"X-Forwarded-Host":  addr,
		"X-Forwarded-Proto": "http",
		"X-Request-Id":      "hop-1",
		"Traceparent":       traceparent,
		HeaderRoute:         "orders",
	} {
		if got := s.Header.Values(k); len(got) != 1 || got[0] != v {
			t.Errorf("upstream received %s = %q, want [%q]", k, got, v)
		}
	}
	if c := s.Header.Values("Connection"); len(c) != 0 {
		t.Errorf("upstream received Connection %q, want none", c)
	}
}

// TestTrustedProxies checks the forwarding headers a request from a
// trusted proxy keeps (the X-Forwarded-For chain, extended with the peer;
// X-Forwarded-Host and -Proto; Forwarded and X-Real-IP), and that they are
// replaced from a peer outside the list.
func TestTrustedProxies(t *testing.T) {
	forged := http.Header{
		"Host":              {"shop.example"},
		"X-Forwarded-For":   {"203.0.113.9, 198.51.100.2"},
		"X-Forwarded-Host":  {"www.shop.example"},
		"X-Forwarded-Proto": {"https"},
		"Forwarded":         {"for=203.0.113.9;proto=https"},
		"X-Real-Ip":         {"203.0.113.9"},
	}
	for _, tc := range []struct {
		name    string
		trusted string
		want    map[string]string // "" means absent
	}{
		{"peer trusted", "10.0.0.0/8, 127.0.0.1", map[string]string{
			"X-Forwarded-For": "203.0.113.9, 198.51.100.2, 127.0.0.1", "X-Forwarded-Host": "www.shop.example",
			"X-Forwarded-Proto": "https", "Forwarded": "for=203.0.113.9;proto=https", "X-Real-Ip": "203.0.113.9",
		}},
		{"peer trusted by CIDR", "127.0.0.0/8", map[string]string{
			"X-Forwarded-For": "203.0.113.9, 198.51.100.2, 127.0.0.1", "X-Forwarded-Host": "www.shop.example",
			"X-Forwarded-Proto": "https",
		}},
		{"peer not in the list", "10.0.0.0/8, ::1", map[string]string{
			"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Host": "shop.example", "X-Forwarded-Proto": "http",
			"Forwarded": "", "X-Real-Ip": "",
		}},
		{"no list", "", map[string]string{
			"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Host": "shop.example", "X-Forwarded-Proto": "http",
			"Forwarded": "", "X-Real-Ip": "",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			trusted, err := ParseTrustedProxies(tc.trusted)
			if err != nil {
				t.Fatal(err)
			}
			hs := newHarnessWith(t, Options{TrustedProxies: trusted}, mainBackends...)
			hs.apply(t, readFile(t, mainConfig))
			for _, target := range []string{"/api/orders/1", "/somewhere"} {
				_, s := hs.forward(t, "GET", target, forged)
				for k, v := range tc.want {
					got := s.Header.Values(k)
					if (v == "" && len(got) != 0) || (v != "" && (len(got) != 1 || got[0] != v)) {
						t.Errorf("GET %s: upstream received %s = %q, want %q", target, k, got, v)
					}
				}
			}
		})
	}
}

// TestParseTrustedProxies checks the --trusted-proxies syntax.
func TestParseTrustedProxies(t *testing.T) {
	got, err := ParseTrustedProxies(" 10.1.2.3/8 ,192.168.1.7, 2001:db8::/32,::ffff:172.16.0.1,, ")
	if err != nil {
		t.Fatal(err)
	}
	want := "[10.0.0.0/8 192.168.1.7/32 2001:db8::/32 172.16.0.1/32]"
	if fmt.Sprint(got) != want {
		t.Errorf("got %v, want %v", got, want)
	}
	tp := trustedProxies(got)
	for addr, want := range map[string]bool{
		"10.9.9.9:1234": true, "192.168.1.7:80": true, "192.168.1.8:80": false, "[2001:db8::5]:443": true,
		"[::ffff:10.0.0.1]:80": true, "[::ffff:172.16.0.1]:80": true, "11.0.0.1:80": false, "garbage": false,
	} {
		if tp.trusts(addr) != want {
			t.Errorf("trusts(%q) = %v, want %v", addr, !want, want)
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "example.com", "10.0.0.1:80", "1.2.3"} {
		if _, err := ParseTrustedProxies(bad); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("ParseTrustedProxies(%q) = %v, want an error naming it", bad, err)
		}
	}
	if trustedProxies(nil).trusts("127.0.0.1:1") {
		t.Error("an empty list trusts a peer")
	}
}

// TestPathTricks sends encodings TestPathSafety does not, over raw
// connections: double encoding, encoded dots mixed with literal ones,
// case changes and dot-segment spellings. Nothing reaches the orders
// service with a path outside /api/orders, matching is case-sensitive,
// and whatever reaches a backend is what the router matched.
func TestPathTricks(t *testing.T) {
	checkPathRouting(t, newMainHarness(t), []pathCase{
		// Double encoding is decoded once: %252e%252e is the segment
		// "%2e%2e", not "..", and stays inside the prefix, encoded.
		{"/api/orders/%252e%252e/%252e%252e/admin", "orders", "/api/orders/%252e%252e/%252e%252e/admin"},
		{"/api/orders/..%252f..%252fadmin", "orders", "/api/orders/..%252f..%252fadmin"},
		{"/api/orders/.%2e/admin", "monolith", "/api/admin"},
		{"/api/orders/%2e./admin", "monolith", "/api/admin"},
		{"/api/orders/%2e%2e%2fadmin", "monolith", "/api/admin"},
		{"/api/orders/%2e/42", "orders", "/api/orders/42"},
		{"/api/orders/%2f%2f42", "orders", "/api/orders/42"},
		{"/./api/orders/1", "orders", "/api/orders/1"},
		{"/api/./orders/./1", "orders", "/api/orders/1"},
		{"///api/orders/1", "orders", "/api/orders/1"},
		{"/api/orders/1/..", "orders", "/api/orders"},
		{"/api/orders/1/../..", "monolith", "/api"},
		{"/api/%6frders/1", "orders", "/api/%6frders/1"}, // decoded, it is /api/orders/1
		// Case-sensitive, as documented: these are not /api/orders.
		{"/API/orders/1", "monolith", "/API/orders/1"},
		{"/api/Orders/1", "monolith", "/api/Orders/1"},
		{"/api/ORDERS", "monolith", "/api/ORDERS"},
		{"/api/%4frders/1", "monolith", "/api/%4frders/1"}, // decoded, /api/Orders/1
		{"/api/orders-archive/1", "monolith", "/api/orders-archive/1"},
	})
}

// TestURITooLong checks that a request target longer than MaxURIBytes gets
// the proxy's JSON 414 without reaching a backend, and one at the limit
// passes.
func TestURITooLong(t *testing.T) {
	hs := newHarnessWith(t, Options{MaxURIBytes: 100}, "monolith")
	hs.apply(t, "legacy: monolith\nupstreams:\n  monolith: {url: \"{{.monolith}}\"}\n")
	addr := hs.front.Listener.Addr().String()
	at := "/" + strings.Repeat("a", 91) + "?q=12345" // 100 bytes
	if res, body := rawRequest(t, addr, "GET", at); res.StatusCode != http.StatusOK {
		t.Fatalf("a %d-byte target: %d %s", len(at), res.StatusCode, body)
	}
	for _, target := range []string{at + "6", "/" + strings.Repeat("%2e", 40)} {
		res, body := rawRequest(t, addr, "GET", target)
		checkErrorReply(t, res, body, http.StatusRequestURITooLong)
	}
	if n := len(hs.backends["monolith"].requests()); n != 1 {
		t.Errorf("the backend got %d requests, want only the one at the limit", n)
	}
	// The default is 8 KiB.
	hs = newHarnessWith(t, Options{}, "monolith")
	hs.apply(t, "legacy: monolith\nupstreams:\n  monolith: {url: \"{{.monolith}}\"}\n")
	res, body := rawRequest(t, hs.front.Listener.Addr().String(), "GET", "/"+strings.Repeat("b", DefaultMaxURIBytes))
	checkErrorReply(t, res, body, http.StatusRequestURITooLong)
}

// bodyLimitConfig routes /upload, limited to 1KiB, to svc (with fallback
// to legacy, which must not serve what the limit refused); /free has no
// limit.
const bodyLimitConfig = `
legacy: monolith
upstreams:
  monolith: {url: "{{.monolith}}"}
  svc: {url: "{{.svc}}"}
routes:
  - {prefix: /upload, service: svc, name: upload, max_body: 1KiB}
  - {prefix: /free, service: svc, name: free}
`

// TestBodyLimit checks a route's max_body: a declared Content-Length above
// it gets 413 at once (no 100 Continue, no upstream touched); a chunked
// body that grows past it is cut off, the upstream request aborted, and
// the client gets 413; neither falls back to legacy nor counts against the
// service's breaker; bodies within the limit, and on routes without one,
// pass whole.
func TestBodyLimit(t *testing.T) {
	legacy, svc := startRawUpstream(t), startRawUpstream(t)
	hs := newHarnessWith(t, Options{})
	hs.urls["monolith"], hs.urls["svc"] = legacy.url(), svc.url()
	hs.apply(t, bodyLimitConfig)
	addr := hs.front.Listener.Addr().String()

	// Content-Length above the limit, with Expect: 100-continue and no
	// body sent: the answer must come without the body.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(waitLimit))
	fmt.Fprintf(conn, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1025\r\nExpect: 100-continue\r\n\r\n")
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer before the body: %v", err)
	}
	body, _ := io.ReadAll(res.Body)
	checkErrorReply(t, res, body, http.StatusRequestEntityTooLarge)

	chunked := func(n int) string {
		var b strings.Builder
		b.WriteString("POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
		for n > 0 {
			c := min(n, 100)
			fmt.Fprintf(&b, "%x\r\n%s\r\n", c, strings.Repeat("x", c))
			n -= c
		}
		b.WriteString("0\r\n\r\n")
		return b.String()
	}
	// More chunked requests past the limit than it takes to open the
	// breaker (5 failures in a row) were they counted as failures.
	for range 7 {
		if codes := exchangeRaw(t, addr, chunked(3000), 2*time.Second); fmt.Sprint(codes) != "[413]" {
			t.Fatalf("a 3000-byte chunked body: responses %v, want [413]", codes)
		}
	}
	if codes := exchangeRaw(t, addr, chunked(1024), 2*time.Second); fmt.Sprint(codes) != "[200]" {
		t.Fatalf("a 1024-byte chunked body: responses %v, want [200]", codes)
	}
	if res, body := rawRequest(t, addr, "POST", "/free", "Content-Length: 5000", "\r\n"+strings.Repeat("y", 5000-2)); res.StatusCode != http.StatusOK {
		t.Fatalf("5000 bytes on a route without max_body: %d %s", res.StatusCode, body)
	}
	eventually(t, "the service's requests", func() error {
		var whole []string
		for _, s := range svc.requests() {
			if !strings.HasSuffix(s, incomplete) {
				whole = append(whole, s[:min(len(s), 20)])
			}
		}
		if len(whole) != 2 || !strings.HasPrefix(whole[0], "POST /upload xxxx") || !strings.HasPrefix(whole[1], "POST /free ") {
			return fmt.Errorf("service completed %q, want the 1024-byte upload and the free one", whole)
		}
		return nil
	})
	if got := legacy.requests(); len(got) != 0 {
		t.Errorf("legacy got %q: a refused upload fell back", got)
	}
	waitMetric(t, hs.reg, "strangler_circuit_breaker_state", map[string]string{"upstream": "svc"}, 0)
	if v, _, _ := metricValue(hs.reg, "strangler_fallbacks_total", map[string]string{"route": "upload", "reason": "upstream_error"}); v != 0 {
		t.Errorf("fallbacks = %v, want 0", v)
	}
	waitMetric(t, hs.reg, "strangler_requests_total", requestLabels("upload", "extracted", "svc", "POST", "413"), 7)
}

// TestBodyReadTimeout checks that a client trickling its body is cut off
// with 408 once it pauses for longer than BodyReadTimeout, however long it
// has been sending, that one sending steadily is not, and that neither
// stalls other clients.
func TestBodyReadTimeout(t *testing.T) {
	const idle = 300 * time.Millisecond
	hs := newHarnessWith(t, Options{BodyReadTimeout: idle}, "monolith")
	hs.apply(t, "legacy: monolith\nupstreams:\n  monolith: {url: \"{{.monolith}}\"}\n")
	addr := hs.front.Listener.Addr().String()

	// Steady: 20 bytes, one every idle/6, so 3 idles long in all.
	steady := func() error {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(waitLimit))
		fmt.Fprintf(conn, "POST /steady HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\n\r\n")
		tick := time.NewTicker(idle / 6)
		defer tick.Stop()
		for range 20 {
			<-tick.C
			if _, err := conn.Write([]byte("s")); err != nil {
				return err
			}
		}
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			return err
		}
		if res.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", res.StatusCode)
		}
		return nil
	}
	steadyErr := make(chan error, 1)
	go func() { steadyErr <- steady() }()

	// Stalled: 3 bytes of 10, then silence.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(waitLimit))
	began := time.Now()
	fmt.Fprintf(conn, "POST /stalled HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
	// Meanwhile other clients are served.
	for i := range 5 {
		if res, body := hs.do(t, "GET", fmt.Sprintf("/other/%d", i), nil); res.StatusCode != http.StatusOK {
			t.Fatalf("another client: %d %s", res.StatusCode, body)
		}
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("stalled body: no answer: %v", err)
	}
	body, _ := io.ReadAll(res.Body)
	checkErrorReply(t, res, body, http.StatusRequestTimeout)
	if took := time.Since(began); took < idle || took > idle+5*time.Second {
		t.Errorf("stalled body cut after %s, want about %s", took, idle)
	}
	if err := <-steadyErr; err != nil {
		t.Errorf("a client sending steadily for 3 idle periods: %v", err)
	}
	waitMetric(t, hs.reg, "strangler_requests_total", requestLabels("default", "legacy", "monolith", "POST", "408"), 1)
}

// TestExpectContinueAnsweredEarly has the upstream answer requests that
// carry Expect: 100-continue at once, without reading their bodies, and
// checks that the requests after them, over the same upstream connection
// pool, get their own answers.
func TestExpectContinueAnsweredEarly(t *testing.T) {
	var mu sync.Mutex
	conns := map[string]bool{}
	up := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		conns[r.RemoteAddr] = true
		mu.Unlock()
		switch r.URL.Path {
		case "/early":
			w.WriteHeader(http.StatusExpectationFailed) // the body is never read
		case "/auth":
			w.WriteHeader(http.StatusUnauthorized)
		default:
			b, _ := io.ReadAll(r.Body)
			fmt.Fprintf(w, "%s %s %d", r.Method, r.URL.Path, len(b))
		}
	}))
	hs := newHarnessWith(t, Options{}, "monolith")
	hs.urls["monolith"] = up.URL
	hs.apply(t, "legacy: monolith\nupstreams:\n  monolith: {url: \"{{.monolith}}\"}\n")
	// A client that waits for 100 Continue, as Expect asks: one that sent
	// its body at once could be reset by the early answer's close.
	client := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: waitLimit}}
	t.Cleanup(client.CloseIdleConnections)
	for i := range 20 {
		early := []string{"/early", "/auth"}[i%2]
		size := []int{10, 300 << 10}[i/2%2] // drained by the upstream, or too large for that
		req, err := http.NewRequest("POST", hs.front.URL+early, strings.NewReader(strings.Repeat("z", size)))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Expect", "100-continue")
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("POST %s (%d bytes): %v", early, size, err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if want := map[string]int{"/early": 417, "/auth": 401}[early]; res.StatusCode != want {
			t.Fatalf("POST %s: %d, want %d", early, res.StatusCode, want)
		}
		target := fmt.Sprintf("/next/%d", i)
		req, _ = http.NewRequest("POST", hs.front.URL+target, strings.NewReader("hello"))
		res, err = client.Do(req)
		if err != nil {
			t.Fatalf("POST %s after %s: %v", target, early, err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if want := "POST " + target + " 5"; res.StatusCode != http.StatusOK || string(b) != want {
			t.Fatalf("POST %s after %s: %d %q, want 200 %q", target, early, res.StatusCode, b, want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(conns) >= 40 {
		t.Errorf("%d upstream connections for 40 requests: the pool was never reused", len(conns))
	}
}

// TestClientHangsUp has clients hang up while the upstream is still
// thinking, and halfway through a streamed answer, each more times than it
// takes to open the breaker. The first are recorded as 499 and the second
// with the status they began with; neither moves the breaker, passive
// health or fallbacks; the upstream sees each request end; and no
// goroutine is left behind.
func TestClientHangsUp(t *testing.T) {
	started, ended := make(chan struct{}, 16), make(chan struct{}, 16)
	up := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/s/ok":
			_, _ = io.WriteString(w, "ok")
			return
		case strings.HasPrefix(r.URL.Path, "/s/stream/"):
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, "first part\n")
			_ = http.NewResponseController(w).Flush()
		default:
			started <- struct{}{}
		}
		<-r.Context().Done() // the rest never comes: the client must hang up
		ended <- struct{}{}
	}))
	hs := newHarnessWith(t, Options{}, "monolith")
	hs.urls["svc"] = up.URL
	hs.apply(t, "legacy: monolith\nupstreams:\n  monolith: {url: \"{{.monolith}}\"}\n  svc: {url: \"{{.svc}}\"}\n"+
		"routes:\n  - {prefix: /s, service: svc, name: s}\n")
	if res, body := hs.do(t, "GET", "/s/ok", nil); res.StatusCode != http.StatusOK {
		t.Fatalf("warm-up: %d %s", res.StatusCode, body)
	}
	hs.client.CloseIdleConnections()
	before := runtime.NumGoroutine()
	const n = 8
	for i := range 2 * n {
		conn, err := net.Dial("tcp", hs.front.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.SetDeadline(time.Now().Add(waitLimit))
		if i < n {
			fmt.Fprintf(conn, "GET /s/slow/%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
			waitFor(t, started, "the request to reach the upstream")
		} else {
			fmt.Fprintf(conn, "GET /s/stream/%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
			res, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			line, err := bufio.NewReader(res.Body).ReadString('\n')
			if err != nil || line != "first part\n" {
				t.Fatalf("first part: %q %v", line, err)
			}
		}
		conn.Close()
		waitFor(t, ended, "the upstream request to end after the client hung up")
	}
	waitMetric(t, hs.reg, "strangler_requests_total", requestLabels("s", "extracted", "svc", "GET", "499"), n)
	waitMetric(t, hs.reg, "strangler_requests_total", requestLabels("s", "extracted", "svc", "GET", "200"), n+1)
	waitMetric(t, hs.reg, "strangler_circuit_breaker_state", map[string]string{"upstream": "svc"}, 0)
	if v, ok, _ := metricValue(hs.reg, "strangler_upstream_healthy", map[string]string{"upstream": "svc", "target": up.URL}); ok && v != 1 {
		t.Errorf("svc marked unhealthy (%v) by clients that hung up", v)
	}
	for _, reason := range fallbackReasons {
		if v, _, _ := metricValue(hs.reg, "strangler_fallbacks_total", map[string]string{"route": "s", "reason": reason}); v != 0 {
			t.Errorf("fallbacks{reason=%q} = %v, want 0", reason, v)
		}
	}
	if res, body := hs.do(t, "GET", "/s/ok", nil); res.StatusCode != http.StatusOK || string(body) != "ok" {
		t.Fatalf("after the hang-ups: %d %s", res.StatusCode, body)
	}
	hs.client.CloseIdleConnections()
	eventually(t, "goroutines back to their number before the hang-ups", func() error {
		if now := runtime.NumGoroutine(); now > before {
			return fmt.Errorf("%d goroutines, %d before", now, before)
		}
		return nil
	})
}
