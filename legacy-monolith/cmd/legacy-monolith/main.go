// Command legacy-monolith runs the bundled legacy shop on 127.0.0.1:8401 by
// default. See legacy-monolith/README.md.
package main

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

	monolith "github.com/strangler-proxy/strangler/legacy-monolith"
)

// Server timeouts. There is no write timeout: injected latency must be able
// to exceed any fixed bound.
const (
	readHeaderTimeout = 5 * time.Second
	idleTimeout       = 60 * time.Second
	shutdownTimeout   = 10 * time.Second
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "legacy-monolith:", err)
		os.Exit(1)
	}
}

// run parses args, builds the monolith and serves it until ctx ends, then
// shuts down gracefully. Logs go to stdout; -h prints usage and returns nil.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	var o monolith.Options
	var addr, logFormat string
	fs := flag.NewFlagSet("legacy-monolith", flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.StringVar(&addr, "addr", "127.0.0.1:8401", "listen address")
	fs.StringVar(&o.InventoryURL, "inventory-url", "", "base URL of the inventory service; when set, stock is reserved there instead of the local table")
	fs.StringVar(&o.OrdersURL, "orders-url", "", "base URL of the orders service, owner of ord-5xxxxx orders (empty: none)")
	fs.Int64Var(&o.Seed, "seed", 1, "seed of the generated data and fault draws")
	fs.StringVar(&logFormat, "log-format", "text", "log format: text or json")
	o.Faults.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	switch logFormat {
	case "text":
		o.Logger = slog.New(slog.NewTextHandler(stdout, nil))
	case "json":
		o.Logger = slog.New(slog.NewJSONHandler(stdout, nil))
	default:
		return fmt.Errorf("--log-format %q: want text or json", logFormat)
	}
	o.Logger = o.Logger.With("app", monolith.ServiceName)
	app, err := monolith.New(o)
	if err != nil {
		return fmt.Errorf("build monolith: %w", err)
	}
	return serve(ctx, addr, app, o.Logger)
}

// serve listens on addr and serves h until ctx ends, then stops accepting,
// lets requests in flight finish (at most shutdownTimeout) and returns. It
// logs "listening" with the bound address, so --addr with port 0 works.
func serve(ctx context.Context, addr string, h http.Handler, log *slog.Logger) error {
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
