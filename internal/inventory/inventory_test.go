package inventory

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// churnPath returns the i-th of an adversary's distinct paths, for i below
// 1<<16: i's four base-16 digits as one-letter segments, so that none
// collapses into another by the character rules. Every parent has 16
// children, within the fan-out rule's budget, but there are 4,370 parents:
// sent once each, the paths stay distinct until maxFreshParents parents
// are counted, then their deeper segments collapse; sent twice, they stay
// distinct.
func churnPath(i int) string {
	if i < 0 || i >= 1<<16 {
		panic("churnPath: i out of range")
	}
	b := []byte("/spam")
	for shift := 12; shift >= 0; shift -= 4 {
		b = append(b, '/', 'a'+byte(i>>shift&15))
	}
	return string(b)
}

// countPattern counts one request for the character-rule pattern of path,
// bypassing the fan-out rule: for tests of the Space-Saving table alone.
func countPattern(inv *Inventory, path string) {
	var buf [maxPatternLen]byte
	inv.mu.Lock()
	defer inv.mu.Unlock()
	p := AppendPattern(buf[:0], path)
	i, ok := inv.index[string(p)]
	inv.count(p, i, ok, "default", inv.minute)
}

// kept returns the number of patterns inv holds, checking that the heap
// and its index agree and that the heap is ordered.
func kept(t *testing.T, inv *Inventory) int {
	t.Helper()
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if len(inv.heap) != len(inv.index) {
		t.Fatalf("heap holds %d entries, index %d", len(inv.heap), len(inv.index))
	}
	for i, e := range inv.heap {
		if inv.index[e.Pattern] != i {
			t.Fatalf("index[%q] = %d, entry is at %d", e.Pattern, inv.index[e.Pattern], i)
		}
		if i > 0 && inv.heap[(i-1)/2].Requests > e.Requests {
			t.Fatalf("heap order broken at %d", i)
		}
	}
	return len(inv.heap)
}

func TestNewClampsLimit(t *testing.T) {
	for _, tc := range []struct{ in, want int }{{-5, 1}, {0, 1}, {1, 1}, {500, 500}, {MaxLimit, MaxLimit}, {MaxLimit + 1, MaxLimit}} {
		if got := New(tc.in).Limit(); got != tc.want {
			t.Errorf("New(%d).Limit() = %d, want %d", tc.in, got, tc.want)
		}
	}
	var nilInv *Inventory
	nilInv.Observe("/a", "default")
	if nilInv.Limit() != 0 || nilInv.TopRecent(time.Now(), 0) != nil {
		t.Error("a nil Inventory is not empty")
	}
}

func TestObserveCountsByPattern(t *testing.T) {
	inv := New(10)
	inv.Observe("/api/customers/1/invoices", "default")
	inv.Observe("/api/customers/2/invoices", "customers")
	inv.Observe("/api/customers/3/invoices", "default")
	inv.Observe("/api/orders/ord-100001", "orders")
	inv.Observe("/", "default")
	inv.Observe("/about", "default")
	want := []Entry{
		{Pattern: "/api/customers/{id}/invoices", Requests: 3, Route: "default", Recent: 3},
		{Pattern: "/", Requests: 1, Route: "default", Recent: 1},
		{Pattern: "/about", Requests: 1, Route: "default", Recent: 1},
		{Pattern: "/api/orders/{id}", Requests: 1, Route: "orders", Recent: 1},
	}
	if got := topTotal(inv, 0); !slices.Equal(got, want) {
		t.Fatalf("Top(0) = %+v\nwant %+v", got, want)
	}
	if got := topTotal(inv, 2); !slices.Equal(got, want[:2]) {
		t.Fatalf("Top(2) = %+v, want %+v", got, want[:2])
	}
	if got := topTotal(inv, -1); len(got) != 4 {
		t.Fatalf("Top(-1) has %d entries, want 4", len(got))
	}
	if got := topTotal(inv, 100); len(got) != 4 {
		t.Fatalf("Top(100) has %d entries, want 4", len(got))
	}
}

// TestTopOrder checks the order with many ties and a table that is
// reordered by later traffic.
func TestTopOrder(t *testing.T) {
	inv := New(50)
	counts := map[string]int{"/e": 5, "/a": 2, "/d": 5, "/c": 9, "/b": 2, "/f": 1}
	for round := range 9 {
		for p, n := range counts {
			if round < n {
				inv.Observe(p, "default")
			}
		}
	}
	var got []string
	for _, e := range topTotal(inv, 0) {
		got = append(got, fmt.Sprintf("%s=%d", e.Pattern, e.Requests))
	}
	want := []string{"/c=9", "/d=5", "/e=5", "/a=2", "/b=2", "/f=1"}
	if !slices.Equal(got, want) {
		t.Fatalf("Top(0) = %v, want %v", got, want)
	}
}

