package resilience

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestPoolKeepsConnectionsAcrossBursts sends bursts of concurrent requests
// through one Upstream. The server holds every request of a burst until all
// of them have arrived, so each burst needs burst connections at once. The
// first burst opens them; with maxIdlePerHost above burst they all go back
// to the pool, and later bursts reuse them. (With Go's default of 2 idle
// connections per host, every burst would open burst-2 new ones.)
func TestPoolKeepsConnectionsAcrossBursts(t *testing.T) {
	const (
		burst  = 64
		bursts = 4
		limit  = 10 * time.Second // per burst; the server gives up after it
	)
	if burst > maxIdlePerHost {
		t.Fatalf("burst %d exceeds maxIdlePerHost %d", burst, maxIdlePerHost)
	}
	var (
		newConns atomic.Int64
		mu       sync.Mutex
		arrived  int
		gate     = make(chan struct{})
	)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		arrived++
		g := gate
		if arrived == burst {
			close(gate)
			arrived, gate = 0, make(chan struct{})
		}
		mu.Unlock()
		select {
		case <-g:
			_, _ = w.Write([]byte("ok"))
		case <-time.After(limit):
			http.Error(w, "burst never completed", http.StatusServiceUnavailable)
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			newConns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)

	r, _ := testRegistry(t, RegistryOptions{})
	u := acquire(t, r, Settings{Targets: []string{srv.URL}, Retry: noRetry})
	for i := range bursts {
		before := newConns.Load()
		var wg sync.WaitGroup
		for range burst {
			wg.Go(func() {
				code, body, err := doReq(u, newRequest(t, context.Background(), "GET", "/", nil))
				if code != http.StatusOK || body != "ok" || err != nil {
					t.Errorf("burst %d: GET = %d %q %v", i+1, code, body, err)
				}
			})
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		opened := newConns.Load() - before
		t.Logf("burst %d: %d new connections", i+1, opened)
		switch {
		case i == 0 && opened != burst:
			t.Fatalf("first burst opened %d connections, want %d (one per concurrent request)", opened, burst)
		case i > 0 && opened > burst/16:
			t.Fatalf("burst %d opened %d new connections, want at most %d: the pool did not keep the first burst's connections", i+1, opened, burst/16)
		}
	}
}
