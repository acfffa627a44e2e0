package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/strangler-proxy/strangler/extracted-services/inventory"
	"github.com/strangler-proxy/strangler/extracted-services/orders"
	"github.com/strangler-proxy/strangler/extracted-services/payments"
	"github.com/strangler-proxy/strangler/internal/routing"
	monolith "github.com/strangler-proxy/strangler/legacy-monolith"
)

// demoApps are the bundled apps the demo starts, by the upstream name
// routes.yaml gives them.
var demoApps = []string{"monolith", "orders", "payments", "inventory"}

// demoSeed is the seed of the bundled data; the apps' own binaries and the
// curl examples in their READMEs use the same one.
const demoSeed = 1

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("demo", `demo [flags]

Runs the bundled legacy shop, its extracted orders, payments and inventory
services, and the proxy in front of them, on this machine. Each app listens
where routes.yaml's upstream of the same name points (monolith, orders,
payments, inventory): change a port there. Edit routes.yaml while the demo
runs and watch traffic move. Ctrl-C stops everything.`, stdout)
	var o proxyOptions
	var lf logFlags
	o.register(fs, "127.0.0.1:8480", "127.0.0.1:8490")
	lf.register(fs)
	if code := parseFlags(fs, args, stderr); code >= 0 {
		return code
	}
	log, err := lf.logger(stderr)
	if err != nil {
		fmt.Fprintln(stderr, "strangler demo:", err)
		return exitUsage
	}
	if err := demo(ctx, o, log, stdout); err != nil {
		fmt.Fprintln(stderr, "strangler demo:", err)
		return exitError
	}
	return exitOK
}

// demo starts the bundled apps where cfg says they live, then the proxy,
// and blocks until ctx ends; then it stops the proxy first and the apps
// after it.
func demo(ctx context.Context, o proxyOptions, log *slog.Logger, stdout io.Writer) error {
	cfg, err := routing.LoadFile(o.config)
	if err != nil {
		return fmt.Errorf("%w\n(run the demo from the repository root, or pass --config)", err)
	}
	addrs := map[string]string{}
	for _, name := range demoApps {
		u := cfg.Upstreams[name]
		if u == nil {
			return fmt.Errorf("%s: the demo needs an upstream named %q", o.config, name)
		}
		host, err := loopbackHost(u.URL)
		if err != nil {
			return fmt.Errorf("%s: upstream %q: %w", o.config, name, err)
		}
		addrs[name] = host
	}
	base := func(name string) string { return "http://" + addrs[name] }

	appLog := log.With("component", "demo-app")
	handlers := map[string]func() (http.Handler, error){
		"monolith": func() (http.Handler, error) {
			return monolith.New(monolith.Options{InventoryURL: base("inventory"), OrdersURL: base("orders"), Logger: appLog.With("app", "monolith"), Seed: demoSeed})
		},
		"orders": func() (http.Handler, error) {
			return orders.New(orders.Options{MonolithURL: base("monolith"), InventoryURL: base("inventory"), Logger: appLog.With("app", "orders"), Seed: demoSeed})
		},
		"payments": func() (http.Handler, error) {
			return payments.New(payments.Options{MonolithURL: base("monolith"), OrdersURL: base("orders"), Logger: appLog.With("app", "payments"), Seed: demoSeed})
		},
		"inventory": func() (http.Handler, error) {
			return inventory.New(inventory.Options{Logger: appLog.With("app", "inventory"), Seed: demoSeed})
		},
	}

	var servers []*http.Server
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, s := range servers {
			_ = s.Shutdown(sctx)
		}
	}()
	for _, name := range demoApps {
		h, err := handlers[name]()
		if err != nil {
			return fmt.Errorf("build %s: %w", name, err)
		}
		ln, err := net.Listen("tcp", addrs[name])
		if err != nil {
			return fmt.Errorf("start %s on %s (set in %s): %w", name, addrs[name], o.config, err)
		}
		srv := newServer(h, log)
		servers = append(servers, srv)
		go func() {
			if err := serveOn(srv, ln, name); err != nil {
				log.Error("demo app stopped", "app", name, "error", err)
			}
		}()
	}

	return runProxy(ctx, o, log, func(proxyAddr, adminAddr string) {
		printDemoBanner(stdout, o.config, proxyAddr, adminAddr, addrs)
	})
}

// loopbackHost returns host:port of a URL that points at this machine; the
// demo starts its apps only on loopback.
func loopbackHost(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("parse url: %w", err)
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", errors.New("the demo runs its apps on this machine only: use a 127.0.0.1 URL")
	}
	if u.Port() == "" {
		return "", errors.New("the demo needs an explicit port in the url")
	}
	return u.Host, nil
}

func printDemoBanner(w io.Writer, config, proxyAddr, adminAddr string, apps map[string]string) {
	shop := "http://" + proxyAddr
	admin := "http://" + adminAddr
	fmt.Fprintf(w, `
strangler demo is running: a legacy shop in the middle of its migration.

  Shop, through the proxy   %[1]s/
  Migration dashboard       %[2]s/   (live: open it in a browser)
  Admin status              %[2]s/api/status
  Metrics                   %[2]s/metrics
  Routing table             %[3]s   (edit and save it: changes apply within a second)

  Behind the proxy: monolith %[4]s, orders %[5]s, payments %[6]s, inventory %[7]s

Try:
  curl -s %[1]s/api/inventory/items/sku-1001                  # fully moved: the inventory service answers
  curl -s -H 'X-Customer-ID: cus-100003' %[1]s/api/orders    # 25%% of customers are on the orders service
  curl -s %[2]s/metrics | grep strangler_requests_total      # which side served what
  curl -s %[1]s/api/payments/pay-100001 >/dev/null; curl -s %[2]s/api/shadow/payments
                                                  # payments: still legacy, shadowed and compared

Then raise the weight of /api/orders in %[3]s, save, and watch the dashboard's
orders row: the share the service answers follows.
Ctrl-C stops everything.

`, shop, admin, config, apps["monolith"], apps["orders"], apps["payments"], apps["inventory"])
}
