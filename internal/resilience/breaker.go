package resilience

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

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

	// failures counts the failed requests in a row, however far apart in
	// time: the consecutive_failures rule. gobreaker's own
	// ConsecutiveFailures only counts inside the rolling window (it drops
	// the failures of the oldest bucket, and every outcome of a request
	// that lasted longer than the window), so a dead upstream with light
	// traffic would never trip. Written under gobreaker's lock (count, on
	// every outcome gobreaker counts; OnStateChange, which resets it), read
	// there by ReadyToTrip and atomically by status.
	failures atomic.Uint32

	// probe moves an open breaker to half-open once OpenFor has passed,
	// so that its state and gauge change without traffic. Guarded by mu.
	mu      sync.Mutex
	probe   *time.Timer
	stopped bool
}

// newBreaker builds the breaker for s (already defaulted). onChange runs
// while gobreaker holds its lock: it must not call back into the breaker.
// Call stop when the breaker is no longer used.
func newBreaker(name string, s BreakerSettings, onChange func(from, to gobreaker.State)) *breaker {
	if s.Disabled {
		return &breaker{}
	}
	consecutive := uint32(s.ConsecutiveFailures) // validated: 1..MaxCount
	minRequests := uint64(s.MinRequests)
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
			if b.failures.Load() >= consecutive {
				return true
			}
			seen := uint64(c.TotalSuccesses) + uint64(c.TotalFailures)
			return seen >= minRequests && float64(c.TotalFailures) >= ratio*float64(seen)
		},
		IsExcluded:   func(err error) bool { return err == errIgnored },
		IsSuccessful: b.count,
		OnStateChange: func(_ string, from, to gobreaker.State) {
			b.failures.Store(0)
			b.seen.Store((b.seen.Load()>>2+1)<<2 | uint64(to))
			if to == gobreaker.StateOpen {
				b.armProbe(s.OpenFor)
			}
			onChange(from, to)
		},
	})
	return b
}

// count tells gobreaker whether err is a success, and keeps the run of
// consecutive failures. gobreaker calls it under its lock, once for every
// outcome it counts: not excluded, and reported in the generation (the
// state) the request was admitted in, however long ago that was.
func (b *breaker) count(err error) bool {
	if err == nil {
		b.failures.Store(0)
		return true
	}
	if n := b.failures.Load(); n < math.MaxUint32 {
		b.failures.Store(n + 1)
	}
	return false
}

// armProbe schedules the move from open to half-open for just after
// openFor, when gobreaker lets the next request through as a probe. It
// runs under gobreaker's lock (OnStateChange): it only arms the timer, whose
// function runs later on its own goroutine.
func (b *breaker) armProbe(openFor time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stopped {
		return
	}
	// gobreaker leaves open strictly after its expiry (now+openFor, with a
	// now taken before this call): a nanosecond later is past it.
	d := openFor + time.Nanosecond
	if b.probe == nil {
		b.probe = time.AfterFunc(d, b.refresh)
	} else {
		b.probe.Reset(d)
	}
}

// refresh asks gobreaker for its state, which moves an open breaker whose
// OpenFor has passed to half-open (and so runs OnStateChange).
func (b *breaker) refresh() { b.cb.State() }

// stop disarms the open-to-half-open timer for good; the breaker still
// works, but its state only changes with traffic.
func (b *breaker) stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.stopped = true
	if b.probe != nil {
		b.probe.Stop()
	}
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
// ConsecutiveFailures is the breaker's own run of failures in a row, the
// one consecutive_failures applies to; the other counts are gobreaker's,
// over the rolling window (closed) or the current half-open round.
func (b *breaker) state() (st gobreaker.State, c gobreaker.Counts, ok bool) {
	if b.cb == nil {
		return gobreaker.StateClosed, c, false
	}
	st, c = b.cb.State(), b.cb.Counts()
	c.ConsecutiveFailures = b.failures.Load()
	return st, c, true
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
