package resilience

import (
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// target is one instance of an upstream. Its address parts are fixed at
// build time; its health and load are atomics read on every pick.
type target struct {
	raw         string // as configured; used in logs, status and metric labels
	scheme      string
	host        string
	basePath    string // "" when the target has no path (or just "/")
	baseRawPath string
	healthURL   string // "" without active checks

	healthy      atomic.Bool
	inflight     atomic.Int64 // attempts sent and not yet finished
	fails        atomic.Int64 // consecutive failed real attempts (passive)
	ejectedUntil atomic.Int64 // unix nanos; passive ejection without active checks

	gauge prometheus.Gauge

	// Guarded by balancer.mu.
	checkOK, checkFails int64
	lastCheck           time.Time
	lastErr             string
}

func newTarget(raw, healthPath string, gauge prometheus.Gauge) (*target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	t := &target{raw: raw, scheme: u.Scheme, host: u.Host, gauge: gauge}
	if u.Path != "" && u.Path != "/" {
		t.basePath = strings.TrimSuffix(u.Path, "/")
		if u.RawPath != "" {
			t.baseRawPath = strings.TrimSuffix(u.RawPath, "/")
		}
	}
	if healthPath != "" {
		ref, err := url.Parse(healthPath)
		if err != nil {
			return nil, err
		}
		hu := url.URL{Scheme: u.Scheme, Host: u.Host, Path: t.basePath + ref.Path, RawQuery: ref.RawQuery}
		t.healthURL = hu.String()
	}
	t.healthy.Store(true)
	gauge.Set(1)
	return t, nil
}

// request returns the attempt to send to t: a shallow copy of req with
// scheme and host of the target, the target's base path joined in front of
// the path, Host set to the target host, and body as its body.
func (t *target) request(req *http.Request, body io.ReadCloser) *http.Request {
	a := new(attempt) // one allocation for the request and its URL
	a.req, a.url = *req, *req.URL
	a.url.Scheme, a.url.Host = t.scheme, t.host
	if t.basePath != "" {
		a.url.Path, a.url.RawPath = t.join(req.URL)
	}
	a.req.URL = &a.url
	a.req.Host = t.host
	a.req.Body = body
	return &a.req
}

// attempt is the outgoing request of one attempt with its URL.
type attempt struct {
	req http.Request
	url url.URL
}

// join puts the target's base path in front of u's path, keeping RawPath
// consistent when either side has escaped characters.
func (t *target) join(u *url.URL) (path, rawPath string) {
	p := u.Path
	if p != "" && p[0] != '/' {
		p = "/" + p
	}
	if t.baseRawPath == "" && u.RawPath == "" {
		return t.basePath + p, ""
	}
	base := t.baseRawPath
	if base == "" {
		base = t.basePath // no special characters: escaped == unescaped
	}
	rp := u.EscapedPath()
	if rp != "" && rp[0] != '/' {
		rp = "/" + rp
	}
	return t.basePath + p, base + rp
}

// balancer picks targets: least requests in flight among the healthy ones,
// ties broken round robin (so an idle upstream is plain round robin and a
// slow instance gets fewer requests under load). It also owns the health
// state transitions (health.go).
type balancer struct {
	targets []*target
	next    atomic.Uint64

	// Health thresholds (defaulted Settings.Health, validated up to
	// MaxCount, so int64 holds them) and passive cool-down.
	healthyAfter   int64
	unhealthyAfter int64
	active         bool          // active checks configured
	cooldown       time.Duration // passive ejection without active checks
	now            func() time.Time
	log            *slog.Logger
	retired        *atomic.Bool // set when the upstream is swept: stop touching metrics

	mu sync.Mutex // serializes health transitions (cold path)
}

// pick returns a healthy target other than avoid (if there is another
// healthy one), with its in-flight count already incremented: pass it to
// done exactly once. It fails with ErrNoHealthyTarget.
func (b *balancer) pick(avoid *target) (*target, error) {
	n := uint64(len(b.targets))
	start := b.next.Add(1) - 1
	var best *target
	bestLoad := int64(math.MaxInt64)
	for i := range n {
		t := b.targets[(start+i)%n]
		if t == avoid || !b.usable(t) {
			continue
		}
		if l := t.inflight.Load(); l < bestLoad {
			best, bestLoad = t, l
		}
	}
	if best == nil {
		if avoid == nil || !b.usable(avoid) {
			return nil, ErrNoHealthyTarget
		}
		best = avoid
	}
	best.inflight.Add(1)
	return best, nil
}

// done ends an attempt started by pick.
func (b *balancer) done(t *target) { t.inflight.Add(-1) }

// usable reports whether t may receive traffic, bringing a passively
// ejected target back once its cool-down has passed.
func (b *balancer) usable(t *target) bool {
	if t.healthy.Load() {
		return true
	}
	until := t.ejectedUntil.Load()
	if until == 0 || b.now().UnixNano() < until {
		return false
	}
	b.restore(t)
	return t.healthy.Load()
}

// anyHealthyExcept reports whether a target other than t is healthy. Call
// with b.mu held.
func (b *balancer) anyHealthyExcept(t *target) bool {
	for _, o := range b.targets {
		if o != t && o.healthy.Load() {
			return true
		}
	}
	return false
}
