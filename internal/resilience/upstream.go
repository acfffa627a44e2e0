package resilience

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/strangler-proxy/strangler/internal/h1client"
)

// Upstream is one resilient upstream: an http.RoundTripper to be used as the
// Transport of an httputil.ReverseProxy. Build it with Registry.Acquire.
//
// RoundTrip expects the request URL's path and query to be what the upstream
// should see (the proxy's Rewrite sets them) and ignores its scheme and host:
// every attempt goes to a target picked here, with the target's base path
// joined in front and the Host header set to the target host.
//
// The bulkhead slot, the breaker verdict and the target's in-flight count are
// held until the response body is closed or read to EOF; the caller must
// close it (httputil.ReverseProxy always does).
type Upstream struct {
	name     string
	settings Settings // defaulted
	log      *slog.Logger

	rt        http.RoundTripper
	transport *h1client.Transport // ours to close; nil when injected

	bulkhead *bulkhead
	breaker  *breaker
	balancer *balancer
	retry    retrier
	m        *upstreamMetrics

	cancel  context.CancelFunc
	checks  sync.WaitGroup
	retired atomic.Bool
}

// upstreamDeps are what the Registry hands to every Upstream it builds.
type upstreamDeps struct {
	ctx       context.Context
	log       *slog.Logger
	metrics   *metrics
	now       func() time.Time
	rand      func() float64
	transport http.RoundTripper
}

// newUpstream builds an Upstream from defaulted, validated settings and
// starts its health checkers.
func newUpstream(name string, s Settings, d upstreamDeps) (*Upstream, error) {
	u := &Upstream{
		name:     name,
		settings: s,
		log:      d.log.With("upstream", name),
		m:        d.metrics.forUpstream(name, s.Targets),
	}
	u.rt = d.transport
	if u.rt == nil {
		u.transport = newTransport(s.Timeout)
		u.rt = u.transport
	}
	u.balancer = &balancer{
		healthyAfter:   int64(s.Health.HealthyAfter),
		unhealthyAfter: int64(s.Health.UnhealthyAfter),
		active:         s.Health.Path != "",
		cooldown:       s.Breaker.OpenFor,
		now:            d.now,
		log:            u.log,
		retired:        &u.retired,
	}
	for _, raw := range s.Targets {
		t, err := newTarget(raw, s.Health.Path, u.m.healthyByAddress[raw])
		if err != nil {
			return nil, fmt.Errorf("upstream %s: target %q: %w", name, raw, err)
		}
		u.balancer.targets = append(u.balancer.targets, t)
	}
	u.bulkhead = newBulkhead(s.Bulkhead, u.m)
	u.breaker = newBreaker(name, s.Breaker, u.onBreakerChange)
	u.retry = retrier{s: s.Retry, rand: d.rand, budget: newRetryBudget(s.Retry.Budget, d.now)}
	u.m.breakerState.Set(0)

	ctx, cancel := context.WithCancel(d.ctx)
	u.cancel = cancel
	u.balancer.startChecks(ctx, &u.checks, u.rt, s.Health)
	return u, nil
}

// Connection pool settings of every upstream's transport.
const (
	maxDialTimeout = 5 * time.Second // or the upstream's timeout if shorter
	maxIdlePerHost = 256
	idleTimeout    = 90 * time.Second
)

// newTransport returns the tuned transport of one upstream: bodyless GETs
// and the like go through h1client on the request's own goroutine; the rest
// through a net/http Transport with the same pool settings. Both keep many
// idle connections per host, speak HTTP/1.1 only, pass bodies through
// untouched, ignore any environment proxy and use timeout as the response
// header timeout. A dial gives up after maxDialTimeout or timeout,
// whichever is shorter, or at the dial deadline of a retry (see dial).
func newTransport(timeout time.Duration) *h1client.Transport {
	dial := dialer(min(maxDialTimeout, timeout))
	return &h1client.Transport{
		Fallback: &http.Transport{
			DialContext:           dial,
			MaxIdleConns:          0,
			MaxIdleConnsPerHost:   maxIdlePerHost,
			IdleConnTimeout:       idleTimeout,
			TLSHandshakeTimeout:   5 * time.Second,
			ExpectContinueTimeout: 1 * time.Second,
			ResponseHeaderTimeout: timeout,
			ForceAttemptHTTP2:     false,
			DisableCompression:    true,
		},
		Dial:                  dial,
		MaxIdlePerHost:        maxIdlePerHost,
		IdleTimeout:           idleTimeout,
		ResponseHeaderTimeout: timeout,
	}
}

