package proxy

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// TestForwardingHeaders checks the headers the upstream receives: the
// forwarding headers come from the real connection and never from the
// client, Host is the upstream's own, trace context passes unchanged, and
// the route is named.
func TestForwardingHeaders(t *testing.T) {
	hs := newMainHarness(t)
	const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	for _, tc := range []struct {
		target   string
		upstream string
		route    string
	}{
		{"/api/orders/1", "orders", "orders"},
		{"/somewhere", "monolith", "default"},
		{"/api/payments/1", "monolith", "payments"},
	} {
		t.Run(tc.target, func(t *testing.T) {
			_, s := hs.forward(t, "GET", tc.target, http.Header{
				"Host":              {"shop.example:8080"},
				"X-Forwarded-For":   {"6.6.6.6"},
				"X-Forwarded-Host":  {"evil.example"},
				"X-Forwarded-Proto": {"https"},
				"Forwarded":         {"for=6.6.6.6;host=evil.example;proto=https"},
				"X-Real-Ip":         {"6.6.6.6"},
				HeaderRoute:         {"forged"},
				"Traceparent":       {traceparent},
				"Tracestate":        {"vendor=abc"},
			})
			want := map[string]string{
				"X-Forwarded-For":   "127.0.0.1",
				"X-Forwarded-Host":  "shop.example:8080",
				"X-Forwarded-Proto": "http",
				HeaderRoute:         tc.route,
				"Traceparent":       traceparent,
				"Tracestate":        "vendor=abc",
			}
			for k, v := range want {
				if got := s.Header.Values(k); len(got) != 1 || got[0] != v {
					t.Errorf("upstream received %s = %q, want [%q]", k, got, v)
				}
			}
			for _, k := range []string{"Forwarded", "X-Real-Ip"} {
				if got := s.Header.Values(k); len(got) != 0 {
					t.Errorf("upstream received %s = %q, want it dropped", k, got)
				}
			}
			u, _ := url.Parse(hs.urls[tc.upstream])
			if s.Host != u.Host {
				t.Errorf("upstream received Host %q, want its own %q", s.Host, u.Host)
			}
		})
	}
}

// TestRequestID checks that every request carries one sane X-Request-ID to
// the upstream and back to the client, exactly once, even though the echo
// backends send it back too.
func TestRequestID(t *testing.T) {
	hs := newMainHarness(t)
	generated := regexp.MustCompile(`^[0-9a-f]{32}$`)
	for _, tc := range []struct {
		name     string
		sent     []string // X-Request-ID values the client sends
		wantSame bool     // the client's id is kept
	}{
		{"absent", nil, false},
		{"sane", []string{"req-7f3a_2024.11.23:abc"}, true},
		{"128 characters", []string{strings.Repeat("a", 128)}, true},
		{"empty", []string{""}, false},
		{"500 characters", []string{strings.Repeat("x", 500)}, false},
		{"space inside", []string{"two words"}, false},
		{"non-ASCII", []string{"caf\u00e9"}, false},
		{"twice", []string{"one", "two"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.sent != nil {
				h["X-Request-Id"] = tc.sent
			}
			res, s := hs.forward(t, "GET", "/api/orders/1", h)
			up := s.Header.Values("X-Request-Id")
			back := res.Header.Values("X-Request-Id")
			if len(up) != 1 || len(back) != 1 || up[0] != back[0] {
				t.Fatalf("upstream received X-Request-Id %q, client got %q; want one id, the same", up, back)
			}
			switch {
			case tc.wantSame && up[0] != tc.sent[0]:
				t.Errorf("id %q replaced by %q, want it passed through", tc.sent[0], up[0])
			case !tc.wantSame && !generated.MatchString(up[0]):
				t.Errorf("id = %q, want 32 generated hex characters", up[0])
			}
		})
	}

	t.Run("unique", func(t *testing.T) {
		ids := map[string]bool{}
		for range 50 {
			res, _ := hs.do(t, "GET", "/x", nil)
			ids[res.Header.Get("X-Request-Id")] = true
		}
		if len(ids) != 50 {
			t.Errorf("50 requests got %d distinct ids", len(ids))
		}
	})

	t.Run("upstream sends another", func(t *testing.T) {
		other := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Add("X-Request-Id", "upstream-1")
			w.Header().Add("X-Request-Id", "upstream-2")
		}))
		hs := newHarness(t)
		hs.urls["other"] = other.URL
		hs.apply(t, "legacy: other\nupstreams:\n  other: {url: \"{{.other}}\"}\n")
		res, _ := hs.do(t, "GET", "/", http.Header{"X-Request-Id": {"mine"}})
		if got := res.Header.Values("X-Request-Id"); len(got) != 1 || got[0] != "mine" {
			t.Errorf("client got X-Request-Id %q, want [mine]", got)
		}
	})
}

