package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/strangler-proxy/strangler/internal/resilience"
)

// Every mode must forward keep-alive GETs one after another on the same
// client connection and reuse its backend connection: a reference that
// redials or drops the client would measure something else.
func TestModesForwardOverKeepAlive(t *testing.T) {
	for _, mode := range []string{"loop", "watch", "lazy", "nethttp", "reverseproxy", "h1client", "resilience"} {
		t.Run(mode, func(t *testing.T) {
			backend, dials := startBackend(t)
			addr := startFloor(t, mode, backend.Listener.Addr().String())
			var clientDials atomic.Int32
			dialer := &net.Dialer{Timeout: 5 * time.Second}
			client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
				MaxIdleConnsPerHost: 1,
				DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
					clientDials.Add(1)
					return dialer.DialContext(ctx, network, addr)
				},
			}}
			defer client.CloseIdleConnections()
			for i := range 20 {
				path := fmt.Sprintf("/item/%d", i)
				if i%5 == 4 {
					path += "/slow"
				}
				resp, err := client.Get("http://" + addr + path)
				if err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK {
					t.Fatalf("request %d: status %d, err %v", i, resp.StatusCode, err)
				}
				if want := "path=" + path + " "; !strings.HasPrefix(string(body), want) || len(body) != len(want)+1024 {
					t.Fatalf("request %d: body %.40q (%d bytes), want %q and 1 KiB", i, body, len(body), want)
				}
			}
			if n := clientDials.Load(); n != 1 {
				t.Errorf("client needed %d connections for 20 sequential requests, want 1 (kept alive)", n)
			}
			if n := dials.Load(); n != 1 {
				t.Errorf("backend saw %d connections for 20 sequential requests, want 1 (pooled)", n)
			}
		})
	}
}

// An answer with Connection: close ends that backend connection; the next
// request must get a fresh one, not fail on the closed one.
func TestClosedBackendConnectionIsNotReused(t *testing.T) {
	for _, mode := range []string{"loop", "nethttp", "reverseproxy"} {
		t.Run(mode, func(t *testing.T) {
			backend, dials := startBackend(t)
			addr := startFloor(t, mode, backend.Listener.Addr().String())
			for i, path := range []string{"/close", "/a", "/close", "/b"} {
				// A new client connection per request, so that a failure
				// shows as an error instead of a silent retry on another
				// one, and without Connection: close, which the forwarder
				// would pass on to the backend.
				transport := &http.Transport{}
				client := &http.Client{Timeout: 5 * time.Second, Transport: transport}
				resp, err := client.Get("http://" + addr + path)
				if err != nil {
					t.Fatalf("request %d (%s): %v", i, path, err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				transport.CloseIdleConnections()
			}
			if n := dials.Load(); n != 3 {
				t.Errorf("backend saw %d connections, want 3 (one, then one after each close)", n)
			}
		})
	}
}

func TestOnlyLoopbackIsServed(t *testing.T) {
	for _, listen := range []string{"0.0.0.0:0", ":0", "localhost"} {
		if err := run(listen, "127.0.0.1:1", "loop"); err == nil || !strings.Contains(err.Error(), "loopback") {
			t.Errorf("run(%q) = %v, want a refusal naming loopback", listen, err)
		}
	}
}

// The resilience mode must run the layer as bench/run configures strangler,
// not with defaults that a mistyped key would leave in place.
func TestBenchUpstreamSettingsAreTheHarnessOnes(t *testing.T) {
	var s resilience.Settings
	if err := yaml.Unmarshal([]byte(benchUpstream), &s); err != nil {
		t.Fatal(err)
	}
	if s.Timeout != 5*time.Second || s.Breaker.MinRequests != 20 || s.Breaker.OpenFor != 15*time.Second ||
		s.Bulkhead.MaxConcurrent != 1000 || s.Bulkhead.MaxWait != 100*time.Millisecond ||
		s.Retry.Attempts != 2 || s.Retry.Budget != 0.2 {
		t.Errorf("settings parsed as %+v", s)
	}
}

func TestUnknownModeIsRefused(t *testing.T) {
	if _, err := serverFor("epoll", testWatchAfter); err == nil || !strings.Contains(err.Error(), "epoll") {
		t.Fatalf("serverFor(epoll) = %v, want an error naming the mode", err)
	}
}

// startBackend serves 1 KiB answers naming the path until the test ends,
// closing the connection after paths ending in /close and answering paths
// ending in /slow after the lazy mode's watch has started; dials counts
// the connections it accepted.
func startBackend(t *testing.T) (backend *httptest.Server, dials *atomic.Int32) {
	t.Helper()
	dials = new(atomic.Int32)
	backend = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/close") {
			w.Header().Set("Connection", "close")
		}
		if strings.HasSuffix(r.URL.Path, "/slow") {
			<-time.After(20 * testWatchAfter)
		}
		fmt.Fprintf(w, "path=%s %s", r.URL.Path, strings.Repeat("x", 1024))
	}))
	backend.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			dials.Add(1)
		}
	}
	backend.Start()
	t.Cleanup(backend.Close)
	return backend, dials
}

// testWatchAfter is the lazy mode's delay in tests.
const testWatchAfter = time.Millisecond

// startFloor serves mode on a loopback port until the test ends and
// returns the address.
func startFloor(t testing.TB, mode, backend string) string {
	t.Helper()
	serve, err := serverFor(mode, testWatchAfter)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &forwarder{backend: backend}
	stopped := make(chan struct{})
	go func() {
		serve(ln, f)
		close(stopped)
	}()
	t.Cleanup(func() {
		ln.Close()
		select {
		case <-stopped:
		case <-time.After(5 * time.Second):
			t.Error("server did not stop after its listener closed")
		}
		f.closeIdle()
	})
	return ln.Addr().String()
}

// BenchmarkForward is one keep-alive GET of 1 KiB through each mode, client
// and backend in the same process, to set its allocations beside those of
// internal/proxy's BenchmarkProxy (which includes "direct", the same GET
// without a proxy).
func BenchmarkForward(b *testing.B) {
	body := strings.Repeat("x", 1024)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, body)
	}))
	defer backend.Close()
	for _, mode := range []string{"loop", "nethttp", "reverseproxy"} {
		b.Run(mode, func(b *testing.B) {
			addr := startFloor(b, mode, backend.Listener.Addr().String())
			client := &http.Client{Timeout: 5 * time.Second}
			defer client.CloseIdleConnections()
			url := "http://" + addr + "/"
			b.ReportAllocs()
			for b.Loop() {
				resp, err := client.Get(url)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
}
