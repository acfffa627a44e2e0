package test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// browserBudget bounds everything one browser test does in Chromium.
const browserBudget = 60 * time.Second

// chromiumPath returns the Chromium to drive: Debian's /usr/bin/chromium,
// else chromium on PATH. Without one the test is skipped, or fails when
// STRANGLER_CI=1 (CI installs the package).
func chromiumPath(t *testing.T) string {
	t.Helper()
	path := "/usr/bin/chromium"
	if _, err := os.Stat(path); err != nil {
		if path, err = exec.LookPath("chromium"); err != nil {
			if os.Getenv("STRANGLER_CI") == "1" {
				t.Fatalf("STRANGLER_CI=1 but Chromium is not installed (%v): install Debian's chromium package", err)
			}
			t.Skipf("Chromium is not installed (Debian package chromium); skipping")
		}
	}
	return path
}

// browser is one tab of a headless Chromium. Every console error and
// uncaught exception of its pages is recorded; the test fails on any that
// allowed does not match, at the latest when it ends.
type browser struct {
	ctx     context.Context
	allowed *regexp.Regexp // errors the test expects; nil allows none

	mu       sync.Mutex
	problems []string
}

// startBrowser starts Chromium with a fresh profile and the flags a closed
// network needs, and kills it when the test ends.
func startBrowser(t *testing.T, allowed *regexp.Regexp) *browser {
	t.Helper()
	if binDir == "" {
		t.Skip("end-to-end test: binaries are not built in -short mode")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		// Without these Chromium hangs on connections to the internet.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("hide-scrollbars", true),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	tabCtx, cancelTab := chromedp.NewContext(allocCtx)
	ctx, cancelBudget := context.WithTimeout(tabCtx, browserBudget)
	b := &browser{ctx: ctx, allowed: allowed}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		b.checkConsole(t)
		cancelBudget()
		cancelTab()
		cancelAlloc() // kills Chromium and waits for it
		wg.Wait()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	messages := chromedp.Console(ctx)
	wg.Go(func() {
		for m, err := range messages {
			if err != nil {
				return // the tab is gone
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException {
				b.record(fmt.Sprintf("%s at %s:%d: %s", m.Type, m.URL, m.Line+1, m))
			}
		}
	})
	return b
}

func (b *browser) record(problem string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.allowed == nil || !b.allowed.MatchString(problem) {
		b.problems = append(b.problems, problem)
	}
}

// checkConsole fails the test when a page logged an error or threw.
func (b *browser) checkConsole(t *testing.T) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.problems) > 0 {
		t.Errorf("the page logged %d JavaScript errors:\n%s", len(b.problems), strings.Join(b.problems, "\n"))
		b.problems = nil
	}
}

// do runs actions in the tab.
func (b *browser) do(t *testing.T, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// evalIn evaluates a JavaScript expression in b's page.
func evalIn[T any](t *testing.T, b *browser, expr string) T {
	t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitFor polls a JavaScript expression in the page until it is truthy,
// failing the test after patience with what the page shows.
func (b *browser) waitFor(t *testing.T, what, expr string) {
	t.Helper()
	_, err := chromedp.Run(b.ctx, chromedp.Poll[chromedp.Void](expr,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(patience)))
	if err != nil {
		b.checkConsole(t)
		shown := evalIn[string](t, b, `document.body.innerText.slice(0, 3000)`)
		if errors.Is(err, chromedp.ErrPollingTimeout) {
			t.Fatalf("timed out after %s waiting for %s; the page shows:\n%s", patience, what, shown)
		}
		t.Fatalf("waiting for %s: %v; the page shows:\n%s", what, err, shown)
	}
}

// viewport resizes the page as a window of that size would.
func (b *browser) viewport(t *testing.T, width, height int64) {
	t.Helper()
	b.do(t, fmt.Sprintf("resize to %dx%d", width, height), chromedp.EmulateViewport(width, height))
}

// screenshot saves the visible part of the page as a PNG: into docs/ of
// the repository when STRANGLER_UPDATE_SCREENSHOT=1, else into a temporary
// directory, so that a test run never changes the tree. It returns the
// file's path.
func (b *browser) screenshot(t *testing.T, name string) string {
	t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("screenshot: not a PNG (%d bytes)", len(png))
	}
	dir := t.TempDir()
	if os.Getenv("STRANGLER_UPDATE_SCREENSHOT") == "1" {
		dir = filepath.Join("..", "docs")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("save screenshot: %v", err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatalf("save screenshot: %v", err)
	}
	return path
}
