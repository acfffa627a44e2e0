package routing

import (
	"errors"
	"net/url"
	"path"
	"strings"
)

// ErrBadPath is returned by CleanPath for a request path that cannot be
// routed safely. The proxy answers it with 400 Bad Request.
var ErrBadPath = errors.New("bad request path")

// CleanPath returns the path a request is routed on and forwarded with: the
// decoded path with dot segments resolved and repeated slashes merged (a
// trailing slash is kept). rewritten reports whether the upstream must be
// sent the cleaned path rather than the original bytes: because it held dot
// segments or empty segments, or because an encoded slash (%2F) would let the
// upstream see segments the router did not. A path that does not start with
// "/" or holds a backslash or a NUL byte (literal or encoded) is refused with
// ErrBadPath, because some upstreams treat a backslash as a separator.
//
// Routing and forwarding on the same cleaned path is what keeps a request
// such as /api/orders/..%2f..%2fadmin from reaching the orders service with
// a path outside /api/orders.
func CleanPath(u *url.URL) (clean string, rewritten bool, err error) {
	p := u.Path
	if p == "" || p[0] != '/' {
		return "", false, ErrBadPath
	}
	if strings.ContainsAny(p, "\\\x00") {
		return "", false, ErrBadPath
	}
	if u.RawPath != "" && containsFold(u.RawPath, "%2f") {
		rewritten = true
	}
	if !needsClean(p) {
		return p, rewritten, nil
	}
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c, true, nil
}

// needsClean reports whether p holds "//", a "." or ".." segment.
func needsClean(p string) bool {
	for i := 0; i < len(p); i++ {
		if p[i] != '/' {
			continue
		}
		rest := p[i+1:]
		switch {
		case rest == "", rest[0] != '/' && rest[0] != '.':
			continue
		case rest[0] == '/':
			return true
		case rest == "." || rest == "..":
			return true
		case strings.HasPrefix(rest, "./") || strings.HasPrefix(rest, "../"):
			return true
		}
	}
	return false
}

// containsFold reports whether s contains the ASCII string sub, ignoring
// case.
func containsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}
