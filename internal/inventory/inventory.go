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

const (
	// MaxChildren is the fan-out rule's bound: once a parent pattern has
	// MaxChildren distinct literal child segments, every child not among
	// them is shown as "{id}".
	MaxChildren = 16
	// MaxParents bounds the fan-out rule's memory: how many parent patterns
	// an Inventory remembers the children of (about 160 bytes each, so at
	// most about 1.3 MB). Once it is reached, the literal children of a
	// parent not yet remembered are shown as "{id}".
	MaxParents = 8192
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
	last   int64 // the newest minute counted, minutes since the Unix epoch
	counts [recentMinutes]uint32
}

// add counts one request in minute m. A minute older than the newest one
// counted is counted in the newest (the clock went back).
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
func (r *recent) sum(m int64) uint64 {
	var n uint64
	for k := max(r.last-recentMinutes+1, m-recentMinutes+1); k <= min(r.last, m); k++ {
		n += uint64(r.counts[k%recentMinutes])
	}
	return n
}

// minute returns the minute of t, in minutes since the Unix epoch.
func minute(t time.Time) int64 { return t.Unix() / 60 }

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
	// parents maps the hash of a parent pattern (up to and including the
	// "/" before a segment) to the literal children seen under it: the
	// fan-out rule's bookkeeping, at most MaxParents entries.
	parents map[uint64]*children
	seed    maphash.Seed
}

// children is the set of literal child segments seen under one parent, as
// hashes; it never holds more than MaxChildren and never shrinks.
type children struct {
	n      int
	hashes [MaxChildren]uint64
}

// New returns an empty Inventory that keeps at most limit patterns. A limit
// below 1 is treated as 1 and one above MaxLimit as MaxLimit.
func New(limit int) *Inventory {
	limit = min(max(limit, 1), MaxLimit)
	return &Inventory{
		limit:   limit,
		heap:    make([]Entry, 0, limit),
		index:   make(map[string]int, limit),
		recent:  make([]recent, 0, limit),
		parents: make(map[uint64]*children),
		seed:    maphash.MakeSeed(),
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
// default), for tests.
func (inv *Inventory) SetClock(now func() time.Time) {
	inv.clock.Store(&now)
}

// now reads the clock.
func (inv *Inventory) now() time.Time {
	if c := inv.clock.Load(); c != nil {
		return (*c)()
	}
	return time.Now()
}

// Observe counts one request served by the legacy upstream. path is the
// cleaned request path and route the name of the route that matched. A
// request whose pattern is already kept does not allocate.
//
// The pattern counted is AppendPattern's with the fan-out rule applied on
// top: a literal segment that is not among the first MaxChildren distinct
// ones seen under the same parent pattern becomes "{id}". Only that final
// form is ever kept, shown or exported.
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

	m := minute(now)
	inv.mu.Lock()
	defer inv.mu.Unlock()
	// A kept pattern passed the fan-out rule when it came in, and the sets
	// of children never shrink, so it would pass again unchanged.
	i, ok := inv.index[string(p)]
	if !ok {
		p = inv.fanOut(out[:0], p)
		i, ok = inv.index[string(p)]
	}
	if ok {
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
	*e = Entry{Pattern: pattern, Requests: e.Requests + 1, Overcount: e.Requests, Route: route}
	inv.recent[0] = fresh
	inv.index[pattern] = 0
	inv.down(0)
}

// fanOut appends p to dst with the fan-out rule applied, remembering the
// literal children it lets through. The caller holds inv.mu. The result is
// never longer than maxPatternLen: it has the segments of p, each at most
// maxSegLen bytes, some replaced by "{id}", which is shorter than that.
func (inv *Inventory) fanOut(dst, p []byte) []byte {
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
		if seg[0] == '{' || inv.admit(dst, seg) { // placeholders stay
			dst = append(dst, seg...)
		} else {
			dst = append(dst, idSegment...)
		}
		i = end
	}
	return dst
}

// admit reports whether the literal segment seg may show under parent (the
// pattern so far, ending in "/"), recording it when it is new and there is
// room.
func (inv *Inventory) admit(parent, seg []byte) bool {
	ph := maphash.Bytes(inv.seed, parent)
	c := inv.parents[ph]
	if c == nil {
		if len(inv.parents) >= MaxParents {
			return false
		}
		c = &children{}
		inv.parents[ph] = c
	}
	sh := maphash.Bytes(inv.seed, seg)
	for _, h := range c.hashes[:c.n] {
		if h == sh {
			return true
		}
	}
	if c.n == MaxChildren {
		return false
	}
	c.hashes[c.n] = sh
	c.n++
	return true
}

// snapshot returns a copy of the kept entries, in no particular order,
// with Recent filled in.
func (inv *Inventory) snapshot() []Entry {
	if inv == nil {
		return nil
	}
	m := minute(inv.now())
	inv.mu.Lock()
	defer inv.mu.Unlock()
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
