package resilience

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/sony/gobreaker/v2"
)

// outcome is what one request (or one attempt) tells the breaker and the
// passive health check.
type outcome uint8

const (
	outcomeSuccess outcome = iota // answered, status < 500
	outcomeFailure                // transport error, timeout or 5xx
	outcomeIgnored                // client went away, or never sent: not counted
)

// Sentinels handed to gobreaker's done callback. gobreaker only sees errors,
// so the outcome is encoded as nil / errFailed / errIgnored.
var (
	errFailed  = errors.New("upstream request failed")
	errIgnored = errors.New("outcome ignored")
)

func (o outcome) err() error {
	switch o {
	case outcomeFailure:
		return errFailed
	case outcomeIgnored:
		return errIgnored
	}
	return nil
}

// doneFunc reports the outcome of an allowed request. Call it exactly once.
type doneFunc = func(error)

func noopDone(error) {}

// breaker is a thin wrapper over gobreaker's TwoStepCircuitBreaker: the
// caller decides what a failure is and must call done exactly once.
type breaker struct {
	cb *gobreaker.TwoStepCircuitBreaker[struct{}] // nil when disabled

	// seen is the state as of the last transition, packed with a count of
	// transitions (count<<2 | state). gobreaker's OnStateChange writes it
	// under gobreaker's lock, so it only grows; allow compares it around
	// Allow to learn the state a request was admitted in without taking
	// that lock again.
	seen atomic.Uint64
}

// newBreaker builds the breaker for s (already defaulted). onChange runs
// while gobreaker holds its lock: it must not call back into the breaker.
func newBreaker(name string, s BreakerSettings, onChange func(from, to gobreaker.State)) *breaker {
	if s.Disabled {
		return &breaker{}
	}
	consecutive := uint32(s.ConsecutiveFailures)
	minRequests := uint32(s.MinRequests)
	ratio := s.FailureRatio
	b := &breaker{}
	b.seen.Store(uint64(gobreaker.StateClosed))
	b.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:         name,
		MaxRequests:  uint32(s.HalfOpenRequests),
		Interval:     s.Window,
		BucketPeriod: s.Window / breakerBucketsPerWindow,
		Timeout:      s.OpenFor,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			if c.ConsecutiveFailures >= consecutive {
				return true
			}
			seen := c.TotalSuccesses + c.TotalFailures
			return seen >= minRequests && float64(c.TotalFailures) >= ratio*float64(seen)
		},
		IsExcluded: func(err error) bool { return err == errIgnored },
		OnStateChange: func(_ string, from, to gobreaker.State) {
			b.seen.Store((b.seen.Load()>>2+1)<<2 | uint64(to))
			onChange(from, to)
		},
	})
	return b
}

// allow asks whether a request may proceed. On success the returned done
// must be called exactly once with outcome.err(), and probe tells whether
// the request was admitted as one of the half-open probes: such a request
// gets exactly one attempt, so that half_open_requests bounds what reaches
// a recovering upstream. When the state changed while the request was
// being admitted, probe is true as well (the safe side: no retry). The
// error wraps ErrBreakerOpen (and so ErrNotSent).
func (b *breaker) allow() (done doneFunc, probe bool, err error) {
	if b.cb == nil {
		return noopDone, false, nil
	}
	before := b.seen.Load()
	done, err = b.cb.Allow()
	if err != nil {
		if errors.Is(err, gobreaker.ErrTooManyRequests) {
			return nil, false, fmt.Errorf("%w: half-open, probes in flight", ErrBreakerOpen)
		}
		return nil, false, ErrBreakerOpen
	}
	after := b.seen.Load()
	return done, after != before || gobreaker.State(after&3) == gobreaker.StateHalfOpen, nil
}

// state returns the current state (moving open to half-open when OpenFor
// has passed) and counts. ok is false when the breaker is disabled.
func (b *breaker) state() (st gobreaker.State, c gobreaker.Counts, ok bool) {
	if b.cb == nil {
		return gobreaker.StateClosed, c, false
	}
	return b.cb.State(), b.cb.Counts(), true
}

// breakerGauge maps a state to the strangler_circuit_breaker_state value.
func breakerGauge(st gobreaker.State) float64 {
	switch st {
	case gobreaker.StateHalfOpen:
		return 1
	case gobreaker.StateOpen:
		return 2
	}
	return 0
}
