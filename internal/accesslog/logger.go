package accesslog

import (
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// DefaultBuffer is how many records may wait for the writer before new
// ones are dropped.
const DefaultBuffer = 4096

// Options configure a Logger.
type Options struct {
	// Sample is the share of requests logged, in (0, 1]. Zero means 1:
	// every request.
	Sample float64
	// Buffer is how many records may wait for the writer; zero means
	// DefaultBuffer.
	Buffer int
	// Registerer is where strangler_access_log_dropped_total is
	// registered; nil leaves it unregistered.
	Registerer prometheus.Registerer
	// Log receives what the operator should know about the log itself:
	// a reopen that failed (WARN) or succeeded (INFO), and writes that
	// failed (one WARN per run of failures, until one succeeds; an INFO
	// then says how many records were dropped). Nil discards it.
	Log *slog.Logger
}

// Logger writes Records as JSON lines to an io.Writer from a goroutine of
// its own. Log never blocks.
type Logger struct {
	sample  float64
	records chan Record
	dropped prometheus.Counter
	log     *slog.Logger
	path    string        // the file Open appends to, reopened by Reopen; "" for New
	reopen  chan struct{} // a Reopen the writer has yet to do; holds at most one
	stop    chan struct{} // closed by Close
	done    chan struct{} // closed when the writer has flushed and quit
	close   sync.Once
}

// New starts a Logger writing to w. Close stops it; it does not close w.
func New(w io.Writer, o Options) (*Logger, error) {
	l, err := newLogger(o)
	if err != nil {
		return nil, err
	}
	go l.write(w, nil)
	return l, nil
}

// newLogger returns a Logger whose writer is not started yet.
func newLogger(o Options) (*Logger, error) {
	if o.Sample == 0 {
		o.Sample = 1
	}
	if !(o.Sample > 0 && o.Sample <= 1) {
		return nil, fmt.Errorf("access log sample %v: want a share in (0, 1]", o.Sample)
	}
	if o.Buffer <= 0 {
		o.Buffer = DefaultBuffer
	}
	l := &Logger{
		sample:  o.Sample,
		records: make(chan Record, o.Buffer),
		dropped: promauto.With(o.Registerer).NewCounter(prometheus.CounterOpts{
			Name: "strangler_access_log_dropped_total",
			Help: "Access log records dropped because the writer fell behind or could not write them.",
		}),
		log:    o.Log,
		reopen: make(chan struct{}, 1),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	return l, nil
}

// Sampled reports whether the next request is to be logged.
func (l *Logger) Sampled() bool {
	return l.sample >= 1 || rand.Float64() < l.sample
}

// Log queues r for writing, or drops and counts it when the queue is full.
// Records logged after Close are never written.
func (l *Logger) Log(r Record) {
	select {
	case l.records <- r:
	default:
		l.dropped.Inc()
	}
}

// Close writes the records already queued and stops the writer; a Logger
// from Open then closes its file.
func (l *Logger) Close() {
	l.close.Do(func() { close(l.stop) })
	<-l.done
}

// write prints records to w until Close, flushing whenever the queue runs
// dry so that a quiet proxy's log is never behind. file, when not nil, is
// w as Open opened it: Reopen replaces both, and Close closes it. A write
// that fails loses the records it held, which are counted as dropped;
// the records after it are tried again (see sink).
func (l *Logger) write(w io.Writer, file *os.File) {
	defer close(l.done)
	s := newSink(l, w)
	defer func() {
		s.close()
		if file != nil {
			_ = file.Close()
		}
	}()
	for {
		select {
		case r := <-l.records:
			s.put(r)
			if len(l.records) == 0 {
				s.flush()
			}
		case <-l.reopen:
			// The records queued before the Reopen go to the old file.
			s.writeQueued()
			if next := s.reopen(file); next != nil {
				file = next
			}
		case <-l.stop:
			s.writeQueued()
			return
		}
	}
}
