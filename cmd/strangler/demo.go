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
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/strangler-proxy/strangler/extracted-services/inventory"
	"github.com/strangler-proxy/strangler/extracted-services/orders"
	"github.com/strangler-proxy/strangler/extracted-services/payments"
	"github.com/strangler-proxy/strangler/internal/faults"
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
payments, inventory), unless its --NAME-port flag moves it. --fault starts
an app with faults (change them at run time at the app's /_admin/faults).
The demo sends a few reads a second through the proxy (--traffic; 0 turns
them off), so the dashboard shows traffic from the start: edit routes.yaml
while it runs and watch that traffic move. Ctrl-C stops everything; a
second Ctrl-C stops it at once.`, stdout)
	var o proxyOptions
	var lf logFlags
	o.register(fs, "127.0.0.1:8480", "127.0.0.1:8490")
	lf.register(fs)
	ports := registerDemoPorts(fs)
	appFaults := registerDemoFaults(fs)
	var traffic float64
	fs.Float64Var(&traffic, "traffic", defaultDemoTraffic,
		"send `N` sample reads a second through the proxy (products, customers, the orders of 24 customers, stock, payments), "+
			"for the dashboard and metrics to show; 0 turns them off")
	if code := parseFlags(fs, args, stderr); code >= 0 {
		return code
	}
	if err := o.check(); err != nil {
		fmt.Fprintln(stderr, "strangler demo:", err)
		return exitUsage
	}
	if err := errors.Join(ports.check(), checkDemoTraffic(traffic)); err != nil {
		fmt.Fprintln(stderr, "strangler demo:", err)
		return exitUsage
	}
	log, err := lf.logger(stderr)
	if err != nil {
		fmt.Fprintln(stderr, "strangler demo:", err)
		return exitUsage
	}
	if err := demo(ctx, o, ports, appFaults, traffic, log, stdout); err != nil {
		fmt.Fprintln(stderr, "strangler demo:", err)
		if _, ok := errors.AsType[*portFlagError](err); ok {
			return exitUsage
		}
		return exitError
	}
	return exitOK
}

// demoFaults are the --fault flags of the demo: by app name, the faults
// the app starts with.
type demoFaults map[string]faults.Settings

// registerDemoFaults adds the repeatable --fault NAME:SPEC flag to fs.
func registerDemoFaults(fs *flag.FlagSet) demoFaults {
	f := demoFaults{}
	fs.Func("fault", "`NAME:SPEC` starts app NAME ("+strings.Join(demoApps, ", ")+") with faults, such as "+
		"orders:error_rate=1,error_status=503 or inventory:unready; SPEC's keys are those of /_admin/faults "+
		"(latency, error_rate, error_status, reset_rate, unready, alter_field), its values as for the apps' --fault-* flags; repeatable",
		func(v string) error {
			name, spec, ok := strings.Cut(v, ":")
			if !ok || !slices.Contains(demoApps, name) {
				return fmt.Errorf("want NAME:SPEC, NAME one of %s", strings.Join(demoApps, ", "))
			}
			s := f[name]
			if err := s.Apply(spec); err != nil {
				return err
			}
			f[name] = s
			return nil
		})
	return f
}

// demo starts the bundled apps where cfg says they live, then the proxy,
// then the sample traffic (traffic requests a second, none at 0), and
// blocks until ctx ends; then it stops the traffic and the proxy first and
// the apps after them. With port flags, the proxy serves a copy of
// routes.yaml with those upstreams' ports replaced (startPortCopy).
func demo(ctx context.Context, o proxyOptions, ports demoPorts, appFaults demoFaults, traffic float64, log *slog.Logger, stdout io.Writer) error {
	userConfig := o.config
	if ports.given() {
		stop, err := startPortCopy(ctx, &o, ports, log)
		if err != nil {
			return err
		}
		defer stop()
	}
	// Read from the copy, when there is one, but named as the file the
	// user edits: the copy keeps its lines.
	data, err := os.ReadFile(o.config)
	if err != nil {
		return fmt.Errorf("read config: %w\n(run the demo from the repository root, or pass --config)", err)
	}
	cfg, err := routing.Load(userConfig, data)
	if err != nil {
		return err
	}
	addrs := map[string]string{}
	for _, name := range demoApps {
		u := cfg.Upstreams[name]
		if u == nil {
			return fmt.Errorf("%s: the demo needs an upstream named %q", userConfig, name)
		}
		host, err := loopbackHost(u.URL)
		if err != nil {
			return fmt.Errorf("%s: upstream %q: %w", userConfig, name, err)
		}
		addrs[name] = host
	}
	base := func(name string) string { return "http://" + addrs[name] }

	appLog := log.With("component", "demo-app")
	handlers := map[string]func() (http.Handler, error){
		"monolith": func() (http.Handler, error) {
			return monolith.New(monolith.Options{InventoryURL: base("inventory"), OrdersURL: base("orders"), PaymentsURL: base("payments"),
				Faults: appFaults["monolith"], Logger: appLog.With("app", "monolith"), Seed: demoSeed})
		},
		"orders": func() (http.Handler, error) {
			return orders.New(orders.Options{MonolithURL: base("monolith"), InventoryURL: base("inventory"), PaymentsURL: base("payments"),
				Faults: appFaults["orders"], Logger: appLog.With("app", "orders"), Seed: demoSeed})
		},
		"payments": func() (http.Handler, error) {
			return payments.New(payments.Options{MonolithURL: base("monolith"), OrdersURL: base("orders"),
				Faults: appFaults["payments"], Logger: appLog.With("app", "payments"), Seed: demoSeed})
		},
		"inventory": func() (http.Handler, error) {
			return inventory.New(inventory.Options{Faults: appFaults["inventory"], Logger: appLog.With("app", "inventory"), Seed: demoSeed})
		},
	}

	var servers []*http.Server
	stopNow, stopWatching := secondSignal(ctx, log.With("component", "demo"))
	defer stopWatching()
	defer func() { stopApps(stopNow, servers, log) }()
	for _, name := range demoApps {
		h, err := handlers[name]()
		if err != nil {
			return fmt.Errorf("build %s: %w", name, err)
		}
		ln, err := net.Listen("tcp", addrs[name])
		if err != nil {
			return fmt.Errorf("start %s on %s (set in %s, or by --%s-port): %w", name, addrs[name], userConfig, name, err)
		}
		srv := newServer(h, log)
		servers = append(servers, srv)
		go func() {
			if err := serveOn(srv, ln, name); err != nil {
				log.Error("demo app stopped", "app", name, "error", err)
			}
		}()
	}

	stopTraffic := func() {}
	defer func() { stopTraffic() }()
	return runProxy(ctx, o, log, func(proxyAddr, adminAddr string) {
		if traffic > 0 {
			base := trafficBase(proxyAddr)
			stopTraffic = startSampleTraffic(ctx, base, traffic, log.With("component", "demo-traffic"))
			log.Info("demo: sending sample traffic through the proxy", "url", base, "per_second", traffic)
		}
		printDemoBanner(stdout, userConfig, proxyAddr, adminAddr, addrs, traffic)
	})
}

// appsGrace bounds how long the demo's apps may take to finish the
// requests in flight once the proxy has stopped.
const appsGrace = 5 * time.Second

// stopApps shuts the demo's apps down, servers[i] serving demoApps[i]:
// requests in flight get appsGrace, or until stopNow ends (a second
// Ctrl-C); then the connections still open are closed.
func stopApps(stopNow context.Context, servers []*http.Server, log *slog.Logger) {
	if len(servers) == 0 {
		return
	}
	log.Info("demo: stopping the apps", "grace", appsGrace)
	ctx, cancel := context.WithTimeout(stopNow, appsGrace)
	defer cancel()
	var wg sync.WaitGroup
	for i, srv := range servers {
		wg.Go(func() {
			if err := drain(ctx, srv, demoApps[i], log); err != nil {
				log.Warn("demo: stopping an app", "app", demoApps[i], "error", err)
			}
		})
	}
	wg.Wait()
}

// secondSignal returns a context that ends when a SIGINT or SIGTERM
// arrives after ctx has ended, the first Ctrl-C having ended ctx, and a
// stop that releases it. runProxy cuts its own drain short on that signal
// and logs it; this context lets stopApps do the same for the apps.
func secondSignal(ctx context.Context, log *slog.Logger) (context.Context, func()) {
	now, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-ctx.Done():
		case <-now.Done():
			return
		}
		defer onSecondSignal(cancel, log)()
		<-now.Done()
	}()
	return now, func() {
		cancel()
		<-done
	}
}

// printDemoBanner tells the user where everything runs, whether sample
// traffic is on (traffic requests a second, 0 for off) and what to try.
func printDemoBanner(w io.Writer, config, proxyAddr, adminAddr string, apps map[string]string, traffic float64) {
	shop := "http://" + proxyAddr
	admin := "http://" + adminAddr
	sample := fmt.Sprintf("%g reads/s through the proxy, as %d customers (--traffic 0 turns it off)", traffic, trafficCustomers)
	then := "watch the dashboard's\norders row: the share the service answers follows."
	if traffic == 0 {
		sample = "off (--traffic N sends N reads/s through the proxy)"
		then = "send orders requests as\nseveral customers (X-Customer-ID): the dashboard's orders row shows the share\nthe service answers."
	}
	fmt.Fprintf(w, `
strangler demo is running: a legacy shop in the middle of its migration.

  Shop, through the proxy   %[1]s/
  Migration dashboard       %[2]s/   (live: open it in a browser)
  Admin status              %[2]s/api/status
  Metrics                   %[2]s/metrics
  Routing table             %[3]s   (edit and save it: changes apply within a second)
  Sample traffic            %[8]s

  Behind the proxy: monolith %[4]s, orders %[5]s, payments %[6]s, inventory %[7]s

Try:
  curl -s %[1]s/api/inventory/items/sku-1001                  # fully moved: the inventory service answers
  curl -s -H 'X-Customer-ID: cus-100003' %[1]s/api/orders    # 25%% of customers are on the orders service
  curl -s %[2]s/metrics | grep strangler_requests_total      # which side served what
  curl -s %[1]s/api/payments/pay-100001 >/dev/null; curl -s %[2]s/api/shadow/payments
                                                  # payments: still legacy, shadowed and compared

Then raise the weight of /api/orders in %[3]s, save, and %[9]s
Ctrl-C stops everything.

`, shop, admin, config, apps["monolith"], apps["orders"], apps["payments"], apps["inventory"], sample, then)
}
