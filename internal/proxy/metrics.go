package proxy

import (
	"net/http"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/strangler-proxy/strangler/internal/routing"
)

// metrics are the request and reload metrics of the proxy. A nil
// Registerer gives working but unregistered collectors.
type metrics struct {
	requests   *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	weight     *prometheus.GaugeVec
	moved      *prometheus.GaugeVec
	fallbacks  *prometheus.CounterVec
	shadows    *prometheus.CounterVec
	refused    *prometheus.CounterVec
	reloads    *prometheus.CounterVec
	lastOK     prometheus.Gauge
	lastOKTime prometheus.Gauge
	generation prometheus.Gauge
}

// durationBuckets span a fast cached answer (1 ms) to the default upstream
// timeout (30 s) in steps of 1.33 to 1.67 times (1, 1.5, 2, 3, 5, 7.5 per
// decade). histogram_quantile interpolates linearly inside the bucket that
// holds a quantile, so it reads 120 ms as between 100 and 150 ms (with
// buckets at .1 and .25 it read 175 ms), and 110 ms and 240 ms fall in
// different buckets. That is 28 buckets, so 31 series per route and side
// with +Inf, _sum and _count: (2 × routes + 1) × 31 in all, the catch-all
// having one side.
var durationBuckets = []float64{
	.001, .0015, .002, .003, .005, .0075,
	.01, .015, .02, .03, .05, .075,
	.1, .15, .2, .3, .5, .75,
	1, 1.5, 2, 3, 5, 7.5,
	10, 15, 20, 30,
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	m := &metrics{
		requests: f.NewCounterVec(prometheus.CounterOpts{
			Name: "strangler_requests_total",
			Help: "Requests served, by route, side (legacy or extracted), upstream, method and status code. Code 499: the client went away first.",
		}, []string{"route", "side", "upstream", "method", "code"}),
		duration: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "strangler_request_duration_seconds",
			Help:    "Time from receiving a request to the end of its response, by route, side and upstream.",
			Buckets: durationBuckets,
		}, []string{"route", "side", "upstream"}),
		weight: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "strangler_route_weight_ratio",
			Help: "Configured share (0 to 1) of a route's requests sent to its extracted service.",
		}, []string{"route", "service"}),
		moved: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "strangler_route_moved",
			Help: "1 when a route is fully moved (weight 100 and every method: no methods list), else 0; the built-in dashboard's routes fully moved counts the same.",
		}, []string{"route"}),
		fallbacks: f.NewCounterVec(prometheus.CounterOpts{
			Name: "strangler_fallbacks_total",
			Help: "Requests a route's extracted service could not take that legacy served instead, by route and reason.",
		}, []string{"route", "reason"}),
		shadows: f.NewCounterVec(prometheus.CounterOpts{
			Name: "strangler_shadow_requests_total",
			Help: "Shadow copies of a route's requests, by result: match, mismatch, error (the copy failed), dropped (the shadow queue was full), skipped (not comparable: too large, fallen back, or upgraded).",
		}, []string{"route", "result"}),
		refused: f.NewCounterVec(prometheus.CounterOpts{
			Name: "strangler_refused_requests_total",
			Help: "Requests strangler turned away itself, by reason: bad_path (400), body_too_large (413), uri_too_long (414), not_ready (503, no table yet), method_not_supported (501, CONNECT), all before any upstream saw them; body_too_slow (408, a body sent below the minimum data rate, its upstream request aborted).",
		}, []string{"reason"}),
		reloads: f.NewCounterVec(prometheus.CounterOpts{
			Name: "strangler_config_reloads_total",
			Help: "Attempts to load routes.yaml, by result (success or failure). Unchanged files are not counted.",
		}, []string{"result"}),
		lastOK: f.NewGauge(prometheus.GaugeOpts{
			Name: "strangler_config_last_reload_successful",
			Help: "1 when the last attempt to load routes.yaml succeeded, 0 when the file on disk is invalid and an older table is serving.",
		}),
		lastOKTime: f.NewGauge(prometheus.GaugeOpts{
			Name: "strangler_config_last_reload_success_timestamp_seconds",
			Help: "Unix time of the last successful load of routes.yaml.",
		}),
		generation: f.NewGauge(prometheus.GaugeOpts{
			Name: "strangler_config_generation",
			Help: "Generation number of the live routing table; it grows by one with every successful reload.",
		}),
	}
	// Every label value exists from the start, so that rate() and
	// increase() see the first failure or refusal.
	for _, result := range []string{"success", "failure"} {
		m.reloads.WithLabelValues(result)
	}
	for _, r := range []errorReply{replyBadPath, replyBodyTooLarge, replyURITooLong, replyNotReady, replyBodyTooSlow, replyMethodNotSupported} {
		m.refused.WithLabelValues(r.reason)
	}
	return m
}

