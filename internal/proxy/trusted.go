package proxy

import (
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"strings"
)

// trustedProxies are the peers whose forwarding headers are believed: the
// load balancers or CDNs in front of strangler. From any other peer,
// X-Forwarded-For, X-Forwarded-Host, X-Forwarded-Proto, X-Forwarded-Port,
// X-Forwarded-Prefix, Forwarded and X-Real-IP are replaced or dropped, and
// so are the other headers through which applications learn the client's
// scheme, address or original URL (isPeerHeader), because a client can
// write anything in them.
type trustedProxies []netip.Prefix

// ParseTrustedProxies parses a comma-separated list of CIDRs and IP
// addresses, such as "10.0.0.0/8, 192.168.1.7". An empty string trusts
// nobody.
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		var p netip.Prefix
		if strings.Contains(item, "/") {
			var err error
			if p, err = netip.ParsePrefix(item); err != nil {
				return nil, fmt.Errorf("trusted proxy %q: want an IP address or a CIDR: %w", item, err)
			}
		} else {
			a, err := netip.ParseAddr(item)
			if err != nil {
				return nil, fmt.Errorf("trusted proxy %q: want an IP address or a CIDR: %w", item, err)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p.Addr().Is4In6() {
			// ::ffff:10.0.0.1 is the IPv4 peer 10.0.0.1.
			p = netip.PrefixFrom(p.Addr().Unmap(), max(p.Bits()-96, 0))
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// trusts reports whether the peer at remoteAddr ("ip:port", as in
// http.Request.RemoteAddr) is a trusted proxy. With no trusted proxies it
// costs a length check.
func (t trustedProxies) trusts(remoteAddr string) bool {
	if len(t) == 0 {
		return false
	}
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return false
	}
	a := ap.Addr().Unmap()
	for _, p := range t {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// setForwarding sets the forwarding headers of pr.Out from the connection
// pr.In came on: believed and extended for a trusted proxy (forwardTrusted),
// replaced for anyone else. pr.Out must not hold the client's
// X-Forwarded-For, -Host and -Proto any more (ReverseProxy removes them
// before its Rewrite). Whoever the peer, look-alikes of the headers the
// proxy sets or vouches for, spelt with underscores, are removed
// (dropUnderscoreLookalikes).
func (t trustedProxies) setForwarding(pr *httputil.ProxyRequest) {
	dropUnderscoreLookalikes(pr.Out.Header)
	if t.trusts(pr.In.RemoteAddr) {
		forwardTrusted(pr)
		return
	}
	pr.SetXForwarded()
	h := pr.Out.Header
	delete(h, "Forwarded")
	delete(h, "X-Real-Ip")
	delete(h, "X-Forwarded-Port")
	delete(h, "X-Forwarded-Prefix")
	for k := range h {
		if isPeerHeader(k) {
			delete(h, k)
		}
	}
}

// The peer headers are the headers, besides X-Forwarded-For/-Host/-Proto,
// Forwarded and X-Real-IP, that load balancers and CDNs set to tell an
// application about the client, in canonical form. Strangler sets none of
// them; from a trusted proxy they pass as it wrote them, from anyone else
// they are dropped, because the application would believe what a client
// wrote:
//   - the scheme: Rack (and so Rails and Sinatra) reads all four, Symfony,
//     Laravel and others some; "X-Forwarded-Ssl: on" would pass a plain
//     http request off as https (secure cookies, HSTS and redirect checks);
//   - the client's address, as CDNs and older balancers name it: Rails
//     reads Client-Ip, the request-ip package prefers X-Client-Ip, and
//     rate limits and allow lists are keyed on them;
//   - the original URL or host: IIS URL Rewrite, Zend and Symfony's older
//     request classes route on X-Original-Url and X-Rewrite-Url, and
//     forward-auth services (Traefik's ForwardAuth, nginx auth_request
//     with Authelia or oauth2-proxy) decide on X-Forwarded-Uri,
//     X-Original-Uri, X-Original-Host and the method headers: a client
//     could reach a path the route did not match, or be judged on a
//     request it did not send;
//   - the user an authenticating proxy vouches for (oauth2-proxy,
//     Authelia, Apache's Remote-User): an application behind one trusts
//     them as the logged-in user.
//
// isPeerHeader tells them; one pass over the request's few headers with a
// switch is cheaper than deleting each of them from the map.
func isPeerHeader(canonical string) bool {
	switch canonical {
	case "X-Forwarded-Ssl", "X-Forwarded-Scheme", "Front-End-Https", "X-Url-Scheme",
		"True-Client-Ip", "X-Client-Ip", "Client-Ip", "X-Cluster-Client-Ip", "Cf-Connecting-Ip",
		"Fastly-Client-Ip", "X-Original-Forwarded-For", "X-Forwarded", "Forwarded-For", "X-Forwarded-Server",
		"X-Original-Url", "X-Rewrite-Url", "X-Original-Uri", "X-Forwarded-Uri", "X-Forwarded-Path", "X-Original-Host",
		"X-Forwarded-Method", "X-Original-Method",
		"Remote-User", "X-Remote-User", "X-Forwarded-User", "X-Forwarded-Email", "X-Forwarded-Groups",
		"X-Forwarded-Preferred-Username", "X-Auth-Request-User", "X-Auth-Request-Email":
		return true
	}
	return false
}

// vouchedHeaders are the request headers the proxy sets, replaces or
// passes on only from a trusted proxy, in lower case with "-" (the names
// without a "-", such as Forwarded and traceparent, have no underscore
// spelling).
var vouchedHeaders = [...]string{
	"x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-forwarded-port",
	"x-forwarded-prefix", "x-real-ip", "x-request-id", "x-strangler-route", "x-strangler-shadow",
	"x-forwarded-ssl", "x-forwarded-scheme", "front-end-https", "x-url-scheme",
	"true-client-ip", "x-client-ip", "client-ip", "x-cluster-client-ip", "cf-connecting-ip",
	"fastly-client-ip", "x-original-forwarded-for", "x-forwarded", "forwarded-for", "x-forwarded-server",
	"x-original-url", "x-rewrite-url", "x-original-uri", "x-forwarded-uri", "x-forwarded-path", "x-original-host",
	"x-forwarded-method", "x-original-method", "remote-user", "x-remote-user", "x-forwarded-user",
	"x-forwarded-email", "x-forwarded-groups", "x-forwarded-preferred-username", "x-auth-request-user",
	"x-auth-request-email",
}

// dropUnderscoreLookalikes removes from h every header whose name, with
// "_" read as "-", is one of vouchedHeaders in any case: X_Forwarded_For,
// X-Real_IP and the like. CGI, Rack, WSGI and PHP servers turn "-" and
// "_" alike into "_" (HTTP_X_FORWARDED_FOR), so an upstream behind them
// would believe the client's look-alike as the proxy's header (Puma's
// CVE-2024-45614). Go's server leaves such names as the client wrote
// them. One pass over h, allocating nothing.
func dropUnderscoreLookalikes(h http.Header) {
	for k := range h {
		if strings.IndexByte(k, '_') < 0 {
			continue
		}
		for _, v := range vouchedHeaders {
			if sameHeaderName(k, v) {
				delete(h, k)
				break
			}
		}
	}
}

// sameHeaderName reports whether name, ASCII case ignored and "_" read
// as "-", is lower (a lower-case name).
func sameHeaderName(name, lower string) bool {
	if len(name) != len(lower) {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '_':
			c = '-'
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// forwardTrusted sets the forwarding headers of a request from a trusted
// proxy: the peer's address is appended to the X-Forwarded-For chain it
// sent, and its X-Forwarded-Host, X-Forwarded-Proto, Forwarded and
// X-Real-IP pass on as it wrote them (X-Forwarded-Port and -Prefix and
// the peer headers, which ReverseProxy leaves, pass too). ReverseProxy
// has removed them from the outbound request (as client input, or as
// hop-by-hop headers listed in Connection), so they are taken from the
// inbound one.
func forwardTrusted(pr *httputil.ProxyRequest) {
	in, out := pr.In.Header, pr.Out.Header
	if v := in["X-Forwarded-For"]; len(v) > 0 {
		out["X-Forwarded-For"] = v
	}
	pr.SetXForwarded()
	for _, k := range []string{"X-Forwarded-Host", "X-Forwarded-Proto", "Forwarded", "X-Real-Ip"} {
		if v := in[k]; len(v) > 0 {
			out[k] = v
		}
	}
}