// dialDeadlineKey is the context key of the time by which a retry's dial
// must be done: the end of the upstream's timeout, counted from the first
// attempt of the request.
type dialDeadlineKey struct{}

// dialer returns a dial function that gives up after timeout, or at the
// dial deadline the context carries if that comes first. A dial that gives
// up fails with a *net.OpError (Op "dial") that is a net.Error timeout.
// net/http dials with a context detached from the request's cancellation
// but with its values, so the deadline reaches both transports.
func dialer(timeout time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if dl, ok := ctx.Value(dialDeadlineKey{}).(time.Time); ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, dl)
			defer cancel()
		}
		return d.DialContext(ctx, network, addr)
	}
}

// Name returns the upstream's name (its metric label).
func (u *Upstream) Name() string { return u.name }

// Settings returns the defaulted settings the upstream was built with.
func (u *Upstream) Settings() Settings {
	s := u.settings
	s.Targets = slices.Clone(s.Targets)
	s.Retry.Methods = slices.Clone(s.Retry.Methods)
	return s
}

// Idempotent reports whether requests with method may be retried by this
// upstream (see the package-level Idempotent).
func (u *Upstream) Idempotent(method string) bool { return Idempotent(method, u.settings.Retry) }

// RoundTrip sends req through bulkhead, breaker, target picking and retries
// (none for a half-open probe). The response body carries the idle deadline
// described on Settings.Timeout.
// Errors are wrapped with the upstream name (never a target address, except
// inside wrapped transport errors, which are for logs only); errors.Is
// matches ErrBreakerOpen, ErrBulkheadFull, ErrNoHealthyTarget, ErrNotSent,
// context.Canceled and context.DeadlineExceeded.
func (u *Upstream) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := u.bulkhead.acquire(req.Context()); err != nil {
		closeRequestBody(req)
		return nil, u.wrap(err)
	}
	done, probe, err := u.breaker.allow()
	if err != nil {
		u.bulkhead.release()
		closeRequestBody(req)
		return nil, u.wrap(err)
	}
	spill := isSpillover(req.Context())
	if spill {
		done = ignoreVerdict(done)
	}
	resp, t, o, err := u.forward(req, probe, spill)
	if err != nil {
		done(o.err())
		u.bulkhead.release()
		return nil, u.wrap(err)
	}
	resp.Body = u.newBody(req.Context(), resp, t, done, o, spill)
	return resp, nil
}

// forward runs the attempts of one request. A half-open probe gets one
// attempt only: the breaker let it through to learn whether the upstream
// recovered, not to send it more traffic. On success the response's target
// is still counted in flight; on error nothing is held any more. The
// attempts of a Spillover request (spill) are not reported to the passive
// health checks.
func (u *Upstream) forward(req *http.Request, probe, spill bool) (*http.Response, *target, outcome, error) {
	ctx := req.Context()
	u.retry.budget.record()
	t, err := u.balancer.pick(nil)
	if err != nil {
		closeRequestBody(req)
		return nil, nil, outcomeIgnored, err
	}
	eligible := !probe && u.retry.eligible(req)
	var end time.Time // retries start, and dial, only before end
	if eligible {
		end = time.Now().Add(u.settings.Timeout)
	}
	body := req.Body
	sent := false // some attempt may have reached the upstream
	for attempt := 1; ; attempt++ {
		areq := t.request(req, body)
		if attempt > 1 {
			areq = areq.WithContext(context.WithValue(ctx, dialDeadlineKey{}, end))
		}
		resp, err := u.rt.RoundTrip(areq)
		reason, o := classify(ctx, resp, err)
		if !spill {
			u.balancer.observe(t, o)
		}
		sent = sent || reason != reasonConnect
		if reason == reasonNone || !eligible || attempt >= u.retry.s.Attempts {
			return u.finish(t, resp, o, err, sent)
		}
		next, nextBody, wait, ok := u.prepareRetry(req, t, attempt, end)
		if !ok {
			return u.finish(t, resp, o, err, sent)
		}
		if resp != nil {
			drain(resp.Body) // a retried 5xx answer is discarded before retrying
		}
		u.balancer.done(t)
		u.m.retries[reason].Inc()
		if err := sleep(ctx, wait); err != nil {
			u.balancer.done(next)
			closeBody(nextBody)
			return nil, nil, contextOutcome(ctx), fmt.Errorf("wait to retry: %w", err)
		}
		t, body = next, nextBody
	}
}

