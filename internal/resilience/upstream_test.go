package resilience

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestRequestURLContract(t *testing.T) {
	srv := newFaultServer(t)
	host := strings.TrimPrefix(srv.URL, "http://")
	r, _ := testRegistry(t, RegistryOptions{})
	for _, tc := range []struct {
		name, target, path         string
		wantPath, wantRaw, wantQry string
	}{
		{"no base path", srv.URL, "/orders/1?x=y", "/orders/1", "/orders/1", "x=y"},
		{"base path", srv.URL + "/api/", "/orders/1?x=y", "/api/orders/1", "/api/orders/1", "x=y"},
		{"escaped slash", srv.URL + "/api", "/a%2Fb", "/api/a/b", "/api/a%2Fb", ""},
		{"root", srv.URL + "/api", "/", "/api/", "/api/", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := r.Acquire(tc.name, Settings{Targets: []string{tc.target}})
			if err != nil {
				t.Fatal(err)
			}
			req := newRequest(t, context.Background(), "GET", tc.path, nil)
			req.Host = "shop.example" // what the client asked for: replaced by the target host
			if code, _, err := doReq(u, req); code != 200 || err != nil {
				t.Fatalf("GET = %d, %v", code, err)
			}
			got, _ := srv.lastRequest()
			if got.URL.Path != tc.wantPath || got.URL.EscapedPath() != tc.wantRaw || got.URL.RawQuery != tc.wantQry {
				t.Errorf("upstream saw path %q (raw %q) query %q; want %q (raw %q) %q",
					got.URL.Path, got.URL.EscapedPath(), got.URL.RawQuery, tc.wantPath, tc.wantRaw, tc.wantQry)
			}
			if got.Host != host {
				t.Errorf("upstream saw Host %q, want the target host %q", got.Host, host)
			}
			if req.URL.Host != "upstream.invalid" || req.Host != "shop.example" {
				t.Errorf("the inbound request was modified: %s %s", req.URL, req.Host)
			}
		})
	}
}

// frontend puts u behind an httputil.ReverseProxy, as internal/proxy does.
func frontend(t *testing.T, u *Upstream) *httptest.Server {
	t.Helper()
	placeholderURL, _ := url.Parse(placeholder)
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(placeholderURL)
			pr.SetXForwarded()
		},
		Transport: u,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	f := httptest.NewServer(rp)
	t.Cleanup(f.Close)
	return f
}

func TestBehindReverseProxy(t *testing.T) {
	srv := newFaultServer(t)
	r, _ := testRegistry(t, RegistryOptions{})
	u := acquire(t, r, Settings{Targets: []string{srv.URL + "/base"}, Bulkhead: BulkheadSettings{MaxConcurrent: 2}})
	f := frontend(t, u)

	for range 5 {
		resp, err := http.Get(f.URL + "/orders?id=7")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "ok" {
			t.Fatalf("GET via proxy = %d %q", resp.StatusCode, b)
		}
	}
	got, _ := srv.lastRequest()
	if got.URL.RequestURI() != "/base/orders?id=7" || got.Header.Get("X-Forwarded-For") == "" {
		t.Fatalf("upstream saw %s with headers %v", got.URL.RequestURI(), got.Header)
	}
	if v := testutil.ToFloat64(u.m.inflight); v != 0 {
		t.Fatalf("inflight after proxied requests = %v, want 0 (bodies released)", v)
	}
}

func TestUpgradeThroughReverseProxy(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(echoUpgrade))
	t.Cleanup(backend.Close)
	r, _ := testRegistry(t, RegistryOptions{})
	u := acquire(t, r, Settings{Targets: []string{backend.URL}, Bulkhead: BulkheadSettings{MaxConcurrent: 1}})
	f := frontend(t, u)

	conn, err := net.Dial("tcp", strings.TrimPrefix(f.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, _ = io.WriteString(conn, "GET /ws HTTP/1.1\r\nHost: shop\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade = %v, %v; want 101", resp, err)
	}
	_, _ = io.WriteString(conn, "ping\n")
	if line, err := br.ReadString('\n'); err != nil || line != "ping\n" {
		t.Fatalf("echo = %q, %v", line, err)
	}
	if b := u.Status().Bulkhead; b.InFlight != 1 {
		t.Fatalf("in flight during the upgraded connection = %d, want 1 (slot held)", b.InFlight)
	}
	_ = conn.Close()
	eventually(t, "slot released when the upgraded connection ends", func() bool {
		return u.Status().Bulkhead.InFlight == 0
	})
}

func TestBodyReleasedAtEOFWithoutClose(t *testing.T) {
	srv := newFaultServer(t)
	r, _ := testRegistry(t, RegistryOptions{})
	u := acquire(t, r, Settings{Targets: []string{srv.URL}, Bulkhead: BulkheadSettings{MaxConcurrent: 1}})
	resp, err := u.RoundTrip(newRequest(t, context.Background(), "GET", "/", nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(resp.Body); err != nil {
		t.Fatal(err)
	}
	if st := u.Status(); st.Bulkhead.InFlight != 0 || st.Targets[0].InFlight != 0 || st.Breaker.Successes != 1 {
		t.Fatalf("after EOF status = %+v, want everything released", st)
	}
	_ = resp.Body.Close()
	if st := u.Status(); st.Breaker.Successes != 1 {
		t.Fatalf("Close after EOF reported the outcome twice: %+v", st.Breaker)
	}
}

func TestBrokenBodyIsAFailure(t *testing.T) {
	srv := newFaultServer(t)
	srv.then(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		_, _ = io.WriteString(w, "truncated")
		http.NewResponseController(w).Flush()
		drop(w)
	})
	r, _ := testRegistry(t, RegistryOptions{})
	u := acquire(t, r, Settings{Targets: []string{srv.URL}})
	if _, _, err := do(t, u, "GET", "/"); err == nil {
		t.Fatal("reading a truncated body succeeded")
	}
	if b := u.Status().Breaker; b.Failures != 1 || b.Successes != 0 {
		t.Fatalf("breaker = %+v, want the broken body counted as a failure", b)
	}
}
