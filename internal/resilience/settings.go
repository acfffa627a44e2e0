package resilience

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Defaults applied by Settings.WithDefaults (documented on each field).
const (
	defaultTimeout = 30 * time.Second

	defaultHealthInterval      = 5 * time.Second
	defaultHealthTimeout       = 1 * time.Second
	defaultHealthyAfter        = 2
	defaultUnhealthyAfter      = 3
	defaultConsecutiveFailures = 5
	defaultFailureRatio        = 0.5
	defaultMinRequests         = 20
	defaultBreakerWindow       = 10 * time.Second
	defaultOpenFor             = 15 * time.Second
	defaultHalfOpenRequests    = 3
	defaultBulkheadMaxWait     = 100 * time.Millisecond
	defaultRetryAttempts       = 2
	defaultRetryBackoff        = 50 * time.Millisecond
	defaultRetryMaxBackoff     = 1 * time.Second
	defaultRetryBudget         = 0.2
	maxRetryAttempts           = 10
	breakerBucketsPerWindow    = 10
)

// MaxCount is the largest value Validate accepts for a count
// (health.healthy_after, health.unhealthy_after,
// breaker.consecutive_failures, breaker.min_requests,
// breaker.half_open_requests), and the largest count routes.yaml may
// give anywhere. It is 2147483647, the largest int on every platform, so
// that a count means the same on 32 and 64 bits; the breaker's uint32
// counters hold it without wrapping around. No setting needs more.
const MaxCount = math.MaxInt32

// Settings configures one upstream: where its instances live and how they are
// protected. It mirrors the `upstreams.<name>` block of routes.yaml.
// Apply defaults with WithDefaults and check with Validate; the Registry does
// both in Acquire. A field's zero value stands for its documented default;
// routes.yaml, which can tell a zero written out from a key left out,
// refuses the written zero wherever it is outside the field's range.
type Settings struct {
	// Targets are the base URLs of the upstream's instances, for example
	// "http://127.0.0.1:9101" or "http://orders:8080/api". Requests are
	// load-balanced across the healthy ones. Scheme must be http or https,
	// the host is required, and query, fragment and user info are rejected
	// (an empty "?" or "#" too).
	// A path is joined in front of every request path. At least one target.
	Targets []string `yaml:"targets"`

	// Timeout bounds how long one attempt waits for the response headers
	// once the request is written, and how long the response body may then
	// stay silent: a read of the body that gets no data for Timeout aborts
	// the response (the upstream connection is closed and the request
	// counts as a failure). A body that keeps sending, however slowly and
	// however long, is never cut; server-sent events (text/event-stream)
	// and upgraded connections (101, e.g. WebSocket) have no idle limit.
	// It also caps every connection attempt (dial), which otherwise gives
	// up after 5s, and the time retries have: a retry starts only within
	// Timeout of the request's first attempt, and its dial gives up when
	// that time is over. (A retry that was sent still waits up to Timeout
	// for its response headers.) Zero means 30s; negative is rejected.
	Timeout time.Duration `yaml:"timeout"`

	// Health configures active and passive health checks of the targets.
	Health HealthSettings `yaml:"health"`
	// Breaker configures the upstream's circuit breaker (on by default).
	Breaker BreakerSettings `yaml:"breaker"`
	// Bulkhead limits concurrent requests (off by default).
	Bulkhead BulkheadSettings `yaml:"bulkhead"`
	// Retry configures retries of idempotent requests.
	Retry RetrySettings `yaml:"retry"`
}

// HealthSettings configures health checks. Active checks run only when Path
// is set; passive checks (real traffic) are always on.
type HealthSettings struct {
	// Path is requested with GET on every target (joined after the target's
	// own path) every Interval; a 2xx or 3xx answer within Timeout is a
	// success. It must start with "/" and may carry a query. Empty means no
	// active checks.
	Path string `yaml:"path"`

	// Interval between two checks of one target. Zero means 5s; negative is
	// rejected. Ignored without Path.
	Interval time.Duration `yaml:"interval"`

	// Timeout of one check. Zero means 1s, or Interval if that is shorter;
	// negative or longer than Interval is rejected. Ignored without Path.
	Timeout time.Duration `yaml:"timeout"`

	// HealthyAfter is the number of consecutive successful active checks
	// that bring an unhealthy target back. Zero means 2.
	HealthyAfter int `yaml:"healthy_after"`

	// UnhealthyAfter is the number of consecutive failed active checks, or
	// consecutive failed real attempts (passive check), that mark a target
	// unhealthy. Zero means 3. A target marked unhealthy by real traffic
	// comes back through the active checks when Path is set, otherwise
	// after Breaker.OpenFor. Real traffic never marks the last healthy
	// target unhealthy: when every instance fails, that is the breaker's
	// job.
	UnhealthyAfter int `yaml:"unhealthy_after"`
}

