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
	fallbacks  *prometheus.CounterVec
	shadows    *prometheus.CounterVec
	refused    *prometheus.CounterVec
	reloads    *prometheus.CounterVec
	lastOK     prometheus.Gauge
	lastOKTime prometheus.Gauge
	generation prometheus.Gauge
}

// durationBuckets span a fast cached answer (0.5 ms) to the default
// upstream timeout (30 s).
var durationBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

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
			Help: "Requests strangler turned away itself, by reason: bad_path (400), body_too_large (413), uri_too_long (414), not_ready (503, no table yet), all before any upstream saw them; body_too_slow (408, a body sent below the minimum data rate, its upstream request aborted).",
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
	for _, r := range []errorReply{replyBadPath, replyBodyTooLarge, replyURITooLong, replyNotReady, replyBodyTooSlow} {
		m.refused.WithLabelValues(r.reason)
	}
	return m
}

// forgetRoutes removes every series of the routes of old that t no longer
// has, so that renaming routes over many reloads cannot grow the label
// sets without bound.
func (m *metrics) forgetRoutes(t *routing.Table, old *routing.Table) {
	if old == nil {
		return
	}
	live := make(map[string]bool, len(t.Routes))
	for _, r := range t.Routes {
		live[r.Name] = true
	}
	for _, r := range old.Routes {
		if live[r.Name] {
			continue
		}
		l := prometheus.Labels{"route": r.Name}
		m.requests.DeletePartialMatch(l)
		m.duration.DeletePartialMatch(l)
		m.fallbacks.DeletePartialMatch(l)
		m.shadows.DeletePartialMatch(l)
	}
}

// setWeights publishes the configured weights of t and removes the series
// of routes that no longer exist.
func (m *metrics) setWeights(t *routing.Table, old *routing.Table) {
	live := make(map[string]bool, len(t.Routes))
	for _, r := range t.Routes {
		if r.IsDefault() {
			continue
		}
		live[r.Name+"\x00"+r.Service] = true
		m.weight.WithLabelValues(r.Name, r.Service).Set(r.Weight / 100)
	}
	if old == nil {
		return
	}
	for _, r := range old.Routes {
		if !r.IsDefault() && !live[r.Name+"\x00"+r.Service] {
			m.weight.DeleteLabelValues(r.Name, r.Service)
		}
	}
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
