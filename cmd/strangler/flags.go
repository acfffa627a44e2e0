package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
)

// newFlagSet returns a flag set for one command whose --help output goes to
// stdout and whose errors go to stderr.
func newFlagSet(name, synopsis string, stdout io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: strangler %s\n\n", synopsis)
		if hasFlags(fs) {
			fmt.Fprintln(fs.Output(), "Flags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// takesArgs names the commands that take arguments after their flags;
// every other command refuses them.
var takesArgs = map[string]bool{"validate": true}

// parseFlags parses args and returns the exit code to stop with, or -1 to
// go on. --help prints the usage and exits 0; a bad flag exits 2, and so
// do arguments left after the flags of a command that takes none: the
// flag package stops at the first argument that is not a flag, so
// "serve my.yaml --listen :80" would otherwise ignore --listen as well.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) int {
	out, usage := fs.Output(), fs.Usage
	fs.SetOutput(stderr)
	fs.Usage = func() {}
	err := fs.Parse(args)
	fs.SetOutput(out)
	fs.Usage = usage
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.Usage()
		return exitOK
	case err != nil:
		fmt.Fprintf(stderr, "Run \"strangler %s --help\" for usage.\n", fs.Name())
		return exitUsage
	case fs.NArg() > 0 && !takesArgs[fs.Name()]:
		fmt.Fprintf(stderr, "strangler %s: %s\nRun \"strangler %s --help\" for usage.\n",
			fs.Name(), strayArgs(fs.Args()), fs.Name())
		return exitUsage
	}
	return -1
}

// strayArgs says what is wrong with the arguments left after the flags:
// it names them, and suggests --config for a YAML file.
func strayArgs(args []string) string {
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = fmt.Sprintf("%q", a)
	}
	msg := fmt.Sprintf("unexpected argument %s", quoted[0])
	if len(args) > 1 {
		msg = fmt.Sprintf("unexpected arguments %s (flags after the first argument are not read as flags)",
			strings.Join(quoted, " "))
	}
	if ext := strings.ToLower(filepath.Ext(args[0])); ext == ".yaml" || ext == ".yml" {
		msg += fmt.Sprintf("; to serve %s, use --config %s", args[0], args[0])
	}
	return msg
}

// logFlags are the logging flags every long-running command shares.
type logFlags struct {
	format string
	level  string
}

func (l *logFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&l.format, "log-format", "text", "log format: text or json")
	fs.StringVar(&l.level, "log-level", "info", "log level: debug, info, warn or error")
}

// logger builds the slog.Logger the flags describe, writing to w.
func (l *logFlags) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(l.level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", l.level)
	}
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: durationsInSeconds}
	switch strings.ToLower(l.format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("--log-format %q: want text or json", l.format)
	}
}

// durationsInSeconds applies strangler's rule for durations in its logs,
// the access log's and Prometheus's: a number of seconds, as a float,
// under a key ending in _seconds ("delay_seconds":3, not
// "delay":3000000000 in JSON). Code logs durations that way itself; this
// catches a time.Duration logged as one.
func durationsInSeconds(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() != slog.KindDuration {
		return a
	}
	key := a.Key
	if !strings.HasSuffix(key, "_seconds") {
		key += "_seconds"
	}
	return slog.Float64(key, a.Value.Duration().Seconds())
}
