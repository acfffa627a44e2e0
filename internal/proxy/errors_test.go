package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// deadURL returns the URL of a 127.0.0.1 port nothing listens on.
func deadURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return "http://" + addr
}

// blockingBackend answers nothing until the request is cancelled or the
// test ends. started receives each request as it arrives.
func blockingBackend(t *testing.T) (u string, started <-chan struct{}) {
	release := make(chan struct{})
	ch := make(chan struct{}, 16)
	srv := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ch <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	// Registered after srv.Close, so it runs first and Close does not
	// wait for blocked handlers.
	t.Cleanup(func() { close(release) })
	return srv.URL, ch
}

// errorConfig routes to an upstream nobody listens on and to one slower
// than its timeout, without falling back to legacy, so that the proxy
// answers the failure itself.
const errorConfig = `
legacy: monolith
upstreams:
  monolith: {url: "{{.monolith}}"}
  dead: {url: "{{.dead}}"}
  slow: {url: "{{.slow}}", timeout: 100ms}
routes:
  - {prefix: /dead, service: dead, name: dead, fallback: false}
  - {prefix: /slow, service: slow, name: slow, fallback: false}
`

func newErrorHarness(t *testing.T) (*harness, <-chan struct{}) {
	hs := newHarness(t, "monolith")
	hs.urls["dead"] = deadURL(t)
	var started <-chan struct{}
	hs.urls["slow"], started = blockingBackend(t)
	hs.apply(t, errorConfig)
	return hs, started
}

// TestUpstreamUnavailable checks that an upstream nobody listens on gets a
// JSON 502 that does not leak its address, counted as code 502: an
// extracted service without fallback, and legacy itself.
func TestUpstreamUnavailable(t *testing.T) {
	check := func(t *testing.T, hs *harness, target, dead string, labels map[string]string) {
		res, body := hs.do(t, "GET", target, http.Header{"X-Request-Id": {"trace-502"}})
		e := checkErrorReply(t, res, body, http.StatusBadGateway)
		if e.RequestID != "trace-502" {
			t.Errorf("request_id = %q, want the client's trace-502", e.RequestID)
		}
		u, _ := url.Parse(dead)
		for _, leak := range []string{"127.0.0.1", u.Port(), "dial", "refused", "connect"} {
			if strings.Contains(string(body), leak) {
				t.Errorf("502 body %s contains %q", body, leak)
			}
		}
		waitMetric(t, hs.reg, "strangler_requests_total", labels, 1)
	}
	t.Run("extracted", func(t *testing.T) {
		hs, _ := newErrorHarness(t)
		check(t, hs, "/dead/1", hs.urls["dead"], requestLabels("dead", "extracted", "dead", "GET", "502"))
	})
	t.Run("legacy", func(t *testing.T) {
		hs := newHarness(t)
		hs.urls["dead"] = deadURL(t)
		hs.apply(t, "legacy: dead\nupstreams:\n  dead: {url: \"{{.dead}}\"}\n")
		check(t, hs, "/home", hs.urls["dead"], requestLabels("default", "legacy", "dead", "GET", "502"))
	})
}

// TestUpstreamTimeout checks that an upstream slower than its timeout gets
// a JSON 504, counted as code 504.
func TestUpstreamTimeout(t *testing.T) {
	hs, started := newErrorHarness(t)
	res, body := hs.do(t, "GET", "/slow/1", nil)
	checkErrorReply(t, res, body, http.StatusGatewayTimeout)
	waitFor(t, started, "the slow backend to receive the request")
	waitMetric(t, hs.reg, "strangler_requests_total", requestLabels("slow", "extracted", "slow", "GET", "504"), 1)
}

// TestClientCancel checks that a client that hangs up, while the upstream
// is working or halfway through its upload, is counted as 499 and not as
// an upstream failure.
func TestClientCancel(t *testing.T) {
	hs := newHarness(t)
	var started <-chan struct{}
	hs.urls["slow"], started = blockingBackend(t)
	uploads := make(chan struct{}, 1)
	sink := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		uploads <- struct{}{}
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	hs.urls["sink"] = sink.URL
	hs.apply(t, `
legacy: slow
upstreams:
  slow: {url: "{{.slow}}"}
  sink: {url: "{{.sink}}"}
routes:
  - {prefix: /upload, service: sink, name: upload}
`)

	t.Run("waiting for the answer", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		errc := make(chan error, 1)
		go func() {
			req, _ := http.NewRequestWithContext(ctx, "POST", hs.front.URL+"/checkout", strings.NewReader("cart=1"))
			res, err := hs.client.Do(req)
			if err == nil {
				res.Body.Close()
			}
			errc <- err
		}()
		waitFor(t, started, "the backend to receive the request")
		cancel()
		if err := recv(t, errc, "the cancelled client's error"); !errors.Is(err, context.Canceled) {
			t.Fatalf("client error = %v, want context.Canceled", err)
		}
		waitMetric(t, hs.reg, "strangler_requests_total", requestLabels("default", "legacy", "slow", "POST", "499"), 1)
	})

	t.Run("halfway through the upload", func(t *testing.T) {
		conn, err := net.Dial("tcp", hs.front.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "PUT /upload/1 HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 1000000\r\n\r\n%s", strings.Repeat("a", 100000))
		waitFor(t, uploads, "the backend to receive the upload")
		conn.Close()
		waitMetric(t, hs.reg, "strangler_requests_total", requestLabels("upload", "extracted", "sink", "PUT", "499"), 1)
	})

	mfs, err := hs.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "strangler_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "code" && l.GetValue() != "499" {
					t.Errorf("a client hang-up was counted as %s", l.GetValue())
				}
			}
		}
	}
}
