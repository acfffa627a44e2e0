package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
)

// lineCount returns how many lines the file at path holds; a missing file
// holds none.
func lineCount(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return 0
	}
	mustDo(t, err)
	return bytes.Count(b, []byte("\n"))
}

// TestSIGHUPReopensTheAccessLog rotates --access-log as logrotate does by
// default (rename the file, then signal the process): after SIGHUP new
// records go to a new file at the path, and every request is in one file
// or the other, none lost.
func TestSIGHUPReopensTheAccessLog(t *testing.T) {
	legacy := backend(t, "legacy")
	dir := t.TempDir()
	cfg, path, rotated := filepath.Join(dir, "routes.yaml"), filepath.Join(dir, "access.log"), filepath.Join(dir, "access.log.1")
	writeConfig(t, cfg, config(legacy.URL, legacy.URL, 0))
	o := testOptions(cfg)
	o.accessLog, o.accessSample = path, 1
	var logs logCapture
	ctx, cancel := context.WithCancel(context.Background())
	proxyAddr, _, done := startProxyWith(t, ctx, o, logs.textLogger())
	stop := sync.OnceValue(func() error {
		cancel()
		return recv(t, done, "runProxy to return")
	})
	defer stop()

	requests := 0
	request := func() {
		t.Helper()
		if code, _ := get(t, "http://"+proxyAddr+"/page"); code != http.StatusOK {
			t.Fatalf("GET /page: %d", code)
		}
		requests++
	}
	for range 5 {
		request()
	}
	eventually(t, "the first records in the access log", func() bool { return lineCount(t, path) == requests })
	mustDo(t, os.Rename(path, rotated))
	mustDo(t, syscall.Kill(os.Getpid(), syscall.SIGHUP))
	eventually(t, "records in a new file at the path", func() bool {
		request()
		return lineCount(t, path) > 0
	})
	for range 5 {
		request()
	}
	if err := stop(); err != nil { // the records queued are written
		t.Fatal(err)
	}
	if old, cur := lineCount(t, rotated), lineCount(t, path); old+cur != requests || old < 5 {
		t.Errorf("renamed file %d records + new file %d, want the %d requests, at least 5 in the renamed one", old, cur, requests)
	}
	if logs.count("access log reopened") != 1 {
		t.Errorf("want one line saying the access log was reopened:\n%s", logs.String())
	}
}
