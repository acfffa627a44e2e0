package faults

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Paths the fault layer treats specially.
const (
	// AdminPath is the run-time control endpoint served by Wrap.
	AdminPath = "/_admin/faults"
	// ReadyPath answers 503 while Settings.Unready is set.
	ReadyPath = "/health/ready"
	// healthPrefix marks the endpoints exempt from latency, errors and resets.
	healthPrefix = "/health/"
)

// Faults holds the live fault settings of one app and injects them. It is
// safe for concurrent use.
type Faults struct {
	cur atomic.Pointer[Settings] // read once per request
	log *slog.Logger

	mu  sync.Mutex // guards rnd
	rnd *rand.Rand
}

// New returns a fault layer that starts with s. src drives the error and
// reset shares; nil means a PCG source with a fixed seed, so runs are
// repeatable. Rates of exactly 0 or 1 never draw from src. A nil log
// discards output.
func New(s Settings, src rand.Source, log *slog.Logger) (*Faults, error) {
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("fault settings: %w", err)
	}
	if src == nil {
		src = rand.NewPCG(1, 2)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &Faults{log: log.With("component", "faults"), rnd: rand.New(src)}
	s = s.withDefaults()
	f.cur.Store(&s)
	if s != (Settings{}.withDefaults()) {
		f.log.Info("faults set at start", "settings", s)
	}
	return f, nil
}

// Settings returns the settings in force, defaults applied.
func (f *Faults) Settings() Settings { return *f.cur.Load() }

// Set replaces the settings in force. Invalid settings are rejected and the
// previous ones stay.
func (f *Faults) Set(s Settings) error {
	if err := s.Validate(); err != nil {
		return fmt.Errorf("fault settings: %w", err)
	}
	s = s.withDefaults()
	old := f.cur.Swap(&s)
	if *old != s {
		f.log.Info("faults changed", "old", *old, "new", s)
	}
	return nil
}

// Wrap returns next behind the fault layer. Wrap serves AdminPath itself
// (never faulted), answers ReadyPath with 503 while Unready is set, passes
// other /health/ requests through untouched, and for every other request
// waits Latency, then resets the connection with probability ResetRate, then
// fails it with probability ErrorRate, and otherwise calls next, holding
// back and altering its JSON answer while AlterField is set. With AlterField
// empty, next writes straight to w.
func (f *Faults) Wrap(next http.Handler) http.Handler {
	admin := f.Admin()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == AdminPath {
			admin.ServeHTTP(w, r)
			return
		}
		s := f.cur.Load()
		if strings.HasPrefix(r.URL.Path, healthPrefix) {
			if s.Unready && r.URL.Path == ReadyPath {
				writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unready"})
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		if s.Latency > 0 && !wait(r, time.Duration(s.Latency)) {
			return // the client has gone; nobody reads an answer
		}
		if f.roll(s.ResetRate) {
			resetConn(w)
			return
		}
		if f.roll(s.ErrorRate) {
			writeError(w, s.ErrorStatus, "fault_injected", "injected fault: request failed on purpose")
			return
		}
		if s.AlterField != "" {
			aw := &alterWriter{w: w, field: s.AlterField}
			next.ServeHTTP(aw, r)
			aw.finish()
			return
		}
		next.ServeHTTP(w, r)
	})
}

// wait blocks for d or until the request's context ends, and reports
// whether the full delay passed.
func wait(r *http.Request, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// roll reports true with probability rate. 0 and 1 decide without drawing.
func (f *Faults) roll(rate float64) bool {
	switch {
	case rate <= 0:
		return false
	case rate >= 1:
		return true
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rnd.Float64() < rate
}

// resetConn closes the client connection with SO_LINGER 0, so the client
// sees a TCP RST instead of a response. Where the connection cannot be
// hijacked (HTTP/2), it aborts the handler, which resets the stream.
func resetConn(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	raw := conn
	if nc, ok := conn.(interface{ NetConn() net.Conn }); ok { // TLS
		raw = nc.NetConn()
	}
	if tc, ok := raw.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // best effort: a plain close still ends the request
	}
	_ = conn.Close()
}

// errorBody is the JSON error shape shared with the shop API contract:
// {"error":{"code":"...","message":"..."}}. It is repeated here because
// faults imports no other internal package.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, errorBody{Error: errorDetail{Code: code, Message: msg}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the status is out; a write error only means the client left
}
