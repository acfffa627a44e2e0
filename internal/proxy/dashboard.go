package proxy

import (
	"net/http"
	"slices"
	"time"

	"github.com/strangler-proxy/strangler/internal/inventory"
	"github.com/strangler-proxy/strangler/internal/livestats"
	"github.com/strangler-proxy/strangler/internal/resilience"
	"github.com/strangler-proxy/strangler/internal/routing"
)

// Dashboard is the JSON document behind the built-in dashboard, served at
// /api/dashboard and streamed at /api/dashboard/events (there with the
// inventory cut to its top StreamPatterns patterns): the cutover at a
// glance over the last minute.
type Dashboard struct {
	// Time is when the snapshot was taken.
	Time time.Time `json:"time"`
	// WindowSeconds is the sliding window every windowed figure covers.
	WindowSeconds float64 `json:"window_seconds"`
	// Headline sums up the whole migration.
	Headline Headline `json:"headline"`
	// Routes has one row per route name, longest prefix first; the
	// catch-all is last.
	Routes []RouteView `json:"routes"`
	// Config is the state of routes.yaml.
	Config ConfigView `json:"config"`
	// Inventory lists the path patterns legacy still serves.
	Inventory InventoryView `json:"inventory"`
}

// Headline is the migration in three numbers.
type Headline struct {
	// Requests is the number of requests in the window, on every route.
	Requests uint64 `json:"requests"`
	// RequestsPerSecond is Requests over Seconds.
	RequestsPerSecond float64 `json:"requests_per_second"`
	// Seconds is the time Requests covers: the window, or less while
	// every route is younger than the window (since the proxy started or
	// the routes were added).
	Seconds float64 `json:"seconds"`
	// ExtractedShare is the share (0 to 1) of Requests that extracted
	// services answered; null when there was no traffic.
	ExtractedShare *float64 `json:"extracted_share"`
	// RoutesMoved counts the routes fully moved: weight 100, every method
	// (as the metric strangler_route_moved).
	RoutesMoved int `json:"routes_moved"`
	// RoutesTotal counts the routes of routes.yaml.
	RoutesTotal int `json:"routes_total"`
}

// RouteView is one row of the dashboard.
type RouteView struct {
	RouteSettings
	// Moved is true when the route sends everything to its service.
	Moved bool `json:"moved"`
	// Default marks the catch-all route, which only legacy serves.
	Default bool `json:"default"`
	// ServedShare is the share of the route's requests in the window that
	// the service answered; null when there were none.
	ServedShare *float64 `json:"served_share"`
	// Fallbacks counts the window's requests the service could not take
	// that legacy served.
	Fallbacks uint64 `json:"fallbacks"`
	// Breaker is the service's circuit breaker state: closed, half-open
	// or open; empty for the catch-all.
	Breaker string `json:"breaker"`
	// HealthyTargets and Targets count the service's instances.
	HealthyTargets int `json:"healthy_targets"`
	Targets        int `json:"targets"`
	// Legacy and Extracted are each side's figures; Extracted is null for
	// the catch-all.
	Legacy    SideView  `json:"legacy"`
	Extracted *SideView `json:"extracted"`
	// Shadow is the route's shadow results over the window, when it
	// shadows: a difference fixed in the service leaves it with the
	// window, as a fallback does.
	Shadow *ShadowParity `json:"shadow,omitempty"`
	// ShadowSinceStart is the same since the process started, as in
	// /api/status and strangler_shadow_requests_total, when it shadows.
	ShadowSinceStart *ShadowParity `json:"shadow_since_start,omitempty"`
}

// SideView is one side of a route over the window.
type SideView struct {
	Requests          uint64  `json:"requests"`
	RequestsPerSecond float64 `json:"requests_per_second"`
	// ErrorRate is the share of answers with a 5xx status; null, as the
	// latencies, when there were no requests.
	ErrorRate  *float64 `json:"error_rate"`
	P50Seconds *float64 `json:"p50_seconds"`
	P99Seconds *float64 `json:"p99_seconds"`
}