// TestRequestIDListedInConnection checks that a client listing
// X-Request-ID as hop-by-hop in Connection cannot strip the proxy's id
// from the forwarded request, the response or an error reply.
func TestRequestIDListedInConnection(t *testing.T) {
	hs, _ := newErrorHarness(t)
	addr := hs.front.Listener.Addr().String()

	res, body := rawRequest(t, addr, "GET", "/ok", "Connection: close, X-Request-Id", "X-Request-Id: abc-1")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", res.StatusCode, body)
	}
	seen := hs.backends["monolith"].requests()
	up := seen[len(seen)-1].Header.Values("X-Request-Id")
	if back := res.Header.Values("X-Request-Id"); len(up) != 1 || len(back) != 1 || up[0] != back[0] {
		t.Errorf("upstream received X-Request-Id %q, client got %q; want one id, the same", up, back)
	}

	res, body = rawRequest(t, addr, "GET", "/dead/1", "Connection: close, X-Request-Id")
	checkErrorReply(t, res, body, http.StatusBadGateway)
}

// TestUnderscoreForwardingHeaders sends, over raw connections, look-alikes
// of the headers the proxy sets or vouches for, spelt with underscores
// (X_forwarded_for, X-Real_ip): CGI, Rack and WSGI servers read them as
// HTTP_X_FORWARDED_FOR, the same as the real ones. None may reach the
// upstream, on a GET or on a POST with a body, whether or not the peer is
// a trusted proxy; other headers with underscores pass. The headers from
// which Rack and others learn that the client used https (X-Forwarded-Ssl,
// X-Forwarded-Scheme, Front-End-Https, X-Url-Scheme), the client's address
// (True-Client-IP, X-Client-IP, ...) or the original URL (X-Original-URL,
// X-Rewrite-URL) pass from a trusted proxy only.
func TestUnderscoreForwardingHeaders(t *testing.T) {
	forged := []string{
		"X_forwarded_for: 6.6.6.6", "X-Real_ip: 6.6.6.6", "X_forwarded_proto: https",
		"X-Forwarded_host: evil.example", "x_forwarded_port: 443", "X_FORWARDED_PREFIX: /admin",
		"X_Request_Id: forged-id", "X-Strangler_Shadow: 1", "x_strangler_route: forged",
		"X_Forwarded_Ssl: on", "x-forwarded_scheme: https", "Front_End_Https: on", "X_URL_SCHEME: https",
		"X_Client_IP: 6.6.6.6", "True_Client_Ip: 6.6.6.6", "X_ORIGINAL_URL: /admin",
	}
	scheme := map[string]string{
		"X-Forwarded-Ssl": "on", "X-Forwarded-Scheme": "https", "Front-End-Https": "on", "X-Url-Scheme": "https",
		"True-Client-Ip": "6.6.6.6", "X-Client-Ip": "6.6.6.6", "Client-Ip": "6.6.6.6", "X-Cluster-Client-Ip": "6.6.6.6",
		"Cf-Connecting-Ip": "6.6.6.6", "Fastly-Client-Ip": "6.6.6.6", "X-Original-Forwarded-For": "6.6.6.6",
		"X-Forwarded": "for=6.6.6.6", "Forwarded-For": "6.6.6.6", "X-Forwarded-Server": "evil.example",
		"X-Original-Url": "/admin", "X-Rewrite-Url": "/admin", "X-Original-Uri": "/admin", "X-Forwarded-Uri": "/admin",
		"X-Forwarded-Path": "/admin", "X-Original-Host": "evil.example", "X-Forwarded-Method": "GET",
		"X-Original-Method": "GET", "Remote-User": "admin", "X-Forwarded-User": "admin", "X-Auth-Request-Email": "admin@shop.example",
	}
	for _, tc := range []struct {
		name    string
		trusted string
	}{
		{"untrusted peer", ""},
		{"trusted peer", "127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			trusted, err := ParseTrustedProxies(tc.trusted)
			if err != nil {
				t.Fatal(err)
			}
			hs := newHarnessWith(t, Options{TrustedProxies: trusted}, mainBackends...)
			hs.apply(t, readFile(t, mainConfig))
			addr := hs.front.Listener.Addr().String()
			for _, req := range []struct{ method, body string }{{"GET", ""}, {"POST", "order=1"}} {
				headers := append([]string{"X_Custom_Thing: keep", "X-Request-Id: real-id"}, forged...)
				for k, v := range scheme {
					headers = append(headers, k+": "+v)
				}
				if req.body != "" {
					headers = append(headers, "Content-Type: application/x-www-form-urlencoded",
						fmt.Sprintf("Content-Length: %d", len(req.body)))
				}
				res, body := rawExchange(t, addr, req.method, "/api/orders/1", headers, req.body)
				if res.StatusCode != http.StatusOK {
					t.Fatalf("%s: status %d: %s", req.method, res.StatusCode, body)
				}
				seen := hs.backends["orders"].requests()
				s := seen[len(seen)-1]
				if s.Method != req.method || s.Body != req.body {
					t.Fatalf("upstream received %s with body %q, want %s with %q", s.Method, s.Body, req.method, req.body)
				}
				for k, v := range s.Header {
					if strings.Contains(k, "_") && !strings.EqualFold(k, "X_Custom_Thing") {
						t.Errorf("%s: upstream received %s: %q", req.method, k, v)
					}
				}
				for k, want := range map[string]string{
					"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Proto": "http", "X-Forwarded-Host": addr,
					"X-Request-Id": "real-id", HeaderRoute: "orders", "X_custom_thing": "keep",
				} {
					if got := headerFold(s.Header, k); len(got) != 1 || got[0] != want {
						t.Errorf("%s: upstream received %s = %q, want [%q]", req.method, k, got, want)
					}
				}
				for _, k := range []string{"X-Real-Ip", "X-Forwarded-Port", "X-Forwarded-Prefix", HeaderShadow} {
					if got := s.Header.Values(k); len(got) != 0 {
						t.Errorf("%s: upstream received %s = %q, want none", req.method, k, got)
					}
				}
				for k, v := range scheme {
					got := s.Header.Values(k)
					if tc.trusted == "" && len(got) != 0 {
						t.Errorf("%s: upstream received %s = %q from an untrusted peer, want none", req.method, k, got)
					}
					if tc.trusted != "" && (len(got) != 1 || got[0] != v) {
						t.Errorf("%s: upstream received %s = %q from a trusted proxy, want [%q]", req.method, k, got, v)
					}
				}
			}
		})
	}
}

