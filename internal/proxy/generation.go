package proxy

import (
	"fmt"
	"time"

	"github.com/strangler-proxy/strangler/internal/routing"
)

// generation is one live routing table with everything the request path
// needs prepared: a forwarder per route and side. It is immutable once
// built.
type generation struct {
	id       uint64
	table    *routing.Table
	routes   []routeForwarders // indexed by routing.Route.Index
	loadedAt time.Time
	keys     map[transportKey]bool
}

// routeForwarders are the two ways a route can be served. extracted is nil
// for the catch-all route.
type routeForwarders struct {
	legacy    *forwarder
	extracted *forwarder
}

func (rf *routeForwarders) side(s routing.Side) *forwarder {
	if s == routing.Extracted && rf.extracted != nil {
		return rf.extracted
	}
	return rf.legacy
}

// build prepares a generation for table t. It does not touch the live
// generation.
func (h *Handler) build(id uint64, t *routing.Table) (*generation, error) {
	g := &generation{
		id:       id,
		table:    t,
		routes:   make([]routeForwarders, len(t.Routes)),
		loadedAt: time.Now(),
		keys:     map[transportKey]bool{},
	}
	side := func(r *routing.Route, s routing.Side, name string) (*forwarder, error) {
		target, err := t.UpstreamURL(name)
		if err != nil {
			return nil, fmt.Errorf("route %q: %w", r.Name, err)
		}
		transport, key := h.transports.get(name, t.Upstreams[name])
		g.keys[key] = true
		return newForwarder(r, s, name, target, transport, h.metrics, h.buffers, h.log), nil
	}
	for _, r := range t.Routes {
		rf := &g.routes[r.Index]
		var err error
		if rf.legacy, err = side(r, routing.Legacy, t.Legacy); err != nil {
			return nil, err
		}
		if r.IsDefault() {
			continue
		}
		if rf.extracted, err = side(r, routing.Extracted, r.Service); err != nil {
			return nil, err
		}
	}
	return g, nil
}
