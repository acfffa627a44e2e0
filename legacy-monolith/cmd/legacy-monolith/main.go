// Command legacy-monolith runs the bundled legacy shop on 127.0.0.1:8401 by
// default. See legacy-monolith/README.md.
//
// It must not import strangler's own packages (internal/proxy, routing,
// resilience and the rest of the proxy) nor the extracted services: like a
// real legacy application it knows them only over HTTP.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/strangler-proxy/strangler/internal/appmain"
	monolith "github.com/strangler-proxy/strangler/legacy-monolith"
)

func main() { appmain.Main("legacy-monolith", run) }

// run parses args, builds the monolith and serves it until ctx ends, then
// shuts down gracefully. Logs go to stdout; -h prints usage and returns nil;
// a wrong command line is an *appmain.UsageError (exit 2).
func run(ctx context.Context, args []string, stdout io.Writer) error {
	var o monolith.Options
	var addr, logFormat string
	fs := flag.NewFlagSet("legacy-monolith", flag.ContinueOnError)
	fs.StringVar(&addr, "addr", "127.0.0.1:8401", "listen address")
	appmain.URLVar(fs, &o.InventoryURL, "inventory-url", "", "base URL of the inventory service; when set, stock is reserved there instead of the local table", true)
	appmain.URLVar(fs, &o.OrdersURL, "orders-url", "", "base URL of the orders service, owner of ord-5xxxxx orders (empty: none)", true)
	appmain.URLVar(fs, &o.PaymentsURL, "payments-url", "", "base URL of the payments service, owner of pay-5xxxxx payments (empty: none)", true)
	fs.Int64Var(&o.Seed, "seed", 1, "seed of the generated data and fault draws")
	fs.StringVar(&logFormat, "log-format", "text", "log format: text or json")
	o.Faults.RegisterFlags(fs)
	if err := appmain.ParseFlags(fs, args, stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if err := o.Faults.Validate(); err != nil {
		return &appmain.UsageError{Err: fmt.Errorf("--fault-* flags: %w", err)}
	}
	var err error
	if o.Logger, err = appmain.NewLogger(stdout, logFormat); err != nil {
		return err
	}
	o.Logger = o.Logger.With("app", monolith.ServiceName)
	app, err := monolith.New(o)
	if err != nil {
		return fmt.Errorf("build monolith: %w", err)
	}
	return appmain.Serve(ctx, addr, app, o.Logger)
}
