package inventory

import (
	"cmp"
	"hash/maphash"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// MaxLimit is the largest number of patterns an Inventory keeps; New clamps
// larger limits to it. It is also the metric's largest cardinality.
const MaxLimit = 10000

// DefaultLimit is a limit that fits most legacy applications: a few hundred
// routes, with room for the rest.
const DefaultLimit = 500

// RecentWindow is the span Entry.Recent covers: the current minute and the
// nine before it. Counts are kept per minute, so the window moves by whole
// minutes.
const RecentWindow = recentMinutes * time.Minute

// recentMinutes is the number of per-minute counts each kept pattern has.
const recentMinutes = 10

// The fan-out rule's bookkeeping: a count-min sketch of the literal child
// segments seen outside the table (see admitted). It has sketchRows rows of
// sketchWidth one-byte counters, 256 KiB per Inventory whatever the traffic.
const (
	sketchRows  = 4
	sketchWidth = 1 << 16
	// sketchPeriod is how many counts the sketch takes before every counter
	// is halved, so that it holds at most about sketchWidth/8 distinct
	// children at a time and a child seen once rarely (about 1 in 5,000
	// under a sustained flood of distinct words) looks as if it had been
	// seen twice. The sketch is also halved once per RecentWindow.
	sketchPeriod = sketchWidth / 8
	// literalMin is how many times a child not in the table must have been
	// seen under its parent, recently, to stay literal once the parent is
	// crowded.
	literalMin = 2
	// freshChildren is how many new children a parent takes literally from
	// their first request in each RecentWindow; past that the parent is
	// crowded (a scanner, or ids made of words) and a new child needs
	// literalMin requests.
	freshChildren = 16
	// maxFreshParents bounds the parents whose new children are counted
	// per RecentWindow (about 64 KiB); a parent beyond it counts as
	// crowded until the window ends.
	maxFreshParents = 4096
)

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

// Inventory counts requests by pattern, keeping at most Limit patterns with
// the Space-Saving algorithm. It is safe for concurrent use; the zero value
// is not usable, call New. A nil *Inventory records nothing.
type Inventory struct {
	limit int
	// clock is the clock of the recent window, read outside mu.
	clock atomic.Pointer[func() time.Time]

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

// SetClock replaces the clock the recent window reads (time.Now by
// default), for tests. The window's minutes go on from the clock's current
// reading.
func (inv *Inventory) SetClock(now func() time.Time) {
	t := now()
	inv.mu.Lock()
	inv.start = t.Add(-time.Duration(inv.minute) * time.Minute)
	inv.mu.Unlock()
	inv.clock.Store(&now)
}

// now reads the clock.
func (inv *Inventory) now() time.Time {
	if c := inv.clock.Load(); c != nil {
		return (*c)()
	}
	return time.Now()
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

// Observe counts one request served by the legacy upstream. path is the
// cleaned request path and route the name of the route that matched. A
// request whose pattern is already kept does not allocate.
//
// The pattern counted is AppendPattern's with the fan-out rule applied on
// top: a literal segment stays only when a kept pattern has it under the
// same parent, when it is one of the parent's first freshChildren new
// children in the current RecentWindow, or when it was seen at least
// twice there recently; otherwise it becomes "{id}". Only that final form is ever kept, shown or exported.
func (inv *Inventory) Observe(path, route string) {
	if inv == nil {
		return
	}
	inv.ObserveAt(time.Now(), path, route)
}

// ObserveAt is Observe for a request answered at now, for a caller that
// has read the clock already (a clock read costs about as much as the
// rest of Observe). A clock set with SetClock takes precedence over now.
func (inv *Inventory) ObserveAt(now time.Time, path, route string) {
	if inv == nil {
		return
	}
	if c := inv.clock.Load(); c != nil {
		now = (*c)()
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

// fanOut appends p to dst with the fan-out rule applied, counting the
// literal children it meets in the sketch. m is the current minute. The
// caller holds inv.mu. The result is never longer than maxPatternLen: it
// has the segments of p, each at most maxSegLen bytes, some replaced by
// "{id}", which is shorter than that.
//
// Once a segment has collapsed, each literal child after it is counted
// twice: under its collapsed parent, which decides, and under its literal
// parent, so that when the collapsed segment becomes literal (at its
// second request) its children already have a count there: a new route
// "/orders/list" is shown as it is from its second request, not its third.
func (inv *Inventory) fanOut(dst, p []byte, m int64) []byte {
	if m-inv.sketchMinute >= recentMinutes {
		windows := (m - inv.sketchMinute) / recentMinutes
		inv.halve(uint(min(windows, 8)))
		inv.sketchMinute += windows * recentMinutes
		clear(inv.fresh)
	}
	collapsed := false
	for i := 0; i < len(p); {
		if p[i] == '/' {
			dst = append(dst, '/')
			i++
			continue
		}
		end := i + 1
		for end < len(p) && p[end] != '/' {
			end++
		}
		seg := p[i:end]
		n := len(dst)
		dst = append(dst, seg...)
		if seg[0] != '{' { // placeholders stay
			if key := maphash.Bytes(inv.seed, p[:end]); collapsed && inv.prefixes[key] == 0 {
				// Counted only: this parent is in no pattern, so it
				// takes none of the fresh parents' room.
				inv.seen(key)
			}
			if !inv.admitted(maphash.Bytes(inv.seed, dst), maphash.Bytes(inv.seed, dst[:n])) {
				dst = append(dst[:n], idSegment...)
				collapsed = true
			}
		}
		i = end
	}
	return dst
}

// admitted reports whether the child whose prefix hashes to key, under the
// parent whose prefix hashes to parent, stays literal: when a kept pattern
// has that prefix; when the child is one of the first freshChildren new
// children of its parent in this RecentWindow (so an application's own
// routes read as they are from their first request); or when the sketch,
// after counting this request, says the child was seen at least literalMin
// times since the counters were last halved. The count-min sketch never
// undercounts, so a child requested twice between two halvings is always
// admitted; junk seen once is admitted only when every one of its
// counters was already raised by others, which the halving keeps rare.
func (inv *Inventory) admitted(key, parent uint64) bool {
	if inv.prefixes[key] > 0 || inv.seen(key) >= literalMin {
		return true
	}
	// Seen for the first time (since the last halving).
	n, ok := inv.fresh[parent]
	if !ok && len(inv.fresh) >= maxFreshParents {
		return false
	}
	if n < freshChildren {
		inv.fresh[parent] = n + 1
		return true
	}
	return false
}

// seen counts the child whose prefix hashes to key in the sketch and
// returns its estimated count since the last halving, this request
// included.
func (inv *Inventory) seen(key uint64) uint64 {
	// Conservative update: raise only the counters below the new
	// estimate. Each row takes 16 bits of the key.
	var at [sketchRows]int
	est := uint64(0xff)
	for r := range sketchRows {
		at[r] = r*sketchWidth + int(uint16(key>>(16*r)))
		est = min(est, inv.sketch[at[r]/8]>>(at[r]%8*8)&0xff)
	}
	if est < 0xff {
		est++
		for _, j := range at {
			w, shift := &inv.sketch[j/8], uint(j%8*8)
			if *w>>shift&0xff < est {
				*w = *w&^(0xff<<shift) | est<<shift
			}
		}
	}
	if inv.sketchCounts++; inv.sketchCounts >= sketchPeriod {
		inv.halve(1)
	}
	return est
}

// halve divides every sketch counter by 2 to the power k (k at most 8).
func (inv *Inventory) halve(k uint) {
	mask := uint64(0x0101010101010101) * uint64(0xff>>k)
	for i := range inv.sketch {
		inv.sketch[i] = inv.sketch[i] >> k & mask
	}
	inv.sketchCounts = 0
}

// keep adds (or, when add is false, removes) pattern's literal prefixes to
// the prefixes of kept patterns. The caller holds inv.mu.
func (inv *Inventory) keep(pattern string, add bool) {
	for i := 0; i < len(pattern); {
		if pattern[i] == '/' {
			i++
			continue
		}
		end := i + 1
		for end < len(pattern) && pattern[end] != '/' {
			end++
		}
		if pattern[i] != '{' {
			key := maphash.String(inv.seed, pattern[:end])
			if add {
				inv.prefixes[key]++
			} else if inv.prefixes[key]--; inv.prefixes[key] == 0 {
				delete(inv.prefixes, key)
			}
		}
		i = end
	}
}

// snapshot returns a copy of the kept entries, in no particular order,
// with Recent filled in.
func (inv *Inventory) snapshot() []Entry {
	if inv == nil {
		return nil
	}
	now := inv.now()
	inv.mu.Lock()
	defer inv.mu.Unlock()
	m := inv.minuteOf(now)
	entries := slices.Clone(inv.heap)
	for i := range entries {
		entries[i].Recent = inv.recent[i].sum(m)
	}
	return entries
}

// Top returns at most n kept entries (all of them when n <= 0), by Requests
// descending, then Pattern ascending.
func (inv *Inventory) Top(n int) []Entry {
	return top(inv.snapshot(), n, func(a, b Entry) int {
		if c := cmp.Compare(b.Requests, a.Requests); c != 0 {
			return c
		}
		return cmp.Compare(a.Pattern, b.Pattern)
	})
}

// TopRecent returns at most n kept entries (all of them when n <= 0), by
// Recent descending, then Requests descending, then Pattern ascending: what
// legacy serves now comes first, and a pattern whose route has moved sinks
// once RecentWindow has passed, whatever its total.
func (inv *Inventory) TopRecent(n int) []Entry {
	return top(inv.snapshot(), n, func(a, b Entry) int {
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
