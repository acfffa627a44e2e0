package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
)

// adminTokenCheckEvery is how often, at most, a request to the admin
// listener looks at the admin token file for a change: admin traffic is
// light (a Prometheus scrape, the dashboard's polls), and a stat a second
// is nothing next to it.
const adminTokenCheckEvery = time.Second

// adminToken is the bearer token the admin listener requires, read from
// --admin-token-file. It follows the file, as Prometheus's
// credentials_file does on the scraping side: when the file changes (its
// inode, size or modification time: a Kubernetes Secret swapped in by
// rename, or a file rewritten in place), the next admin request reads it
// again, and so does SIGHUP. A changed file that cannot be used (missing,
// empty, unreadable) keeps the previous token in use, and says so once per
// change.
type adminToken struct {
	path string
	log  *slog.Logger
	now  func() time.Time // the clock; time.Now but in tests

	mu      sync.Mutex
	token   string    // the token in use; never empty
	checked time.Time // when the file was last looked at
	seen    fileState // the file as last looked at
}

// fileState is the admin token file as last looked at: what os.Stat said
// and, when the file could not be used, why.
type fileState struct {
	info os.FileInfo // nil when the file could not be looked at
	err  string      // why the file could not be used; "" when it was
}

// same reports whether s and o describe the same file in the same state.
func (s fileState) same(o fileState) bool {
	if s.err != o.err || (s.info == nil) != (o.info == nil) {
		return false
	}
	if s.info == nil {
		return true
	}
	return os.SameFile(s.info, o.info) && s.info.Size() == o.info.Size() && s.info.ModTime().Equal(o.info.ModTime())
}

// newAdminToken reads the token at path. At start there is no previous
// token to keep: a file that cannot be used is an error. now is the clock
// (nil: time.Now).
func newAdminToken(path string, log *slog.Logger, now func() time.Time) (*adminToken, error) {
	if now == nil {
		now = time.Now
	}
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("--admin-token-file: %w", err)
	}
	token, err := readTokenFile(path)
	if err != nil {
		return nil, fmt.Errorf("--admin-token-file: %w", err)
	}
	return &adminToken{path: path, log: log, now: now, token: token, checked: now(), seen: fileState{info: info}}, nil
}

// Current returns the token in use, having read the file again first when
// it changed and it was last looked at adminTokenCheckEvery ago or more.
func (t *adminToken) Current() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if now := t.now(); now.Sub(t.checked) >= adminTokenCheckEvery || now.Before(t.checked) {
		t.checked = now
		t.refresh(false)
	}
	return t.token
}

// Reload reads the file again, changed or not, as SIGHUP asks.
func (t *adminToken) Reload() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.checked = t.now()
	t.refresh(true)
}

// refresh reads the file when it changed since it was last looked at, or
// when forced. Called with t.mu held.
func (t *adminToken) refresh(force bool) {
	info, err := os.Stat(t.path)
	if err != nil {
		t.unusable(fileState{err: err.Error()}, err, force)
		return
	}
	if !force && t.seen.same(fileState{info: info}) {
		return
	}
	token, err := readTokenFile(t.path)
	if err != nil {
		t.unusable(fileState{info: info, err: err.Error()}, err, force)
		return
	}
	t.seen = fileState{info: info}
	if token != t.token {
		t.token = token
		t.log.Info("admin token file changed: the new token is in use", "path", t.path)
	}
}

// unusable records a file that cannot be used and warns, once per change
// of the file or whenever forced.
func (t *adminToken) unusable(now fileState, err error, force bool) {
	if force || !t.seen.same(now) {
		t.log.Warn("admin token file cannot be used: the previous token stays in use until it is fixed",
			"path", t.path, "error", err)
	}
	t.seen = now
}

// errBadToken is a token file whose content is not one token.
var errBadToken = errors.New("want one token without spaces")

// readTokenFile reads a token from path: the file's content without
// surrounding white space, which must not be empty nor hold spaces.
func readTokenFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read admin token: %w", err)
	}
	token := strings.TrimSpace(string(b))
	if token == "" || strings.ContainsAny(token, " \t\r\n") {
		return "", fmt.Errorf("%s: %w", path, errBadToken)
	}
	return token, nil
}
