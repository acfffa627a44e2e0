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
	"slices"
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
// X-Forwarded-Host, -Proto, -Port and -Prefix; Forwarded and X-Real-IP),
// and that they are replaced or dropped from a peer outside the list.
func TestTrustedProxies(t *testing.T) {
	forged := http.Header{
		"Host":               {"shop.example"},
		"X-Forwarded-For":    {"203.0.113.9, 198.51.100.2"},
		"X-Forwarded-Host":   {"www.shop.example"},
		"X-Forwarded-Proto":  {"https"},
		"Forwarded":          {"for=203.0.113.9;proto=https"},
		"X-Real-Ip":          {"203.0.113.9"},
		"X-Forwarded-Port":   {"443"},
		"X-Forwarded-Prefix": {"/shop"},
	}
	for _, tc := range []struct {
		name    string
		trusted string
		want    map[string]string // "" means absent
	}{
		{"peer trusted", "10.0.0.0/8, 127.0.0.1", map[string]string{
			"X-Forwarded-For": "203.0.113.9, 198.51.100.2, 127.0.0.1", "X-Forwarded-Host": "www.shop.example",
			"X-Forwarded-Proto": "https", "Forwarded": "for=203.0.113.9;proto=https", "X-Real-Ip": "203.0.113.9",
			"X-Forwarded-Port": "443", "X-Forwarded-Prefix": "/shop",
		}},
		{"peer trusted by CIDR", "127.0.0.0/8", map[string]string{
			"X-Forwarded-For": "203.0.113.9, 198.51.100.2, 127.0.0.1", "X-Forwarded-Host": "www.shop.example",
			"X-Forwarded-Proto": "https",
		}},
		{"peer not in the list", "10.0.0.0/8, ::1", map[string]string{
			"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Host": "shop.example", "X-Forwarded-Proto": "http",
			"Forwarded": "", "X-Real-Ip": "", "X-Forwarded-Port": "", "X-Forwarded-Prefix": "",
		}},
		{"no list", "", map[string]string{
			"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Host": "shop.example", "X-Forwarded-Proto": "http",
			"Forwarded": "", "X-Real-Ip": "", "X-Forwarded-Port": "", "X-Forwarded-Prefix": "",
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
		// Path parameters that do not hide a dot segment pass as sent
		// (TestBadPath has those that do).
		{"/api/orders/42;v=1", "orders", "/api/orders/42;v=1"},
		{"/api/orders/...;/1", "orders", "/api/orders/...;/1"},
		{"/api/orders/..x;/1", "orders", "/api/orders/..x;/1"},
		{"/api/orders/1;x/..", "orders", "/api/orders"},
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
	conn := dialRaw(t, addr)
	defer conn.Close()
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
// stalls other clients. The steady client sends 20 bytes per second, far
// below DefaultBodyMinRate, but for about a second, well within
// DefaultBodyMinRateGrace: only the silence timeout is at work here
// (TestBodyMinRate tests the rate).
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
	conn := dialRaw(t, addr)
	defer conn.Close()
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
	if err := recv(t, steadyErr, "the steady client to finish"); err != nil {
		t.Errorf("a client sending steadily for 3 idle periods: %v", err)
	}
	waitMetric(t, hs.reg, "strangler_requests_total", requestLabels("default", "legacy", "monolith", "POST", "408"), 1)
}

// TestBodyMinRate checks the minimum body data rate: a client that keeps
// trickling its body (a byte every 50 ms, never silent for long enough to
// meet the body read timeout) holds the upstream's only bulkhead slot
// until the grace period is over; then it is cut off with 408, counted as
// refused (body_too_slow), its upstream request aborted without counting
// against the breaker, and an honest client queued behind it on the same
// route is served. A slow but steady upload, above the rate and longer
// than the grace period, is not cut off.
func TestBodyMinRate(t *testing.T) {
	const grace = 300 * time.Millisecond
	const rate = 1000 // bytes per second
	svc := startRawUpstream(t)
	hs := newHarnessWith(t, Options{BodyMinRate: rate, BodyMinRateGrace: grace}, "monolith")
	hs.urls["svc"] = svc.url()
	hs.apply(t, `
legacy: monolith
upstreams:
  monolith: {url: "{{.monolith}}"}
  svc: {url: "{{.svc}}", bulkhead: {max_concurrent: 1, max_waiting: 4, max_wait: 10s}}
routes:
  - {prefix: /up, service: svc, name: up}
`)
	addr := hs.front.Listener.Addr().String()

	// The trickler declares a megabyte and sends a byte every 50 ms: 20
	// bytes per second, far below the rate, but never silent for long.
	conn := dialRaw(t, addr)
	defer conn.Close()
	began := time.Now()
	fmt.Fprintf(conn, "POST /up/trickle HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n")
	stop, trickled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(trickled)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := conn.Write([]byte("t")); err != nil {
					return
				}
			}
		}
	}()
	defer func() { close(stop); <-trickled }()
	waitMetric(t, hs.reg, "strangler_bulkhead_inflight", map[string]string{"upstream": "svc"}, 1)

	// The honest client queues for the slot the trickler holds.
	type result struct {
		code int
		body string
	}
	honest := make(chan result, 1)
	go func() {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			honest <- result{body: err.Error()}
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(waitLimit))
		fmt.Fprintf(c, "POST /up/honest HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 100\r\n\r\n%s", strings.Repeat("h", 100))
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			honest <- result{body: err.Error()}
			return
		}
		b, _ := io.ReadAll(res.Body)
		honest <- result{res.StatusCode, string(b)}
	}()

	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("trickled body: no answer: %v", err)
	}
	body, _ := io.ReadAll(res.Body)
	checkErrorReply(t, res, body, http.StatusRequestTimeout)
	if took := time.Since(began); took < grace {
		t.Errorf("trickled body cut off after %s, before the %s grace period", took, grace)
	}
	select {
	case r := <-honest:
		if r.code != http.StatusOK || r.body != "ok" {
			t.Fatalf("the honest client behind the trickler: %d %q, want 200 ok", r.code, r.body)
		}
	case <-time.After(waitLimit):
		t.Fatal("the honest client was not answered")
	}

	// Steady: 500 bytes every 20 ms, 25 times: about half a second, longer
	// than the grace period, at 25 kB/s.
	steady := func() error {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(waitLimit))
		fmt.Fprintf(c, "POST /up/steady HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", 25*500)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for range 25 {
			<-tick.C
			if _, err := c.Write([]byte(strings.Repeat("s", 500))); err != nil {
				return err
			}
		}
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return err
		}
		if res.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(res.Body)
			return fmt.Errorf("status %d: %s", res.StatusCode, b)
		}
		return nil
	}
	if err := steady(); err != nil {
		t.Errorf("a steady upload above the rate: %v", err)
	}

	eventually(t, "the service's requests", func() error {
		var got []string
		for _, s := range svc.requests() {
			name, _, _ := strings.Cut(s[len("POST "):], " ")
			if strings.HasSuffix(s, incomplete) {
				name += incomplete
			}
			got = append(got, name)
		}
		// In any order: the service records the trickle when its
		// connection closes, which may come after the honest request that
		// took its slot.
		slices.Sort(got)
		if want := []string{"/up/honest", "/up/steady", "/up/trickle" + incomplete}; !slices.Equal(got, want) {
			return fmt.Errorf("service saw %q, want %q in any order", got, want)
		}
		return nil
	})
	waitMetric(t, hs.reg, "strangler_refused_requests_total", map[string]string{"reason": "body_too_slow"}, 1)
	waitMetric(t, hs.reg, "strangler_requests_total", requestLabels("up", "extracted", "svc", "POST", "408"), 1)
	waitMetric(t, hs.reg, "strangler_requests_total", requestLabels("up", "extracted", "svc", "POST", "200"), 2)
	waitMetric(t, hs.reg, "strangler_bulkhead_inflight", map[string]string{"upstream": "svc"}, 0)
	// The cut body is the client's doing: neither the breaker nor the
	// target's passive health check counts it as the upstream's failure.
	for _, up := range hs.handler.Status(nil).Upstreams {
		if up.Name != "svc" {
			continue
		}
		if b := up.Breaker; b.Failures != 0 || b.ConsecutiveFailures != 0 || b.Successes != 2 {
			t.Errorf("svc breaker = %+v, want the two honest requests as successes and no failure", b)
		}
		for _, tg := range up.Targets {
			if tg.ConsecutiveFailures != 0 {
				t.Errorf("svc target = %+v, want no failure", tg)
			}
		}
	}
}

