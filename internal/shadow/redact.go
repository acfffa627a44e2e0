package shadow

import (
	"net/http"
	"strings"
)

// Redacted replaces the values of secret-bearing headers.
const Redacted = "[redacted]"

// secretHeaders are redacted by exact (canonical) name.
var secretHeaders = map[string]bool{
	"Authorization":       true,
	"Proxy-Authorization": true,
	"Cookie":              true,
	"Set-Cookie":          true,
}

// secretWords are redacted wherever they appear in a header name,
// case-insensitively. "auth" also covers the exact names above, and
// "api_key" and "credential" catch spellings the list would otherwise miss.
var secretWords = []string{"token", "secret", "password", "api-key", "apikey", "api_key", "session", "auth", "credential"}

// Redact returns a deep copy of h in which every value of a secret-bearing
// header is replaced by "[redacted]": Authorization, Proxy-Authorization,
// Cookie, Set-Cookie, and any header whose name contains (ignoring case)
// token, secret, password, api-key, apikey, api_key, session, auth or
// credential. The number of values is kept. A nil h gives nil.
func Redact(h http.Header) http.Header {
	if h == nil {
		return nil
	}
	out := make(http.Header, len(h))
	for k, vs := range h {
		cp := make([]string, len(vs))
		if isSecretHeader(k) {
			for i := range cp {
				cp[i] = Redacted
			}
		} else {
			copy(cp, vs)
		}
		out[k] = cp
	}
	return out
}

// isSecretHeader reports whether the header name may carry a secret.
func isSecretHeader(name string) bool {
	if secretHeaders[http.CanonicalHeaderKey(name)] {
		return true
	}
	lower := strings.ToLower(name)
	for _, w := range secretWords {
		if strings.Contains(lower, w) {
			return true
		}
	}
	return false
}
