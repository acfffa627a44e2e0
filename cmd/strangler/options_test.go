package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestServeHelpWriteTimeout checks that serve --help describes the write
// timeout as it behaves: the deadline moves at most once per quarter of it,
// so a blocked write is cut off after three quarters of it to all of it.
func TestServeHelpWriteTimeout(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"serve", "--help"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("serve --help: exit %d\n%s%s", code, &stdout, &stderr)
	}
	_, help, ok := strings.Cut(stdout.String(), "-write-timeout")
	if !ok {
		t.Fatalf("serve --help lacks --write-timeout:\n%s", &stdout)
	}
	help, _, _ = strings.Cut(help, "\n  -") // up to the next flag
	for _, want := range []string{"at most once per quarter", "after 3/4 of it to all of it"} {
		if !strings.Contains(help, want) {
			t.Errorf("--write-timeout help lacks %q:\n%s", want, help)
		}
	}
	if strings.Contains(help, "fresh deadline") {
		t.Errorf("--write-timeout help still says each write gets a fresh deadline:\n%s", help)
	}
}