// BreakerSettings configures the circuit breaker of one upstream. The breaker
// sees one outcome per request (after retries): a transport error, a timeout
// or a 5xx answer is a failure; any other answer is a success; a request
// whose client went away (context.Canceled) is not counted.
type BreakerSettings struct {
	// Disabled turns the breaker off. The zero value (false) means on.
	Disabled bool `yaml:"disabled"`

	// ConsecutiveFailures opens the breaker after this many failures in a
	// row, however far apart they come: Window does not apply to it, so a
	// dead upstream with little traffic trips as surely as a busy one. A
	// success, or a change of state, starts a new run. Zero means 5.
	ConsecutiveFailures int `yaml:"consecutive_failures"`

	// FailureRatio opens the breaker when failures/(failures+successes) in
	// Window reaches it, once MinRequests outcomes were seen. It must be in
	// (0, 1]; zero means 0.5.
	FailureRatio float64 `yaml:"failure_ratio"`

	// MinRequests is the number of finished requests in Window before
	// FailureRatio is considered. Zero means 20.
	MinRequests int `yaml:"min_requests"`

	// Window is the rolling window (in 10 buckets) over which the closed
	// breaker counts outcomes. Zero means 10s; negative is rejected.
	Window time.Duration `yaml:"window"`

	// OpenFor is how long the breaker stays open before letting probes
	// through (half-open). It is also the cool-down of a target ejected by
	// passive health checks when no active checks are configured. Zero
	// means 15s; negative is rejected.
	OpenFor time.Duration `yaml:"open_for"`

	// HalfOpenRequests is the number of probe requests let through
	// concurrently while half-open; the breaker closes once that many
	// succeed in a row and opens again on the first failure. Zero means 3.
	HalfOpenRequests int `yaml:"half_open_requests"`
}

// BulkheadSettings bounds how many requests one upstream serves at once. A
// request holds its slot until its response body is closed or read to EOF,
// so a streaming response holds a slot for as long as it streams, and an
// upgraded connection (101, e.g. WebSocket) for its whole life.
type BulkheadSettings struct {
	// MaxConcurrent is the maximum number of requests in flight. Zero means
	// unlimited (no bulkhead; in-flight requests are still measured).
	MaxConcurrent int `yaml:"max_concurrent"`

	// MaxWaiting is how many more requests may queue for a slot. Zero means
	// no queue: a request arriving when MaxConcurrent are in flight is
	// refused at once with ErrBulkheadFull.
	MaxWaiting int `yaml:"max_waiting"`

	// MaxWait is how long a queued request waits for a slot (never past its
	// own context) before being refused. Zero means 100ms.
	MaxWait time.Duration `yaml:"max_wait"`
}

// RetrySettings configures retries. Only idempotent requests are retried
// (GET, HEAD, OPTIONS, plus Methods), only after a connection failure (a
// failed dial, or a connection that broke before any byte of the answer) or
// a 502/503/504 answer, only when the body can be replayed (no body, or
// GetBody set), only within the request's deadline and within the
// upstream's Timeout of the first attempt (backoff included), and never
// beyond the retry budget. A timeout is never retried (the upstream may still be
// working on the request), and neither is a half-open breaker's probe.
type RetrySettings struct {
	// Attempts is the total number of attempts, the first one included.
	// Zero means 2 (one retry); 1 disables retries; at most 10.
	Attempts int `yaml:"attempts"`

	// Backoff is the base delay before the first retry; it doubles for
	// every further retry, capped at MaxBackoff, and the actual wait is
	// drawn in [d/2, d) (equal jitter). Zero means 50ms.
	Backoff time.Duration `yaml:"backoff"`

	// MaxBackoff caps the backoff. Zero means 1s, or Backoff if larger.
	MaxBackoff time.Duration `yaml:"max_backoff"`

	// Budget bounds retries to this fraction of the requests the upstream
	// received in the last 10s (plus a floor of 3 retries per 10s, so a
	// quiet upstream can still retry). It must be in (0, 1]; zero means
	// 0.2. During an outage this caps the extra load at 20%.
	Budget float64 `yaml:"budget"`

	// Methods are extra methods considered idempotent, in addition to GET,
	// HEAD and OPTIONS (e.g. PUT, DELETE if the service makes them safe).
	// Case-insensitive; empty means only the three.
	Methods []string `yaml:"methods"`
}

