package resilience

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// Health of a target has two inputs:
//
//   - passive: every real attempt reports its outcome (observe). After
//     unhealthy_after consecutive failures the target is ejected, unless it
//     is the last healthy one (a whole-upstream failure is the breaker's
//     business, and ejecting the last target would only turn a 5xx into
//     ErrNoHealthyTarget). Without active checks it comes back by itself
//     after the cool-down (breaker.open_for); with active checks it needs
//     healthy_after successful checks.
//   - active: when health.path is set, one goroutine per target GETs the
//     health URL every interval (checkLoop). unhealthy_after consecutive
//     failed checks mark it unhealthy, healthy_after consecutive successful
//     checks mark it healthy again. Checkers exit when their context ends.
//
// Targets start healthy. Every transition is logged once and sets the
// strangler_upstream_healthy gauge.

// observe records the outcome of one real attempt against t.
func (b *balancer) observe(t *target, o outcome) {
	switch o {
	case outcomeSuccess:
		if t.fails.Load() != 0 {
			t.fails.Store(0)
		}
	case outcomeFailure:
		if t.fails.Add(1) >= b.unhealthyAfter {
			b.eject(t)
		}
	}
}

// eject marks t unhealthy after failed real attempts.
func (b *balancer) eject(t *target) {
	b.mu.Lock()
	defer b.mu.Unlock()
	t.fails.Store(0)
	if !t.healthy.Load() || !b.anyHealthyExcept(t) {
		return
	}
	t.checkOK = 0
	if !b.active {
		t.ejectedUntil.Store(b.now().Add(b.cooldown).UnixNano())
	}
	b.setHealthy(t, false, "failed requests", "consecutive_failures", b.unhealthyAfter)
}

// restore brings back a passively ejected target whose cool-down is over.
func (b *balancer) restore(t *target) {
	b.mu.Lock()
	defer b.mu.Unlock()
	until := t.ejectedUntil.Load()
	if t.healthy.Load() || until == 0 || b.now().UnixNano() < until {
		return
	}
	t.ejectedUntil.Store(0)
	b.setHealthy(t, true, "cool-down over", "cooldown", b.cooldown)
}

// recordCheck records the result of one active check of t.
func (b *balancer) recordCheck(t *target, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	t.lastCheck = b.now()
	if err == nil {
		t.lastErr = ""
		t.checkFails = 0
		t.checkOK++
		if !t.healthy.Load() && t.checkOK >= b.healthyAfter {
			t.fails.Store(0)
			t.ejectedUntil.Store(0)
			b.setHealthy(t, true, "health checks passed", "consecutive_successes", t.checkOK)
		}
		return
	}
	t.lastErr = err.Error()
	t.checkOK = 0
	t.checkFails++
	if t.healthy.Load() && t.checkFails >= b.unhealthyAfter {
		b.setHealthy(t, false, "health checks failed", "consecutive_failures", t.checkFails, "error", err)
	}
}

// setHealthy flips t's health, its gauge, and logs once. Call with b.mu held.
func (b *balancer) setHealthy(t *target, healthy bool, why string, attrs ...any) {
	t.healthy.Store(healthy)
	if b.retired.Load() {
		return
	}
	t.gauge.Set(boolGauge(healthy))
	attrs = append([]any{"target", t.raw, "reason", why}, attrs...)
	if healthy {
		b.log.Info("upstream target healthy", attrs...)
	} else {
		b.log.Warn("upstream target unhealthy", attrs...)
	}
}

// startChecks starts one checker goroutine per target; they stop when ctx
// ends and wg tracks them.
func (b *balancer) startChecks(ctx context.Context, wg *sync.WaitGroup, rt http.RoundTripper, s HealthSettings) {
	if !b.active {
		return
	}
	for _, t := range b.targets {
		wg.Go(func() { b.checkLoop(ctx, rt, t, s) })
	}
}

func (b *balancer) checkLoop(ctx context.Context, rt http.RoundTripper, t *target, s HealthSettings) {
	tick := time.NewTicker(s.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			b.checkOnce(ctx, rt, t, s.Timeout)
		}
	}
}

// checkOnce runs one active check of t and records it, unless ctx ended
// (shutdown is not a failed check).
func (b *balancer) checkOnce(ctx context.Context, rt http.RoundTripper, t *target, timeout time.Duration) {
	err := probe(ctx, rt, t.healthURL, timeout)
	if ctx.Err() != nil {
		return
	}
	b.recordCheck(t, err)
}

// probe GETs url and succeeds on a 2xx or 3xx answer within timeout.
func probe(ctx context.Context, rt http.RoundTripper, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("health check: %w", err)
	}
	req.Header.Set("User-Agent", "strangler-health-check")
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return fmt.Errorf("health check: %w", err)
	}
	drain(resp.Body)
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return fmt.Errorf("health check: status %d", resp.StatusCode)
	}
	return nil
}

// drain reads a little of body, so the connection can be reused, and closes
// it.
func drain(body io.ReadCloser) {
	_, _ = io.CopyN(io.Discard, body, 4<<10)
	_ = body.Close()
}
