package inventory

import (
	"testing"
	"time"
)

// BenchmarkPattern measures building a pattern into a stack buffer.
func BenchmarkPattern(b *testing.B) {
	for _, bc := range []struct{ name, path string }{
		{"static", "/account/settings/notifications"},
		{"ids", "/api/customers/cus-100003/invoices/550e8400-e29b-41d4-a716-446655440000"},
		{"deep", "/a/b/c/d/e/f/g/h/i/j/k/l"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var buf [maxPatternLen]byte
			b.ReportAllocs()
			for b.Loop() {
				_ = AppendPattern(buf[:0], bc.path)
			}
		})
	}
}

// BenchmarkObserveKnown is the common case: the pattern is already kept.
func BenchmarkObserveKnown(b *testing.B) {
	inv := New(DefaultLimit)
	for i := range DefaultLimit { // twice: the table fills with literal patterns
		inv.Observe(churnPath(i), "default")
		inv.Observe(churnPath(i), "default")
	}
	paths := []string{"/api/customers/123/invoices", "/catalog/sku-1001", "/cart", "/api/orders/ord-100001"}
	observeLoop(b, inv, paths)
}

// BenchmarkObserveChurn is an adversary sending a new path every request.
// The fan-out rule collapses each one's last segment, so most requests go
// through the sketch to a collapsed pattern already kept, and some evict.
func BenchmarkObserveChurn(b *testing.B) {
	inv := New(DefaultLimit)
	paths := make([]string, 1<<16)
	for i := range paths {
		paths[i] = churnPath(i)
	}
	observeLoop(b, inv, paths)
}

// BenchmarkObserveChurnTwice is the adversary that gets past the fan-out
// rule: each new path twice in a row, so that every second request is a new
// literal pattern and evicts the least counted one from a full table.
func BenchmarkObserveChurnTwice(b *testing.B) {
	inv := New(DefaultLimit)
	paths := make([]string, 1<<17)
	for i := range paths {
		paths[i] = churnPath(i / 2)
	}
	observeLoop(b, inv, paths)
}

// BenchmarkObserveKnownParallel measures contention on the one mutex.
func BenchmarkObserveKnownParallel(b *testing.B) {
	inv := New(DefaultLimit)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			inv.Observe("/api/customers/123/invoices", "default")
		}
	})
}

// observeLoop observes the paths in turn, once per iteration.
func observeLoop(b *testing.B, inv *Inventory, paths []string) {
	b.ReportAllocs()
	i := 0
	now := time.Now() // the proxy passes the clock it read for its metrics
	for b.Loop() {
		inv.ObserveAt(now, paths[i%len(paths)], "default")
		i++
	}
}
