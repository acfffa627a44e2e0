package proxy

import (
	"slices"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/strangler-proxy/strangler/internal/resilience"
	"github.com/strangler-proxy/strangler/internal/routing"
	"github.com/strangler-proxy/strangler/internal/shadow"
)

// Status is the JSON document served at /api/status: the live routing
// table and the result of the last reload.
type Status struct {
	// Ready is true once a routing table is live, until a shutdown begins
	// (as /readyz).
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

// RouteSettings are a live route's settings from routes.yaml, as the
// admin API shows them in /api/status and /api/dashboard.
type RouteSettings struct {
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

func routeSettings(rt *routing.Route) RouteSettings {
	return RouteSettings{
		Name: rt.Name, Prefix: rt.Prefix, Service: rt.Service, Weight: rt.Weight,
		Methods: slices.Clone(rt.Methods), Sticky: rt.Sticky, Rewrite: rt.Rewrite,
		Fallback: rt.Fallback,
	}
}

// RouteStatus describes one live route.
type RouteStatus struct {
	RouteSettings
	// Fallbacks counts, on a route with fallback, the requests legacy
	// served because the service could not take them, since the process
	// started (while the route keeps its name), by reason: breaker_open,
	// bulkhead_full, no_healthy_target, connect_error, timeout,
	// upstream_error, bad_status. The numbers are those of
	// strangler_fallbacks_total. Absent on a route without fallback.
	Fallbacks map[string]uint64 `json:"fallbacks,omitempty"`
	// Shadow describes the route's shadow copies, when it has any.
	Shadow *ShadowStatus `json:"shadow,omitempty"`
}

// fallbackCounts reads the fallback counters of a route's extracted side,
// or returns nil when it does not fall back.
func fallbackCounts(f *forwarder) map[string]uint64 {
	if f == nil || f.fallback == nil {
		return nil
	}
	out := make(map[string]uint64, len(f.fallbacks))
	for reason, c := range f.fallbacks {
		out[reason] = counterValue(c)
	}
	return out
}

// counterValue returns the current value of a Prometheus counter (0 if it
// cannot be read). It allocates: admin handlers only.
func counterValue(c prometheus.Counter) uint64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return 0
	}
	return uint64(m.GetCounter().GetValue())
}

// ShadowStatus is a route's shadow setting and its results since the
// process started (they survive reloads while the route keeps its name).
type ShadowStatus struct {
	Percent float64  `json:"percent"`
	Methods []string `json:"methods"`
	// Headers are the response headers compared (shadow.headers less
	// those ignore leaves out).
	Headers  []string `json:"headers"`
	Ignore   []string `json:"ignore,omitempty"`
	MaxBody  int64    `json:"max_body"`
	Match    uint64   `json:"match"`
	Mismatch uint64   `json:"mismatch"`
	Error    uint64   `json:"error"`
	Dropped  uint64   `json:"dropped"`
	Skipped  uint64   `json:"skipped"`
	// Parity is match / (match + mismatch), or null before any comparison.
	Parity *float64 `json:"parity"`
}

func newShadowStatus(sr *shadowRoute) *ShadowStatus {
	c := &sr.lane.counts
	st := &ShadowStatus{
		Percent: sr.cfg.Percent, Methods: slices.Clone(sr.cfg.Methods),
		Headers: sr.cfg.Rules.ComparedHeaders(), Ignore: slices.Clone(sr.cfg.Ignore),
		MaxBody: sr.cfg.MaxBody,
		Match:   c[shadowMatch].Load(), Mismatch: c[shadowMismatch].Load(), Error: c[shadowError].Load(),
		Dropped: c[shadowDropped].Load(), Skipped: c[shadowSkipped].Load(),
	}
	if n := st.Match + st.Mismatch; n > 0 {
		p := float64(st.Match) / float64(n)
		st.Parity = &p
	}
	return st
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
	s.Ready = !h.stopping.Load()
	s.Generation = g.id
	s.LoadedAt = &g.loadedAt
	s.Legacy = t.Legacy
	for _, rt := range t.Routes {
		if rt.IsDefault() {
			continue
		}
		s.Routes = append(s.Routes, RouteStatus{
			RouteSettings: routeSettings(rt),
			Fallbacks:     fallbackCounts(g.routes[rt.Index].extracted),
		})
		if sr := g.routes[rt.Index].shadow; sr != nil {
			s.Routes[len(s.Routes)-1].Shadow = newShadowStatus(sr)
		}
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

// ShadowReport is the JSON document served at /api/shadow/{route}.
type ShadowReport struct {
	Route  string        `json:"route"`
	Shadow *ShadowStatus `json:"shadow"`
	// Mismatches are the most recent disagreements, newest first, with
	// secret-bearing headers redacted.
	Mismatches []shadow.Mismatch `json:"mismatches"`
}

// ShadowReport returns the shadow report of the live route called name,
// and false when no live route of that name has a shadow.
func (h *Handler) ShadowReport(name string) (ShadowReport, bool) {
	g := h.cur.Load()
	if g == nil {
		return ShadowReport{}, false
	}
	for _, rt := range g.table.Routes {
		if sr := g.routes[rt.Index].shadow; sr != nil && rt.Name == name {
			// Counts first: a mismatch is logged before it is counted, so
			// every mismatch the counts include is in the list read after.
			st := newShadowStatus(sr)
			m := h.shadows.mismatches.Recent(name)
			if m == nil {
				m = []shadow.Mismatch{}
			}
			return ShadowReport{Route: name, Shadow: st, Mismatches: m}, true
		}
	}
	return ShadowReport{}, false
}
