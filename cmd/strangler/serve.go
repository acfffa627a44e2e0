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
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/strangler-proxy/strangler/internal/accesslog"
	"github.com/strangler-proxy/strangler/internal/proxy"
	"github.com/strangler-proxy/strangler/internal/routing"
)

// serveFlags returns the flag set of serve and the options and logging
// flags it fills in, holding their defaults until it parses. The admin
// listener binds to loopback by default: /metrics and /api/status are not
// for the internet.
func serveFlags(stdout io.Writer) (*flag.FlagSet, *proxyOptions, *logFlags) {
	fs := newFlagSet("serve", "serve [flags]\n\nRuns the proxy: every request goes to the legacy upstream unless a route in\nroutes.yaml moves it. Edits to routes.yaml apply within a second; SIGHUP\nreloads too. A broken file is refused and the running table keeps serving.\nSIGHUP also re-reads --admin-token-file and reopens --access-log (log rotation).", stdout)
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
	err = runProxy(ctx, *o, log, nil)
	if err != nil {
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
	log.Info("strangler stopped")
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
	var token *adminToken
	if o.adminTokenFile != "" {
		var err error
		if token, err = newAdminToken(o.adminTokenFile, log, nil); err != nil {
			return err
		}
	}
	access, closeAccess, err := openAccessLog(o, reg, log)
	if err != nil {
		return err
	}
	defer closeAccess()
	handler := proxy.New(proxy.Options{Logger: log, Registerer: reg, AccessLog: access,
		InventorySize: cmp.Or(o.inventorySize, -1), TrustedProxies: o.trustedProxies,
		MaxURIBytes: o.maxURIBytes, BodyReadTimeout: o.bodyReadTimeout, WriteTimeout: o.writeTimeout,
		BodyMinRate: cmp.Or(o.bodyMinRate, -1), BodyMinRateGrace: o.bodyMinRateGrace})
	defer handler.Close()
	configName := cmp.Or(o.configName, o.config)
	reloader := proxy.NewReloader(o.config, configName, handler, log)
	if o.onReloader != nil {
		o.onReloader(reloader)
	}
	if err := reloader.Reload(); err != nil {
		return &invalidConfigError{path: configName, err: err}
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
	loopback := isLoopbackAddr(adminLn.Addr())
	adminOptions := proxy.AdminOptions{Handler: handler, Reloader: reloader, Gatherer: reg,
		Stop: stopStreams, LocalHostsOnly: loopback}
	if token != nil {
		adminOptions.Token = token.Current
	}
	admin := proxy.NewAdmin(adminOptions)
	warnIfAdminExposed(log, adminLn.Addr(), token != nil)
	adminSrv := o.server(admin, log)
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

	log.Info("strangler serving", "proxy", proxyLn.Addr().String(), "admin", adminLn.Addr().String(), "config", configName)
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
			// SIGHUP reads again what strangler read from files: the
			// config (an unchanged one is left as it is), the admin token,
			// and the access log's path, for log rotation.
			log.Info("SIGHUP: reloading config")
			_ = reloader.Reload()
			if token != nil {
				token.Reload()
			}
			if access != nil {
				access.Reopen()
			}
		case runErr = <-errc:
			break loop
		}
	}

	sctx, scancel := context.WithCancelCause(context.Background())
	defer scancel(nil)
	defer onSecondSignal(func() { scancel(errSecondSignal) }, log)()
	// /readyz answers 503 from now on, and answers carry "Connection:
	// close": keep-alive clients (a load balancer's pool) let go of their
	// connections, each after its next answer, while the listener still
	// accepts, instead of holding them until Shutdown closes them under a
	// request about to be sent. (http.Server.SetKeepAlivesEnabled would
	// close the idle ones at once, at the start of the delay.)
	handler.BeginShutdown()
	if o.shutdownDelay > 0 {
		log.Info("shutting down: still accepting requests while load balancers notice",
			"delay_seconds", o.shutdownDelay.Seconds())
		select {
		case <-time.After(o.shutdownDelay):
		case <-sctx.Done():
		}
	}
	log.Info("shutting down: draining in-flight requests", "timeout_seconds", o.shutdownTimeout.Seconds())
	gctx, gcancel := context.WithTimeoutCause(sctx, o.shutdownTimeout, errGracePeriodOver)
	defer gcancel()
	proxyErr := drain(gctx, proxySrv, "proxy", log)
	drainUpgraded(gctx, handler, log)
	adminErr := drain(gctx, adminSrv, "admin", log)
	if err := errors.Join(proxyErr, adminErr); err != nil {
		return errors.Join(runErr, fmt.Errorf("shutdown: %w", err))
	}
	return runErr
}

// Why the shutdown cut the connections still open: the cause of the
// context its waits end with.
var (
	errGracePeriodOver = errors.New("grace period over")
	errSecondSignal    = errors.New("second signal")
)

// onSecondSignal calls cancel, which ends the shutdown's waits, when a
// further SIGTERM or SIGINT arrives: whoever sends it does not want to wait
// for the delay or the grace period. It listens from the moment it returns
// until the returned stop is called.
func onSecondSignal(cancel func(), log *slog.Logger) (stop func()) {
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
		log.Warn(cutReason(ctx)+": closing the connections still open", "listener", name)
		return srv.Close()
	}
	return err
}

// cutReason says why ctx, the shutdown's, ended: the grace period ran out
// or a second signal asked to stop now.
func cutReason(ctx context.Context) string {
	if errors.Is(context.Cause(ctx), errSecondSignal) {
		return errSecondSignal.Error()
	}
	return errGracePeriodOver.Error()
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
		log.Warn(cutReason(ctx)+": closing the upgraded connections still open", "count", cut)
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

// warnIfAdminExposed warns when the admin listener is bound off loopback
// (as --admin :9090 in the Docker image is) and no token guards it: what
// it serves is then open to every machine that reaches the port.
func warnIfAdminExposed(log *slog.Logger, addr net.Addr, hasToken bool) {
	if hasToken || isLoopbackAddr(addr) {
		return
	}
	log.Warn("the admin listener is reachable from other machines and needs no token: whoever reaches it reads "+
		"/metrics, /api/status (upstream URLs, the routing table) and the shadow diffs (/api/shadow/*: parts of real responses); "+
		"set --admin-token-file, bind --admin to 127.0.0.1, or keep the port private",
		"admin", addr.String())
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
// when it is off. A file is reopened by SIGHUP (see accesslog.Logger's
// Reopen); what the logger has to say about it goes to log. The returned
// func stops it after writing what is queued.
func openAccessLog(o proxyOptions, reg prometheus.Registerer, log *slog.Logger) (*accesslog.Logger, func(), error) {
	opts := accesslog.Options{Sample: o.accessSample, Registerer: reg, Log: log}
	var l *accesslog.Logger
	var err error
	switch o.accessLog {
	case "":
		return nil, func() {}, nil
	case "-":
		l, err = accesslog.New(os.Stdout, opts)
	default:
		l, err = accesslog.Open(o.accessLog, opts)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("--access-log %s: %w", o.accessLog, err)
	}
	return l, l.Close, nil
}
