// Package appmain is the shared body of the bundled apps' binaries (the
// legacy monolith and the extracted services): flag parsing with usage
// errors, the logger, serving on a listener with graceful shutdown, and
// main's signal and exit handling.
//
// appmain imports only internal/shopapi (to check URL flags as the apps'
// clients do), never the proxy's packages.
package appmain

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/strangler-proxy/strangler/internal/shopapi"
)

// Server timeouts. There is no write timeout: injected latency must be able
// to exceed any fixed bound.
const (
	readHeaderTimeout = 5 * time.Second
	idleTimeout       = 60 * time.Second
	shutdownTimeout   = 10 * time.Second
)

// Exit codes of Main.
const (
	exitError = 1 // the app ran and failed
	exitUsage = 2 // the command line was wrong
)

// UsageError is a wrong command line: a bad flag or flag value, or a stray
// argument. Main prints it to stderr with a hint and exits 2, as strangler
// itself does.
type UsageError struct{ Err error }

// Error returns the cause's text.
func (e *UsageError) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *UsageError) Unwrap() error { return e.Err }

// ParseFlags parses args with fs. -h or --help prints fs's flags to stdout
// and returns flag.ErrHelp. A bad flag, and an argument left after the
// flags, are a *UsageError: the flag package stops at the first argument
// that is not a flag, so "orders extra --addr X" would otherwise ignore
// --addr. Nothing is printed on errors; Main prints them.
func ParseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) error {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprintf(stdout, "Usage of %s:\n", fs.Name())
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return flag.ErrHelp
	case err != nil:
		return &UsageError{err}
	case fs.NArg() > 0:
		return &UsageError{fmt.Errorf("unexpected argument %q (flags after it are not read)", fs.Arg(0))}
	}
	return nil
}

// URLVar defines a flag holding the base URL of another app, checked when
// the flag is set (shopapi.CheckBaseURL), so a bad value is a flag error.
// An empty value is refused unless emptyOK, so that an empty --NAME never
// silently stands for a default.
func URLVar(fs *flag.FlagSet, p *string, name, value, usage string, emptyOK bool) {
	*p = value
	fs.Var(&urlValue{p: p, emptyOK: emptyOK}, name, usage)
}

type urlValue struct {
	p       *string
	emptyOK bool
}

func (u *urlValue) String() string {
	if u.p == nil { // the zero value flag.PrintDefaults makes
		return ""
	}
	return *u.p
}

func (u *urlValue) Set(s string) error {
	switch {
	case s == "" && !u.emptyOK:
		return errors.New("must not be empty")
	case s != "":
		if err := shopapi.CheckBaseURL(s); err != nil {
			return err
		}
	}
	*u.p = s
	return nil
}

// NewLogger returns a logger writing to w in format "text" or "json".
func NewLogger(w io.Writer, format string) (*slog.Logger, error) {
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, nil)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, nil)), nil
	}
	return nil, &UsageError{fmt.Errorf("--log-format %q: want text or json", format)}
}

// Serve listens on addr and serves h until ctx ends, then stops accepting
// and lets requests in flight finish. When they take longer than 10s, or a
// SIGINT or SIGTERM arrives meanwhile (a second Ctrl-C), the connections
// still open are closed and Serve returns nil: stopping was asked for. It
// logs "listening" with the bound address, so --addr with port 0 works.
func Serve(ctx context.Context, addr string, h http.Handler, log *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--addr %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: readHeaderTimeout, IdleTimeout: idleTimeout,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	return serve(ctx, srv, ln, log, shutdownTimeout, notifySignals)
}

// notifySignals relays SIGINT and SIGTERM to c until stop is called.
func notifySignals(c chan<- os.Signal) (stop func()) {
	signal.Notify(c, os.Interrupt, syscall.SIGTERM)
	return func() { signal.Stop(c) }
}

// serve is Serve on a listener, with the grace period and the source of
// second signals (notify, which relays them to a channel until stopped)
// given.
func serve(ctx context.Context, srv *http.Server, ln net.Listener, log *slog.Logger, grace time.Duration,
	notify func(chan<- os.Signal) (stop func())) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String())

	select {
	case err := <-errc:
		return fmt.Errorf("serve %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	again := make(chan os.Signal, 1)
	defer notify(again)()
	log.Info("shutting down", "grace", grace)
	if err := shutdown(ctx, srv, grace, again, log); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve %s: %w", ln.Addr(), err)
	}
	return nil
}

// shutdown shuts srv down gracefully for at most grace, or until a signal
// arrives on again, then closes the connections still open.
func shutdown(ctx context.Context, srv *http.Server, grace time.Duration, again <-chan os.Signal, log *slog.Logger) error {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(sctx) }()
	var err error
	select {
	case err = <-done:
	case <-again:
		log.Warn("second signal: stopping now")
		cancel()
		err = <-done
	}
	if err == nil {
		return nil
	}
	if sctx.Err() == nil {
		return fmt.Errorf("shut down: %w", err)
	}
	if errors.Is(sctx.Err(), context.DeadlineExceeded) {
		log.Warn("grace period over: closing the connections still open", "grace", grace)
	}
	if err := srv.Close(); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	return nil
}

// Main runs a binary's run function until SIGINT or SIGTERM, and exits 2
// on a *UsageError, 1 on any other error, naming the program on stderr.
func Main(name string, run func(ctx context.Context, args []string, stdout io.Writer) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if code := report(name, err, os.Stderr); code != 0 {
		os.Exit(code)
	}
}

// report writes err to stderr, naming the program, and returns the exit
// code for it: 0 for nil.
func report(name string, err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, name+":", err)
	if _, ok := errors.AsType[*UsageError](err); ok {
		fmt.Fprintf(stderr, "Run \"%s -h\" for usage.\n", name)
		return exitUsage
	}
	return exitError
}
