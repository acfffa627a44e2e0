package proxy

import (
	"cmp"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/strangler-proxy/strangler/internal/routing"
)

// ReloadResult describes the last attempt to load routes.yaml.
type ReloadResult struct {
	// Time is when the attempt finished.
	Time time.Time `json:"time"`
	// Result is "success" or "failure".
	Result string `json:"result"`
	// Error holds every problem found, one per line, when Result is
	// "failure".
	Error string `json:"error,omitempty"`
	// Generation is the live generation after the attempt.
	Generation uint64 `json:"generation"`
}

// Reloader loads the routes.yaml at a path into a Handler: read the bytes,
// skip them when they are the bytes last tried, load and validate them,
// build the new generation, swap it in. Every step that fails leaves the
// live table serving. It is safe for concurrent use; reloads never overlap.
type Reloader struct {
	path    string // the file read
	name    string // the file errors, logs and Path name: the one the user edits
	handler *Handler
	log     *slog.Logger

	mu      sync.Mutex
	tried   [sha256.Size]byte // hash of the bytes last tried
	hasTry  bool
	last    ReloadResult
	lastErr error
	refused error // set by Refuse until Resume: Reload reads nothing
}

// NewReloader returns a Reloader of the file at path into h. name is the
// file the user edits, which load errors (name:line), logs and Path, and so
// /api/status and the dashboard, name: path itself when empty, or the
// original of a copy kept line for line at path, such as the demo serves
// with its port flags. A nil log discards logs.
func NewReloader(path, name string, h *Handler, log *slog.Logger) *Reloader {
	name = cmp.Or(name, path)
	if log == nil {
		log = discardLogger()
	}
	return &Reloader{path: path, name: name, handler: h, log: log.With("component", "reload", "config", name)}
}

// Path returns the routes.yaml path shown to users: the name given to
// NewReloader.
func (r *Reloader) Path() string { return r.name }

// Reload loads the file if its bytes changed since the last attempt. It
// returns nil when the new table is live or the file is unchanged, and the
// load or build error otherwise; a failed reload is logged, counted in
// strangler_config_reloads_total{result="failure"}, and kept for
// /api/status until a good file replaces it.
func (r *Reloader) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()

	if r.refused != nil {
		return r.refused
	}
	data, err := os.ReadFile(r.path)
	if err != nil {
		r.hasTry = false // whatever comes back next must be tried
		return r.fail(fmt.Errorf("read config: %w", err))
	}
	sum := sha256.Sum256(data)
	if r.hasTry && sum == r.tried {
		r.log.Debug("config unchanged; not reloaded")
		return r.lastErr
	}
	r.tried, r.hasTry = sum, true

	cfg, err := routing.Load(r.name, data)
	if err != nil {
		return r.fail(err)
	}
	gen, err := r.handler.Apply(cfg)
	if err != nil {
		return r.fail(err)
	}
	m := r.handler.metrics
	now := time.Now()
	m.reloads.WithLabelValues("success").Inc()
	m.lastOK.Set(1)
	m.lastOKTime.Set(float64(now.UnixNano()) / 1e9)
	r.last = ReloadResult{Time: now, Result: "success", Generation: gen}
	r.lastErr = nil
	r.log.Info("config loaded", "generation", gen)
	return nil
}

// fail records a failed attempt. The live generation is untouched.
func (r *Reloader) fail(err error) error {
	m := r.handler.metrics
	m.reloads.WithLabelValues("failure").Inc()
	m.lastOK.Set(0)
	var gen uint64
	if g := r.handler.cur.Load(); g != nil {
		gen = g.id
	}
	r.last = ReloadResult{Time: time.Now(), Result: "failure", Error: err.Error(), Generation: gen}
	r.lastErr = err
	if gen == 0 {
		r.log.Error("config rejected; there is no table to serve yet", "error", err)
	} else {
		r.log.Error("config rejected; the previous table keeps serving", "generation", gen, "error", err)
	}
	return err
}

// Refuse records err as a failed attempt to load the file, for a save
// refused before the Reloader reads it (the demo's copy of routes.yaml
// that could not follow a port flag): like a file that does not load, it
// is logged, counted in strangler_config_reloads_total{result="failure"}
// and shown on /api/status, and the live table keeps serving. Until
// Resume, Reload reads nothing and returns err: the file it would read is
// not what the user saved.
func (r *Reloader) Refuse(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.refused = err
	_ = r.fail(err)
}

// Resume ends a refusal (Refuse) and reloads the file, even if its bytes
// are those last tried, so that the refusal leaves /api/status.
func (r *Reloader) Resume() error {
	r.mu.Lock()
	r.refused, r.hasTry = nil, false
	r.mu.Unlock()
	return r.Reload()
}

// Last returns the result of the last attempt, and false when there has
// been none.
func (r *Reloader) Last() (ReloadResult, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last, !r.last.Time.IsZero()
}