// ShadowParity is how often a route's shadow copies agreed, and how many
// could not be compared, over a span: the window (RouteView.Shadow) or
// the time since the process started (RouteView.ShadowSinceStart).
type ShadowParity struct {
	// Parity is match / (match + mismatch), null before any comparison.
	Parity   *float64 `json:"parity"`
	Match    uint64   `json:"match"`
	Mismatch uint64   `json:"mismatch"`
	// Error counts copies that failed, Dropped those the shadow queue had
	// no room for, Skipped those not comparable (too large, fallen back or
	// upgraded). When they outnumber the comparisons, parity says little:
	// the page warns.
	Error   uint64 `json:"error"`
	Dropped uint64 `json:"dropped"`
	Skipped uint64 `json:"skipped"`
}

// ConfigView is the state of routes.yaml.
type ConfigView struct {
	Path       string     `json:"path,omitempty"`
	Generation uint64     `json:"generation"`
	LoadedAt   *time.Time `json:"loaded_at,omitempty"`
	// Valid is false while the file on disk is invalid and an older table
	// serves; LastReload.Error then says why, in full.
	Valid      bool          `json:"valid"`
	LastReload *ReloadResult `json:"last_reload,omitempty"`
}

// InventoryView is the legacy traffic inventory.
type InventoryView struct {
	// Limit is how many patterns are kept at most; 0 when the inventory is
	// off.
	Limit int `json:"limit"`
	// Kept is how many patterns are kept now; Patterns may list fewer.
	Kept int `json:"kept"`
	// Requests is the number of requests legacy answered since the proxy
	// started, evicted patterns' included: the sum of the kept patterns'
	// Requests, which is exact because Space-Saving hands an evicted
	// pattern's count on to the pattern that replaces it.
	Requests uint64 `json:"requests"`
	// Recent is the number of requests of the kept patterns over the
	// recent window: the sum of every kept pattern's recent count.
	Recent uint64 `json:"recent"`
	// RecentWindowSeconds is the span each pattern's recent count covers
	// (inventory.RecentWindow, 600).
	RecentWindowSeconds float64 `json:"recent_window_seconds"`
	// Patterns are ranked by requests over the recent window, most first,
	// then by requests since the proxy started: a pattern legacy no longer
	// serves, such as one of a route fully moved, sinks to the bottom once
	// the window has passed. Each carries both counts. /api/dashboard
	// lists every kept pattern; the event stream only the top
	// StreamPatterns.
	Patterns []inventory.Entry `json:"patterns"`
}

// StreamPatterns is how many inventory patterns each event of
// /api/dashboard/events carries: with --inventory-size 10000 the whole
// list is close to a megabyte a second per open page.
const StreamPatterns = 100

// serveDashboardEvents serves /api/dashboard/events: a DashboardEvent
// snapshot at once and then every dashboardEvery, until the client goes
// away or stop is closed.
func (h *Handler) serveDashboardEvents(w http.ResponseWriter, req *http.Request, r *Reloader, stop <-chan struct{}) {
	serveEvents(w, req, "dashboard", dashboardEvery, stop, func() any {
		return h.DashboardEvent(r, time.Now())
	})
}

// DashboardEvent returns the snapshot /api/dashboard/events sends:
// Dashboard's, with the inventory cut to its top StreamPatterns patterns
// (Kept, Requests and Recent still count them all).
func (h *Handler) DashboardEvent(r *Reloader, now time.Time) Dashboard {
	d := h.Dashboard(r, now)
	p := d.Inventory.Patterns
	d.Inventory.Patterns = p[:min(len(p), StreamPatterns)]
	return d
}

// Dashboard returns the dashboard's snapshot at now; r, when not nil,
// supplies the config state.
func (h *Handler) Dashboard(r *Reloader, now time.Time) Dashboard {
	d := Dashboard{
		Time: now, WindowSeconds: livestats.Window.Seconds(),
		Routes: []RouteView{}, Config: ConfigView{Valid: true},
		Inventory: InventoryView{Patterns: []inventory.Entry{}},
	}
	if r != nil {
		d.Config.Path = r.Path()
		if last, ok := r.Last(); ok {
			d.Config.LastReload = &last
			d.Config.Valid = last.Result == "success"
		}
	}
	if h.inventory != nil {
		d.Inventory = inventoryView(h.inventory, h.inventoryTime(now))
	}
	g := h.cur.Load()
	if g == nil {
		return d
	}
	d.Config.Generation = g.id
	d.Config.LoadedAt = &g.loadedAt

	var all, extracted livestats.Summary
	seen := make(map[string]bool, len(g.table.Routes))
	for _, rt := range byPrefixLength(g.table.Routes) {
		if !rt.IsDefault() {
			d.Headline.RoutesTotal++
			if moved(rt) {
				d.Headline.RoutesMoved++
			}
		}
		if seen[rt.Name] { // routes sharing a name share their figures
			continue
		}
		seen[rt.Name] = true
		v, legacy, ext := h.routeView(g, rt, now)
		all.Add(legacy)
		all.Add(ext)
		extracted.Add(ext)
		d.Routes = append(d.Routes, v)
	}
	d.Headline.Requests = all.Requests
	d.Headline.RequestsPerSecond = all.Rate()
	d.Headline.Seconds = all.Seconds
	if all.Requests > 0 {
		d.Headline.ExtractedShare = ptr(float64(extracted.Requests) / float64(all.Requests))
	}
	return d
}

