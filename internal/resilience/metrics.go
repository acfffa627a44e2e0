package resilience

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"
)

// metrics holds every collector of the package. It is built once per
// Registry; label children are resolved per Upstream at build time so the
// request path never looks a series up.
type metrics struct {
	reg        prometheus.Registerer
	collectors []prometheus.Collector

	breakerState       *prometheus.GaugeVec
	breakerTransitions *prometheus.CounterVec
	bulkheadInflight   *prometheus.GaugeVec
	bulkheadRejected   *prometheus.CounterVec
	retries            *prometheus.CounterVec
	retryBudgetSpent   *prometheus.CounterVec
	upstreamHealthy    *prometheus.GaugeVec
}

// newMetrics builds the collectors and registers them on reg. A nil reg
// leaves them unregistered (tests, or metrics not wanted).
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		reg: reg,
		breakerState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "strangler_circuit_breaker_state",
			Help: "Circuit breaker state per upstream: 0 closed, 1 half-open, 2 open.",
		}, []string{"upstream"}),
		breakerTransitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strangler_circuit_breaker_transitions_total",
			Help: "Circuit breaker state changes per upstream, by the state entered.",
		}, []string{"upstream", "to"}),
		bulkheadInflight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "strangler_bulkhead_inflight",
			Help: "Requests holding a bulkhead slot per upstream (until their response body is closed).",
		}, []string{"upstream"}),
		bulkheadRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strangler_bulkhead_rejected_total",
			Help: "Requests refused by a full bulkhead per upstream, without reaching it.",
		}, []string{"upstream"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strangler_retries_total",
			Help: "Retried attempts per upstream, by the reason the previous attempt failed.",
		}, []string{"upstream", "reason"}),
		retryBudgetSpent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strangler_retry_budget_exhausted_total",
			Help: "Retries not attempted because the upstream's retry budget was spent.",
		}, []string{"upstream"}),
		upstreamHealthy: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "strangler_upstream_healthy",
			Help: "Whether an upstream target is considered healthy (1) or not (0).",
		}, []string{"upstream", "target"}),
	}
	m.collectors = []prometheus.Collector{
		m.breakerState, m.breakerTransitions, m.bulkheadInflight, m.bulkheadRejected,
		m.retries, m.retryBudgetSpent, m.upstreamHealthy,
	}
	if reg == nil {
		return m, nil
	}
	var errs []error
	for _, c := range m.collectors {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		m.unregister()
		return nil, fmt.Errorf("register resilience metrics: %w", errors.Join(errs...))
	}
	return m, nil
}

// unregister removes every collector from the Registerer.
func (m *metrics) unregister() {
	if m.reg == nil {
		return
	}
	for _, c := range m.collectors {
		m.reg.Unregister(c)
	}
}

// upstreamMetrics are the children of one upstream, resolved once.
type upstreamMetrics struct {
	breakerState     prometheus.Gauge
	transitions      [3]prometheus.Counter // indexed by gobreaker.State
	inflight         prometheus.Gauge
	rejected         prometheus.Counter
	retries          [numRetryReasons]prometheus.Counter // indexed by retryReason
	budgetExhausted  prometheus.Counter
	healthyByAddress map[string]prometheus.Gauge
}

// forUpstream resolves (and so creates, at zero) the series of one upstream.
func (m *metrics) forUpstream(name string, targets []string) *upstreamMetrics {
	um := &upstreamMetrics{
		breakerState:     m.breakerState.WithLabelValues(name),
		inflight:         m.bulkheadInflight.WithLabelValues(name),
		rejected:         m.bulkheadRejected.WithLabelValues(name),
		budgetExhausted:  m.retryBudgetSpent.WithLabelValues(name),
		healthyByAddress: make(map[string]prometheus.Gauge, len(targets)),
	}
	for _, st := range []gobreaker.State{gobreaker.StateClosed, gobreaker.StateHalfOpen, gobreaker.StateOpen} {
		um.transitions[st] = m.breakerTransitions.WithLabelValues(name, st.String())
	}
	for r := retryReason(1); r < numRetryReasons; r++ {
		um.retries[r] = m.retries.WithLabelValues(name, r.String())
	}
	for _, t := range targets {
		um.healthyByAddress[t] = m.upstreamHealthy.WithLabelValues(name, t)
	}
	return um
}

// deleteUpstream removes every series of the named upstream.
func (m *metrics) deleteUpstream(name string) {
	l := prometheus.Labels{"upstream": name}
	m.breakerState.DeletePartialMatch(l)
	m.breakerTransitions.DeletePartialMatch(l)
	m.bulkheadInflight.DeletePartialMatch(l)
	m.bulkheadRejected.DeletePartialMatch(l)
	m.retries.DeletePartialMatch(l)
	m.retryBudgetSpent.DeletePartialMatch(l)
	m.upstreamHealthy.DeletePartialMatch(l)
}

// deleteTarget removes the health series of one target of an upstream.
func (m *metrics) deleteTarget(name, target string) {
	m.upstreamHealthy.DeleteLabelValues(name, target)
}

// boolGauge converts a health flag to a gauge value.
func boolGauge(ok bool) float64 {
	if ok {
		return 1
	}
	return 0
}
