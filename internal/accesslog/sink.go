package accesslog

import (
	"bufio"
	"bytes"
	"io"
	"log/slog"
	"os"
)

// sinkBuffer is the size of the buffer in front of the log's writer.
const sinkBuffer = 64 << 10

// sink is where the writer goroutine puts records: a buffer in front of the
// log's writer that survives a failed write. A bufio.Writer that fails once
// (a full disk, say) fails every later write until it is reset; the sink
// counts the records such a write lost as dropped, warns once per streak of
// failures, and resets the buffer so that the next records are tried again.
// Only the writer goroutine uses it.
type sink struct {
	l   *Logger
	out lineWriter
	buf *bufio.Writer
	h   slog.Handler
	// handed counts the records given to buf since it last was empty
	// with every line it took written (out.lines counts those written).
	handed int
	// failing is the first error of the current streak of failed writes,
	// nil when the last write succeeded.
	failing error
	// lost counts the records dropped since the streak began.
	lost int
}

// newSink returns a sink writing to w for l.
func newSink(l *Logger, w io.Writer) *sink {
	s := &sink{l: l, out: lineWriter{w: w}}
	s.buf = bufio.NewWriterSize(&s.out, sinkBuffer)
	s.h = slog.NewJSONHandler(s.buf, nil)
	return s
}

// put writes r into the buffer, which passes it on when it is full.
func (s *sink) put(r Record) {
	s.handed++
	if err := s.h.Handle(background, r.slogRecord()); err != nil {
		s.failed(err)
	}
}

// flush writes what the buffer holds, and ends a streak of failures when
// records reach the writer again.
func (s *sink) flush() {
	if err := s.buf.Flush(); err != nil {
		s.failed(err)
		return
	}
	if s.failing != nil && s.handed > 0 {
		s.l.log.Info("access log written again after failed writes", s.attrs("dropped", s.lost)...)
		s.failing, s.lost = nil, 0
	}
	s.handed, s.out.lines = 0, 0
}

// failed counts as dropped the records a failed write lost (those handed
// to the buffer whose line did not reach the writer whole), warns when
// the streak of failures begins, and resets the buffer so that later
// records are tried again. When the failed write left part of a line, the
// next write first ends that line, so that the records after it start
// lines of their own.
func (s *sink) failed(err error) {
	lost := max(s.handed-s.out.lines, 0)
	s.l.dropped.Add(float64(lost))
	if s.failing == nil {
		s.failing = err
		s.l.log.Warn("access log write failed; records are dropped and counted in strangler_access_log_dropped_total until a write succeeds",
			s.attrs("error", err)...)
	}
	s.lost += lost
	s.buf.Reset(&s.out)
	s.out.endLine = s.out.midLine
	s.handed, s.out.lines = 0, 0
}

// writeQueued writes the records queued at the moment it is called, then
// flushes them.
func (s *sink) writeQueued() {
	for n := len(s.l.records); n > 0; n-- {
		s.put(<-s.l.records)
	}
	s.flush()
}

// reopen flushes the buffer to the log file, opens the log's path again
// and, when that worked, writes to the new file from then on. It returns
// the new file, or nil when the old one is kept.
func (s *sink) reopen(old *os.File) *os.File {
	s.flush() // the old file's records, counted when lost
	next := s.l.reopenFile(s.buf, old)
	if next == nil {
		return nil
	}
	// A line the old file was left in the middle of stays in that file.
	s.out = lineWriter{w: next}
	s.buf.Reset(&s.out)
	return next
}

// close flushes the buffer.
func (s *sink) close() {
	s.flush()
}

// attrs returns kv with the log's path, when it has one.
func (s *sink) attrs(kv ...any) []any {
	if s.l.path != "" {
		kv = append(kv, "path", s.l.path)
	}
	return kv
}

// lineWriter passes writes on to w and counts the lines that reached it.
type lineWriter struct {
	w io.Writer
	// lines counts the newlines written to w since the sink last reset it.
	lines int
	// midLine is whether the last byte written to w was not a newline.
	midLine bool
	// endLine asks the next write to end the line a failed write left
	// unfinished before it writes anything else.
	endLine bool
}

var newline = []byte{'\n'}

// Write writes p to w, after the newline endLine asks for.
func (lw *lineWriter) Write(p []byte) (int, error) {
	if lw.endLine {
		n, err := lw.w.Write(newline)
		if n == 1 {
			lw.endLine, lw.midLine = false, false
		}
		if err != nil {
			return 0, err
		}
	}
	n, err := lw.w.Write(p)
	lw.lines += bytes.Count(p[:n], newline)
	if n > 0 {
		lw.midLine = p[n-1] != '\n'
	}
	return n, err
}
