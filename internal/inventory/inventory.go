package inventory

import (
	"cmp"
	"slices"
	"sync"
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
}

// New returns an empty Inventory that keeps at most limit patterns. A limit
// below 1 is treated as 1 and one above MaxLimit as MaxLimit.
func New(limit int) *Inventory {
	limit = min(max(limit, 1), MaxLimit)
	return &Inventory{
		limit: limit,
		heap:  make([]Entry, 0, limit),
		index: make(map[string]int, limit),
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
func (inv *Inventory) Observe(path, route string) {
	if inv == nil {
		return
	}
	var buf [maxPatternLen]byte
	p := AppendPattern(buf[:0], path)

	inv.mu.Lock()
	defer inv.mu.Unlock()
	if i, ok := inv.index[string(p)]; ok {
		e := &inv.heap[i]
		e.Requests++
		e.Route = route
		inv.down(i)
		return
	}
	pattern := string(p)
	if len(inv.heap) < inv.limit {
		inv.heap = append(inv.heap, Entry{Pattern: pattern, Requests: 1, Route: route})
		inv.index[pattern] = len(inv.heap) - 1
		inv.up(len(inv.heap) - 1)
		return
	}
	// Space-Saving: the new pattern takes the place of the least counted
	// one and inherits its count, which becomes its overcount.
	e := &inv.heap[0]
	delete(inv.index, e.Pattern)
	*e = Entry{Pattern: pattern, Requests: e.Requests + 1, Overcount: e.Requests, Route: route}
	inv.index[pattern] = 0
	inv.down(0)
}

// snapshot returns a copy of the kept entries, in no particular order.
func (inv *Inventory) snapshot() []Entry {
	if inv == nil {
		return nil
	}
	inv.mu.Lock()
	defer inv.mu.Unlock()
	return slices.Clone(inv.heap)
}

// Top returns at most n kept entries (all of them when n <= 0), by Requests
// descending, then Pattern ascending.
func (inv *Inventory) Top(n int) []Entry {
	entries := inv.snapshot()
	slices.SortFunc(entries, func(a, b Entry) int {
		if c := cmp.Compare(b.Requests, a.Requests); c != 0 {
			return c
		}
		return cmp.Compare(a.Pattern, b.Pattern)
	})
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
	inv.index[h[i].Pattern] = i
	inv.index[h[j].Pattern] = j
}