// WithDefaults returns a copy of s with every zero field replaced by its
// documented default, and retry methods upper-cased, sorted and deduplicated.
// It is the only place defaults are applied.
func (s Settings) WithDefaults() Settings {
	s.Targets = slices.Clone(s.Targets)
	def(&s.Timeout, defaultTimeout)

	h := &s.Health
	if h.Path != "" {
		def(&h.Interval, defaultHealthInterval)
		def(&h.Timeout, min(defaultHealthTimeout, h.Interval))
	}
	def(&h.HealthyAfter, defaultHealthyAfter)
	def(&h.UnhealthyAfter, defaultUnhealthyAfter)

	b := &s.Breaker
	def(&b.ConsecutiveFailures, defaultConsecutiveFailures)
	def(&b.FailureRatio, defaultFailureRatio)
	def(&b.MinRequests, defaultMinRequests)
	def(&b.Window, defaultBreakerWindow)
	def(&b.OpenFor, defaultOpenFor)
	def(&b.HalfOpenRequests, defaultHalfOpenRequests)

	def(&s.Bulkhead.MaxWait, defaultBulkheadMaxWait)

	r := &s.Retry
	def(&r.Attempts, defaultRetryAttempts)
	def(&r.Backoff, defaultRetryBackoff)
	def(&r.MaxBackoff, max(defaultRetryMaxBackoff, r.Backoff))
	def(&r.Budget, defaultRetryBudget)
	if len(r.Methods) > 0 {
		ms := make([]string, 0, len(r.Methods))
		for _, m := range r.Methods {
			ms = append(ms, normalMethod(m))
		}
		slices.Sort(ms)
		r.Methods = slices.Compact(ms)
	}
	return s
}

// def sets *p to d when *p is zero.
func def[T comparable](p *T, d T) {
	var zero T
	if *p == zero {
		*p = d
	}
}

// Validate checks s as WithDefaults would complete it and returns every
// problem found, joined with errors.Join. Messages name the YAML key; a
// retry method is named by its index in s.Retry.Methods as given (before
// WithDefaults sorts the list), so that a caller can find it in its file.
func (s Settings) Validate() error {
	methods := s.Retry.Methods
	s = s.WithDefaults()
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if len(s.Targets) == 0 {
		bad("targets: at least one target is required")
	}
	seen := make(map[string]bool, len(s.Targets))
	for i, raw := range s.Targets {
		if err := checkTarget(raw); err != nil {
			bad("targets[%d]: %w", i, err)
		}
		if seen[raw] {
			bad("targets[%d]: duplicate target %q", i, RedactURL(raw))
		}
		seen[raw] = true
	}
	positive(&errs, "timeout", s.Timeout)

	h := s.Health
	if h.Path != "" {
		if !strings.HasPrefix(h.Path, "/") {
			bad("health.path: %q must start with /", h.Path)
		} else if _, err := url.Parse(h.Path); err != nil {
			bad("health.path: %w", err)
		}
		positive(&errs, "health.interval", h.Interval)
		positive(&errs, "health.timeout", h.Timeout)
		if h.Timeout > h.Interval && h.Interval > 0 {
			bad("health.timeout: %s must not exceed health.interval %s", h.Timeout, h.Interval)
		}
	} else if h.Interval != 0 || h.Timeout != 0 {
		bad("health: interval and timeout need a path")
	}
	checkCount(&errs, "health.healthy_after", h.HealthyAfter)
	checkCount(&errs, "health.unhealthy_after", h.UnhealthyAfter)

	b := s.Breaker
	checkCount(&errs, "breaker.consecutive_failures", b.ConsecutiveFailures)
	checkCount(&errs, "breaker.min_requests", b.MinRequests)
	checkCount(&errs, "breaker.half_open_requests", b.HalfOpenRequests)
	if !(b.FailureRatio > 0 && b.FailureRatio <= 1) {
		bad("breaker.failure_ratio: %v must be in (0, 1]", b.FailureRatio)
	}
	positive(&errs, "breaker.window", b.Window)
	if b.Window > 0 && b.Window < breakerBucketsPerWindow*time.Millisecond {
		bad("breaker.window: %s must be at least %s", b.Window, breakerBucketsPerWindow*time.Millisecond)
	}
	positive(&errs, "breaker.open_for", b.OpenFor)

	k := s.Bulkhead
	if k.MaxConcurrent < 0 {
		bad("bulkhead.max_concurrent: %d must not be negative", k.MaxConcurrent)
	}
	if k.MaxWaiting < 0 {
		bad("bulkhead.max_waiting: %d must not be negative", k.MaxWaiting)
	}
	if k.MaxWaiting > 0 && k.MaxConcurrent <= 0 {
		bad("bulkhead.max_waiting: needs max_concurrent")
	}
	positive(&errs, "bulkhead.max_wait", k.MaxWait)

	r := s.Retry
	if r.Attempts < 1 || r.Attempts > maxRetryAttempts {
		bad("retry.attempts: %d must be between 1 and %d", r.Attempts, maxRetryAttempts)
	}
	positive(&errs, "retry.backoff", r.Backoff)
	positive(&errs, "retry.max_backoff", r.MaxBackoff)
	if r.MaxBackoff < r.Backoff {
		bad("retry.max_backoff: %s must not be less than retry.backoff %s", r.MaxBackoff, r.Backoff)
	}
	if !(r.Budget > 0 && r.Budget <= 1) {
		bad("retry.budget: %v must be in (0, 1]", r.Budget)
	}
	for i, raw := range methods {
		if err := checkRetryMethod(raw); err != nil {
			bad("retry.methods[%d]: %w", i, err)
		}
	}
	return errors.Join(errs...)
}

