package routing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// DefaultDebounce is how long Watch waits after the last change to the
// config file before it calls back. Editors write a file in several steps;
// one reload per save is enough.
const DefaultDebounce = 100 * time.Millisecond

// maxLinks bounds the symlinks followed while resolving the config path,
// as the kernel does before it gives up with ELOOP.
const maxLinks = 40

// maxSyncRounds bounds how often one sync looks again because adding a
// watch changed what there is to watch.
const maxSyncRounds = 8

// Watch calls onChange after the config file at path may have changed,
// until ctx ends. onChange runs on Watch's goroutine, so calls never
// overlap; the callback is expected to skip a file whose bytes did not
// change.
//
// Watch watches directories rather than the file, so that saves by rename
// (most editors) and symlink swaps are seen: the directory of the file,
// and the directory of every symlink met while resolving path component by
// component (Kubernetes ConfigMaps swap ..data; deploy tools swap a
// "current" directory link). Only events for those links, for the file,
// or for a directory on their way count: other files in the same
// directories (an access log, say) are ignored. After every event that may
// have changed the links or directories, the watches follow the new
// layout. While a directory is missing, Watch watches its nearest existing
// parent, logs a warning, and watches the directory again once it is back.
//
// Events closer together than debounce are merged into one call, which
// comes once the file has been quiet for debounce: a file written in
// pieces is read once it is complete, never in between (a half-written
// file can be valid YAML, with a weight not yet written that defaults to
// 100). When the kernel drops events (queue overflow), Watch calls back
// too, since it cannot tell what changed.
//
// Watch also calls onChange once as soon as the directories are watched:
// the caller read the file before Watch started, and a save in between
// raises no event, so without that call it would wait for the next save.
//
// Watch returns nil when ctx ends, or an error when the watcher cannot
// start, including when the directory of path does not exist.
func Watch(ctx context.Context, path string, debounce time.Duration, log *slog.Logger, onChange func()) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if debounce <= 0 {
		debounce = DefaultDebounce
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("watch config %s: %w", path, err)
	}
	if _, err := os.Stat(filepath.Dir(abs)); err != nil {
		return fmt.Errorf("watch config directory %s: %w", filepath.Dir(abs), err)
	}
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch config: %w", err)
	}
	defer fw.Close()
	cw := &configWatch{fs: fw, path: abs, log: log}
	if err := cw.sync(); err != nil {
		return err
	}
	onChange() // catch up with a save made before the watch was in place

	d := newDebouncer(debounce)
	defer d.timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-fw.Events:
			if !ok {
				return nil
			}
			if cw.handle(ev) {
				d.event()
			}
		case err, ok := <-fw.Errors:
			if !ok {
				return nil
			}
			if !errors.Is(err, fsnotify.ErrEventOverflow) {
				log.Warn("config watcher error", "error", err)
				continue
			}
			log.Warn("config watcher lost events; reloading in case the config changed", "config", abs)
			cw.resync()
			d.event()
		case <-d.timer.C:
			cw.resync()
			onChange()
		}
	}
}

// debouncer fires its timer quiet after the last event.
type debouncer struct {
	timer *time.Timer
	quiet time.Duration
}

func newDebouncer(quiet time.Duration) *debouncer {
	t := time.NewTimer(quiet)
	t.Stop()
	return &debouncer{timer: t, quiet: quiet}
}

// event (re)arms the timer for an event now.
func (d *debouncer) event() { d.timer.Reset(d.quiet) }

// configWatch keeps an fsnotify watcher on the directories that decide
// which file the config path names and what it holds.
type configWatch struct {
	fs    *fsnotify.Watcher
	path  string // absolute
	log   *slog.Logger
	chain []string // linkChain(path) as of the last sync
	// missing is the directory of the chain that does not exist, so that
	// its nearest existing parent is watched instead; "" when none is.
	missing string
}

// handle reports whether ev may have changed the config: it names a path
// of the chain, or a directory on the way to one (removed, renamed,
// created). An event that may have changed links or directories syncs the
// watches first.
func (c *configWatch) handle(ev fsnotify.Event) bool {
	if ev.Op == fsnotify.Chmod || !c.concerns(filepath.Clean(ev.Name)) {
		return false
	}
	if ev.Has(fsnotify.Create) || ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
		c.resync()
	}
	return true
}

