package resilience

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// RegistryOptions are the dependencies of a Registry. The zero value is
// usable: no metrics registered, logs discarded, real clock and randomness,
// one tuned transport per upstream (an h1client.Transport over a tuned
// *http.Transport).
type RegistryOptions struct {
	// Registerer receives the package's collectors at NewRegistry. Nil means
	// the collectors exist but are not registered anywhere.
	Registerer prometheus.Registerer
	// Logger receives state changes (breaker, health). Nil discards.
	Logger *slog.Logger
	// Now is the clock of the retry budget window and of passive health
	// cool-downs. Nil means time.Now. (The breaker uses gobreaker's own
	// time.Now; test it with testing/synctest.)
	Now func() time.Time
	// Rand returns a number in [0, 1) for backoff jitter. Nil means
	// math/rand/v2.Float64. It must be safe for concurrent use.
	Rand func() float64
	// Transport, when set, is used by every upstream instead of its own
	// tuned transport (tests). It must enforce its own dial and response
	// header timeouts: Settings.Timeout bounds dials and the wait for
	// headers only in the built-in transport (the idle deadline on
	// response bodies, and the time retries may start in, apply to every
	// transport).
	Transport http.RoundTripper
}

// Registry builds upstreams and keeps them, with their breaker, bulkhead,
// health and retry budget state, across config reloads. It is safe for
// concurrent use; the request path never touches it.
//
// On every reload: call Acquire for each upstream of the new generation,
// swap the routing table, then call Retain with the names the new generation
// uses. Acquire returns the existing *Upstream when the name and the
// (defaulted) settings are unchanged, so a dead service is not reset to
// healthy by a reload. When any setting changed, a whole new Upstream is
// built (fresh breaker, bulkhead, health and budget): settings are few and
// reloads rare, so partial reuse is not worth its complexity. The replaced
// instance keeps serving the old generation until Retain closes it.
type Registry struct {
	deps    upstreamDeps
	metrics *metrics
	cancel  context.CancelFunc

	mu      sync.Mutex
	entries map[string][]*Upstream // per name, most recently acquired first
	closed  bool
}

// NewRegistry builds a Registry and registers its metrics on o.Registerer.
func NewRegistry(o RegistryOptions) (*Registry, error) {
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Float64
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Registry{
		deps: upstreamDeps{
			ctx:       ctx,
			log:       o.Logger.With("component", "resilience"),
			metrics:   m,
			now:       o.Now,
			rand:      o.Rand,
			transport: o.Transport,
		},
		metrics: m,
		cancel:  cancel,
		entries: make(map[string][]*Upstream),
	}, nil
}

// Acquire returns the upstream called name with settings s, reusing the
// existing instance (and its state) when name and defaulted settings are
// unchanged, and building a new one otherwise. Invalid settings are
// rejected with every problem found.
func (r *Registry) Acquire(name string, s Settings) (*Upstream, error) {
	if name == "" {
		return nil, errors.New("acquire upstream: empty name")
	}
	s = s.WithDefaults()
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("upstream %s: %w", name, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, errRegistryClosed
	}
	list := r.entries[name]
	for i, u := range list {
		if u.settings.Equal(s) {
			if i > 0 { // an older instance is wanted again (e.g. a reload was abandoned)
				r.entries[name] = slices.Insert(slices.Delete(list, i, i+1), 0, u)
				u.publish()
			}
			return u, nil
		}
	}
	u, err := newUpstream(name, s, r.deps)
	if err != nil {
		return nil, err
	}
	r.entries[name] = slices.Insert(list, 0, u)
	r.deps.log.Debug("upstream built", "upstream", name, "targets", len(s.Targets), "replaces", len(list))
	return u, nil
}

// Retain closes every upstream not named, and every instance of a named
// upstream other than the one most recently returned by Acquire: their
// health checkers exit, idle connections are closed and the metric series
// nobody uses any more are deleted. In-flight requests on closed instances
// still complete.
func (r *Registry) Retain(names ...string) {
	keep := make(map[string]bool, len(names))
	for _, n := range names {
		keep[n] = true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for name, list := range r.entries {
		if !keep[name] {
			for _, u := range list {
				u.close()
			}
			r.metrics.deleteUpstream(name)
			delete(r.entries, name)
			r.deps.log.Info("upstream removed", "upstream", name)
			continue
		}
		if len(list) == 1 {
			continue
		}
		cur := list[0]
		for _, old := range list[1:] {
			old.close()
			for _, t := range old.settings.Targets {
				if !slices.Contains(cur.settings.Targets, t) {
					r.metrics.deleteTarget(name, t)
				}
			}
		}
		cur.publish()
		r.entries[name] = list[:1:1]
		r.deps.log.Info("upstream settings changed", "upstream", name)
	}
}

// Get returns the current upstream called name, if any.
func (r *Registry) Get(name string) (*Upstream, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if list := r.entries[name]; len(list) > 0 {
		return list[0], true
	}
	return nil, false
}

// Status returns the status of every current upstream, sorted by name.
func (r *Registry) Status() []UpstreamStatus {
	r.mu.Lock()
	ups := make([]*Upstream, 0, len(r.entries))
	for _, list := range r.entries {
		ups = append(ups, list[0])
	}
	r.mu.Unlock()
	sort.Slice(ups, func(i, j int) bool { return ups[i].name < ups[j].name })
	out := make([]UpstreamStatus, 0, len(ups))
	for _, u := range ups {
		out = append(out, u.Status())
	}
	return out
}

// Close stops every upstream and unregisters the metrics. Acquire fails
// afterwards; upstreams already handed out keep forwarding requests.
func (r *Registry) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	for name, list := range r.entries {
		for _, u := range list {
			u.close()
		}
		delete(r.entries, name)
	}
	r.cancel()
	r.metrics.unregister()
	return nil
}