// prepareRetry decides whether retry number n may happen and, if so, returns
// the target (counted in flight), a fresh body and the backoff to wait. A
// retry must start before end (the upstream's timeout after the first
// attempt started) and before the request's own deadline. The budget is
// spent last, once nothing else can stop the retry.
func (u *Upstream) prepareRetry(req *http.Request, prev *target, n int, end time.Time) (*target, io.ReadCloser, time.Duration, bool) {
	wait := u.retry.delay(n)
	if dl, ok := req.Context().Deadline(); ok && dl.Before(end) {
		end = dl
	}
	if time.Until(end) <= wait {
		return nil, nil, 0, false
	}
	next, err := u.balancer.pick(prev)
	if err != nil {
		return nil, nil, 0, false
	}
	body := req.Body
	if body != nil && body != http.NoBody {
		if body, err = req.GetBody(); err != nil {
			u.balancer.done(next)
			return nil, nil, 0, false
		}
	}
	if !u.retry.budget.withdraw() {
		u.m.budgetExhausted.Inc()
		u.balancer.done(next)
		closeBody(body)
		return nil, nil, 0, false
	}
	return next, body, wait, true
}

// finish ends the attempt loop with the last attempt's result. An error
// that proves nothing was written (a failed dial or TLS handshake, see
// sentNothing) matches ErrNotSent only if no attempt of the request may
// have been sent.
func (u *Upstream) finish(t *target, resp *http.Response, o outcome, err error, sent bool) (*http.Response, *target, outcome, error) {
	if err == nil {
		return resp, t, o, nil
	}
	u.balancer.done(t)
	if !sent && sentNothing(err) {
		err = &connectError{err: err}
	}
	return nil, nil, o, err
}

func (u *Upstream) wrap(err error) error { return fmt.Errorf("upstream %s: %w", u.name, err) }

// onBreakerChange runs under the breaker's lock: set the gauge, count the
// transition, log once. Nothing else.
func (u *Upstream) onBreakerChange(from, to gobreaker.State) {
	if u.retired.Load() {
		return
	}
	u.m.breakerState.Set(breakerGauge(to))
	u.m.transitions[to].Inc()
	lvl := slog.LevelWarn
	if to == gobreaker.StateClosed {
		lvl = slog.LevelInfo
	}
	u.log.Log(context.Background(), lvl, "circuit breaker state changed", "from", from.String(), "to", to.String())
}

// publish sets the gauges to this instance's state; used when an instance
// becomes the current one for its name again.
func (u *Upstream) publish() {
	st, _, _ := u.breaker.state()
	u.m.breakerState.Set(breakerGauge(st))
	for _, t := range u.balancer.targets {
		t.gauge.Set(boolGauge(t.healthy.Load()))
	}
}

// close stops the health checkers and closes idle connections. In-flight
// requests (of an older routing generation) still complete.
func (u *Upstream) close() {
	u.retired.Store(true)
	u.breaker.stop()
	u.cancel()
	u.checks.Wait()
	if u.transport != nil {
		u.transport.Close()
	}
}

func closeRequestBody(req *http.Request) { closeBody(req.Body) }

func closeBody(b io.ReadCloser) {
	if b != nil {
		_ = b.Close()
	}
}

var _ http.RoundTripper = (*Upstream)(nil)
