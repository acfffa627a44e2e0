package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/strangler-proxy/strangler/internal/accesslog"
	"github.com/strangler-proxy/strangler/internal/inventory"
	"github.com/strangler-proxy/strangler/internal/proxy"
	"github.com/strangler-proxy/strangler/internal/routing"
)

// proxyOptions are the settings of one running proxy, shared by serve and
// demo.
type proxyOptions struct {
	config          string
	listen          string
	admin           string
	shutdownTimeout time.Duration
	shutdownDelay   time.Duration // after the signal, before the proxy listener closes
	debounce        time.Duration
	accessLog       string  // "" off, "-" standard output, else a file appended to
	accessSample    float64 // share of requests logged
	inventorySize   int     // patterns kept by the legacy traffic inventory; 0 turns it off
	adminTokenFile  string  // file holding the admin listener's bearer token; none when empty

	// Client limits; zero values take the defaults.
	trustedProxies    []netip.Prefix // peers whose X-Forwarded-* are believed
	maxHeaderBytes    int
	maxURIBytes       int
	readHeaderTimeout time.Duration
	bodyReadTimeout   time.Duration
	writeTimeout      time.Duration
	bodyMinRate       int64 // bytes per second; 0 turns the minimum off, as the flag does
	bodyMinRateGrace  time.Duration
}

func (o *proxyOptions) register(fs *flag.FlagSet, listen, admin string) {
	fs.StringVar(&o.config, "config", "config/routes.yaml", "routes.yaml to serve and watch for changes")
	fs.StringVar(&o.listen, "listen", listen, "address of the proxy listener")
	fs.StringVar(&o.admin, "admin", admin, "address of the admin listener (the dashboard at /, /metrics, /healthz, /readyz, /api/*); keep it private")
	fs.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 30*time.Second, "on SIGTERM or SIGINT, how long in-flight requests and WebSocket connections may take to finish")
	fs.DurationVar(&o.shutdownDelay, "shutdown-delay", 0, "on SIGTERM or SIGINT, how long to keep accepting requests, with /readyz answering 503, before the proxy listener closes: time for load balancers to stop sending traffic")
	fs.DurationVar(&o.debounce, "reload-debounce", routing.DefaultDebounce, "quiet time after a change to routes.yaml before it is reloaded")
	fs.StringVar(&o.accessLog, "access-log", "", "write one JSON line per request to this file (\"-\": standard output); off when empty")
	fs.Float64Var(&o.accessSample, "access-log-sample", 1, "share of requests the access log records, in (0, 1]")
	fs.StringVar(&o.adminTokenFile, "admin-token-file", "",
		"file holding a bearer token that /metrics and /api/* on the admin listener require; open when empty")
	fs.Func("trusted-proxies", "comma-separated IPs and CIDRs of the load balancers in front of strangler whose X-Forwarded-For/Host/Proto are believed; from any other peer they are replaced (default: trust nobody)",
		func(s string) (err error) { o.trustedProxies, err = proxy.ParseTrustedProxies(s); return err })
	fs.IntVar(&o.maxHeaderBytes, "max-header-bytes", 1<<20, "largest request line and headers a client may send; larger get 431")
	fs.IntVar(&o.maxURIBytes, "max-uri-bytes", proxy.DefaultMaxURIBytes, "longest request target (path and query) a client may send; longer get 414; negative: no limit")
	fs.DurationVar(&o.readHeaderTimeout, "read-header-timeout", defaultReadHeaderTimeout, "how long a client may take to send its request headers")
	fs.DurationVar(&o.bodyReadTimeout, "body-read-timeout", proxy.DefaultBodyReadTimeout, "how long a request body may stay silent before the request is cut off with 408; negative: no timeout")
	fs.DurationVar(&o.writeTimeout, "write-timeout", proxy.DefaultWriteTimeout, "how long one write of an answer to a client may block before the client is cut off (a client that stops reading); each write gets a fresh deadline, so long streams are not cut; negative: no timeout")
	fs.Int64Var(&o.bodyMinRate, "body-min-rate", proxy.DefaultBodyMinRate, "slowest average rate, in bytes per second, at which a client may send a request body once --body-min-rate-grace is over; slower bodies are cut off with 408; 0: no minimum")
	fs.DurationVar(&o.bodyMinRateGrace, "body-min-rate-grace", proxy.DefaultBodyMinRateGrace, "how long a request body is read before --body-min-rate applies")
	fs.IntVar(&o.inventorySize, "inventory-size", inventory.DefaultLimit,
		fmt.Sprintf("path patterns the legacy traffic inventory keeps (at most %d); 0 turns it off", inventory.MaxLimit))
}

