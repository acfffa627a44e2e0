// Package svcmain is the shared body of the extracted services' binaries:
// common flags, logger, listener, serving, and graceful shutdown when the
// context ends. Each cmd/<service> adds its own flags and builds its App.
//
// svcmain imports only internal/faults, never the proxy's packages.
package svcmain

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

	"github.com/strangler-proxy/strangler/internal/faults"
)

// Server timeouts. There is no write timeout: injected latency must be able
// to exceed any fixed bound.
const (
	readHeaderTimeout = 5 * time.Second
	idleTimeout       = 60 * time.Second
	shutdownTimeout   = 10 * time.Second
)

// Common holds what every service binary is configured with.
type Common struct {
	Addr        string          // --addr: listen address
	MonolithURL string          // --monolith-url: base URL of the monolith
	Seed        int64           // --seed: seed of data and fault draws
	Faults      faults.Settings // --fault-*: faults from the start
	Logger      *slog.Logger    // built from --log-format, writing to stdout
}

// Spec describes one service binary.
type Spec struct {
	Name        string                               // program name, for usage and logs
	DefaultAddr string                               // default of --addr
	Flags       func(fs *flag.FlagSet)               // registers the service's own flags; may be nil
	Build       func(c Common) (http.Handler, error) // builds the app once flags are parsed
}

// Run parses args, builds the app and serves it until ctx ends, then shuts
// down gracefully. -h prints usage to stdout and returns nil.
func Run(ctx context.Context, s Spec, args []string, stdout io.Writer) error {
	c := Common{Addr: s.DefaultAddr}
	var logFormat string
	fs := flag.NewFlagSet(s.Name, flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.StringVar(&c.Addr, "addr", c.Addr, "listen address")
	fs.StringVar(&c.MonolithURL, "monolith-url", "http://127.0.0.1:8401", "base URL of the legacy monolith")
	fs.Int64Var(&c.Seed, "seed", 1, "seed of generated data and fault draws (use the monolith's)")
	fs.StringVar(&logFormat, "log-format", "text", "log format: text or json")
	c.Faults.RegisterFlags(fs)
	if s.Flags != nil {
		s.Flags(fs)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	log, err := NewLogger(stdout, logFormat)
	if err != nil {
		return err
	}
	log = log.With("app", s.Name)
	c.Logger = log
	h, err := s.Build(c)
	if err != nil {
		return fmt.Errorf("build %s: %w", s.Name, err)
	}
	return Serve(ctx, c.Addr, h, log)
}

// NewLogger returns a logger writing to w in format "text" or "json".
func NewLogger(w io.Writer, format string) (*slog.Logger, error) {
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, nil)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, nil)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

// Serve listens on addr and serves h until ctx ends, then stops accepting,
// lets requests in flight finish (at most shutdownTimeout) and returns. It
// logs "listening" with the bound address, so --addr with port 0 works.
func Serve(ctx context.Context, addr string, h http.Handler, log *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--addr %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: readHeaderTimeout, IdleTimeout: idleTimeout,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String())

	select {
	case err := <-errc:
		return fmt.Errorf("serve %s: %w", addr, err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve %s: %w", addr, err)
	}
	return nil
}

// Main runs a service binary's run function until SIGINT or SIGTERM and
// exits 1, naming the service, when it fails.
func Main(name string, run func(ctx context.Context, args []string, stdout io.Writer) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(1)
	}
}
