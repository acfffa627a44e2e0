package proxy

import (
	"fmt"
	"net/http/httputil"
	"net/netip"
	"strings"
)

// trustedProxies are the peers whose forwarding headers are believed: the
// load balancers or CDNs in front of strangler. From any other peer,
// X-Forwarded-For, X-Forwarded-Host, X-Forwarded-Proto, Forwarded and
// X-Real-IP are replaced or dropped, because a client can write anything
// in them.
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
// replaced for anyone else. pr.Out must not hold the client's X-Forwarded-*
// headers any more (ReverseProxy removes them before its Rewrite).
func (t trustedProxies) setForwarding(pr *httputil.ProxyRequest) {
	if t.trusts(pr.In.RemoteAddr) {
		forwardTrusted(pr)
		return
	}
	pr.SetXForwarded()
	delete(pr.Out.Header, "Forwarded")
	delete(pr.Out.Header, "X-Real-Ip")
}

// forwardTrusted sets the forwarding headers of a request from a trusted
// proxy: the peer's address is appended to the X-Forwarded-For chain it
// sent, and its X-Forwarded-Host, X-Forwarded-Proto, Forwarded and
// X-Real-IP pass on as it wrote them. ReverseProxy has removed them from
// the outbound request (as client input, or as hop-by-hop headers listed
// in Connection), so they are taken from the inbound one.
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