// check refuses flag values out of range, naming the flag.
func (o *proxyOptions) check() error {
	if o.inventorySize < 0 || o.inventorySize > inventory.MaxLimit {
		return fmt.Errorf("--inventory-size %d: want 0 to %d", o.inventorySize, inventory.MaxLimit)
	}
	if o.bodyMinRate < 0 {
		return fmt.Errorf("--body-min-rate %d: want 0 (off) or more bytes per second", o.bodyMinRate)
	}
	if o.bodyMinRateGrace <= 0 {
		// 0 would be the default in proxy.Options: refused rather than
		// read as 5s. No grace at all would cut off a body whose first
		// bytes are a moment late.
		return fmt.Errorf("--body-min-rate-grace %s: want a positive duration, such as %s (to turn the minimum rate off, use --body-min-rate 0)",
			o.bodyMinRateGrace, proxy.DefaultBodyMinRateGrace)
	}
	if o.readHeaderTimeout < 0 {
		// net/http sets no deadline for a negative one: slow-header
		// clients would never be cut off.
		return fmt.Errorf("--read-header-timeout %s: want a positive duration (0: the default, %s)", o.readHeaderTimeout, defaultReadHeaderTimeout)
	}
	if o.debounce < 0 {
		return fmt.Errorf("--reload-debounce %s: want a duration of 0 or more (0: the default, %s)", o.debounce, routing.DefaultDebounce)
	}
	if o.shutdownTimeout < 0 || o.shutdownDelay < 0 {
		return fmt.Errorf("--shutdown-timeout %s, --shutdown-delay %s: want durations of 0 or more", o.shutdownTimeout, o.shutdownDelay)
	}
	if o.maxHeaderBytes < 0 {
		return fmt.Errorf("--max-header-bytes %d: want a size in bytes (0: the default)", o.maxHeaderBytes)
	}
	if !(o.accessSample > 0 && o.accessSample <= 1) {
		return fmt.Errorf("--access-log-sample %g: want a share in (0, 1]", o.accessSample)
	}
	return nil
}

// serveFlags returns the flag set of serve and the options and logging
// flags it fills in, holding their defaults until it parses. The admin
// listener binds to loopback by default: /metrics and /api/status are not
// for the internet.
func serveFlags(stdout io.Writer) (*flag.FlagSet, *proxyOptions, *logFlags) {
	fs := newFlagSet("serve", "serve [flags]\n\nRuns the proxy: every request goes to the legacy upstream unless a route in\nroutes.yaml moves it. Edits to routes.yaml apply within a second; SIGHUP\nreloads too. A broken file is refused and the running table keeps serving.", stdout)
	var o proxyOptions
	var lf logFlags
	o.register(fs, ":8080", "127.0.0.1:9090")
	lf.register(fs)
	return fs, &o, &lf
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, o, lf := serveFlags(stdout)
	if code := parseFlags(fs, args, stderr); code >= 0 {
		return code
	}
	if err := o.check(); err != nil {
		fmt.Fprintln(stderr, "strangler serve:", err)
		return exitUsage
	}
	log, err := lf.logger(stderr)
	if err != nil {
		fmt.Fprintln(stderr, "strangler serve:", err)
		return exitUsage
	}
	if err := runProxy(ctx, *o, log, nil); err != nil {
		var invalid *invalidConfigError
		if errors.As(err, &invalid) {
			// Read by a person at a terminal or in a pod's events: one
			// problem per line, as validate prints them.
			fmt.Fprintf(stderr, "strangler serve: %s is not valid; nothing to serve until it is:\n", invalid.path)
			for _, e := range unjoin(invalid.err) {
				fmt.Fprintln(stderr, "  "+e.Error())
			}
			return exitError
		}
		log.Error("strangler stopped", "error", err)
		return exitError
	}
	return exitOK
}

// invalidConfigError is the config file refused at start: with no table
// there is nothing to serve.
type invalidConfigError struct {
	path string
	err  error
}

