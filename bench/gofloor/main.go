// Command gofloor is the least a Go program has to do to forward keep-alive
// HTTP/1.1 GETs. It is not a proxy: it is the reference that shows how close
// to nginx any Go proxy can get on the machine at hand, measured by the same
// harness in the same way as strangler (docs/performance.md, "What Go
// allows"). bench/run runs it in strangler's place:
//
//	GOFLOOR=loop bench/run
//
// It reads a request with http.ReadRequest, writes it to a pooled keep-alive
// connection to the backend, reads the answer with http.ReadResponse and
// writes it back. It leaves out everything that makes a proxy correct and
// safe: hop-by-hop and forwarding headers, request bodies, timeouts, limits
// and error answers (a failure closes the client's connection). The modes
// add back one cost at a time:
//
//	loop     one goroutine per client connection reading requests in a loop
//	watch    loop, plus a background read of the client while the backend
//	         works: how net/http's server notices a client that hangs up
//	lazy     loop, with the background read started only when the backend
//	         has not answered within 50 ms: one timer per request instead
//	nethttp  net/http's Server, with a handler that forwards the same way
//	reverseproxy
//	         nethttp with httputil.ReverseProxy as the handler, over the
//	         same exchange: what its header rules cost
//	h1client reverseproxy over strangler's own upstream client
//	resilience
//	         h1client wrapped in strangler's resilience layer (breaker,
//	         bulkhead, retry budget), configured as bench/run configures
//	         strangler: what is left up to strangler is its handler
//
// It serves until it is killed, and only on a loopback address.
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:18084", "address to serve on (loopback only)")
	backend := flag.String("backend", "127.0.0.1:18080", "host:port of the backend")
	mode := flag.String("mode", "loop", "loop, watch, lazy, nethttp, reverseproxy, h1client or resilience (see the package doc)")
	flag.Parse()

	if err := run(*listen, *backend, *mode); err != nil {
		slog.Error("gofloor stopped", "err", err)
		os.Exit(1)
	}
}

func run(listen, backend, mode string) error {
	serve, err := serverFor(mode, lazyWatchAfter)
	if err != nil {
		return err
	}
	if host, _, err := net.SplitHostPort(listen); err != nil || !net.ParseIP(host).IsLoopback() {
		return fmt.Errorf("listen address %q: want a loopback IP and a port, such as 127.0.0.1:18084", listen)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", listen, err)
	}
	f := &forwarder{backend: backend}
	defer f.closeIdle()
	return serve(ln, f)
}

// lazyWatchAfter is how long the lazy mode lets the backend work before it
// starts watching the client.
const lazyWatchAfter = 50 * time.Millisecond

// serverFor returns the accept loop of a mode; each returns when ln is
// closed. watchAfter is the lazy mode's delay.
func serverFor(mode string, watchAfter time.Duration) (func(ln net.Listener, f *forwarder) error, error) {
	switch mode {
	case "loop":
		return func(ln net.Listener, f *forwarder) error { return serveLoop(ln, f, false, 0) }, nil
	case "watch":
		return func(ln net.Listener, f *forwarder) error { return serveLoop(ln, f, true, 0) }, nil
	case "lazy":
		return func(ln net.Listener, f *forwarder) error { return serveLoop(ln, f, true, watchAfter) }, nil
	case "nethttp":
		return serveNetHTTP, nil
	case "reverseproxy":
		return serveReverseProxy, nil
	case "h1client":
		return serveH1Client, nil
	case "resilience":
		return serveResilience, nil
	}
	return nil, fmt.Errorf("unknown mode %q: want one of loop, watch, lazy, nethttp, reverseproxy, h1client, resilience", mode)
}
