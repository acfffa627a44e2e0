// Package h1client is the HTTP/1.1 client strangler uses to reach its
// upstreams: an http.RoundTripper that does the common exchange (a request
// without a body, over plain HTTP) on the caller's own goroutine, and hands
// every other request to a standard *http.Transport.
//
// net/http's Transport moves each request through three goroutines (the
// caller's, a connection's writeLoop and its readLoop), with channel
// hand-offs and wake-ups between them. For a proxy on a busy core those
// hand-offs cost more than the HTTP work itself. Transport here writes the
// request and reads the answer from the caller's goroutine, keeps idle
// keep-alive connections in a per-host stack, and returns a connection to it
// when the answer's body has been read to its end. One timer per Transport
// closes idle connections once they have waited IdleTimeout.
//
// Before an idle connection carries another exchange, one non-blocking
// MSG_PEEK recv on its socket checks that nothing arrived while it waited:
// bytes there answer no request (a late extra answer, a body after a HEAD,
// 204 or 304 answer) and would otherwise be read as the next request's
// answer, perhaps another client's; an end of file means the upstream
// closed it. Such a connection is closed, as net/http's Transport closes
// one on an "unsolicited response". Connections that cannot be checked
// this way (no descriptor, or a system without the peek) are not reused.
// An answer's heads, 1xx ones included, are bounded together by
// MaxResponseHeaderBytes (10 MiB by default, as in net/http).
//
// It takes only requests that are safe to send again on a fresh connection
// when a pooled one turns out to have been closed by the upstream: no body,
// and a method that is GET, HEAD, OPTIONS or TRACE. Requests with a body,
// upgrades, Expect: 100-continue and anything but http:// go to the
// fallback transport, whose handling of those cases is the standard
// library's.
//
// This package owns connections and the wire exchange only. It must not
// import any other strangler package: resilience builds it, and routing,
// proxy and metrics know nothing about it.
package h1client