// headerFold returns the values of the header named k in any case.
func headerFold(h http.Header, k string) []string {
	for name, v := range h {
		if strings.EqualFold(name, k) {
			return v
		}
	}
	return nil
}

// TestUnderscoreScrubAllocatesNothing checks that looking for underscore
// look-alikes and for path parameters hiding dot segments costs no
// allocation on the request path, and that only look-alikes are removed.
func TestUnderscoreScrubAllocatesNothing(t *testing.T) {
	clean := http.Header{"Accept": {"*/*"}, "User-Agent": {"x"}, "X-Customer-Id": {"c"}, "X-Forwarded-For": {"1.2.3.4"}}
	if n := testing.AllocsPerRun(100, func() { dropUnderscoreLookalikes(clean) }); n != 0 {
		t.Errorf("%v allocations per request without underscores, want 0", n)
	}
	h := http.Header{"X_forwarded_for": nil, "X_Real-IP": nil, "X_other": nil, "X-Forwarded-For": nil}
	dropUnderscoreLookalikes(h)
	if _, ok := h["X_other"]; len(h) != 2 || !ok {
		t.Errorf("left %v, want X_other and X-Forwarded-For", h)
	}
	if len(clean) != 4 {
		t.Errorf("removed real headers: %v", clean)
	}
	if n := testing.AllocsPerRun(100, func() { dotSegmentWithParams("/api/orders/42;v=1/items/..x;y") }); n != 0 {
		t.Errorf("dotSegmentWithParams: %v allocations, want 0", n)
	}
}
