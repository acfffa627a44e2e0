package resilience

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Retry budget window: retries are bounded by Budget × the first attempts
// seen in the last budgetWindow, plus budgetFloor retries per window so that
// a quiet upstream can still retry. The window slides one bucket (1s) at a
// time.
const (
	budgetWindow  = 10 * time.Second
	budgetBuckets = 10
	budgetBucket  = budgetWindow / budgetBuckets
	budgetFloor   = 3
)

// retryReason is why an attempt may be retried. Its String is the bounded
// `reason` label of strangler_retries_total.
type retryReason uint8

const (
	reasonNone       retryReason = iota
	reasonConnect                // dial or TLS handshake failed: the request was never sent
	reasonConnection             // connection broke before the response headers
	reason502
	reason503
	reason504
	numRetryReasons
)

var reasonLabels = [numRetryReasons]string{
	"", "connect_error", "connection_error", "status_502", "status_503", "status_504",
}

func (r retryReason) String() string { return reasonLabels[r] }

// Idempotent reports whether requests with method may be retried (and
// replayed elsewhere after they may have reached the upstream): GET, HEAD and
// OPTIONS always, plus s.Methods. The method is compared case-sensitively,
// as HTTP methods are; s.Methods are upper-cased by WithDefaults.
func Idempotent(method string, s RetrySettings) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return true
	}
	return slices.Contains(s.Methods, method)
}

// replayable reports whether req's body can be sent again: no body, or a
// GetBody to get a fresh copy. A streamed body may be half consumed.
func replayable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

// classify turns the result of one attempt into an outcome and, when the
// attempt may be retried, a reason. ctx is the inbound request's context: if
// it ended, nothing is retried and a hang-up is not the upstream's fault.
//
// Retried: a failed connection attempt (dial or TLS handshake, timed out
// or not: the request was never sent), a connection that broke before any
// byte of the answer (reset, closed), and 502/503/504. Never retried: a
// timeout waiting for the response headers. The upstream has the request
// and may still be working on it; a second attempt would double the load
// on a service that is already too slow and make the client wait up to
// attempts × timeout. It counts as a failure, and the proxy answers 504 or
// falls back.
func classify(ctx context.Context, resp *http.Response, err error) (retryReason, outcome) {
	if err != nil {
		if ctx.Err() != nil {
			return reasonNone, contextOutcome(ctx)
		}
		switch {
		case sentNothing(err): // a dial or handshake timeout too
			return reasonConnect, outcomeFailure
		case isTimeout(err):
			return reasonNone, outcomeFailure
		}
		return reasonConnection, outcomeFailure
	}
	switch resp.StatusCode {
	case http.StatusBadGateway:
		return reason502, outcomeFailure
	case http.StatusServiceUnavailable:
		return reason503, outcomeFailure
	case http.StatusGatewayTimeout:
		return reason504, outcomeFailure
	}
	if resp.StatusCode >= 500 {
		return reasonNone, outcomeFailure
	}
	return reasonNone, outcomeSuccess
}

// sentNothing reports whether err proves that no byte of the request was
// written: the connection could not be made. That is a failed dial, or a
// failed TLS handshake with an https upstream: net/http's handshake
// timeout (TLSHandshakeTimeout), or a server certificate that was refused.
// net/http has no exported type for the handshake timeout (it is an
// unexported tlsHandshakeTimeoutError, a net.Error whose Timeout is true),
// so it is recognised by being such an error with exactly its text, which
// has not changed since Go 1.3; TestTLSHandshakeTimeoutIsRetried pins it
// against the real Transport. Other errors of a handshake (a reset or EOF
// from the server) cannot be told from the same errors after the request
// was written, and count as connection errors.
func sentNothing(err error) bool {
	if isDialError(err) {
		return true
	}
	var cert *tls.CertificateVerificationError
	if errors.As(err, &cert) {
		return true
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		if ne, ok := e.(net.Error); ok && ne.Timeout() && ne.Error() == tlsHandshakeTimeoutText {
			return true
		}
	}
	return false
}

