// Command orders runs the extracted orders service on 127.0.0.1:8411 by
// default. See extracted-services/README.md.
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
	"github.com/strangler-proxy/strangler/extracted-services/orders"
	"github.com/strangler-proxy/strangler/internal/appmain"
)

func main() { appmain.Main("orders", run) }

func run(ctx context.Context, args []string, stdout io.Writer) error {
	var inventoryURL, paymentsURL string
	return svcmain.Run(ctx, svcmain.Spec{
		Name:        "orders",
		DefaultAddr: "127.0.0.1:8411",
		Flags: func(fs *flag.FlagSet) {
			appmain.URLVar(fs, &inventoryURL, "inventory-url", "", "base URL of the inventory API for stock reservations (empty: the monolith's)", true)
			appmain.URLVar(fs, &paymentsURL, "payments-url", "http://127.0.0.1:8412",
				"base URL of the payments service, owner of pay-5xxxxx payments, where a payment marking an order paid is checked (empty: none; such payments are refused)", true)
		},
		Build: func(c svcmain.Common) (http.Handler, error) {
			return orders.New(orders.Options{MonolithURL: c.MonolithURL, InventoryURL: inventoryURL, PaymentsURL: paymentsURL,
				Faults: c.Faults, Logger: c.Logger, Seed: c.Seed})
		},
	}, args, stdout)
}
