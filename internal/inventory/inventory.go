package inventory

import (
	"cmp"
	"hash/maphash"
	"slices"
	"sync"
	"time"
)

// MaxLimit is the largest number of patterns an Inventory keeps; New clamps
// larger limits to it. It is also the metric's largest cardinality.
const MaxLimit = 10000

// DefaultLimit is a limit that fits most legacy applications: a few hundred
// routes, with room for the rest.
const DefaultLimit = 500

// Entry is one kept pattern.
type Entry struct {
	// Pattern is the path pattern, ids collapsed (see the package
	// documentation).
	Pattern string `json:"pattern"`
	// Requests is the estimated number of requests with this pattern since
	// the Inventory was created; it never undercounts.
	Requests uint64 `json:"requests"`
	// Overcount bounds the overestimate: at most this many of Requests
	// were inherited from patterns evicted before this one came in, so the
	// true count is at least Requests - Overcount. 0 means exact.
	Overcount uint64 `json:"overcount"`
	// Route is the name of the route that matched the latest request with
	// this pattern ("default" for the catch-all).
	Route string `json:"route"`
	// Recent is the number of requests with this pattern over the last
	// RecentWindow (exact, unlike Requests: it counts only requests seen
	// since the pattern last came into the table).
	Recent uint64 `json:"recent"`
}

// Inventory counts requests by pattern, keeping at most Limit patterns with
// the Space-Saving algorithm. It is safe for concurrent use; the zero value
// is not usable, call New. A nil *Inventory records nothing.
type Inventory struct {
	limit int

	mu sync.Mutex
	// heap is a min-heap of the kept entries by Requests; index maps each
	// kept pattern to its position in heap.
	heap  []Entry
	index map[string]int
	// recent[i] holds the per-minute counts of heap[i]; it moves with it.
	recent []recent
	// start is the origin of the recent window's minutes. It carries a
	// monotonic clock reading (time.Now at New), so that now.Sub(start)
	// does not move when the wall clock is stepped; minute is the newest
	// minute seen, and a minute never goes below it (see minuteOf).
	start  time.Time
	minute int64

	// The fan-out rule's bookkeeping, all keyed by the hash of a pattern
	// prefix ending in a literal segment ("/api/orders" for the segment
	// "orders" under the parent "/api/"), which names the child and its
	// parent at once.
	seed maphash.Seed
	// prefixes counts, for each such prefix of a kept pattern, the kept
	// patterns that have it: at most Limit*8 entries.
	prefixes map[uint64]uint32
	// sketch is a count-min sketch of the children seen outside the table:
	// sketchRows rows of sketchWidth byte counters, eight to a word, each
	// child counted in one counter per row. sketchCounts counts the counts
	// since the last halving, sketchMinute is the minute of the last
	// halving by time.
	sketch       *[sketchRows * sketchWidth / 8]uint64
	sketchCounts int
	sketchMinute int64
	// fresh counts, per parent (the hash of the prefix before a child),
	// the new children seen in the current RecentWindow; emptied when the
	// window ends.
	fresh map[uint64]uint16
}

// New returns an empty Inventory that keeps at most limit patterns. A limit
// below 1 is treated as 1 and one above MaxLimit as MaxLimit.
func New(limit int) *Inventory {
	limit = min(max(limit, 1), MaxLimit)
	return &Inventory{
		limit:    limit,
		heap:     make([]Entry, 0, limit),
		index:    make(map[string]int, limit),
		recent:   make([]recent, 0, limit),
		start:    time.Now(),
		seed:     maphash.MakeSeed(),
		prefixes: make(map[uint64]uint32),
		sketch:   new([sketchRows * sketchWidth / 8]uint64),
		fresh:    make(map[uint64]uint16),
	}
}

// Limit returns the largest number of patterns inv keeps.
func (inv *Inventory) Limit() int {
	if inv == nil {
		return 0
	}
	return inv.limit
}

// Observe counts one request served by the legacy upstream. path is the
// cleaned request path and route the name of the route that matched. A
// request whose pattern is already kept does not allocate.
//
// The pattern counted is AppendPattern's with the fan-out rule applied on
// top: a literal segment stays only when a kept pattern has it under the
// same parent, when it is one of the parent's first freshChildren new
// children in the current RecentWindow, or when it was seen at least
// twice there recently; otherwise it becomes "{id}". Only that final form
// is ever kept, shown or exported.
func (inv *Inventory) Observe(path, route string) {
	if inv == nil {
		return
	}
	inv.ObserveAt(time.Now(), path, route)
}

