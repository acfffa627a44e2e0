package proxy

import (
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