func (e *invalidConfigError) Error() string { return fmt.Sprintf("load %s: %v", e.path, e.err) }
func (e *invalidConfigError) Unwrap() error { return e.err }

// runProxy loads the config, starts the proxy and admin listeners, reloads
// on file changes and SIGHUP, and blocks until ctx ends; then it stops
// accepting connections and lets in-flight requests finish within
// o.shutdownTimeout. started, when not nil, is called once both listeners
// accept connections.
func runProxy(ctx context.Context, o proxyOptions, log *slog.Logger, started func(proxyAddr, adminAddr string)) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	token, err := readAdminToken(o.adminTokenFile)
	if err != nil {
		return err
	}
	access, closeAccess, err := openAccessLog(o, reg)
	if err != nil {
		return err
	}
	defer closeAccess()
	handler := proxy.New(proxy.Options{Logger: log, Registerer: reg, AccessLog: access,
		InventorySize: cmp.Or(o.inventorySize, -1), TrustedProxies: o.trustedProxies,
		MaxURIBytes: o.maxURIBytes, BodyReadTimeout: o.bodyReadTimeout, WriteTimeout: o.writeTimeout,
		BodyMinRate: cmp.Or(o.bodyMinRate, -1), BodyMinRateGrace: o.bodyMinRateGrace})
	defer handler.Close()
	reloader := proxy.NewReloader(o.config, handler, log)
	if err := reloader.Reload(); err != nil {
		return &invalidConfigError{path: o.config, err: err}
	}

	proxyLn, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("--listen %s: %w", o.listen, err)
	}
	adminLn, err := net.Listen("tcp", o.admin)
	if err != nil {
		proxyLn.Close()
		return fmt.Errorf("--admin %s: %w", o.admin, err)
	}
	proxySrv := o.server(handler, log)
	// Fresh at the start of every request; the handler moves it on with
	// each write (proxy.Options.WriteTimeout).
	proxySrv.WriteTimeout = max(cmp.Or(o.writeTimeout, proxy.DefaultWriteTimeout), 0)
	stopStreams := make(chan struct{})
	adminSrv := o.server(proxy.NewAdmin(proxy.AdminOptions{Handler: handler, Reloader: reloader, Gatherer: reg,
		Stop: stopStreams, Token: token, LocalHostsOnly: isLoopbackAddr(adminLn.Addr())}), log)
	adminSrv.RegisterOnShutdown(func() { close(stopStreams) })

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 3)
	go func() { errc <- serveOn(proxySrv, proxyLn, "proxy") }()
	go func() { errc <- serveOn(adminSrv, adminLn, "admin") }()
	go func() {
		if err := routing.Watch(ctx, o.config, o.debounce, log, func() { _ = reloader.Reload() }); err != nil {
			errc <- err
		}
	}()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	log.Info("strangler serving", "proxy", proxyLn.Addr().String(), "admin", adminLn.Addr().String(), "config", o.config)
	if started != nil {
		started(proxyLn.Addr().String(), adminLn.Addr().String())
	}

	var runErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-hup:
			log.Info("SIGHUP: reloading config")
			_ = reloader.Reload()
		case runErr = <-errc:
			break loop
		}
	}

	sctx, scancel := context.WithCancel(context.Background())
	defer scancel()
	defer onSecondSignal(scancel, log)()
	handler.BeginShutdown() // /readyz answers 503 from now on
	if o.shutdownDelay > 0 {
		log.Info("shutting down: still accepting requests while load balancers notice", "delay", o.shutdownDelay)
		select {
		case <-time.After(o.shutdownDelay):
		case <-sctx.Done():
		}
	}
	log.Info("shutting down: draining in-flight requests", "timeout", o.shutdownTimeout)
	gctx, gcancel := context.WithTimeout(sctx, o.shutdownTimeout)
	defer gcancel()
	proxyErr := drain(gctx, proxySrv, "proxy", log)
	drainUpgraded(gctx, handler, log)
	adminErr := drain(gctx, adminSrv, "admin", log)
	if err := errors.Join(proxyErr, adminErr); err != nil {
		return errors.Join(runErr, fmt.Errorf("shutdown: %w", err))
	}
	return runErr
}

