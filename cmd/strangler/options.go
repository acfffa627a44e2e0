package main

import (
	"flag"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/strangler-proxy/strangler/internal/inventory"
	"github.com/strangler-proxy/strangler/internal/proxy"
	"github.com/strangler-proxy/strangler/internal/routing"
)

// proxyOptions are the settings of one running proxy, shared by serve and
// demo.
type proxyOptions struct {
	config          string
	configName      string                // the file the user edits when config is a copy of it (the demo's port flags), named instead of config in /api/status, the dashboard, errors and logs; empty: config
	onReloader      func(*proxy.Reloader) // when set, called with the reloader once it exists: the demo reports through it the saves it cannot copy
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
	fs.StringVar(&o.admin, "admin", admin, "address of the admin listener (the dashboard at /, /metrics, /healthz, /readyz, /api/*), host:port; keep it private: off loopback, set --admin-token-file")
	fs.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 30*time.Second, "on SIGTERM or SIGINT, how long in-flight requests and WebSocket connections may take to finish")
	fs.DurationVar(&o.shutdownDelay, "shutdown-delay", 0, "on SIGTERM or SIGINT, how long to keep accepting requests, with /readyz answering 503, before the proxy listener closes: time for load balancers to stop sending traffic")
	fs.DurationVar(&o.debounce, "reload-debounce", routing.DefaultDebounce, "quiet time after a change to routes.yaml before it is reloaded")
	fs.StringVar(&o.accessLog, "access-log", "", "write one JSON line per request to this file, appended to and reopened on SIGHUP for log rotation (\"-\": standard output); off when empty")
	fs.Float64Var(&o.accessSample, "access-log-sample", 1, "share of requests the access log records, in (0, 1]")
	fs.StringVar(&o.adminTokenFile, "admin-token-file", "",
		"file holding a bearer token that /metrics and /api/* on the admin listener require, read again when it changes and on SIGHUP; open when empty")
	fs.Func("trusted-proxies", "comma-separated IPs and CIDRs of the load balancers in front of strangler whose X-Forwarded-For/Host/Proto are believed; from any other peer they are replaced (default: trust nobody)",
		func(s string) (err error) { o.trustedProxies, err = proxy.ParseTrustedProxies(s); return err })
	fs.IntVar(&o.maxHeaderBytes, "max-header-bytes", 1<<20, "largest request line and headers a client may send; larger get 431")
	fs.IntVar(&o.maxURIBytes, "max-uri-bytes", proxy.DefaultMaxURIBytes, "longest request target (path and query) a client may send; longer get 414; negative: no limit")
	fs.DurationVar(&o.readHeaderTimeout, "read-header-timeout", defaultReadHeaderTimeout, "how long a client may take to send its request headers")
	fs.DurationVar(&o.bodyReadTimeout, "body-read-timeout", proxy.DefaultBodyReadTimeout, "how long a request body may stay silent before the request is cut off with 408; negative: no timeout")
	fs.DurationVar(&o.writeTimeout, "write-timeout", proxy.DefaultWriteTimeout, "how long one write of an answer to a client may block before the client is cut off (a client that stops reading); the deadline moves with the writes, at most once per quarter of this timeout, so a blocked write is cut off after 3/4 of it to all of it, and long streams are not cut; negative: no timeout")
	fs.Int64Var(&o.bodyMinRate, "body-min-rate", proxy.DefaultBodyMinRate, "slowest average rate, in bytes per second, at which a client may send a request body once --body-min-rate-grace is over; slower bodies are cut off with 408; 0: no minimum")
	fs.DurationVar(&o.bodyMinRateGrace, "body-min-rate-grace", proxy.DefaultBodyMinRateGrace, "how long a request body is read before --body-min-rate applies")
	fs.IntVar(&o.inventorySize, "inventory-size", inventory.DefaultLimit,
		fmt.Sprintf("path patterns the legacy traffic inventory keeps (at most %d); 0 turns it off", inventory.MaxLimit))
}

// check refuses flag values out of range, naming the flag.
func (o *proxyOptions) check() error {
	if err := checkListenAddr("--listen", o.listen, ":8080"); err != nil {
		return err
	}
	if err := checkListenAddr("--admin", o.admin, "127.0.0.1:9090"); err != nil {
		return err
	}
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

// checkListenAddr refuses a listener address that is not host:port with a
// port. Go would read "" or ":" as every interface on a port of the
// system's choosing: an unset value in a deployment template must not open
// the admin listener to the network where nobody knows to look. Port 0,
// written out, still asks for a free port.
func checkListenAddr(flag, addr, example string) error {
	if addr == "" {
		return fmt.Errorf("%s is empty: want host:port, such as %s", flag, example)
	}
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
		return fmt.Errorf("%s %s: want host:port, such as %s", flag, addr, example)
	}
	return nil
}
