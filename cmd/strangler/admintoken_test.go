package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeClock is a clock a test moves by hand.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time      { return c.now }
func (c *fakeClock) Add(d time.Duration) { c.now = c.now.Add(d) }
func newFakeClock() *fakeClock           { return &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }
func writeFile(t *testing.T, path, s string) {
	t.Helper()
	mustDo(t, os.WriteFile(path, []byte(s), 0o600))
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// replaceFile writes s to a new file and renames it over path, as an
// editor saving atomically or a secrets agent does: path gets a new inode.
func replaceFile(t *testing.T, path, s string) {
	t.Helper()
	writeFile(t, path+".new", s)
	mustDo(t, os.Rename(path+".new", path))
}

// TestAdminTokenFollowsTheFile drives the token file through the changes
// an operator makes, on a clock of the test's: a change is read at the
// first look after a second has passed, never sooner; a file that cannot
// be used keeps the previous token and warns once per change; SIGHUP's
// Reload reads the file even when nothing about it seems changed.
func TestAdminTokenFollowsTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	writeFile(t, path, "one\n")
	clock := newFakeClock()
	var logs logCapture
	tok, err := newAdminToken(path, logs.textLogger(), clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	want := func(step, token string, warns int) {
		t.Helper()
		if got := tok.Current(); got != token {
			t.Errorf("%s: token %q, want %q", step, got, token)
		}
		if n := logs.count("level=WARN"); n != warns {
			t.Errorf("%s: %d WARN lines, want %d:\n%s", step, n, warns, logs.String())
		}
	}
	want("at start", "one", 0)

	replaceFile(t, path, "two")
	clock.Add(adminTokenCheckEvery - time.Millisecond)
	want("renamed over, within a second of the last look", "one", 0)
	clock.Add(time.Millisecond)
	want("renamed over, a second later", "two", 0)
	if logs.count("admin token file changed") != 1 || strings.Contains(logs.String(), "two") {
		t.Errorf("want one INFO line about the change, without the token:\n%s", logs.String())
	}

	writeFile(t, path, "three") // in place: same inode, new size and time
	clock.Add(adminTokenCheckEvery)
	want("rewritten in place", "three", 0)

	mustDo(t, os.Remove(path))
	clock.Add(adminTokenCheckEvery)
	want("removed", "three", 1)
	clock.Add(adminTokenCheckEvery)
	want("still removed", "three", 1)

	writeFile(t, path, "  \n")
	clock.Add(adminTokenCheckEvery)
	want("empty", "three", 2)
	clock.Add(adminTokenCheckEvery)
	want("still empty", "three", 2)

	writeFile(t, path, "two words")
	clock.Add(adminTokenCheckEvery)
	want("two words", "three", 3)

	writeFile(t, path, "four")
	clock.Add(adminTokenCheckEvery)
	want("fixed", "four", 3)

	// Same size, same inode, same modification time: only SIGHUP sees it.
	info, err := os.Stat(path)
	mustDo(t, err)
	writeFile(t, path, "five")
	mustDo(t, os.Chtimes(path, info.ModTime(), info.ModTime()))
	clock.Add(adminTokenCheckEvery)
	want("changed unseen", "four", 3)
	tok.Reload()
	want("after Reload", "five", 3)

	// Reload warns each time it cannot use the file: the operator asked.
	mustDo(t, os.Remove(path))
	tok.Reload()
	tok.Reload()
	want("Reload of a missing file, twice", "five", 5)
}

// TestAdminTokenFileMustBeUsableAtStart checks that a token file that
// cannot be used at start stops strangler, naming the flag: there is no
// previous token to keep.
func TestAdminTokenFileMustBeUsableAtStart(t *testing.T) {
	dir := t.TempDir()
	empty, spaced := filepath.Join(dir, "empty"), filepath.Join(dir, "spaced")
	writeFile(t, empty, "\n")
	writeFile(t, spaced, "a b")
	for _, path := range []string{filepath.Join(dir, "missing"), empty, spaced} {
		if _, err := newAdminToken(path, nil, nil); err == nil || !strings.Contains(err.Error(), "--admin-token-file") {
			t.Errorf("token file %s: %v, want an error naming --admin-token-file", filepath.Base(path), err)
		}
	}
}

// adminStatus returns the status of GET /api/status on the admin listener
// with the bearer token given.
func adminStatus(t *testing.T, adminAddr, token string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+adminAddr+"/api/status", nil)
	mustDo(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := (&http.Client{Timeout: waitLimit}).Do(req)
	if err != nil {
		t.Fatalf("GET /api/status: %v", err)
	}
	res.Body.Close()
	return res.StatusCode
}

// startWithTokenFile runs the proxy with --admin-token-file path, logging
// to logs, and stops it when the test ends.
func startWithTokenFile(t *testing.T, path string, logs *logCapture) (adminAddr string) {
	t.Helper()
	legacy := backend(t, "legacy")
	cfg := filepath.Join(t.TempDir(), "routes.yaml")
	writeConfig(t, cfg, config(legacy.URL, legacy.URL, 0))
	o := testOptions(cfg)
	o.adminTokenFile = path
	ctx, cancel := context.WithCancel(context.Background())
	_, adminAddr, done := startProxyWith(t, ctx, o, logs.textLogger())
	t.Cleanup(func() {
		cancel()
		if err := recv(t, done, "runProxy to return"); err != nil {
			t.Errorf("runProxy: %v", err)
		}
	})
	return adminAddr
}

// TestServeFollowsRotatedAdminToken rotates the admin token file of a
// running proxy as Kubernetes updates a mounted Secret (the file is a
// symbolic link into a directory that a link swapped by rename replaces),
// then by rename over the file, then in place: within seconds the admin
// listener takes the new token and refuses the old one, without a
// restart, as Prometheus's credentials_file re-read on every scrape needs.
// A file that goes missing keeps the token in use.
func TestServeFollowsRotatedAdminToken(t *testing.T) {
	dir := t.TempDir()
	// The layout of a Secret volume: token -> ..data/token, ..data -> ..v1.
	mustDo(t, os.Mkdir(filepath.Join(dir, "..v1"), 0o755))
	writeFile(t, filepath.Join(dir, "..v1", "token"), "one")
	mustDo(t, os.Symlink("..v1", filepath.Join(dir, "..data")))
	path := filepath.Join(dir, "token")
	mustDo(t, os.Symlink(filepath.Join("..data", "token"), path))
	var logs logCapture
	admin := startWithTokenFile(t, path, &logs)
	if code := adminStatus(t, admin, "one"); code != http.StatusOK {
		t.Fatalf("with the token at start: %d, want 200", code)
	}
	takes := func(how, token, old string) {
		t.Helper()
		eventually(t, "the token "+how+" to be taken", func() bool { return adminStatus(t, admin, token) == http.StatusOK })
		if code := adminStatus(t, admin, old); code != http.StatusUnauthorized {
			t.Errorf("the old token after the token %s: %d, want 401", how, code)
		}
	}

	mustDo(t, os.Mkdir(filepath.Join(dir, "..v2"), 0o755))
	writeFile(t, filepath.Join(dir, "..v2", "token"), "two")
	mustDo(t, os.Symlink("..v2", filepath.Join(dir, "..data_tmp")))
	mustDo(t, os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")))
	mustDo(t, os.RemoveAll(filepath.Join(dir, "..v1")))
	takes("in a Secret update", "two", "one")

	mustDo(t, os.Remove(path))
	mustDo(t, os.RemoveAll(filepath.Join(dir, "..data")))
	writeFile(t, path, "one")
	takes("written to a plain file instead", "one", "two")

	replaceFile(t, path, "three")
	takes("renamed over the file", "three", "one")

	writeFile(t, path, "four")
	takes("rewritten in place", "four", "three")

	mustDo(t, os.Remove(path))
	eventually(t, "the WARN about the missing token file", func() bool {
		if code := adminStatus(t, admin, "four"); code != http.StatusOK {
			t.Fatalf("the token in use after its file was removed: %d, want 200", code)
		}
		return logs.count("admin token file cannot be used") > 0
	})
	if code := adminStatus(t, admin, ""); code != http.StatusUnauthorized {
		t.Errorf("no token after the file was removed: %d, want 401", code)
	}
}

// TestSIGHUPReadsTheAdminTokenFile changes the token file so that nothing
// about it seems changed (same inode, size and modification time), then
// sends SIGHUP: the new token is taken at once.
func TestSIGHUPReadsTheAdminTokenFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	writeFile(t, path, "one")
	info, err := os.Stat(path)
	mustDo(t, err)
	var logs logCapture
	admin := startWithTokenFile(t, path, &logs)
	writeFile(t, path, "two")
	mustDo(t, os.Chtimes(path, info.ModTime(), info.ModTime()))
	if code := adminStatus(t, admin, "one"); code != http.StatusOK {
		t.Fatalf("before SIGHUP, with the old token: %d, want 200 (the change cannot be seen)", code)
	}
	mustDo(t, syscall.Kill(os.Getpid(), syscall.SIGHUP))
	eventually(t, "SIGHUP to read the token file", func() bool { return logs.count("admin token file changed") > 0 })
	if code := adminStatus(t, admin, "two"); code != http.StatusOK {
		t.Errorf("after SIGHUP, with the new token: %d, want 200", code)
	}
	if code := adminStatus(t, admin, "one"); code != http.StatusUnauthorized {
		t.Errorf("after SIGHUP, with the old token: %d, want 401", code)
	}
}