// TestObserveConcurrent observes from many goroutines while others read;
// with the table never full, every count is exact.
func TestObserveConcurrent(t *testing.T) {
	const goroutines, perGoroutine, patterns = 16, 2000, 10
	inv := New(100)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range perGoroutine {
				inv.Observe(fmt.Sprintf("/p%c/%d", 'a'+i%patterns, g*perGoroutine+i), "default")
			}
		})
	}
	for range 4 {
		wg.Go(func() {
			for range 200 {
				if len(topTotal(inv, 3)) > 3 {
					t.Error("Top(3) returned more than 3 entries")
				}
			}
		})
	}
	wg.Wait()
	got := topTotal(inv, 0)
	if len(got) != patterns {
		t.Fatalf("%d patterns, want %d: %+v", len(got), patterns, got)
	}
	for _, e := range got {
		if e.Requests != goroutines*perGoroutine/patterns || e.Overcount != 0 {
			t.Errorf("%s: %d requests (overcount %d), want %d exactly", e.Pattern, e.Requests, e.Overcount, goroutines*perGoroutine/patterns)
		}
	}
	kept(t, inv)
}

// TestSpaceSavingAgainstChurn sends 65,536 distinct patterns mixed with
// three heavy patterns to the table, the fan-out rule bypassed (it would
// collapse most of them). The table never holds more than its limit, the heavy
// patterns (each more than 1/limit of the traffic) are always kept, and
// every estimate brackets the true count.
func TestSpaceSavingAgainstChurn(t *testing.T) {
	const limit, churn = 20, 1 << 16
	inv := New(limit)
	heavy := []string{"/api/customers/{id}/invoices", "/catalog/{id}", "/cart"}
	truth := map[string]uint64{}
	for i := range churn {
		if i%2 == 0 { // heavy patterns: a third of half the traffic each, well above 1/20
			h := heavy[(i/2)%len(heavy)]
			countPattern(inv, h)
			truth[h]++
		}
		p := churnPath(i)
		countPattern(inv, p)
		truth[p]++
		if i%997 == 0 && kept(t, inv) > limit {
			t.Fatalf("after %d requests the table holds more than %d patterns", i, limit)
		}
	}
	if n := kept(t, inv); n != limit {
		t.Fatalf("table holds %d patterns, want %d", n, limit)
	}
	top := topTotal(inv, len(heavy))
	for i, e := range top {
		if !slices.Contains(heavy, e.Pattern) {
			t.Fatalf("Top(%d)[%d] = %+v, want one of the heavy patterns %v", len(heavy), i, e, heavy)
		}
	}
	var total uint64
	for _, e := range topTotal(inv, 0) {
		total += e.Requests
		if tr := truth[e.Pattern]; e.Requests < tr || e.Requests-e.Overcount > tr {
			t.Errorf("%s: estimate %d (overcount %d) does not bracket the true count %d", e.Pattern, e.Requests, e.Overcount, tr)
		}
	}
	if n := uint64(churn + churn/2); total != n {
		t.Errorf("estimates add up to %d, want the number of requests %d", total, n)
	}
}

// TestCountsNeverDecrease checks the property the metric relies on: the
// estimate of a pattern never goes down, even when the pattern is evicted
// and comes back.
func TestCountsNeverDecrease(t *testing.T) {
	inv := New(8)
	last := map[string]uint64{}
	readmitted := 0
	for i := range 20_000 {
		// A small alphabet that overflows the table, so patterns come back.
		inv.Observe(churnPath(i*7919%23), "default")
		if i%13 != 0 {
			continue
		}
		for _, e := range topTotal(inv, 0) {
			prev, seen := last[e.Pattern]
			if e.Requests < prev {
				t.Fatalf("after %d requests %s went from %d to %d", i, e.Pattern, prev, e.Requests)
			}
			if seen && e.Overcount >= prev {
				readmitted++
			}
			last[e.Pattern] = e.Requests
		}
	}
	if readmitted == 0 {
		t.Fatal("no pattern was evicted and readmitted; the test proves nothing")
	}
}

// TestObserveKnownPatternDoesNotAllocate is the cost promise of Observe:
// a pattern already in the table costs no allocation, ids or not.
func TestObserveKnownPatternDoesNotAllocate(t *testing.T) {
	inv := New(DefaultLimit)
	for i := range DefaultLimit {
		inv.Observe(churnPath(i), "default")
	}
	paths := []string{"/api/customers/123/invoices", "/api/customers/cus-100456/invoices", "/api/customers/7/invoices"}
	inv.Observe(paths[0], "default")
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		i++
		inv.Observe(paths[i%len(paths)], []string{"default", "customers"}[i%2])
	})
	if allocs != 0 {
		t.Fatalf("Observe of a kept pattern allocates %v times per call, want 0", allocs)
	}
}