// TestBodyMinRateDeadline checks the read deadline the minimum data rate
// sets: the moment the average would fall below the rate, never in the
// past for a body at or above it, however long it has been uploading (a
// day-long stream at 1 MB/s is not cut as too slow), and the idle one when
// that is sooner.
func TestBodyMinRateDeadline(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name         string
		idle         time.Duration
		read         int64
		waited       time.Duration
		want         time.Duration // from now
		wantRateDead bool
	}{
		{"in the grace period", 0, 0, time.Second, 4 * time.Second, true},
		{"past the grace period", 0, 2400, 6 * time.Second, 4 * time.Second, true},
		{"idle sooner", 2 * time.Second, 2400, 6 * time.Second, 2 * time.Second, false},
		{"25h at 1 MB/s", 0, 1e6 * 25 * 3600, 25 * time.Hour, maxRateWait, true},
		{"25h at 1 MB/s, idle", 30 * time.Second, 1e6 * 25 * 3600, 25 * time.Hour, 30 * time.Second, false},
		{"25h at the rate exactly", 0, 240 * 25 * 3600, 25 * time.Hour, 0, true},
		{"huge body", 0, 1 << 62, time.Hour, maxRateWait, true},
	} {
		b := &guardedBody{idle: tc.idle, minRate: 240, grace: 5 * time.Second, read: tc.read, waited: tc.waited}
		got := b.deadline(now)
		if got.Sub(now) != tc.want || b.rateDead != tc.wantRateDead {
			t.Errorf("%s: deadline now%+v (rate's: %t), want now%+v (rate's: %t)",
				tc.name, got.Sub(now), b.rateDead, tc.want, tc.wantRateDead)
		}
	}
}

