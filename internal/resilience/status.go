package resilience

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/sony/gobreaker/v2"
)

// UpstreamStatus is a JSON-ready snapshot of one upstream for the admin
// /api/status endpoint. It contains target addresses: admin listener only.
type UpstreamStatus struct {
	Name     string         `json:"name"`
	Breaker  BreakerStatus  `json:"breaker"`
	Bulkhead BulkheadStatus `json:"bulkhead"`
	Retry    RetryStatus    `json:"retry"`
	Targets  []TargetStatus `json:"targets"`
}

// BreakerStatus is the circuit breaker part of UpstreamStatus. Counts cover
// the current window (closed) or the current half-open round, except
// ConsecutiveFailures: the failures in a row since the last success or
// change of state, however long ago (what consecutive_failures applies to).
type BreakerStatus struct {
	// State is "closed", "half-open", "open" or "disabled".
	State                string `json:"state"`
	Requests             uint32 `json:"requests"`
	Successes            uint32 `json:"successes"`
	Failures             uint32 `json:"failures"`
	Excluded             uint32 `json:"excluded"`
	ConsecutiveSuccesses uint32 `json:"consecutive_successes"`
	ConsecutiveFailures  uint32 `json:"consecutive_failures"`
	// Transitions counts the state changes since the process started, by
	// the state entered ("closed", "half-open", "open"), as
	// strangler_circuit_breaker_transitions_total does.
	Transitions map[string]uint64 `json:"transitions"`
}

// BulkheadStatus is the bulkhead part of UpstreamStatus. MaxConcurrent 0
// means unlimited.
type BulkheadStatus struct {
	InFlight      int64  `json:"in_flight"`
	Waiting       int64  `json:"waiting"`
	MaxConcurrent int    `json:"max_concurrent"`
	MaxWaiting    int    `json:"max_waiting"`
	MaxWait       string `json:"max_wait"`
	// Rejected counts the requests the bulkhead refused since the process
	// started, as strangler_bulkhead_rejected_total does.
	Rejected uint64 `json:"rejected"`
}

// RetryStatus is the retry part of UpstreamStatus: the sliding window (10s)
// counts behind the retry budget, and the retries since the process
// started.
type RetryStatus struct {
	Attempts        int     `json:"attempts"`
	Budget          float64 `json:"budget"`
	WindowRequests  uint64  `json:"window_requests"`
	WindowRetries   uint64  `json:"window_retries"`
	BudgetRemaining uint64  `json:"budget_remaining"`
	// Retries counts the retries since the process started, by the reason
	// the previous attempt failed ("connect_error", "connection_error",
	// "status_502", "status_503", "status_504"), as
	// strangler_retries_total does.
	Retries map[string]uint64 `json:"retries"`
	// BudgetExhausted counts the retries not attempted because the budget
	// was spent, as strangler_retry_budget_exhausted_total does.
	BudgetExhausted uint64 `json:"budget_exhausted"`
}

// TargetStatus is one target of UpstreamStatus.
type TargetStatus struct {
	URL      string `json:"url"`
	Healthy  bool   `json:"healthy"`
	InFlight int64  `json:"in_flight"`
	// ConsecutiveFailures counts failed real attempts (passive check).
	ConsecutiveFailures int64 `json:"consecutive_failures"`
	// LastCheck and LastError describe the last active check, if any.
	LastCheck time.Time `json:"last_check,omitzero"`
	LastError string    `json:"last_error,omitempty"`
}

// Status returns a snapshot of the upstream. It takes the breaker's and the
// health lock briefly; call it from admin handlers, not per request.
//
// The counts "since the process started" are read from the upstream's
// Prometheus counters, the one record of them: they survive reloads that
// rebuild the upstream, and start again from zero only when the upstream
// is removed from routes.yaml and added back.
func (u *Upstream) Status() UpstreamStatus {
	s := UpstreamStatus{Name: u.name}

	st, c, on := u.breaker.state()
	s.Breaker = BreakerStatus{
		State:                st.String(),
		Requests:             c.Requests,
		Successes:            c.TotalSuccesses,
		Failures:             c.TotalFailures,
		Excluded:             c.TotalExclusions,
		ConsecutiveSuccesses: c.ConsecutiveSuccesses,
		ConsecutiveFailures:  c.ConsecutiveFailures,
	}
	if !on {
		s.Breaker.State = "disabled"
	}
	s.Breaker.Transitions = make(map[string]uint64, len(u.m.transitions))
	for _, st := range []gobreaker.State{gobreaker.StateClosed, gobreaker.StateHalfOpen, gobreaker.StateOpen} {
		s.Breaker.Transitions[st.String()] = counterValue(u.m.transitions[st])
	}

	bs := u.settings.Bulkhead
	s.Bulkhead = BulkheadStatus{
		InFlight:      u.bulkhead.inflight.Load(),
		Waiting:       u.bulkhead.waiting.Load(),
		MaxConcurrent: bs.MaxConcurrent,
		MaxWaiting:    bs.MaxWaiting,
		MaxWait:       bs.MaxWait.String(),
		Rejected:      counterValue(u.m.rejected),
	}

	reqs, retries, remaining := u.retry.budget.snapshot()
	s.Retry = RetryStatus{
		Attempts:        u.settings.Retry.Attempts,
		Budget:          u.settings.Retry.Budget,
		WindowRequests:  reqs,
		WindowRetries:   retries,
		BudgetRemaining: remaining,
		Retries:         make(map[string]uint64, numRetryReasons-1),
		BudgetExhausted: counterValue(u.m.budgetExhausted),
	}
	for r := retryReason(1); r < numRetryReasons; r++ {
		s.Retry.Retries[r.String()] = counterValue(u.m.retries[r])
	}

	b := u.balancer
	for _, t := range b.targets {
		b.usable(t) // let a target whose cool-down is over come back
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, t := range b.targets {
		s.Targets = append(s.Targets, TargetStatus{
			URL:                 t.raw,
			Healthy:             t.healthy.Load(),
			InFlight:            t.inflight.Load(),
			ConsecutiveFailures: t.fails.Load(),
			LastCheck:           t.lastCheck,
			LastError:           t.lastErr,
		})
	}
	return s
}

// counterValue returns the current value of a Prometheus counter, for
// status documents that show what the metrics count (0 if it cannot be
// read). It allocates: admin handlers only.
func counterValue(c prometheus.Counter) uint64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return 0
	}
	return uint64(m.GetCounter().GetValue())
}
