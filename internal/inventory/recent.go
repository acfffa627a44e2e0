package inventory

import "time"

// RecentWindow is the span Entry.Recent covers: the current minute and the
// nine before it. Counts are kept per minute, so the window moves by whole
// minutes.
const RecentWindow = recentMinutes * time.Minute

// recentMinutes is the number of per-minute counts each kept pattern has.
const recentMinutes = 10

// recent holds one kept pattern's requests per minute over RecentWindow, a
// ring indexed by minute modulo recentMinutes: 48 bytes per pattern.
type recent struct {
	last   int64 // the newest minute counted (see Inventory.minuteOf)
	counts [recentMinutes]uint32
}

// add counts one request in minute m. A minute older than the newest one
// counted is counted in the newest (Inventory never passes one).
func (r *recent) add(m int64) {
	if m > r.last {
		for k := max(r.last+1, m-recentMinutes+1); k <= m; k++ {
			r.counts[k%recentMinutes] = 0
		}
		r.last = m
	}
	if c := &r.counts[r.last%recentMinutes]; *c < ^uint32(0) {
		*c++
	}
}

// sum returns the requests counted in the window ending with minute m.
// Minutes are never negative.
func (r *recent) sum(m int64) uint64 {
	var n uint64
	for k := max(r.last-recentMinutes+1, m-recentMinutes+1, 0); k <= min(r.last, m); k++ {
		n += uint64(r.counts[k%recentMinutes])
	}
	return n
}

// minuteOf returns the minute of the recent window that t falls in,
// counted from start, and never one before the newest minute seen: a clock
// that goes back (a test clock, or a time without a monotonic reading after
// a wall-clock step) counts in the newest minute until it catches up. The
// caller holds inv.mu.
func (inv *Inventory) minuteOf(t time.Time) int64 {
	if m := int64(t.Sub(inv.start) / time.Minute); m > inv.minute {
		inv.minute = m
	}
	return inv.minute
}