// expectUpstream is a raw upstream that answers a request carrying Expect:
// 100-continue at once, 417 for /early and 401 for /auth, without reading
// its body, as RFC 9110 allows; then reads the body and throws it away, and
// keeps the connection for the next request, as a server must that does
// not close. Other requests are answered 200 "METHOD PATH BODYLEN". It
// records every request line it parses, with its connection, and every
// request it could not parse.
type expectUpstream struct {
	ln net.Listener

	mu       sync.Mutex
	seen     []expectSeen
	nextConn int
}

type expectSeen struct {
	conn int
	line string // "POST /early", or "unparsable: ..." for bytes that were no request
}

func startExpectUpstream(t testing.TB) *expectUpstream {
	u := &expectUpstream{}
	u.ln = serveTCP(t, func(c net.Conn) {
		u.mu.Lock()
		u.nextConn++
		id := u.nextConn
		u.mu.Unlock()
		u.serveExpect(c, id)
	})
	return u
}

func (u *expectUpstream) url() string { return "http://" + u.ln.Addr().String() }

func (u *expectUpstream) record(conn int, line string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.seen = append(u.seen, expectSeen{conn, line})
}

func (u *expectUpstream) serveExpect(c net.Conn, id int) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		req, err := http.ReadRequest(br)
		if err == io.EOF {
			return // closed between requests
		}
		if err != nil {
			u.record(id, "unparsable: "+err.Error())
			return
		}
		u.record(id, req.Method+" "+req.URL.Path)
		early := map[string]string{"/early": "417 Expectation Failed", "/auth": "401 Unauthorized"}[req.URL.Path]
		if early != "" && req.Header.Get("Expect") == "100-continue" {
			if _, err := io.WriteString(c, "HTTP/1.1 "+early+"\r\nContent-Length: 0\r\n\r\n"); err != nil {
				return
			}
			if _, err := io.Copy(io.Discard, req.Body); err != nil {
				return // the proxy gave up on the body and closed: fine
			}
			continue
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return
		}
		answer := fmt.Sprintf("%s %s %d", req.Method, req.URL.Path, len(body))
		if _, err := fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(answer), answer); err != nil {
			return
		}
	}
}