// concerns reports whether name is a path of the chain or a directory
// above one.
func (c *configWatch) concerns(name string) bool {
	for _, p := range c.chain {
		if p == name || strings.HasPrefix(p, name+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

// resync is sync for when Watch is running: a failure is logged, and the
// next event or reload tries again.
func (c *configWatch) resync() {
	if err := c.sync(); err != nil {
		c.log.Warn("config watch incomplete; changes may be missed", "config", c.path, "error", err)
	}
}

// sync resolves the config path again and watches what it needs now,
// adding new watches before it removes the old ones. A directory created
// just before its parent came to be watched raises no event, so sync looks
// again after adding watches until nothing changes.
func (c *configWatch) sync() error {
	var dirs []string
	var missing string
	var err error
	for range maxSyncRounds {
		c.chain = linkChain(c.path)
		dirs, missing = watchDirs(c.chain)
		var added bool
		if added, err = c.add(dirs); !added {
			break
		}
	}
	for _, d := range c.fs.WatchList() {
		if !slices.Contains(dirs, d) {
			_ = c.fs.Remove(d) // gone already when the directory was removed
		}
	}
	c.setMissing(missing)
	return err
}

// add watches each of dirs not watched yet and reports whether it added
// any.
func (c *configWatch) add(dirs []string) (bool, error) {
	watched := c.fs.WatchList()
	var added bool
	var errs []error
	for _, d := range dirs {
		if slices.Contains(watched, d) {
			continue
		}
		if err := c.fs.Add(d); err != nil {
			errs = append(errs, fmt.Errorf("watch config directory %s: %w", d, err))
			continue
		}
		added = true
	}
	return added, errors.Join(errs...)
}

// setMissing logs when a directory of the chain goes missing, and when
// none is missing any more.
func (c *configWatch) setMissing(missing string) {
	if missing == c.missing {
		return
	}
	if missing != "" {
		c.log.Warn("config directory missing; watching its parent until it is back, then reloading",
			"config", c.path, "missing", missing, "watching", existingDir(missing))
	} else {
		c.log.Info("config directory back; watching it again", "config", c.path, "dir", c.missing)
	}
	c.missing = missing
}

// watchDirs returns the directories to watch for the paths of chain: the
// directory of each, or its nearest existing parent while it is missing.
// missing is the first directory that is, or "".
func watchDirs(chain []string) (dirs []string, missing string) {
	for _, p := range chain {
		want := filepath.Dir(p)
		got := existingDir(want)
		if got != want && missing == "" {
			missing = want
		}
		if !slices.Contains(dirs, got) {
			dirs = append(dirs, got)
		}
	}
	return dirs, missing
}

// existingDir returns dir, or its nearest parent that exists.
func existingDir(dir string) string {
	for {
		if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return dir
		}
		dir = parent
	}
}

// linkChain returns the paths whose change can change what the absolute
// path abs names: each symlink met while resolving abs component by
// component, then the path it resolves to. From a missing component on,
// the rest is taken as it is.
func linkChain(abs string) []string {
	var chain []string
	vol := filepath.VolumeName(abs)
	dest, todo := vol+string(filepath.Separator), abs[len(vol):]
	for links := 0; todo != ""; {
		var name string
		name, todo = nextComponent(todo)
		switch name {
		case "", ".":
			continue
		case "..":
			dest = filepath.Dir(dest) // dest holds no symlink, so this is its parent
			continue
		}
		next := filepath.Join(dest, name)
		target, err := os.Readlink(next)
		if err != nil { // not a symlink, or missing
			dest = next
			continue
		}
		chain = append(chain, next)
		if links++; links > maxLinks {
			return append(chain, filepath.Join(next, todo))
		}
		if filepath.IsAbs(target) {
			v := filepath.VolumeName(target)
			dest, target = v+string(filepath.Separator), target[len(v):]
		}
		todo = target + string(filepath.Separator) + todo
	}
	return append(chain, dest)
}

// nextComponent splits the first component off path.
func nextComponent(path string) (name, rest string) {
	path = strings.TrimLeft(path, string(filepath.Separator))
	name, rest, _ = strings.Cut(path, string(filepath.Separator))
	return name, rest
}
