package accesslog

import (
	"bufio"
	"fmt"
	"os"
)

// fileMode is the permission a log file is created with when it is
// missing.
const fileMode = 0o644

// Open starts a Logger appending to the file at path, which it creates
// when missing. Reopen opens path again, for log rotation; Close closes
// the file.
func Open(path string, o Options) (*Logger, error) {
	f, err := openFile(path)
	if err != nil {
		return nil, err
	}
	l, err := newLogger(o)
	if err != nil {
		f.Close()
		return nil, err
	}
	l.path = path
	go l.write(f, f)
	return l, nil
}

// Reopen asks the writer to close the log file and open its path again,
// as log rotation that renames the file (logrotate's default) needs: the
// records logged before it go to the old file, those the writer takes
// after the switch to the new one, and none is lost. It returns at once;
// the request path never waits for it. When the path cannot be opened, the logger says so (WARN) and
// keeps writing to the file it has. A Logger from New has no file:
// Reopen does nothing.
func (l *Logger) Reopen() {
	if l.path == "" {
		return
	}
	select {
	case l.reopen <- struct{}{}:
	default: // one is pending already, and will open the path as it is now
	}
}

// reopenFile flushes buf to old, opens the path again and points buf at
// the new file, then closes old. It returns the new file, or nil when the
// path could not be opened and buf still writes to old.
func (l *Logger) reopenFile(buf *bufio.Writer, old *os.File) *os.File {
	flushErr := buf.Flush()
	f, err := openFile(l.path)
	if err != nil {
		l.log.Warn("access log not reopened; still writing to the file it had open", "path", l.path, "error", err)
		return nil
	}
	buf.Reset(f) // also clears a write error the old file left in buf
	if err := old.Close(); err != nil && flushErr == nil {
		flushErr = err
	}
	if flushErr != nil {
		l.log.Warn("access log reopened; the last records written to the old file may be incomplete", "path", l.path, "error", flushErr)
		return f
	}
	l.log.Info("access log reopened", "path", l.path)
	return f
}

// openFile opens path for appending, creating it when missing.
func openFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, fileMode)
	if err != nil {
		return nil, fmt.Errorf("open access log: %w", err)
	}
	return f, nil
}