// normalMethod is a retry method as WithDefaults keeps it: trimmed and
// upper-cased.
func normalMethod(m string) string { return strings.ToUpper(strings.TrimSpace(m)) }

// checkRetryMethod checks one entry of retry.methods as written, once
// normalised; the error quotes it as written.
func checkRetryMethod(raw string) error {
	m := normalMethod(raw)
	switch {
	case m == "" || strings.ContainsAny(m, " \t()<>@,;:\\\"/[]?={}"):
		return fmt.Errorf("%q is not an HTTP method", raw)
	case m == http.MethodConnect:
		return errors.New("CONNECT cannot be retried")
	}
	return nil
}

// checkTarget validates one target URL.
func checkTarget(raw string) error {
	u, err := url.Parse(raw)
	shown := RedactURL(raw)
	var ue *url.Error
	switch {
	case errors.As(err, &ue):
		return fmt.Errorf("%q: %w", shown, ue.Err) // ue's own text holds raw
	case err != nil:
		return fmt.Errorf("%q: %w", shown, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%q: scheme must be http or https", shown)
	case u.Host == "":
		return fmt.Errorf("%q: host is required", shown)
	case u.User != nil || u.RawQuery != "" || u.ForceQuery || strings.Contains(raw, "#"):
		return fmt.Errorf("%q: user info, query and fragment are not allowed", shown)
	}
	return nil
}

func positive(errs *[]error, key string, d time.Duration) {
	if d <= 0 {
		*errs = append(*errs, fmt.Errorf("%s: %s must be positive", key, d))
	}
}

func checkCount(errs *[]error, key string, n int) {
	if n < 1 || n > MaxCount {
		*errs = append(*errs, fmt.Errorf("%s: %d must be between 1 and %d", key, n, MaxCount))
	}
}

// Equal reports whether s and o are the same settings. Compare settings that
// went through WithDefaults, so that an explicit default equals an omitted
// one.
func (s Settings) Equal(o Settings) bool {
	return slices.Equal(s.Targets, o.Targets) &&
		s.Timeout == o.Timeout &&
		s.Health == o.Health &&
		s.Breaker == o.Breaker &&
		s.Bulkhead == o.Bulkhead &&
		s.Retry.Attempts == o.Retry.Attempts &&
		s.Retry.Backoff == o.Retry.Backoff &&
		s.Retry.MaxBackoff == o.Retry.MaxBackoff &&
		s.Retry.Budget == o.Retry.Budget &&
		slices.Equal(s.Retry.Methods, o.Retry.Methods)
}
