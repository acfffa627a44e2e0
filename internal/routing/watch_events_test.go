package routing

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// churn writes to path every millisecond, each time with a new content,
// until the test ends. It returns at once.
func churn(t *testing.T, path string) {
	t.Helper()
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for i := 1; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if err := os.WriteFile(path, []byte("v"+strconv.Itoa(i)), 0o644); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-stopped })
}

// repoint swaps the symlink link to target atomically, as `ln -sfn` and
// deploy tools do: a new link under a temporary name, renamed over the old.
func repoint(t *testing.T, target, link string) {
	t.Helper()
	tmp := link + ".tmp"
	symlink(t, target, tmp)
	rename(t, tmp, link)
}

// TestWatchChurn checks that a file that keeps changing next to
// routes.yaml (an access log, stderr redirected there) does not postpone
// the reload of routes.yaml.
func TestWatchChurn(t *testing.T) {
	const debounce = 50 * time.Millisecond // far longer than churn's pace
	dir := t.TempDir()
	path := filepath.Join(dir, "routes.yaml")
	writeFile(t, path, "v1")
	w := startWatch(t, dir, path, debounce)
	churn(t, filepath.Join(dir, "access.log"))
	writeFile(t, path, "v2")
	w.waitFor(t, "v2")
}

// TestDebounceWaitsForQuiet checks, on a fake clock, that a file written
// in pieces for longer than any bound (events every 50 ms for a minute,
// debounce 100 ms) is reloaded once, debounce after the last piece, never
// in between: a half-written file can be valid and say something the
// finished one does not.
func TestDebounceWaitsForQuiet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const quiet = 100 * time.Millisecond
		d := newDebouncer(quiet)
		start := time.Now()
		for range 1200 {
			d.event()
			time.Sleep(50 * time.Millisecond)
			select {
			case <-d.timer.C:
				t.Fatalf("fired %v after the first event, while events still came every 50ms", time.Since(start))
			default:
			}
		}
		last := time.Now()
		<-d.timer.C
		if got := time.Since(last); got != quiet-50*time.Millisecond {
			t.Errorf("fired %v after the last loop turn, want %v (debounce after the last event)", got, quiet-50*time.Millisecond)
		}
	})
}

// Symlinks other than a ConfigMap's: a link re-pointed to a file in
// another directory, and a path through a directory link (Capistrano's
// current -> releases/N) that is swapped. Edits after the swap must be
// seen too, so the watches must follow the new targets.
func TestWatchRepointedLinks(t *testing.T) {
	const debounce = 20 * time.Millisecond
	t.Run("file link re-pointed", func(t *testing.T) {
		base := t.TempDir()
		writeFile(t, filepath.Join(base, "o1", "routes.yaml"), "v1")
		writeFile(t, filepath.Join(base, "o2", "routes.yaml"), "v2")
		path := filepath.Join(base, "ln", "routes.yaml")
		if err := os.Mkdir(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		symlink(t, filepath.Join(base, "o1", "routes.yaml"), path)
		w := startWatch(t, base, path, debounce)

		repoint(t, filepath.Join(base, "o2", "routes.yaml"), path)
		w.waitFor(t, "v2")
		writeFile(t, filepath.Join(base, "o2", "routes.yaml"), "v3")
		w.waitFor(t, "v3")
	})
	t.Run("directory link swapped", func(t *testing.T) {
		base := t.TempDir()
		writeFile(t, filepath.Join(base, "releases", "r1", "routes.yaml"), "v1")
		writeFile(t, filepath.Join(base, "releases", "r2", "routes.yaml"), "v2")
		current := filepath.Join(base, "current")
		symlink(t, filepath.Join("releases", "r1"), current)
		path := filepath.Join(current, "routes.yaml")
		w := startWatch(t, base, path, debounce)

		repoint(t, filepath.Join("releases", "r2"), current)
		w.waitFor(t, "v2")
		writeFile(t, filepath.Join(base, "releases", "r2", "routes.yaml"), "v3")
		w.waitFor(t, "v3")
	})
}

// lockedBuffer is a bytes.Buffer that Watch's logger and the test may use
// at the same time.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// `rm -rf D; mkdir D; cp good.yaml D/routes.yaml` must not end hot
// reload: the watch moves to D's parent while D is gone, says so, and
// comes back to D. Later edits prove the watch on D is back.
func TestWatchDirectoryRecreated(t *testing.T) {
	const debounce = 20 * time.Millisecond
	for _, tc := range []struct {
		name string
		wait bool // wait for the reload that finds the file gone before recreating D
	}{
		{"recreated at once", false},
		{"recreated after the failed reload", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			dir := filepath.Join(base, "D")
			path := filepath.Join(dir, "routes.yaml")
			writeFile(t, path, "v1")
			var logs lockedBuffer
			w := startWatchLogged(t, path, debounce, slog.New(slog.NewTextHandler(&logs, nil)))

			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
			if tc.wait {
				w.waitFor(t, "")
			}
			writeFile(t, path, "v2") // creates D again
			w.waitFor(t, "v2")
			writeFile(t, path, "v3")
			w.waitFor(t, "v3")
			if tc.wait && !strings.Contains(logs.String(), "level=WARN") {
				t.Errorf("no warning while %s was missing; logs:\n%s", dir, logs.String())
			}
		})
	}
}