// routeView builds the row of rt and returns the window of each side.
func (h *Handler) routeView(g *generation, rt *routing.Route, now time.Time) (RouteView, livestats.Summary, livestats.Summary) {
	rf := &g.routes[rt.Index]
	legacy := rf.legacy.live.Snapshot(now)
	v := RouteView{
		RouteSettings: routeSettings(rt),
		Moved:         moved(rt), Default: rt.IsDefault(), Legacy: sideView(&legacy),
	}
	if rt.IsDefault() {
		v.Weight = 0
		return v, legacy, livestats.Summary{}
	}
	ext := rf.extracted.live.Snapshot(now)
	v.Extracted = ptr(sideView(&ext))
	v.Fallbacks = ext.Fallbacks
	if n := legacy.Requests + ext.Requests; n > 0 {
		v.ServedShare = ptr(float64(ext.Requests) / float64(n))
	}
	if up := g.upstreams[rt.Service]; up != nil {
		v.Breaker, v.HealthyTargets, v.Targets = upstreamHealth(up.Status())
	}
	if sr := rf.shadow; sr != nil {
		var total livestats.Counts
		for i := range sr.lane.counts {
			total[i] = sr.lane.counts[i].Load()
		}
		v.Shadow = shadowParity(sr.lane.recent.Snapshot(now))
		v.ShadowSinceStart = shadowParity(total)
	}
	return v, legacy, ext
}

// shadowParity sums up a route's shadow results, c, counted by result.
func shadowParity(c livestats.Counts) *ShadowParity {
	p := &ShadowParity{Match: c[shadowMatch], Mismatch: c[shadowMismatch],
		Error: c[shadowError], Dropped: c[shadowDropped], Skipped: c[shadowSkipped]}
	if n := p.Match + p.Mismatch; n > 0 {
		p.Parity = ptr(float64(p.Match) / float64(n))
	}
	return p
}

// inventoryView lists every kept pattern of inv, ranked by their requests
// in the recent window ending at now, with the totals.
func inventoryView(inv *inventory.Inventory, now time.Time) InventoryView {
	v := InventoryView{Limit: inv.Limit(), RecentWindowSeconds: inventory.RecentWindow.Seconds(),
		Patterns: inv.TopRecent(now, 0)}
	v.Kept = len(v.Patterns)
	for _, e := range v.Patterns {
		v.Requests += e.Requests
		v.Recent += e.Recent
	}
	return v
}

func upstreamHealth(s resilience.UpstreamStatus) (breaker string, healthy, total int) {
	for _, t := range s.Targets {
		if t.Healthy {
			healthy++
		}
	}
	return s.Breaker.State, healthy, len(s.Targets)
}

func sideView(s *livestats.Summary) SideView {
	v := SideView{Requests: s.Requests, RequestsPerSecond: s.Rate()}
	if r, ok := s.ErrorRatio(); ok {
		v.ErrorRate = ptr(r)
	}
	if p, ok := s.Quantile(0.5); ok {
		v.P50Seconds = ptr(p)
	}
	if p, ok := s.Quantile(0.99); ok {
		v.P99Seconds = ptr(p)
	}
	return v
}

// moved reports whether rt sends all its traffic to its service.
func moved(rt *routing.Route) bool {
	return !rt.IsDefault() && rt.Weight >= 100 && len(rt.Methods) == 0
}

// byPrefixLength returns routes longest prefix first, the catch-all last.
func byPrefixLength(routes []*routing.Route) []*routing.Route {
	out := slices.Clone(routes)
	slices.SortStableFunc(out, func(a, b *routing.Route) int { return len(b.Prefix) - len(a.Prefix) })
	return out
}

func ptr[T any](v T) *T { return &v }
