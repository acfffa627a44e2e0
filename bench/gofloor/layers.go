package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/strangler-proxy/strangler/internal/h1client"
	"github.com/strangler-proxy/strangler/internal/resilience"
)

// The h1client and resilience modes add strangler's own layers, one at a
// time, under the same ReverseProxy: its upstream client, then the
// resilience wrapper (breaker, bulkhead, retry budget, balancer, passive
// health) around it, configured as bench/run configures strangler. What is
// left between the resilience mode and strangler is strangler's handler:
// routing, metrics, request ids and trace context, limits, the dashboard's
// counters and the server's timeouts.

// benchUpstream is the upstream block bench/run writes for FEATURES=full,
// without the URL.
const benchUpstream = `
timeout: 5s
breaker: {consecutive_failures: 5, failure_ratio: 0.5, min_requests: 20, window: 10s, open_for: 15s, half_open_requests: 3}
bulkhead: {max_concurrent: 1000, max_waiting: 100, max_wait: 100ms}
retry: {attempts: 2, backoff: 50ms, max_backoff: 1s, budget: 0.2}
`

func serveH1Client(ln net.Listener, f *forwarder) error {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	return serveLayer(ln, f, &h1client.Transport{
		Fallback:              http.DefaultTransport,
		Dial:                  dialer.DialContext,
		MaxIdlePerHost:        256,
		IdleTimeout:           90 * time.Second,
		ResponseHeaderTimeout: 5 * time.Second,
	})
}

func serveResilience(ln net.Listener, f *forwarder) error {
	var s resilience.Settings
	if err := yaml.Unmarshal([]byte(benchUpstream), &s); err != nil {
		return fmt.Errorf("upstream settings: %w", err)
	}
	s.Targets = []string{"http://" + f.backend}
	reg, err := resilience.NewRegistry(resilience.RegistryOptions{})
	if err != nil {
		return fmt.Errorf("resilience registry: %w", err)
	}
	defer reg.Close()
	up, err := reg.Acquire("service", s)
	if err != nil {
		return fmt.Errorf("upstream: %w", err)
	}
	return serveLayer(ln, f, up)
}

// serveLayer serves ReverseProxy over transport, with the backend as the
// target.
func serveLayer(ln net.Listener, f *forwarder, transport http.RoundTripper) error {
	target, err := url.Parse("http://" + f.backend)
	if err != nil {
		return fmt.Errorf("backend %q: %w", f.backend, err)
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
		},
		Transport:  transport,
		BufferPool: bufferPool{},
	}
	return (&http.Server{Handler: rp}).Serve(ln)
}
