package inventory

import (
	"cmp"
	"slices"
	"time"
)

// newAt returns an Inventory whose recent window starts at start: for tests
// that feed it the times of a fake clock through ObserveAt and TopRecent.
func newAt(limit int, start time.Time) *Inventory {
	inv := New(limit)
	inv.start = start
	return inv
}

// topTotal returns at most n kept entries of inv (all of them when
// n <= 0), by Requests descending, then Pattern ascending, with Recent
// counted in the window ending at the newest minute inv has seen: no clock
// is read, so a fake clock's window is left where it is.
func topTotal(inv *Inventory, n int) []Entry {
	if inv == nil {
		return nil
	}
	inv.mu.Lock()
	entries := slices.Clone(inv.heap)
	for i := range entries {
		entries[i].Recent = inv.recent[i].sum(inv.minute)
	}
	inv.mu.Unlock()
	return top(entries, n, func(a, b Entry) int {
		if c := cmp.Compare(b.Requests, a.Requests); c != 0 {
			return c
		}
		return cmp.Compare(a.Pattern, b.Pattern)
	})
}

// pattern returns the character-rule pattern of path (AppendPattern's,
// without the fan-out rule).
func pattern(path string) string {
	var buf [maxPatternLen]byte
	return string(AppendPattern(buf[:0], path))
}
