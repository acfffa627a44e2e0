// Command legacy-monolith runs the bundled legacy shop on 127.0.0.1:8401 by
// default. See legacy-monolith/README.md.
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