// forgetRoutes removes every series of the routes of old that t no longer
// has, so that renaming routes over many reloads cannot grow the label
// sets without bound. Of a route that t keeps, it removes the request and
// latency series of an upstream the route no longer uses (its service, or
// the legacy upstream, changed), which would otherwise stay frozen.
func (m *metrics) forgetRoutes(t *routing.Table, old *routing.Table) {
	if old == nil {
		return
	}
	live := make(map[string]*routing.Route, len(t.Routes))
	for _, r := range t.Routes {
		live[r.Name] = r
	}
	for _, r := range old.Routes {
		now := live[r.Name]
		if now == nil {
			l := prometheus.Labels{"route": r.Name}
			m.requests.DeletePartialMatch(l)
			m.duration.DeletePartialMatch(l)
			m.fallbacks.DeletePartialMatch(l)
			m.shadows.DeletePartialMatch(l)
			continue
		}
		if old.Legacy != t.Legacy {
			m.forgetSide(r.Name, routing.Legacy, old.Legacy)
		}
		if !r.IsDefault() && r.Service != now.Service {
			m.forgetSide(r.Name, routing.Extracted, r.Service)
		}
	}
}

// forgetSide removes the request and latency series of one route, side
// and upstream.
func (m *metrics) forgetSide(route string, side routing.Side, upstream string) {
	l := prometheus.Labels{"route": route, "side": side.String(), "upstream": upstream}
	m.requests.DeletePartialMatch(l)
	m.duration.Delete(l)
}

// setWeights publishes the configured weights of t, and whether each route
// is fully moved, and removes the series of routes that no longer exist.
func (m *metrics) setWeights(t *routing.Table, old *routing.Table) {
	live := make(map[string]string, len(t.Routes)) // route name -> service
	for _, r := range t.Routes {
		if r.IsDefault() {
			continue
		}
		live[r.Name] = r.Service
		m.weight.WithLabelValues(r.Name, r.Service).Set(r.Weight / 100)
		m.moved.WithLabelValues(r.Name).Set(boolValue(moved(r)))
	}
	if old == nil {
		return
	}
	for _, r := range old.Routes {
		if r.IsDefault() {
			continue
		}
		service, kept := live[r.Name]
		if !kept || service != r.Service {
			m.weight.DeleteLabelValues(r.Name, r.Service)
		}
		if !kept {
			m.moved.DeleteLabelValues(r.Name)
		}
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// sideMetrics are the metric children of one route and side, resolved when
// the generation is built. Counters per method and status code are
// resolved on first use and cached without a lock.
type sideMetrics struct {
	duration prometheus.Observer
	requests *prometheus.CounterVec // curried with route, side, upstream
	byCode   sync.Map               // uint32(method<<16 | code) -> prometheus.Counter
}

func (m *metrics) forSide(route, side, upstream string) *sideMetrics {
	l := prometheus.Labels{"route": route, "side": side, "upstream": upstream}
	return &sideMetrics{
		duration: m.duration.With(l),
		requests: m.requests.MustCurryWith(l),
	}
}

// observe counts one finished request.
func (s *sideMetrics) observe(method string, code int, seconds float64) {
	s.duration.Observe(seconds)
	mi := methodIndex(method)
	key := uint32(mi)<<16 | uint32(code)
	if c, ok := s.byCode.Load(key); ok {
		c.(prometheus.Counter).Inc()
		return
	}
	c := s.requests.WithLabelValues(methodLabels[mi], strconv.Itoa(code))
	s.byCode.Store(key, c)
	c.Inc()
}

// methodLabels are the values of the method label. Any other method is
// counted as OTHER, so clients cannot grow the label set.
var methodLabels = [...]string{
	http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
	http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace, "OTHER",
}

func methodIndex(m string) int {
	switch m {
	case http.MethodGet:
		return 0
	case http.MethodHead:
		return 1
	case http.MethodPost:
		return 2
	case http.MethodPut:
		return 3
	case http.MethodPatch:
		return 4
	case http.MethodDelete:
		return 5
	case http.MethodOptions:
		return 6
	case http.MethodConnect:
		return 7
	case http.MethodTrace:
		return 8
	}
	return len(methodLabels) - 1
}
