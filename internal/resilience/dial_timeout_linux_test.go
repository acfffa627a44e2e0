//go:build linux

package resilience

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// blackholeURL returns a URL on 127.0.0.1 whose SYNs go unanswered: a
// listener with a backlog of 0 whose accept queue is full and never
// accepted from. Linux drops the SYNs of further connections, so dialing it
// hangs until the dial's own timeout, as with a firewalled host.
func blackholeURL(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		_ = syscall.Close(fd)
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		_ = syscall.Close(fd)
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), "blackhole")
	ln, err := net.FileListener(f)
	_ = f.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	addr := ln.Addr().String()
	for range 8 { // fill the accept queue until a dial hangs
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			if isTimeout(err) {
				return "http://" + addr
			}
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
	}
	t.Skip("could not fill the accept queue of a loopback listener")
	return ""
}

// wantDialTimeout checks the error a dial to a blackholed target ends with.
func wantDialTimeout(t *testing.T, err error, notSent bool) {
	t.Helper()
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "dial" || !isTimeout(err) {
		t.Fatalf("error = %v, want a dial *net.OpError that is a net.Error timeout", err)
	}
	if errors.Is(err, ErrNotSent) != notSent {
		t.Fatalf("error = %v: errors.Is(ErrNotSent) = %v, want %v", err, !notSent, notSent)
	}
}

// A dial to a blackholed target gives up after the upstream's timeout
// (when shorter than the 5s dial timeout), and is not retried once that
// time is spent: the whole request ends within the timeout.
func TestDialBoundedByUpstreamTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	hole := blackholeURL(t)
	r, _ := testRegistry(t, RegistryOptions{})
	u := acquire(t, r, Settings{Targets: []string{hole}, Timeout: timeout,
		Retry: RetrySettings{Attempts: 3, Backoff: time.Microsecond, MaxBackoff: time.Microsecond}})
	for _, method := range []string{"GET", "PUT"} { // h1client, then net/http
		t.Run(method, func(t *testing.T) {
			var req *http.Request
			if method == "GET" {
				req = newRequest(t, context.Background(), method, "/", nil)
			} else {
				req = newRequest(t, context.Background(), method, "/", strings.NewReader("x"))
			}
			start := time.Now()
			_, _, err := doReq(u, req)
			took := time.Since(start)
			wantDialTimeout(t, err, true)
			if took < timeout || took > timeout+3*time.Second { // an unbounded dial takes 5s
				t.Fatalf("%s took %s, want about the upstream timeout %s (dial timeout is %s)", method, took, timeout, maxDialTimeout)
			}
		})
	}
	if v := retries(u, reasonConnect); v != 0 {
		t.Fatalf("connect retries = %v, want 0: the first dial spent the whole timeout", v)
	}
}

// A retry's dial ends when the timeout, counted from the first attempt,
// is over.
func TestRetryDialBoundedByRemainingTimeout(t *testing.T) {
	const timeout, slow = 2 * time.Second, 1600 * time.Millisecond
	srv := newFaultServer(t)
	srv.then(func(w http.ResponseWriter, r *http.Request) {
		select { // a slow 503: most of the timeout is gone before the retry
		case <-time.After(slow):
		case <-r.Context().Done():
		}
		status(http.StatusServiceUnavailable)(w, r)
	})
	hole := blackholeURL(t)
	r, _ := testRegistry(t, RegistryOptions{})
	// The first pick is the first target; the retry goes to the other.
	u := acquire(t, r, Settings{Targets: []string{srv.URL, hole}, Timeout: timeout,
		Retry: RetrySettings{Attempts: 2, Backoff: time.Microsecond}})
	start := time.Now()
	_, _, err := do(t, u, "GET", "/")
	took := time.Since(start)
	wantDialTimeout(t, err, false) // the first attempt reached the upstream
	if retries(u, reason503) != 1 {
		t.Fatalf("503 retries = %v, want 1", retries(u, reason503))
	}
	if took < timeout || took > timeout+slow/2 { // the full dial timeout would give timeout+slow
		t.Fatalf("GET took %s, want about the upstream timeout %s", took, timeout)
	}
}
