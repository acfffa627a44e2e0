// Command inventory runs the extracted inventory service on
// 127.0.0.1:8413 by default. See extracted-services/README.md.
//
// It must not import strangler's own packages (internal/proxy, routing,
// resilience and the rest of the proxy) nor the monolith or the other
// services: like a real extracted service it knows them only over HTTP.
package main

import (
	"context"
	"io"
	"net/http"

	"github.com/strangler-proxy/strangler/extracted-services/internal/svcmain"
	"github.com/strangler-proxy/strangler/extracted-services/inventory"
	"github.com/strangler-proxy/strangler/internal/appmain"
)

func main() { appmain.Main("inventory", run) }

// run serves the inventory service. It accepts --monolith-url like every
// service binary but calls no other app.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	return svcmain.Run(ctx, svcmain.Spec{
		Name:        "inventory",
		DefaultAddr: "127.0.0.1:8413",
		Build: func(c svcmain.Common) (http.Handler, error) {
			return inventory.New(inventory.Options{Faults: c.Faults, Logger: c.Logger, Seed: c.Seed})
		},
	}, args, stdout)
}
