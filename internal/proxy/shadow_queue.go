package proxy

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strangler-proxy/strangler/internal/livestats"
	"github.com/strangler-proxy/strangler/internal/shadow"
)

// Bounds of the shadow queue. Each route has its own lane: at most
// shadowWorkers copies in flight and shadowQueueLen waiting, holding at
// most shadowLaneBytes; all lanes together hold at most shadowQueueBytes,
// beyond which only empty lanes take a copy, up to shadowReserveBytes.
// A copy that finds its lane or the whole queue full is dropped and
// counted, so a slow or dead shadow side can never hold more than this
// much memory, slow the real path, or starve the copies of other routes.
const (
	shadowWorkers    = 8
	shadowQueueLen   = 256
	shadowLaneBytes  = 16 << 20
	shadowQueueBytes = 64 << 20
	// shadowReserveBytes is how far empty lanes may take the queue past
	// shadowQueueBytes.
	shadowReserveBytes = 2 * shadowQueueBytes
	shadowMaxTimeout   = 30 * time.Second
	shadowLogPerRoute  = 20
)

// shadowLane is a route's shadow queue, its results since the process
// started and over the dashboard's last minute; it survives reloads for as
// long as the route keeps its name.
type shadowLane struct {
	counts [len(shadowResults)]atomic.Uint64
	// recent counts the results of the last minute, by result, for the
	// dashboard; now is its clock.
	recent livestats.Tally
	now    func() time.Time

	mu      sync.Mutex
	pending []*shadowTask // oldest first
	bytes   int64         // held by pending and running copies
	running int           // goroutines draining pending, at most shadowWorkers
}

// shadower sends shadow copies and compares the answers, off the request
// path.
type shadower struct {
	held       atomic.Int64 // bytes held by all lanes' copies
	client     *http.Client
	log        *slog.Logger
	mismatches *shadow.Log
	// now is the clock of the lanes' last minute of results: time.Now
	// unless a test replaced it before the first route was built.
	now func() time.Time

	mu     sync.Mutex
	lanes  map[string]*shadowLane // by route name
	closed bool                   // no goroutine starts once set

	ctx    context.Context // cancelled by close: copies in flight end at once
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newShadower(log *slog.Logger) *shadower {
	s := &shadower{
		client: &http.Client{
			Transport: &http.Transport{
				MaxIdleConnsPerHost: 64,
				IdleConnTimeout:     90 * time.Second,
				DisableCompression:  true,
			},
			// Compare the answers as they are: a redirect is an answer.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		log:        log.With("component", "shadow"),
		mismatches: shadow.NewLog(shadowLogPerRoute, 0),
		lanes:      map[string]*shadowLane{},
		now:        time.Now,
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

// close cancels the copies in flight and waits for the lanes' goroutines
// to end; queued copies are abandoned. A hung shadow side cannot hold up a
// shutdown.
func (s *shadower) close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	s.client.CloseIdleConnections()
}

// laneFor returns the persistent lane of a route name.
func (s *shadower) laneFor(name string) *shadowLane {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.lanes[name]
	if l == nil {
		l = &shadowLane{now: s.now}
		s.lanes[name] = l
	}
	return l
}

// submit queues t in its route's lane without waiting, and starts a
// goroutine for the lane when fewer than shadowWorkers run. A copy that
// could never fit is skipped; one that finds its lane or the queue full is
// dropped. An empty lane takes one copy past the shared bound, up to
// shadowReserveBytes: hung lanes together cannot starve a route whose own
// side answers, however many routes shadow, and a route whose max_body
// exceeds its lane's share still compares.
func (s *shadower) submit(t *shadowTask) {
	if t.size > shadowQueueBytes {
		t.sr.count(shadowSkipped)
		return
	}
	l := t.sr.lane
	l.mu.Lock()
	full := len(l.pending) >= shadowQueueLen || l.bytes > 0 && l.bytes+t.size > shadowLaneBytes
	held := s.held.Add(t.size)
	if full || held > shadowQueueBytes && (l.bytes > 0 || held > shadowReserveBytes) {
		l.mu.Unlock()
		s.held.Add(-t.size)
		t.sr.count(shadowDropped)
		return
	}
	l.pending = append(l.pending, t)
	l.bytes += t.size
	start := l.running < shadowWorkers && s.tryAdd()
	if start {
		l.running++
	}
	l.mu.Unlock()
	if start {
		go s.drain(l)
	}
}

// tryAdd counts one more lane goroutine for close to wait for, unless the
// shadower is closed.
func (s *shadower) tryAdd() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	return true
}

// drain sends l's copies, oldest first, until the lane is empty or the
// shadower closes.
func (s *shadower) drain(l *shadowLane) {
	defer s.wg.Done()
	for {
		l.mu.Lock()
		if len(l.pending) == 0 || s.ctx.Err() != nil {
			l.running--
			l.mu.Unlock()
			return
		}
		t := l.pending[0]
		l.pending[0] = nil
		l.pending = l.pending[1:]
		if len(l.pending) == 0 {
			l.pending = nil // let the backing array go
		}
		l.mu.Unlock()

		t.sr.count(s.run(t))

		l.mu.Lock()
		l.bytes -= t.size
		l.mu.Unlock()
		s.held.Add(-t.size)
	}
}
