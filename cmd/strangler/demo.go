package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/strangler-proxy/strangler/extracted-services/inventory"
	"github.com/strangler-proxy/strangler/extracted-services/orders"
	"github.com/strangler-proxy/strangler/extracted-services/payments"
	"github.com/strangler-proxy/strangler/internal/faults"
	"github.com/strangler-proxy/strangler/internal/routing"
	monolith "github.com/strangler-proxy/strangler/legacy-monolith"
	"gopkg.in/yaml.v3"
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
Edit routes.yaml while the demo runs and watch traffic move. Ctrl-C stops
everything; a second Ctrl-C stops it at once.`, stdout)
	var o proxyOptions
	var lf logFlags
	o.register(fs, "127.0.0.1:8480", "127.0.0.1:8490")
	lf.register(fs)
	ports := registerDemoPorts(fs)
	appFaults := registerDemoFaults(fs)
	if code := parseFlags(fs, args, stderr); code >= 0 {
		return code
	}
	if err := o.check(); err != nil {
		fmt.Fprintln(stderr, "strangler demo:", err)
		return exitUsage
	}
	for _, name := range demoApps {
		if p := ports[name]; p < 0 || p > 65535 {
			fmt.Fprintf(stderr, "strangler demo: --%s-port %d: want 1 to 65535 (0: the port in routes.yaml)\n", name, p)
			return exitUsage
		}
	}
	log, err := lf.logger(stderr)
	if err != nil {
		fmt.Fprintln(stderr, "strangler demo:", err)
		return exitUsage
	}
	if err := demo(ctx, o, ports, appFaults, log, stdout); err != nil {
		fmt.Fprintln(stderr, "strangler demo:", err)
		if _, ok := errors.AsType[*portFlagError](err); ok {
			return exitUsage
		}
		return exitError
	}
	return exitOK
}

// demoPorts are the --NAME-port flags of the demo: by app name, the port it
// listens on, 0 for the port of its upstream's url in routes.yaml.
type demoPorts map[string]int

// registerDemoPorts adds one --NAME-port flag per bundled app to fs.
func registerDemoPorts(fs *flag.FlagSet) demoPorts {
	ports := demoPorts{}
	for _, name := range demoApps {
		fs.Func(name+"-port", fmt.Sprintf("port of the %s app on 127.0.0.1, overriding the url of upstream %q in routes.yaml (default: that url's port)", name, name),
			func(v string) error {
				p, err := strconv.Atoi(v)
				if err != nil {
					return fmt.Errorf("not a port number: %w", err)
				}
				ports[name] = p
				return nil
			})
	}
	return ports
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

// given reports whether a port flag was given.
func (p demoPorts) given() bool {
	for _, port := range p {
		if port != 0 {
			return true
		}
	}
	return false
}

// demo starts the bundled apps where cfg says they live, then the proxy,
// and blocks until ctx ends; then it stops the proxy first and the apps
// after it.
//
// With port flags, the proxy serves a copy of routes.yaml with those
// upstreams' ports replaced, in a temporary directory; the copy is written
// again every time the user's file changes, so edits still apply within a
// second, and it keeps the file's lines, so errors name the same lines. A
// flagged upstream whose url the copy could not move to the flag's port
// (see checkDemoPorts) is a *portFlagError at start; on a later save it is
// logged and the previous copy is kept.
func demo(ctx context.Context, o proxyOptions, ports demoPorts, appFaults demoFaults, log *slog.Logger, stdout io.Writer) error {
	userConfig := o.config
	if ports.given() {
		dir, err := os.MkdirTemp("", "strangler-demo-")
		if err != nil {
			return fmt.Errorf("port flags: %w", err)
		}
		defer os.RemoveAll(dir)
		o.config = filepath.Join(dir, filepath.Base(userConfig))
		if err := writeDemoConfig(userConfig, o.config, ports); err != nil {
			if _, ok := errors.AsType[*portFlagError](err); ok {
				return err
			}
			return fmt.Errorf("%w\n(run the demo from the repository root, or pass --config)", err)
		}
		wctx, stop := context.WithCancel(ctx)
		watched := make(chan struct{})
		defer func() { stop(); <-watched }()
		go func() {
			defer close(watched)
			err := routing.Watch(wctx, userConfig, o.debounce, log, func() {
				if err := writeDemoConfig(userConfig, o.config, ports); err != nil {
					if _, ok := errors.AsType[*portFlagError](err); ok {
						log.Error("demo: this save of routes.yaml is not applied; the proxy keeps the previous version", "error", err)
						return
					}
					log.Error("demo: copying routes.yaml with the port flags applied", "error", err)
				}
			})
			if err != nil {
				log.Error("demo: cannot watch routes.yaml", "config", userConfig, "error", err)
			}
		}()
		log.Info("demo: port flags applied; the proxy serves a copy of routes.yaml, rewritten on every save",
			"config", userConfig, "copy", o.config)
	}
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

	return runProxy(ctx, o, log, func(proxyAddr, adminAddr string) {
		printDemoBanner(stdout, userConfig, proxyAddr, adminAddr, addrs)
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

// writeDemoConfig writes the routes.yaml at from to the path to, with the
// url of every upstream named in ports moved to that port, replacing to
// atomically (the proxy watching it never reads half a file). A file that
// does not parse is copied as it is, and one that does not load is copied
// too, for the proxy to report. When the copy loads but a flagged upstream's address is not on the flag's
// port (checkDemoPorts), it returns a *portFlagError and leaves to as it
// was: served, that copy would send the upstream's traffic to the file's
// port, where the app does not listen (and something else may).
func writeDemoConfig(from, to string, ports demoPorts) error {
	user, err := os.ReadFile(from)
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	data := withPorts(user, ports)
	if err := checkDemoPorts(from, user, data, ports); err != nil {
		return err
	}
	if old, err := os.ReadFile(to); err == nil && bytes.Equal(old, data) {
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(to), ".routes-*.yaml")
	if err != nil {
		return fmt.Errorf("write config copy: %w", err)
	}
	_, werr := tmp.Write(data)
	if err := errors.Join(werr, tmp.Close()); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write config copy: %w", err)
	}
	if err := os.Rename(tmp.Name(), to); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write config copy: %w", err)
	}
	return nil
}

// withPorts returns routes.yaml's text with the port of upstreams.NAME.url
// replaced for every NAME in ports with a non-zero port. Only the url's
// text changes, so every line keeps its number. Text that does not parse,
// and upstreams without a url, are left alone.
func withPorts(data []byte, ports demoPorts) []byte {
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil || len(root.Content) == 0 {
		return data
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	for name, port := range ports {
		if port == 0 {
			continue
		}
		n := mappingValue(mappingValue(mappingValue(root.Content[0], "upstreams"), name), "url")
		if n == nil || n.Kind != yaml.ScalarNode || n.Line < 1 || n.Line > len(lines) {
			continue
		}
		u, err := url.Parse(n.Value)
		if err != nil || u.Host == "" {
			continue
		}
		u.Host = net.JoinHostPort(u.Hostname(), strconv.Itoa(port))
		line, start := lines[n.Line-1], n.Column-1
		if start < 0 || start >= len(line) {
			continue
		}
		end := start
		switch q := line[start]; q {
		case '"', '\'':
			i := bytes.IndexByte(line[start+1:], q)
			if i < 0 {
				continue
			}
			end = start + 1 + i + 1
		default:
			for end < len(line) && !bytes.ContainsRune([]byte(" \t\r\n,}]#"), rune(line[end])) {
				end++
			}
		}
		if string(line[start:end]) != n.Value && strings.Trim(string(line[start:end]), `"'`) != n.Value {
			continue // not where the parser said: leave the line alone
		}
		lines[n.Line-1] = slices.Concat(line[:start], []byte(strconv.Quote(u.String())), line[end:])
	}
	return bytes.Join(lines, nil)
}