// tlsHandshakeTimeoutText is the text of the error net/http's Transport
// returns when the TLS handshake took longer than TLSHandshakeTimeout.
const tlsHandshakeTimeoutText = "net/http: TLS handshake timeout"

// contextOutcome is the outcome of a request whose own context ended: a
// client that hung up (Canceled) is not counted, a deadline that passed
// while waiting for the upstream is a failure.
func contextOutcome(ctx context.Context) outcome {
	if errors.Is(ctx.Err(), context.Canceled) {
		return outcomeIgnored
	}
	return outcomeFailure
}

// retrier holds one upstream's retry policy and budget.
type retrier struct {
	s      RetrySettings
	rand   func() float64 // in [0, 1)
	budget *retryBudget
}

// eligible reports whether req may be retried at all.
func (r *retrier) eligible(req *http.Request) bool {
	return r.s.Attempts > 1 && Idempotent(req.Method, r.s) && replayable(req)
}

// delay returns the wait before retry number n (1 for the first retry):
// d = min(MaxBackoff, Backoff·2^(n-1)), drawn in [d/2, d).
func (r *retrier) delay(n int) time.Duration {
	d := r.s.Backoff
	for i := 1; i < n && d < r.s.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, r.s.MaxBackoff)
	half := d / 2
	return half + time.Duration(r.rand()*float64(d-half))
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// retryBudget counts first attempts and retries in a sliding window of
// budgetBuckets one-second buckets. Recording a request is lock-free (one
// CAS on a bucket that packs epoch<<32|count); spending a retry takes a
// per-upstream mutex so that concurrent retries never overspend.
type retryBudget struct {
	ratio    float64
	now      func() time.Time
	requests [budgetBuckets]atomic.Uint64
	mu       sync.Mutex
	retries  [budgetBuckets]atomic.Uint64 // written under mu
}

func newRetryBudget(ratio float64, now func() time.Time) *retryBudget {
	return &retryBudget{ratio: ratio, now: now}
}

func (b *retryBudget) epoch() uint64 {
	return uint64(b.now().UnixNano() / int64(budgetBucket))
}

// record counts one first attempt.
func (b *retryBudget) record() { bump(&b.requests, b.epoch()) }

// withdraw spends one retry if the budget allows it.
func (b *retryBudget) withdraw() bool {
	e := b.epoch()
	b.mu.Lock()
	defer b.mu.Unlock()
	if sum(&b.retries, e) >= b.allowed(e) {
		return false
	}
	bump(&b.retries, e)
	return true
}

func (b *retryBudget) allowed(e uint64) uint64 {
	return uint64(b.ratio*float64(sum(&b.requests, e))) + budgetFloor
}

// snapshot returns the first attempts and retries in the window and how many
// retries the budget still allows.
func (b *retryBudget) snapshot() (requests, retries, remaining uint64) {
	e := b.epoch()
	b.mu.Lock()
	defer b.mu.Unlock()
	requests, retries = sum(&b.requests, e), sum(&b.retries, e)
	if a := b.allowed(e); a > retries {
		remaining = a - retries
	}
	return requests, retries, remaining
}

const countMask = 1<<32 - 1

// bump adds one to the bucket of epoch e, resetting it if it held an older
// epoch. A bucket from a newer epoch (clock stepped back) is left alone.
func bump(ring *[budgetBuckets]atomic.Uint64, e uint64) {
	slot := &ring[e%budgetBuckets]
	for {
		old := slot.Load()
		var next uint64
		switch oe := old >> 32; {
		case oe == e&countMask:
			if old&countMask == countMask {
				return // saturated
			}
			next = old + 1
		case oe < e&countMask:
			next = (e&countMask)<<32 | 1
		default:
			return
		}
		if slot.CompareAndSwap(old, next) {
			return
		}
	}
}

// sum adds the counts of the buckets inside the window ending at epoch e.
func sum(ring *[budgetBuckets]atomic.Uint64, e uint64) uint64 {
	e &= countMask
	var n uint64
	for i := range ring {
		v := ring[i].Load()
		if oe := v >> 32; oe <= e && e-oe < budgetBuckets {
			n += v & countMask
		}
	}
	return n
}
