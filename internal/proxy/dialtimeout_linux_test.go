//go:build linux

package proxy

import (
	"errors"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/strangler-proxy/strangler/internal/resilience"
)

// startBlackhole returns the address of a 127.0.0.1 port that never
// completes a connection: a listener with a backlog of 0 whose one queued
// connection is never accepted, so that Linux drops every later SYN, as a
// firewall that drops packets would.
func startBlackhole(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*syscall.SockaddrInet4).Port))
	for range 8 { // fill the accept queue until a dial hangs
		c, err := net.DialTimeout("tcp", addr, 50*time.Millisecond)
		var ne net.Error
		switch {
		case errors.As(err, &ne) && ne.Timeout():
			return addr
		case err != nil:
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Fatalf("dials to %s still connect with its accept queue full", addr)
	return ""
}

// TestDialTimeoutIsUnreachable checks that an upstream whose connection
// attempts time out is unreachable, not slow: 502, not 504.
func TestDialTimeoutIsUnreachable(t *testing.T) {
	hs := newHarness(t, "monolith")
	// Every upstream dials with a short timeout, not the built-in
	// transport's.
	upstreams, err := resilience.NewRegistry(resilience.RegistryOptions{
		Transport: &http.Transport{DialContext: (&net.Dialer{Timeout: 50 * time.Millisecond}).DialContext},
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = hs.handler.upstreams.Close()
	hs.handler.upstreams = upstreams // closed by the handler's Close
	hs.urls["hole"] = "http://" + startBlackhole(t)
	hs.apply(t, `
legacy: monolith
upstreams:
  monolith: {url: "{{.monolith}}"}
  hole: {url: "{{.hole}}", retry: {attempts: 1}}
routes:
  - {prefix: /hole, service: hole, name: hole, fallback: false}
`)
	res, body := hs.do(t, "GET", "/hole/1", nil)
	checkErrorReply(t, res, body, http.StatusBadGateway)
	waitMetric(t, hs.reg, "strangler_requests_total", requestLabels("hole", "extracted", "hole", "GET", "502"), 1)
}