// portFlagError is a --NAME-port flag the demo cannot apply: runDemo exits
// with exitUsage, as for the other flag errors.
type portFlagError struct{ err error }

func (e *portFlagError) Error() string { return e.err.Error() }
func (e *portFlagError) Unwrap() error { return e.err }

// checkDemoPorts loads copied, routes.yaml's text with the port flags applied
// by withPorts, and checks that every upstream named in ports with a
// non-zero port has its address on that port. withPorts rewrites only a
// url: written as a one-line plain or quoted scalar; a url given by an
// alias, a block scalar, several lines or a merge key, and an upstream
// with targets: instead of url:, keep the file's port, and the proxy would
// send that upstream's traffic where the flag says the port is taken. Each
// such upstream is named with the form that could not be rewritten, in one
// *portFlagError. A copied text that does not load gives nil: the loader
// reports it, with the file's lines. name is the user's file, for
// messages; user is its text.
func checkDemoPorts(name string, user, copied []byte, ports demoPorts) error {
	cfg, err := routing.Load(name, copied)
	if err != nil {
		return nil
	}
	var errs []error
	for _, app := range demoApps {
		port := ports[app]
		if port == 0 {
			continue
		}
		u := cfg.Upstreams[app]
		if u == nil {
			continue // the demo reports the missing upstream
		}
		if pu, err := url.Parse(u.URL); u.URL != "" && err == nil && pu.Port() == strconv.Itoa(port) {
			continue
		}
		errs = append(errs, fmt.Errorf("--%[1]s-port %[2]d: cannot move upstream %[1]q of %[3]s to port %[2]d: %[4]s; "+
			"the flag rewrites only a url: written on one line (plain or quoted): write it so, or change the port in the file and drop the flag",
			app, port, name, unrewritableForm(user, app, u)))
	}
	if len(errs) == 0 {
		return nil
	}
	return &portFlagError{errors.Join(errs...)}
}

// unrewritableForm says why withPorts could not move the url of upstream
// name in routes.yaml's text data; u is that upstream as loaded.
func unrewritableForm(data []byte, name string, u *routing.UpstreamConfig) string {
	if u.URL == "" {
		return "it uses targets: instead of url:"
	}
	if pu, err := url.Parse(u.URL); err != nil || pu.Host == "" {
		return fmt.Sprintf("its url %q has no host:port to rewrite", u.URL)
	}
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil || len(root.Content) == 0 {
		return "its url could not be found in the file"
	}
	n := root.Content[0]
	for _, key := range []string{"upstreams", name, "url"} {
		if n.Kind == yaml.AliasNode {
			return fmt.Sprintf("its url comes through the alias *%s", n.Value)
		}
		if n = mappingValue(n, key); n == nil {
			return "its url: is not written under it (a merge key <<?)"
		}
	}
	switch {
	case n.Kind == yaml.AliasNode:
		return fmt.Sprintf("its url is the alias *%s", n.Value)
	case n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		return "its url is a block scalar (| or >)"
	default:
		return "its url spans several lines"
	}
}

// mappingValue returns the value under key in the mapping n, or nil.
func mappingValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
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
