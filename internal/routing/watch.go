package routing

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// DefaultDebounce is how long Watch waits after the last change in the
// config directory before it calls back. Editors write a file in several
// steps; one reload per save is enough.
const DefaultDebounce = 100 * time.Millisecond

// Watch calls onChange after the config file at path may have changed,
// until ctx ends. It watches the file's directory rather than the file, so
// that saves by rename (most editors) and symlink swaps (Kubernetes
// ConfigMaps) are seen, and when path is a symlink it watches the
// directory of its target too. Any event in those directories counts: the
// callback is expected to skip a file whose bytes did not change. Events
// closer together than debounce are merged into one call. onChange runs on
// Watch's goroutine, so calls never overlap.
//
// Watch also calls onChange once as soon as the directories are watched:
// the caller read the file before Watch started, and a save in between
// raises no event, so without that call it would wait for the next save.
//
// Watch returns nil when ctx ends, or an error when the watcher cannot
// start.
func Watch(ctx context.Context, path string, debounce time.Duration, log *slog.Logger, onChange func()) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if debounce <= 0 {
		debounce = DefaultDebounce
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch config: %w", err)
	}
	defer w.Close()

	for _, dir := range watchDirs(path) {
		if err := w.Add(dir); err != nil {
			return fmt.Errorf("watch config directory %s: %w", dir, err)
		}
	}
	onChange() // catch up with a save made before the watch was in place

	timer := time.NewTimer(debounce)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if ev.Op == fsnotify.Chmod {
				continue
			}
			timer.Reset(debounce)
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			log.Warn("config watcher error", "error", err)
		case <-timer.C:
			onChange()
		}
	}
}

// watchDirs returns the directory of path and, when path is a symlink, the
// directory of its final target.
func watchDirs(path string) []string {
	dirs := []string{filepath.Dir(path)}
	if target, err := filepath.EvalSymlinks(path); err == nil {
		if d := filepath.Dir(target); d != dirs[0] {
			if abs, err := filepath.Abs(dirs[0]); err != nil || abs != d {
				dirs = append(dirs, d)
			}
		}
	}
	return dirs
}
