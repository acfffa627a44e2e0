package proxy

import (
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/strangler-proxy/strangler/internal/routing"
)

// Connection settings of every upstream transport. Go's default of two
// idle connections per host makes a busy proxy open and close connections
// until it runs out of ports; these keep a warm pool instead.
const (
	dialTimeout         = 5 * time.Second
	maxIdleConnsPerHost = 512
	idleConnTimeout     = 90 * time.Second
)

// transportKey identifies an upstream's transport; a reload that leaves
// the key unchanged keeps the transport and its pooled connections.
type transportKey struct {
	name    string
	url     string
	timeout time.Duration
}

// transports keeps one *http.Transport per upstream across reloads.
type transports struct {
	mu sync.Mutex
	m  map[transportKey]*http.Transport
}

func newTransports() *transports {
	return &transports{m: map[transportKey]*http.Transport{}}
}

// get returns the transport for an upstream, creating it when needed.
func (p *transports) get(name string, u *routing.UpstreamConfig) (http.RoundTripper, transportKey) {
	key := transportKey{name: name, url: u.URL, timeout: u.Timeout}
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.m[key]
	if t == nil {
		t = newTransport(u.Timeout)
		p.m[key] = t
	}
	return t, key
}

// retain closes the idle connections of every transport not in keep and
// forgets it. Requests still in flight on them finish normally.
func (p *transports) retain(keep map[transportKey]bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, t := range p.m {
		if !keep[k] {
			t.CloseIdleConnections()
			delete(p.m, k)
		}
	}
}

func newTransport(timeout time.Duration) *http.Transport {
	return &http.Transport{
		Proxy: nil, // never route upstream traffic through an environment proxy
		DialContext: (&net.Dialer{
			Timeout:   dialTimeout,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		MaxIdleConns:          0,
		MaxIdleConnsPerHost:   maxIdleConnsPerHost,
		IdleConnTimeout:       idleConnTimeout,
		ResponseHeaderTimeout: timeout,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: 1 * time.Second,
		DisableCompression:    true, // pass bodies through as the upstream sent them
	}
}
