package proxy

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/strangler-proxy/strangler/internal/resilience"
	"github.com/strangler-proxy/strangler/internal/routing"
)

// generation is one live routing table with everything the request path
// needs prepared: a forwarder per route and side. It is immutable once
// built.
type generation struct {
	id        uint64
	table     *routing.Table
	routes    []routeForwarders // indexed by routing.Route.Index
	upstreams map[string]*resilience.Upstream
	loadedAt  time.Time
}

// routeForwarders are the two ways a route can be served. extracted is nil
// for the catch-all route.
type routeForwarders struct {
	legacy    *forwarder
	extracted *forwarder
	shadow    *shadowRoute // nil when the route copies nothing
}

func (rf *routeForwarders) side(s routing.Side) *forwarder {
	if s == routing.Extracted && rf.extracted != nil {
		return rf.extracted
	}
	return rf.legacy
}

// build prepares a generation for table t. Upstreams whose settings did not
// change keep their state (breaker, health, bulkhead, connection pool)
// from the registry. It does not touch the live generation.
func (h *Handler) build(id uint64, t *routing.Table) (*generation, error) {
	g := &generation{
		id:        id,
		table:     t,
		routes:    make([]routeForwarders, len(t.Routes)),
		upstreams: make(map[string]*resilience.Upstream, len(t.Upstreams)),
		loadedAt:  time.Now(),
	}
	for name, cfg := range t.Upstreams {
		up, err := h.upstreams.Acquire(name, cfg.Settings())
		if err != nil {
			return nil, fmt.Errorf("build upstreams: %w", err)
		}
		g.upstreams[name] = up
	}
	for _, r := range t.Routes {
		rf := &g.routes[r.Index]
		rf.legacy = newForwarder(r, routing.Legacy, g.upstreams[t.Legacy], h.metrics, h.buffers, h.log)
		live := h.live.of(r.Name)
		rf.legacy.live = &live.legacy
		if r.IsDefault() {
			continue
		}
		up := g.upstreams[r.Service]
		if up == nil {
			return nil, fmt.Errorf("route %q: unknown upstream %q", r.Name, r.Service)
		}
		rf.extracted = newForwarder(r, routing.Extracted, up, h.metrics, h.buffers, h.log)
		rf.extracted.live = &live.extracted
		if r.Fallback {
			rf.extracted.withFallback(rf.legacy, h.metrics)
		}
		if r.Shadow != nil {
			var err error
			if rf.shadow, err = h.newShadowRoute(r, g.upstreams[t.Legacy], up); err != nil {
				return nil, err
			}
		}
	}
	return g, nil
}

// upstreamNames lists the upstreams the generation uses.
func (g *generation) upstreamNames() []string {
	names := make([]string, 0, len(g.upstreams))
	for name := range g.upstreams {
		names = append(names, name)
	}
	return names
}

// newShadowRoute prepares the shadow copies of route r.
func (h *Handler) newShadowRoute(r *routing.Route, legacy, service *resilience.Upstream) (*shadowRoute, error) {
	sr := &shadowRoute{route: r, cfg: r.Shadow, lane: h.shadows.laneFor(r.Name)}
	for i, result := range shadowResults {
		sr.counters[i] = h.metrics.shadows.WithLabelValues(r.Name, result)
	}
	var err error
	if sr.legacy, err = newShadowTargets(legacy); err != nil {
		return nil, fmt.Errorf("route %q: shadow: %w", r.Name, err)
	}
	if sr.service, err = newShadowTargets(service); err != nil {
		return nil, fmt.Errorf("route %q: shadow: %w", r.Name, err)
	}
	return sr, nil
}

// newShadowTargets lists an upstream's instances for shadow copies; a copy
// may take as long as the upstream's timeout allows a real request, at
// most shadowMaxTimeout.
func newShadowTargets(up *resilience.Upstream) (*shadowTargets, error) {
	s := up.Settings()
	t := &shadowTargets{timeout: min(s.Timeout, shadowMaxTimeout)}
	if t.timeout <= 0 {
		t.timeout = shadowMaxTimeout
	}
	for _, raw := range s.Targets {
		u, err := url.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("upstream %s: target: %w", up.Name(), err)
		}
		u.Path = strings.TrimSuffix(u.Path, "/")
		t.urls = append(t.urls, u)
	}
	if len(t.urls) == 0 {
		return nil, fmt.Errorf("upstream %s: no targets", up.Name())
	}
	return t, nil
}
