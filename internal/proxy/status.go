package proxy

import (
	"slices"
	"sort"
	"time"

	"github.com/strangler-proxy/strangler/internal/resilience"
)

// Status is the JSON document served at /api/status: the live routing
// table and the result of the last reload.
type Status struct {
	// Ready is true once a routing table is live.
	Ready bool `json:"ready"`
	// Config is the path of the watched routes.yaml.
	Config string `json:"config,omitempty"`
	// Generation numbers the live table; it grows with every reload.
	Generation uint64 `json:"generation"`
	// LoadedAt is when the live table was swapped in.
	LoadedAt *time.Time `json:"loaded_at,omitempty"`
	// Legacy names the legacy upstream.
	Legacy string `json:"legacy,omitempty"`
	// Routes lists the live routes, longest prefix first.
	Routes []RouteStatus `json:"routes"`
	// Upstreams lists the configured upstreams by name.
	Upstreams []UpstreamStatus `json:"upstreams"`
	// LastReload is the result of the last attempt to load routes.yaml;
	// when it failed, the live table is an older one.
	LastReload *ReloadResult `json:"last_reload,omitempty"`
}

// RouteStatus describes one live route.
type RouteStatus struct {
	Name    string   `json:"name"`
	Prefix  string   `json:"prefix"`
	Service string   `json:"service"`
	Weight  float64  `json:"weight"`
	Methods []string `json:"methods,omitempty"`
	Sticky  string   `json:"sticky,omitempty"`
	Rewrite string   `json:"rewrite,omitempty"`
	// Fallback is true when legacy serves what the service cannot take.
	Fallback bool `json:"fallback"`
}

// UpstreamStatus describes one configured upstream.
type UpstreamStatus struct {
	Name    string `json:"name"`
	Timeout string `json:"timeout"`
	Legacy  bool   `json:"legacy,omitempty"`
	// Breaker, Bulkhead, Retry and Targets are the live state of the
	// upstream's protections and instances.
	resilience.UpstreamStatus
}

// Status returns a snapshot of the live table and, when r is not nil, of
// the last reload.
func (h *Handler) Status(r *Reloader) Status {
	s := Status{Routes: []RouteStatus{}, Upstreams: []UpstreamStatus{}}
	if r != nil {
		s.Config = r.Path()
		if last, ok := r.Last(); ok {
			s.LastReload = &last
		}
	}
	g := h.cur.Load()
	if g == nil {
		return s
	}
	t := g.table
	s.Ready = true
	s.Generation = g.id
	s.LoadedAt = &g.loadedAt
	s.Legacy = t.Legacy
	for _, rt := range t.Routes {
		if rt.IsDefault() {
			continue
		}
		s.Routes = append(s.Routes, RouteStatus{
			Name: rt.Name, Prefix: rt.Prefix, Service: rt.Service, Weight: rt.Weight,
			Methods: slices.Clone(rt.Methods), Sticky: rt.Sticky, Rewrite: rt.Rewrite,
			Fallback: rt.Fallback,
		})
	}
	sort.SliceStable(s.Routes, func(i, j int) bool { return len(s.Routes[i].Prefix) > len(s.Routes[j].Prefix) })
	for name, up := range g.upstreams {
		s.Upstreams = append(s.Upstreams, UpstreamStatus{
			Name: name, Timeout: up.Settings().Timeout.String(), Legacy: name == t.Legacy,
			UpstreamStatus: up.Status(),
		})
	}
	sort.Slice(s.Upstreams, func(i, j int) bool { return s.Upstreams[i].Name < s.Upstreams[j].Name })
	return s
}
