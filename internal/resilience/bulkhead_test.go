package resilience

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestBulkheadHoldsLimitUnderLoad(t *testing.T) {
	const limit, load = 5, 50 // 10x the limit
	srv := newFaultServer(t)
	srv.setMode(modeBlock)
	r, _ := testRegistry(t, RegistryOptions{})
	u := acquire(t, r, Settings{Targets: []string{srv.URL},
		Bulkhead: BulkheadSettings{MaxConcurrent: limit, MaxWaiting: load - limit, MaxWait: time.Minute}})

	var wg sync.WaitGroup
	for range load {
		wg.Go(func() {
			if code, _, err := do(t, u, "GET", "/"); code != 200 || err != nil {
				t.Errorf("GET = %d, %v; want 200", code, err)
			}
		})
	}
	eventually(t, "5 in flight and 45 queued", func() bool {
		b := u.Status().Bulkhead
		return srv.cur.Load() == limit && b.InFlight == limit && b.Waiting == load-limit
	})
	srv.unblock()
	wg.Wait()
	if m := srv.maxSeen.Load(); m > limit {
		t.Fatalf("server saw %d concurrent requests, limit is %d", m, limit)
	}
	if n := srv.hits.Load(); n != load {
		t.Fatalf("server saw %d requests, want %d", n, load)
	}
	if v := testutil.ToFloat64(u.m.inflight); v != 0 {
		t.Fatalf("strangler_bulkhead_inflight after the load = %v, want 0", v)
	}
}

func TestBulkheadRejectsBeyondWaitingAndRecovers(t *testing.T) {
	srv := newFaultServer(t)
	srv.setMode(modeBlock)
	r, _ := testRegistry(t, RegistryOptions{})
	u := acquire(t, r, Settings{Targets: []string{srv.URL},
		Bulkhead: BulkheadSettings{MaxConcurrent: 2, MaxWaiting: 3, MaxWait: time.Hour}})

	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() { _, _, _ = do(t, u, "GET", "/") })
	}
	eventually(t, "2 in flight and 3 queued", func() bool {
		b := u.Status().Bulkhead
		return srv.cur.Load() == 2 && b.InFlight == 2 && b.Waiting == 3
	})
	// The sixth is refused at once (max_wait is an hour) and never sent.
	_, _, err := do(t, u, "GET", "/")
	wantErrIs(t, err, ErrBulkheadFull, ErrNotSent)
	if n := srv.hits.Load(); n != 2 {
		t.Fatalf("server saw %d requests, want 2", n)
	}
	if v := testutil.ToFloat64(u.m.rejected); v != 1 {
		t.Fatalf("strangler_bulkhead_rejected_total = %v, want 1", v)
	}
	srv.unblock()
	wg.Wait()

	// Full capacity is back: 2 in flight again, 3 queued, nothing refused.
	srv.reblock()
	for range 5 {
		wg.Go(func() { _, _, _ = do(t, u, "GET", "/") })
	}
	eventually(t, "capacity recovered", func() bool {
		b := u.Status().Bulkhead
		return srv.cur.Load() == 2 && b.InFlight == 2 && b.Waiting == 3
	})
	srv.unblock()
	wg.Wait()
	if v := testutil.ToFloat64(u.m.rejected); v != 1 {
		t.Fatalf("rejections after recovery = %v, want still 1", v)
	}
	if b := u.Status().Bulkhead; b.InFlight != 0 || b.Waiting != 0 {
		t.Fatalf("bulkhead at rest = %+v, want empty", b)
	}
}

func TestBulkheadStreamingHoldsSlot(t *testing.T) {
	srv := newFaultServer(t)
	finish := make(chan struct{})
	srv.then(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "first chunk")
		http.NewResponseController(w).Flush()
		<-finish
	})
	r, _ := testRegistry(t, RegistryOptions{})
	u := acquire(t, r, Settings{Targets: []string{srv.URL}, Bulkhead: BulkheadSettings{MaxConcurrent: 1}})

	resp, err := u.RoundTrip(newRequest(t, context.Background(), "GET", "/stream", nil))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len("first chunk"))
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatal(err)
	}
	// Headers are in and the body still streams: the slot is held.
	_, _, err = do(t, u, "GET", "/")
	wantErrIs(t, err, ErrBulkheadFull)

	close(finish)
	if _, err := io.Copy(io.Discard, resp.Body); err != nil { // EOF releases
		t.Fatal(err)
	}
	if code, _, err := do(t, u, "GET", "/"); code != 200 || err != nil {
		t.Fatalf("after the stream ended GET = %d, %v; want 200", code, err)
	}
	_ = resp.Body.Close() // a second release must be a no-op
	if b := u.Status().Bulkhead; b.InFlight != 0 {
		t.Fatalf("in flight after all bodies closed = %d, want 0", b.InFlight)
	}
}

func newTestBulkhead(s BulkheadSettings) *bulkhead {
	m, _ := newMetrics(nil)
	return newBulkhead(Settings{Bulkhead: s}.WithDefaults().Bulkhead, m.forUpstream("orders", nil))
}

func TestBulkheadMaxWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newTestBulkhead(BulkheadSettings{MaxConcurrent: 1, MaxWaiting: 1, MaxWait: 100 * time.Millisecond})
		if err := b.acquire(t.Context()); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		err := b.acquire(t.Context())
		wantErrIs(t, err, ErrBulkheadFull, ErrNotSent)
		if waited := time.Since(start); waited != 100*time.Millisecond {
			t.Fatalf("waited %s, want exactly max_wait", waited)
		}

		// A slot freed while waiting is taken.
		errc := make(chan error)
		go func() { errc <- b.acquire(t.Context()) }()
		time.Sleep(50 * time.Millisecond)
		b.release()
		if err := <-errc; err != nil {
			t.Fatalf("acquire after release = %v", err)
		}
	})
}

func TestBulkheadNeverWaitsPastContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newTestBulkhead(BulkheadSettings{MaxConcurrent: 1, MaxWaiting: 1, MaxWait: time.Hour})
		if err := b.acquire(t.Context()); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		start := time.Now()
		err := b.acquire(ctx)
		if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrNotSent) {
			t.Fatalf("acquire with expiring context = %v, want DeadlineExceeded (not ErrNotSent)", err)
		}
		if waited := time.Since(start); waited != time.Second {
			t.Fatalf("waited %s, want the context's 1s", waited)
		}
		if w := b.waiting.Load(); w != 0 {
			t.Fatalf("waiting = %d after giving up, want 0", w)
		}
	})
}
