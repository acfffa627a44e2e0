package accesslog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// rotationPatience bounds each wait of these tests for the writer.
const rotationPatience = 10 * time.Second

// numbered is a record whose Bytes field tells the order it was logged in.
func numbered(i int) Record {
	r := record(i)
	r.Bytes = int64(i)
	return r
}

// loggedNumbers returns the Bytes field of every line of the file at path,
// in order; a missing file has none.
func loggedNumbers(t *testing.T, path string) []int {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var nums []int
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var rec struct{ Bytes int }
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("%s: a line is not JSON: %v: %s", path, err, sc.Bytes())
		}
		nums = append(nums, rec.Bytes)
	}
	return nums
}

// logUntil logs numbered records from next on, one at a time, until cond
// holds, and returns the next number; it fails the test when cond does not
// hold within rotationPatience.
func logUntil(t *testing.T, l *Logger, next int, what string, cond func() bool) int {
	t.Helper()
	deadline := time.Now().Add(rotationPatience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		l.Log(numbered(next))
		next++
		time.Sleep(5 * time.Millisecond)
	}
	return next
}

// openInTempDir opens an access log at path in a new temporary directory,
// its own log in diag, closed when the test ends; rotated is where a
// rotation moves the file.
func openInTempDir(t *testing.T) (l *Logger, path, rotated string, diag *safeBuffer) {
	t.Helper()
	dir := t.TempDir()
	path, rotated = filepath.Join(dir, "access.log"), filepath.Join(dir, "access.log.1")
	diag = &safeBuffer{}
	l, err := Open(path, Options{Log: slog.New(slog.NewTextHandler(diag, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, path, rotated, diag
}

// TestReopenAfterRename rotates the log as logrotate does by default:
// rename the file, then signal. The records logged before go to the
// renamed file, the later ones to a new file at the path, in order, and
// none is lost.
func TestReopenAfterRename(t *testing.T) {
	l, path, rotated, diag := openInTempDir(t)
	next := 0
	for ; next < 50; next++ {
		l.Log(numbered(next))
	}
	// The rename does not stop the writer: it appends to the renamed file.
	if err := os.Rename(path, rotated); err != nil {
		t.Fatal(err)
	}
	l.Reopen()
	next = logUntil(t, l, next, "records in a new file at the path", func() bool { return len(loggedNumbers(t, path)) > 0 })
	for range 20 {
		l.Log(numbered(next))
		next++
	}
	l.Close()

	old, cur := loggedNumbers(t, rotated), loggedNumbers(t, path)
	all := append(old, cur...)
	if len(all) != next {
		t.Fatalf("the two files hold %d records, want the %d logged (renamed file %d, new file %d)", len(all), next, len(old), len(cur))
	}
	for i, n := range all {
		if n != i {
			t.Fatalf("record %d of the renamed file then the new one is number %d: out of order or lost\nrenamed: %v\nnew: %v", i, n, old, cur)
		}
	}
	if len(old) < 50 {
		t.Errorf("the renamed file holds %d records, want at least the 50 logged before the rename", len(old))
	}
	if !strings.Contains(string(diag.Bytes()), "access log reopened") {
		t.Errorf("no INFO line says the access log was reopened:\n%s", diag.Bytes())
	}
}

// TestReopenFailureKeepsTheOldFile makes the path impossible to open (a
// directory stands there after the rename): the logger warns and
// keeps writing to the file it has, then moves to the path at the next
// Reopen that can open it.
func TestReopenFailureKeepsTheOldFile(t *testing.T) {
	l, path, rotated, diag := openInTempDir(t)
	if err := os.Rename(path, rotated); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatal(err)
	}
	l.Reopen()
	next := logUntil(t, l, 0, "the WARN about the failed reopen", func() bool {
		return strings.Contains(string(diag.Bytes()), "level=WARN msg=\"access log not reopened")
	})
	for range 10 {
		l.Log(numbered(next))
		next++
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	l.Reopen()
	next = logUntil(t, l, next, "records in the file at the path once it can be opened", func() bool { return len(loggedNumbers(t, path)) > 0 })
	l.Close()

	old, cur := loggedNumbers(t, rotated), loggedNumbers(t, path)
	if len(old)+len(cur) != next {
		t.Fatalf("the two files hold %d + %d records, want the %d logged", len(old), len(cur), next)
	}
	if len(old) < 10 {
		t.Errorf("the old file holds %d records, want every record logged while the path could not be opened", len(old))
	}
}

// TestReopenWithoutAFile checks that Reopen on a Logger from New (standard
// output, say) and after Close does nothing and does not block.
func TestReopenWithoutAFile(t *testing.T) {
	var out safeBuffer
	l, err := New(&out, Options{})
	if err != nil {
		t.Fatal(err)
	}
	l.Reopen()
	l.Log(numbered(1))
	l.Close()
	if n := len(strings.Split(strings.TrimSpace(string(out.Bytes())), "\n")); n != 1 {
		t.Fatalf("wrote %d lines, want 1:\n%s", n, out.Bytes())
	}
	f, err := Open(filepath.Join(t.TempDir(), "access.log"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	for range 3 {
		f.Reopen() // after Close: neither blocks nor panics
	}
}

// TestOpenRefusesAPathItCannotOpen checks that Open reports a path it
// cannot open, naming what it tried.
func TestOpenRefusesAPathItCannotOpen(t *testing.T) {
	if _, err := Open(t.TempDir(), Options{}); err == nil || !strings.Contains(err.Error(), "open access log") {
		t.Fatalf("Open(a directory) = %v, want an error about opening the access log", err)
	}
}
