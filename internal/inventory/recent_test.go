package inventory

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// ranking returns "pattern=recent/requests" for each entry.
func ranking(entries []Entry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, fmt.Sprintf("%s=%d/%d", e.Pattern, e.Recent, e.Requests))
	}
	return out
}

// TestTopRecentDropsMovedPatterns is issue 5's case: a route's patterns
// served heavily, then moved off legacy; once RecentWindow has passed they
// rank below what legacy serves now, while Top still has them first.
func TestTopRecentDropsMovedPatterns(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 30, 0, time.UTC)}
	inv := newAt(DefaultLimit, clock.now())
	for range 1000 {
		inv.ObserveAt(clock.now(), "/api/orders/ord-100001", "orders")
	}
	for range 10 {
		inv.ObserveAt(clock.now(), "/cart", "default")
	}
	if got := ranking(inv.TopRecent(clock.now(), 0)); !slices.Equal(got, []string{"/api/orders/{id}=1000/1000", "/cart=10/10"}) {
		t.Fatalf("TopRecent before the move = %v", got)
	}

	// Orders moves; legacy keeps serving /cart, 5 requests a minute.
	for minute := 1; minute <= 10; minute++ {
		clock.advance(time.Minute)
		for range 5 {
			inv.ObserveAt(clock.now(), "/cart", "default")
		}
		got := inv.TopRecent(clock.now(), 0)
		wantOrders := uint64(1000)
		if minute >= recentMinutes {
			wantOrders = 0
		}
		if i := slices.IndexFunc(got, func(e Entry) bool { return e.Pattern == "/api/orders/{id}" }); got[i].Recent != wantOrders {
			t.Fatalf("minute %d: orders recent %d, want %d", minute, got[i].Recent, wantOrders)
		}
	}
	want := []string{"/cart=50/60", "/api/orders/{id}=0/1000"}
	if got := ranking(inv.TopRecent(clock.now(), 0)); !slices.Equal(got, want) {
		t.Fatalf("TopRecent after the move = %v, want %v", got, want)
	}
	if got := ranking(topTotal(inv, 0)); got[0] != "/api/orders/{id}=0/1000" {
		t.Fatalf("Top ranks by total: %v", got)
	}
	// Nothing for longer than the window: every recent count is 0, totals stay.
	clock.advance(time.Hour)
	if got := ranking(inv.TopRecent(clock.now(), 0)); !slices.Equal(got, []string{"/api/orders/{id}=0/1000", "/cart=0/60"}) {
		t.Fatalf("TopRecent after an idle hour = %v", got)
	}
}

// TestRecentRing checks the ring minute by minute, including gaps longer
// than the ring and a clock that goes back.
func TestRecentRing(t *testing.T) {
	var r recent
	r.last = 100
	r.add(100)
	r.add(103)
	r.add(103)
	for _, tc := range []struct {
		m    int64
		want uint64
	}{{100, 1}, {103, 3}, {109, 3}, {110, 2}, {112, 2}, {113, 0}, {99, 0}} {
		if got := r.sum(tc.m); got != tc.want {
			t.Errorf("sum(%d) = %d, want %d", tc.m, got, tc.want)
		}
	}
	r.add(125) // clears the whole ring
	if got := r.sum(125); got != 1 {
		t.Errorf("after a gap, sum = %d, want 1", got)
	}
	r.add(120) // clock went back: counted in the newest minute
	if got := r.sum(125); got != 2 {
		t.Errorf("after the clock went back, sum = %d, want 2", got)
	}
}

// TestRecentMovesWithEviction: an evicted slot's recent counts go with it;
// the newcomer starts with its own single request.
func TestRecentMovesWithEviction(t *testing.T) {
	clock := &fakeClock{t: time.Unix(6000, 0)}
	inv := newAt(2, clock.now())
	for range 3 {
		inv.ObserveAt(clock.now(), "/a", "default")
	}
	inv.ObserveAt(clock.now(), "/b", "default")
	inv.ObserveAt(clock.now(), "/c", "default") // evicts /b
	want := []string{"/a=3/3", "/c=1/2"}
	if got := ranking(inv.TopRecent(clock.now(), 0)); !slices.Equal(got, want) {
		t.Fatalf("TopRecent = %v, want %v", got, want)
	}
	kept(t, inv)
}

// TestRecentClockStepsBack: requests counted after the clock went back
// (an injected clock here; a wall-clock step without a monotonic reading in
// production) show in the recent window, in the newest minute, and leave it
// a window after that minute.
func TestRecentClockStepsBack(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 30, 0, time.UTC)
	clock := &fakeClock{t: start}
	inv := newAt(DefaultLimit, clock.now())
	clock.advance(3 * time.Minute)
	for range 3 {
		inv.ObserveAt(clock.now(), "/cart", "default")
	}
	clock.advance(-time.Hour)
	inv.ObserveAt(clock.now(), "/cart", "default")
	inv.ObserveAt(clock.now(), "/cart", "default")
	if got := ranking(inv.TopRecent(clock.now(), 0)); !slices.Equal(got, []string{"/cart=5/5"}) {
		t.Fatalf("after the clock went back an hour, TopRecent = %v, want [/cart=5/5]", got)
	}
	clock.advance(time.Hour + (recentMinutes-1)*time.Minute) // the last minute of the window
	if got := ranking(inv.TopRecent(clock.now(), 0)); !slices.Equal(got, []string{"/cart=5/5"}) {
		t.Fatalf("9 minutes later, TopRecent = %v, want [/cart=5/5]", got)
	}
	clock.advance(time.Minute)
	if got := ranking(inv.TopRecent(clock.now(), 0)); !slices.Equal(got, []string{"/cart=0/5"}) {
		t.Fatalf("a window later, TopRecent = %v, want [/cart=0/5]", got)
	}

	// The real clock: minutes come from a monotonic reading, and a time
	// without one, an hour behind, counts in the current minute.
	inv = New(DefaultLimit)
	inv.ObserveAt(time.Now(), "/cart", "default")
	inv.ObserveAt(time.Now().Add(-time.Hour).Round(0), "/cart", "default")
	if got := ranking(inv.TopRecent(time.Now(), 0)); !slices.Equal(got, []string{"/cart=2/2"}) {
		t.Fatalf("with a time an hour back, TopRecent = %v, want [/cart=2/2]", got)
	}
}
