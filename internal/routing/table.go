package routing

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Route is one compiled route of a Table. It is immutable.
type Route struct {
	// Index is the route's position in Table.Routes; the proxy keeps its
	// per-route state in a slice indexed by it.
	Index int
	// Name is the route's name in metrics and logs.
	Name string
	// Prefix is the matched path prefix ("/" for the catch-all route).
	Prefix string
	// Service is the extracted upstream ("" for the catch-all route).
	Service string
	// Weight is the share of matching requests sent to Service, in percent.
	Weight float64
	// Methods lists the methods the route applies to; empty means all.
	Methods []string
	// Sticky is the sticky key as written in routes.yaml, or "".
	Sticky string
	// Rewrite replaces Prefix on the extracted side, or "" to keep the path.
	Rewrite string
	// Fallback serves a request from legacy when Service cannot take it.
	Fallback bool
	// MaxBody is the largest request body in bytes the route accepts; 0
	// means no limit.
	MaxBody int64
	// Shadow copies requests to the other side and compares the answers;
	// nil when the route has no shadow.
	Shadow *Shadow

	threshold uint64 // weight in buckets: Pick sends a bucket below it to Service
	sticky    stickyKey
	salt      uint64
}

// Table is an immutable, compiled routing table: one configuration
// generation. It is safe for concurrent use without locks.
type Table struct {
	// Legacy is the name of the legacy upstream.
	Legacy string
	// Upstreams is the configuration's upstreams by name.
	Upstreams map[string]*UpstreamConfig
	// Routes lists every route; the catch-all route comes last.
	Routes []*Route

	byPrefix  map[string][]*Route // routes sharing a prefix, told apart by method
	prefixLen []bool              // prefixLen[n]: some prefix is n bytes long
	fallback  *Route              // the catch-all route to legacy
}

// Compile builds the Table of a loaded, valid configuration.
func Compile(cfg *Config) (*Table, error) {
	t := &Table{
		Legacy:    cfg.Legacy,
		Upstreams: cfg.Upstreams,
		byPrefix:  make(map[string][]*Route, len(cfg.Routes)),
	}
	if cfg.Upstreams[cfg.Legacy] == nil {
		return nil, fmt.Errorf("compile routes: unknown legacy upstream %q", cfg.Legacy)
	}
	maxLen := 0
	var err error
	for _, rc := range cfg.Routes {
		if rc.Weight == nil {
			return nil, fmt.Errorf("compile route %q: defaults not applied", rc.Prefix)
		}
		r := &Route{
			Index:     len(t.Routes),
			Name:      rc.Name,
			Prefix:    rc.Prefix,
			Service:   rc.Service,
			Weight:    *rc.Weight,
			Methods:   slices.Clone(rc.Methods),
			Sticky:    rc.Sticky,
			Rewrite:   rc.Rewrite,
			Fallback:  rc.Fallback == nil || *rc.Fallback,
			MaxBody:   maxBody(rc.MaxBody),
			threshold: uint64(*rc.Weight*buckets/100 + 0.5),
			sticky:    newStickyKey(rc.Sticky),
			salt:      fnv1a(14695981039346656037, rc.Prefix),
		}
		if rc.Shadow != nil {
			if r.Shadow, err = compileShadow(rc.Shadow); err != nil {
				return nil, fmt.Errorf("compile route %q: %w", rc.Name, err)
			}
		}
		t.Routes = append(t.Routes, r)
		t.byPrefix[r.Prefix] = append(t.byPrefix[r.Prefix], r)
		maxLen = max(maxLen, len(r.Prefix))
	}
	// Validation lets routes share a prefix only when each lists methods
	// and the lists are disjoint, so at most one matches a request; the
	// sort is a safeguard that keeps the file's order out of matching.
	for _, rs := range t.byPrefix {
		sort.SliceStable(rs, func(i, j int) bool { return len(rs[i].Methods) > 0 && len(rs[j].Methods) == 0 })
	}
	t.prefixLen = make([]bool, maxLen+1)
	for p := range t.byPrefix {
		t.prefixLen[len(p)] = true
	}
	t.fallback = &Route{Index: len(t.Routes), Name: DefaultRouteName, Prefix: "/"}
	t.Routes = append(t.Routes, t.fallback)
	return t, nil
}

// Match returns the route for a cleaned request path and method: the route
// with the longest prefix that matches on whole segments and accepts the
// method, or the catch-all route to legacy. It never returns nil.
func (t *Table) Match(path, method string) *Route {
	p := path
	for {
		if len(p) < len(t.prefixLen) && t.prefixLen[len(p)] {
			for _, r := range t.byPrefix[p] {
				if r.accepts(method) {
					return r
				}
			}
		}
		if len(p) <= 1 {
			return t.fallback
		}
		i := strings.LastIndexByte(p, '/')
		if i <= 0 {
			p = "/"
		} else {
			p = p[:i]
		}
	}
}

// accepts reports whether the route applies to method.
func (r *Route) accepts(method string) bool {
	return len(r.Methods) == 0 || slices.Contains(r.Methods, method)
}

// IsDefault reports whether r is the catch-all route to legacy.
func (r *Route) IsDefault() bool { return r.Service == "" }

// RewritePath returns the path to forward to the extracted service for a
// cleaned request path that matched r: Prefix replaced by Rewrite. Without
// a rewrite the path is returned unchanged.
func (r *Route) RewritePath(p string) string {
	if r.Rewrite == "" {
		return p
	}
	rest := p
	if r.Prefix != "/" {
		rest = p[len(r.Prefix):]
	}
	if strings.HasSuffix(r.Rewrite, "/") && strings.HasPrefix(rest, "/") {
		rest = rest[1:]
	}
	return r.Rewrite + rest
}

// maxBody is a route's max_body in bytes, 0 when unset.
func maxBody(b *ByteSize) int64 {
	if b == nil {
		return 0
	}
	return int64(*b)
}
