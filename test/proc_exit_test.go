package test

import (
	"fmt"
	"syscall"
	"testing"
	"time"
)

// errorRecorder is a testing.TB whose Errorf is recorded instead of
// failing the test, so that a helper's verdict can be checked.
type errorRecorder struct {
	testing.TB
	errors []string
}

func (r *errorRecorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

// awaitExit waits for p to exit without telling the helper the test
// waited, as a test that never looked at the process would.
func awaitExit(t *testing.T, p *proc) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(patience):
		t.Fatalf("%s did not exit within %s", p.name, patience)
	}
}

// TestStopReportsAnUnexpectedExit checks the end-of-test verdict on a
// helper process: one that exited non-zero by itself while the test did
// not look fails the test; one the test waited for or signalled does not,
// whatever its exit code, since the test judged it.
func TestStopReportsAnUnexpectedExit(t *testing.T) {
	t.Parallel()
	t.Run("exited by itself", func(t *testing.T) {
		p := start(t, "legacy-monolith", "--addr", "127.0.0.1:0", "--no-such-flag")
		awaitExit(t, p)
		rec := &errorRecorder{TB: t}
		p.stop(rec)
		if len(rec.errors) != 1 {
			t.Errorf("stop after an exit with code %d by itself reported %q, want one error", p.cmd.ProcessState.ExitCode(), rec.errors)
		}
		p.minded.Store(true) // judged here: the cleanup's own stop stays quiet
	})
	t.Run("waited for", func(t *testing.T) {
		p := start(t, "legacy-monolith", "--addr", "127.0.0.1:0", "--no-such-flag")
		if code := p.wait(t, patience); code != 2 {
			t.Fatalf("exit code %d, want 2", code)
		}
		rec := &errorRecorder{TB: t}
		if p.stop(rec); len(rec.errors) != 0 {
			t.Errorf("stop after the test waited for the exit reported %q, want nothing", rec.errors)
		}
	})
	t.Run("killed by the test", func(t *testing.T) {
		p := start(t, "inventory", "--addr", "127.0.0.1:0")
		p.waitLine(t, listening)
		p.signal(t, syscall.SIGKILL)
		awaitExit(t, p)
		rec := &errorRecorder{TB: t}
		if p.stop(rec); len(rec.errors) != 0 {
			t.Errorf("stop after the test killed the process reported %q, want nothing", rec.errors)
		}
	})
}