// ObserveAt is Observe for a request answered at now, for a caller that
// has read the clock already (a clock read costs about as much as the
// rest of Observe). now places the request in the recent window.
func (inv *Inventory) ObserveAt(now time.Time, path, route string) {
	if inv == nil {
		return
	}
	var buf, out [maxPatternLen]byte
	p := AppendPattern(buf[:0], path)

	inv.mu.Lock()
	defer inv.mu.Unlock()
	m := inv.minuteOf(now)
	// A kept pattern is its own fan-out: each of its literal segments is
	// literal because the pattern is kept.
	i, ok := inv.index[string(p)]
	if !ok {
		p = inv.fanOut(out[:0], p, m)
		i, ok = inv.index[string(p)]
	}
	inv.count(p, i, ok, route, m)
}

// count counts one request with the final pattern p in minute m: at heap
// position i when kept is true, else by adding p to the table. The caller
// holds inv.mu.
func (inv *Inventory) count(p []byte, i int, kept bool, route string, m int64) {
	if kept {
		e := &inv.heap[i]
		e.Requests++
		e.Route = route
		inv.recent[i].add(m)
		inv.down(i)
		return
	}
	pattern := string(p)
	fresh := recent{last: m}
	fresh.add(m)
	inv.keep(pattern, true)
	if len(inv.heap) < inv.limit {
		inv.heap = append(inv.heap, Entry{Pattern: pattern, Requests: 1, Route: route})
		inv.recent = append(inv.recent, fresh)
		inv.index[pattern] = len(inv.heap) - 1
		inv.up(len(inv.heap) - 1)
		return
	}
	// Space-Saving: the new pattern takes the place of the least counted
	// one and inherits its count, which becomes its overcount.
	e := &inv.heap[0]
	delete(inv.index, e.Pattern)
	inv.keep(e.Pattern, false)
	*e = Entry{Pattern: pattern, Requests: e.Requests + 1, Overcount: e.Requests, Route: route}
	inv.recent[0] = fresh
	inv.index[pattern] = 0
	inv.down(0)
}

// snapshot returns a copy of the kept entries, in no particular order,
// with Recent filled in for the window ending at now.
func (inv *Inventory) snapshot(now time.Time) []Entry {
	if inv == nil {
		return nil
	}
	inv.mu.Lock()
	defer inv.mu.Unlock()
	m := inv.minuteOf(now)
	entries := slices.Clone(inv.heap)
	for i := range entries {
		entries[i].Recent = inv.recent[i].sum(m)
	}
	return entries
}

// TopRecent returns at most n kept entries (all of them when n <= 0), with
// Recent counted over the RecentWindow ending at now (the caller's clock,
// time.Now in production), by Recent descending, then Requests descending,
// then Pattern ascending: what legacy serves now comes first, and a pattern
// whose route has moved sinks once RecentWindow has passed, whatever its
// total.
func (inv *Inventory) TopRecent(now time.Time, n int) []Entry {
	return top(inv.snapshot(now), n, func(a, b Entry) int {
		if c := cmp.Compare(b.Recent, a.Recent); c != 0 {
			return c
		}
		if c := cmp.Compare(b.Requests, a.Requests); c != 0 {
			return c
		}
		return cmp.Compare(a.Pattern, b.Pattern)
	})
}

// top sorts entries with order and keeps the first n (all when n <= 0).
func top(entries []Entry, n int, order func(a, b Entry) int) []Entry {
	slices.SortFunc(entries, order)
	if n > 0 && n < len(entries) {
		entries = entries[:n:n]
	}
	return entries
}

// up moves heap[i] towards the root while it is smaller than its parent.
func (inv *Inventory) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if inv.heap[parent].Requests <= inv.heap[i].Requests {
			return
		}
		inv.swap(i, parent)
		i = parent
	}
}

// down moves heap[i] towards the leaves while it is larger than one of its
// children.
func (inv *Inventory) down(i int) {
	n := len(inv.heap)
	for {
		least := i
		for _, c := range [2]int{2*i + 1, 2*i + 2} {
			if c < n && inv.heap[c].Requests < inv.heap[least].Requests {
				least = c
			}
		}
		if least == i {
			return
		}
		inv.swap(i, least)
		i = least
	}
}

// swap exchanges two heap positions and updates the index.
func (inv *Inventory) swap(i, j int) {
	h := inv.heap
	h[i], h[j] = h[j], h[i]
	inv.recent[i], inv.recent[j] = inv.recent[j], inv.recent[i]
	inv.index[h[i].Pattern] = i
	inv.index[h[j].Pattern] = j
}