// When the kernel drops events (its queue overflows), Watch cannot know
// what changed, so it must reload. The test holds Watch in its first
// callback while it fills the queue with writes to other files, then
// edits routes.yaml: that edit's event is lost.
func TestWatchOverflow(t *testing.T) {
	raw, err := os.ReadFile("/proc/sys/fs/inotify/max_queued_events")
	if err != nil {
		t.Skipf("no inotify queue limit to overflow: %v", err)
	}
	limit, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil || limit > 1<<20 {
		t.Skipf("inotify queue limit %q too large to overflow in a test", raw)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "routes.yaml")
	writeFile(t, path, "v1")

	ctx, cancel := context.WithCancel(context.Background())
	release := make(chan struct{})
	seen := make(chan string, 100)
	done := make(chan error, 1)
	first := true
	go func() {
		done <- Watch(ctx, path, 20*time.Millisecond, nil, func() {
			if first { // the catch-up call: the watches are in place
				first = false
				seen <- "caught up"
				<-release
				return
			}
			data, _ := os.ReadFile(path)
			seen <- string(data)
		})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-release:
		default:
			close(release)
		}
		select {
		case <-done:
		case <-time.After(waitBound):
			t.Errorf("Watch still running %v after cancel", waitBound)
		}
	})
	select {
	case <-seen:
	case err := <-done:
		t.Fatalf("Watch returned early: %v", err)
	case <-time.After(waitBound):
		t.Fatalf("no catch-up callback within %v", waitBound)
	}

	// Alternate two files: the kernel merges identical events in a row.
	// Beyond the queue, the watcher's own read buffer holds some events.
	var files [2]*os.File
	for i := range files {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("noise%d.log", i)))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		files[i] = f
	}
	for i := range limit + 10000 {
		if _, err := files[i%2].Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, path, "v2")
	close(release)

	deadline := time.After(waitBound)
	for {
		select {
		case got := <-seen:
			if got == "v2" {
				return
			}
		case err := <-done:
			t.Fatalf("Watch returned early: %v", err)
		case <-deadline:
			t.Fatalf("no callback saw the edit lost in the overflow within %v", waitBound)
		}
	}
}

// While routes.yaml is missing, writes to another file in its directory
// must not call back (each call would log a failed reload, and that log
// may be the file being written); creating routes.yaml calls back once.
//
// The first check waits a fixed window for a callback that must not come:
// with Watch correct it cannot fail, whatever the machine's speed.
func TestWatchMissingFileIgnoresOthers(t *testing.T) {
	const debounce = 20 * time.Millisecond
	dir := t.TempDir()
	path := filepath.Join(dir, "routes.yaml")
	w := startWatch(t, dir, path, debounce)

	writeFile(t, filepath.Join(dir, "strangler.log"), "level=ERROR msg=\"read config\"")
	select {
	case got := <-w.seen:
		t.Fatalf("callback (file %q) after a write to another file", got)
	case <-time.After(10 * debounce):
	}
	writeFile(t, path, "v1")
	if n := w.waitFor(t, "v1"); n != 1 {
		t.Errorf("creating routes.yaml gave %d callbacks before the one that saw it, want 1", n)
	}
}

func TestLinkChain(t *testing.T) {
	base := t.TempDir()
	at := func(rel string) string { return filepath.Join(base, rel) }
	writeFile(t, at("cm/..v1/routes.yaml"), "v1")
	symlink(t, "..v1", at("cm/..data"))
	symlink(t, "..data/routes.yaml", at("cm/routes.yaml"))
	writeFile(t, at("releases/r1/routes.yaml"), "v1")
	symlink(t, "releases/r1", at("current"))
	if err := os.Mkdir(at("up"), 0o755); err != nil {
		t.Fatal(err)
	}
	symlink(t, "../current/routes.yaml", at("up/routes.yaml"))
	symlink(t, at("gone/routes.yaml"), at("dangling.yaml"))
	symlink(t, "loop", at("loop"))
	for _, tc := range []struct {
		path string
		want []string
	}{
		{"plain/routes.yaml", []string{"plain/routes.yaml"}},
		{"cm/routes.yaml", []string{"cm/routes.yaml", "cm/..data", "cm/..v1/routes.yaml"}},
		{"current/routes.yaml", []string{"current", "releases/r1/routes.yaml"}},
		{"up/routes.yaml", []string{"up/routes.yaml", "current", "releases/r1/routes.yaml"}},
		{"dangling.yaml", []string{"dangling.yaml", "gone/routes.yaml"}},
	} {
		var want []string
		for _, p := range tc.want {
			want = append(want, at(p))
		}
		if got := linkChain(at(tc.path)); !slices.Equal(got, want) {
			t.Errorf("linkChain(%s) = %q, want %q", tc.path, got, want)
		}
	}
	if got := linkChain(at("loop/routes.yaml")); len(got) != maxLinks+2 {
		t.Errorf("linkChain of a symlink loop has %d paths, want %d", len(got), maxLinks+2)
	}
}
