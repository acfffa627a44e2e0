package shadow

import (
	"slices"
	"sync"
)

// Defaults for NewLog.
const (
	DefaultPerRoute  = 20   // mismatches kept per route
	DefaultMaxRoutes = 1000 // routes kept
)

// Log keeps the most recent mismatches per route, bounded: at most perRoute
// entries per route and at most maxRoutes routes, the route updated least
// recently being evicted to make room for a new one. It is safe for
// concurrent use; a nil *Log records nothing.
//
// Add keeps the Mismatch as given, and Recent returns copies of the stored
// structs that share their headers and differences with the log: treat both
// as read-only once added.
type Log struct {
	perRoute, maxRoutes int

	mu     sync.Mutex
	seq    uint64 // bumped on every Add; orders routes by last update
	routes map[string]*ring
}

// ring holds one route's newest mismatches.
type ring struct {
	buf     []Mismatch // grows to perRoute, then wraps
	next    int        // where the next Add goes once buf is full
	updated uint64     // Log.seq at the last Add
}

// NewLog returns a Log keeping perRoute mismatches for each of at most
// maxRoutes routes. Zero or negative values mean DefaultPerRoute and
// DefaultMaxRoutes.
func NewLog(perRoute, maxRoutes int) *Log {
	if perRoute <= 0 {
		perRoute = DefaultPerRoute
	}
	if maxRoutes <= 0 {
		maxRoutes = DefaultMaxRoutes
	}
	return &Log{perRoute: perRoute, maxRoutes: maxRoutes, routes: make(map[string]*ring)}
}

// Add records m as the newest mismatch of route, dropping the route's oldest
// one when it has perRoute already, and evicting the least recently updated
// route when route is new and the log holds maxRoutes.
func (l *Log) Add(route string, m Mismatch) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seq++
	r, ok := l.routes[route]
	if !ok {
		if len(l.routes) >= l.maxRoutes {
			l.evictOldest()
		}
		r = &ring{}
		l.routes[route] = r
	}
	r.updated = l.seq
	if len(r.buf) < l.perRoute {
		r.buf = append(r.buf, m)
		return
	}
	r.buf[r.next] = m
	r.next = (r.next + 1) % len(r.buf)
}

// evictOldest drops the least recently updated route. It runs only when a
// new route arrives at a full log, so a linear scan is cheap enough.
func (l *Log) evictOldest() {
	var (
		oldest string
		seq    uint64
		found  bool
	)
	for name, r := range l.routes {
		if !found || r.updated < seq {
			oldest, seq, found = name, r.updated, true
		}
	}
	delete(l.routes, oldest)
}

// Recent returns route's mismatches, newest first, in a new slice; nil when
// the route has none.
func (l *Log) Recent(route string) []Mismatch {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	r, ok := l.routes[route]
	if !ok {
		return nil
	}
	out := make([]Mismatch, 0, len(r.buf))
	// Until buf is full next is 0 and entries are in insertion order; after
	// that the oldest is at next. Either way, walk backwards from next-1.
	for i := range len(r.buf) {
		out = append(out, r.buf[(r.next-1-i+2*len(r.buf))%len(r.buf)])
	}
	return out
}

// Routes returns the names of the routes with recorded mismatches, sorted.
func (l *Log) Routes() []string {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	names := make([]string, 0, len(l.routes))
	for name := range l.routes {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}