// onSecondSignal calls cancel, which ends the shutdown's waits, when a
// further SIGTERM or SIGINT arrives: whoever sends it does not want to wait
// for the delay or the grace period. It listens from the moment it returns
// until the returned stop is called.
func onSecondSignal(cancel context.CancelFunc, log *slog.Logger) (stop func()) {
	again := make(chan os.Signal, 1)
	signal.Notify(again, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-again:
			log.Warn("second signal: stopping now")
			cancel()
		case <-done:
		}
	}()
	return func() {
		signal.Stop(again)
		close(done)
	}
}

// drain shuts srv down gracefully until ctx ends, then closes what is still
// open: requests that outlive the grace period (endless streams, slow
// downloads), or that a second signal cut short, are cut, as the operator
// asked, and that is not a failure. Upgraded connections (WebSocket) are
// not tracked by the server: drainUpgraded gives them the rest of the
// grace period.
func drain(ctx context.Context, srv *http.Server, name string, log *slog.Logger) error {
	err := srv.Shutdown(ctx)
	if err != nil && ctx.Err() != nil {
		log.Warn("grace period over: closing the connections still open", "listener", name)
		return srv.Close()
	}
	return err
}

// drainUpgraded lets the proxy's upgraded connections (WebSocket) run
// until they end or ctx does, then closes those still open.
func drainUpgraded(ctx context.Context, h *proxy.Handler, log *slog.Logger) {
	n := h.Upgraded()
	if n == 0 {
		return
	}
	log.Info("waiting for upgraded connections to end", "open", n)
	if cut := h.DrainUpgraded(ctx); cut > 0 {
		log.Warn("grace period over: closing the upgraded connections still open", "count", cut)
	}
}

// defaultReadHeaderTimeout bounds how long a client may take to send its
// request line and headers: a slowloris client is cut off after it.
const defaultReadHeaderTimeout = 10 * time.Second

// newServer returns an http.Server with timeouts for a public listener.
// There is no write timeout: responses may stream for as long as the
// upstream sends (the proxy listener's is a deadline per write, see
// runProxy).
func newServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: defaultReadHeaderTimeout,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    1 << 20,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// server is newServer with the header limits the flags set: headers larger
// than maxHeaderBytes get 431, and a client that takes longer than
// readHeaderTimeout to send them is disconnected.
func (o proxyOptions) server(h http.Handler, log *slog.Logger) *http.Server {
	srv := newServer(h, log)
	srv.MaxHeaderBytes = cmp.Or(o.maxHeaderBytes, srv.MaxHeaderBytes)
	srv.ReadHeaderTimeout = cmp.Or(o.readHeaderTimeout, srv.ReadHeaderTimeout)
	return srv
}

// isLoopbackAddr reports whether a listener's address is on the loopback
// interface.
func isLoopbackAddr(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

// serveOn serves srv on ln until Shutdown.
func serveOn(srv *http.Server, ln net.Listener, name string) error {
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("%s listener: %w", name, err)
	}
	return nil
}

// openAccessLog starts the access log the options ask for, or returns nil
// when it is off. The returned func stops it after writing what is queued.
func openAccessLog(o proxyOptions, reg prometheus.Registerer) (*accesslog.Logger, func(), error) {
	if o.accessLog == "" {
		return nil, func() {}, nil
	}
	var w io.Writer = os.Stdout
	var file *os.File
	if o.accessLog != "-" {
		f, err := os.OpenFile(o.accessLog, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return nil, nil, fmt.Errorf("--access-log: %w", err)
		}
		w, file = f, f
	}
	l, err := accesslog.New(w, accesslog.Options{Sample: o.accessSample, Registerer: reg})
	if err != nil {
		if file != nil {
			file.Close()
		}
		return nil, nil, fmt.Errorf("--access-log-sample: %w", err)
	}
	return l, func() {
		l.Close()
		if file != nil {
			file.Close()
		}
	}, nil
}

// readAdminToken reads the admin token from path: the file's content
// without surrounding white space, which must not be empty. An empty path
// means no token.
func readAdminToken(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("--admin-token-file: %w", err)
	}
	token := strings.TrimSpace(string(b))
	if token == "" || strings.ContainsAny(token, " \t\r\n") {
		return "", fmt.Errorf("--admin-token-file %s: want one token without spaces", path)
	}
	return token, nil
}
