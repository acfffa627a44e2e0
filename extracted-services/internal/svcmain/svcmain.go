// Package svcmain is the shared body of the extracted services' binaries:
// common flags, logger, listener, serving, and graceful shutdown when the
// context ends. Each cmd/<service> adds its own flags and builds its App.
//
// svcmain imports only internal/faults and internal/appmain, never the
// proxy's packages.
package svcmain

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/strangler-proxy/strangler/internal/appmain"
	"github.com/strangler-proxy/strangler/internal/faults"
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
// down gracefully (appmain.Serve). -h prints usage to stdout and returns
// nil; a wrong command line (a bad flag or value, an empty --monolith-url,
// a stray argument) is an *appmain.UsageError.
func Run(ctx context.Context, s Spec, args []string, stdout io.Writer) error {
	c := Common{Addr: s.DefaultAddr}
	var logFormat string
	fs := flag.NewFlagSet(s.Name, flag.ContinueOnError)
	fs.StringVar(&c.Addr, "addr", c.Addr, "listen address")
	appmain.URLVar(fs, &c.MonolithURL, "monolith-url", "http://127.0.0.1:8401", "base URL of the legacy monolith", false)
	fs.Int64Var(&c.Seed, "seed", 1, "seed of generated data and fault draws (use the monolith's)")
	fs.StringVar(&logFormat, "log-format", "text", "log format: text or json")
	c.Faults.RegisterFlags(fs)
	if s.Flags != nil {
		s.Flags(fs)
	}
	if err := appmain.ParseFlags(fs, args, stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if err := c.Faults.Validate(); err != nil {
		return &appmain.UsageError{Err: fmt.Errorf("--fault-* flags: %w", err)}
	}
	log, err := appmain.NewLogger(stdout, logFormat)
	if err != nil {
		return err
	}
	log = log.With("app", s.Name)
	c.Logger = log
	h, err := s.Build(c)
	if err != nil {
		return fmt.Errorf("build %s: %w", s.Name, err)
	}
	return appmain.Serve(ctx, c.Addr, h, log)
}