func (u *expectUpstream) requests() []expectSeen {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.seen)
}

// readFinal reads responses from br until one that is not 1xx (the
// server's 100 Continue) and returns it with its body read.
func readFinal(t testing.TB, br *bufio.Reader) (*http.Response, []byte) {
	t.Helper()
	for {
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("read response: %v", err)
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			t.Fatalf("read response body: %v", err)
		}
		if res.StatusCode >= 200 {
			return res, body
		}
	}
}

// TestExpectContinueAnsweredEarly has a raw upstream answer requests that
// carry Expect: 100-continue at once (417, 401) without reading their
// bodies, then read and discard the bodies and keep the connection, as RFC
// 9110 lets a server do. The proxy must still send each body whole, or
// close the connection: were it to skip the body and pool the connection,
// the upstream would take the next request's bytes for the body and parse
// the rest as a request. Each early answer is followed by a request
// through the same pool, which must get its own answer; the upstream must
// parse exactly the requests that were sent, and the bodies, which are
// themselves written as requests, never as requests of their own.
// Connections must be reused, or the test proves nothing.
func TestExpectContinueAnsweredEarly(t *testing.T) {
	up := startExpectUpstream(t)
	hs := newHarnessWith(t, Options{}, "monolith")
	hs.urls["monolith"] = up.url()
	hs.apply(t, "legacy: monolith\nupstreams:\n  monolith: {url: \"{{.monolith}}\"}\n")
	addr := hs.front.Listener.Addr().String()
	var want []string
	for i := range 20 {
		early := []string{"/early", "/auth"}[i%2]
		// A body that is a request itself, small, or too large for the
		// socket buffers.
		body := smuggle
		if i/2%2 == 1 {
			body = strings.Repeat(smuggle, (300<<10)/len(smuggle))
		}
		// The client sends its body without waiting for 100 Continue, as
		// curl does after a second: the proxy has it to send.
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.SetDeadline(time.Now().Add(waitLimit))
		go func() {
			_, _ = fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n%s", early, len(body), body)
		}()
		res, _ := readFinal(t, bufio.NewReader(conn))
		conn.Close()
		if want := map[string]int{"/early": 417, "/auth": 401}[early]; res.StatusCode != want {
			t.Fatalf("POST %s: %d, want %d", early, res.StatusCode, want)
		}
		next := fmt.Sprintf("/next/%d", i)
		res, got := rawExchange(t, addr, "POST", next, []string{"Content-Length: 5"}, "hello")
		if want := "POST " + next + " 5"; res.StatusCode != http.StatusOK || string(got) != want {
			t.Fatalf("POST %s after %s: %d %q, want 200 %q", next, early, res.StatusCode, got, want)
		}
		want = append(want, "POST "+early, "POST "+next)
	}
	seen := up.requests()
	var lines []string
	reused := 0
	for i, s := range seen {
		lines = append(lines, s.line)
		if i > 0 && strings.HasPrefix(s.line, "POST /next/") && seen[i-1].conn == s.conn {
			reused++
		}
	}
	if !slices.Equal(lines, want) {
		t.Errorf("the upstream parsed %q,\nwant %q", lines, want)
	}
	if reused == 0 {
		t.Errorf("no request followed an early answer on its connection: the pool was never reused, so nothing was tested")
	}
	t.Logf("%d of 20 requests reused the connection of an early answer", reused)
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

// TestConnectRefused checks that a CONNECT request is refused with 501 by
// the proxy itself: no upstream sees it, and it counts as refused, never
// as an upstream's 5xx.
func TestConnectRefused(t *testing.T) {
	hs := newMainHarness(t)
	res, body := rawRequest(t, hs.front.Listener.Addr().String(), http.MethodConnect, "/api/orders/1")
	checkErrorReply(t, res, body, http.StatusNotImplemented)
	for name, b := range hs.backends {
		if n := len(b.requests()); n != 0 {
			t.Errorf("%s received %d requests, want none", name, n)
		}
	}
	waitMetric(t, hs.reg, "strangler_refused_requests_total", map[string]string{"reason": "method_not_supported"}, 1)
}
