// Command payments runs the extracted payments service on 127.0.0.1:8412
// by default. See extracted-services/README.md.
//
// It must not import strangler's own packages (internal/proxy, routing,
// resilience and the rest of the proxy) nor the monolith or the other
// services: like a real extracted service it knows them only over HTTP.
package main

import (
	"context"
	"flag"
	"io"
	"net/http"

	"github.com/strangler-proxy/strangler/extracted-services/internal/svcmain"
	"github.com/strangler-proxy/strangler/extracted-services/payments"
	"github.com/strangler-proxy/strangler/internal/appmain"
)

func main() { appmain.Main("payments", run) }

func run(ctx context.Context, args []string, stdout io.Writer) error {
	var ordersURL string
	return svcmain.Run(ctx, svcmain.Spec{
		Name:        "payments",
		DefaultAddr: "127.0.0.1:8412",
		Flags: func(fs *flag.FlagSet) {
			appmain.URLVar(fs, &ordersURL, "orders-url", "http://127.0.0.1:8411", "base URL of the orders service, owner of ord-5xxxxx orders (empty: none)", true)
		},
		Build: func(c svcmain.Common) (http.Handler, error) {
			return payments.New(payments.Options{MonolithURL: c.MonolithURL, OrdersURL: ordersURL,
				Faults: c.Faults, Logger: c.Logger, Seed: c.Seed})
		},
	}, args, stdout)
}
