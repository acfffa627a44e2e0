package shadow

import (
	"net/http"
	"net/url"
	"strings"
)

// Redacted replaces the values of secret-bearing headers and query
// parameters.
const Redacted = "[redacted]"

// This file is the one place that decides what is secret in a kept
// mismatch: header names (secretHeaders, secretWords), query parameter
// names (secretParams, secretParamWords) and the headers whose values are
// URLs whose query is redacted like a request's (urlHeaders).

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

// secretParams are query parameter names whose values are redacted, matched
// exactly after lower-casing the decoded name: OAuth and OpenID Connect
// (code, assertion, client_assertion, and the *token* and *secret* names
// below), signed URLs (sig, signature) and the usual spellings of
// passwords, keys and sessions.
var secretParams = map[string]bool{
	"token": true, "access_token": true, "refresh_token": true, "id_token": true,
	"code": true, "assertion": true, "client_assertion": true, "jwt": true,
	"api_key": true, "apikey": true, "key": true,
	"password": true, "passwd": true, "pwd": true, "pass": true,
	"secret": true, "client_secret": true,
	"signature": true, "sig": true,
	"auth": true, "authorization": true,
	"session": true, "sessionid": true, "session_id": true, "sid": true,
	"otp": true,
}

// secretParamWords are redacted wherever they appear in a lower-cased query
// parameter name: "X-Amz-Signature", "x-amz-credential", "user_password",
// "sort_key" (a name that merely contains "key" is redacted too: a false
// alarm costs a hidden value in the mismatch log, a miss a leaked secret).
var secretParamWords = []string{"token", "secret", "password", "passwd", "key", "signature", "credential", "session"}

// urlHeaders carry a URL whose query (and fragment, where OAuth's implicit
// flow puts tokens) may hold secrets: their values are kept with the secret
// parameters redacted as in RedactQuery.
var urlHeaders = map[string]bool{
	"Referer":          true,
	"Location":         true,
	"Content-Location": true,
}

// Redact returns a deep copy of h in which every value of a secret-bearing
// header is replaced by "[redacted]": Authorization, Proxy-Authorization,
// Cookie, Set-Cookie, and any header whose name contains (ignoring case)
// token, secret, password, api-key, apikey, api_key, session, auth or
// credential. In the URL-valued headers Referer, Location and
// Content-Location, the values of secret query parameters are redacted as
// RedactURL does. The number of values is kept. A nil h gives nil.
func Redact(h http.Header) http.Header {
	if h == nil {
		return nil
	}
	out := make(http.Header, len(h))
	for k, vs := range h {
		out[k] = redactValues(k, vs)
	}
	return out
}

// redactValues returns a copy of the values of header name, redacted as
// Redact does.
func redactValues(name string, vs []string) []string {
	if vs == nil {
		return nil
	}
	cp := make([]string, len(vs))
	switch {
	case isSecretHeader(name):
		for i := range cp {
			cp[i] = Redacted
		}
	case urlHeaders[http.CanonicalHeaderKey(name)]:
		for i, v := range vs {
			cp[i] = RedactURL(v)
		}
	default:
		copy(cp, vs)
	}
	return cp
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

// RedactQuery returns the raw query (without '?') with the value of every
// secret-looking parameter replaced by "[redacted]", keeping every
// parameter's name, order and separator and the other values byte for
// byte: "access_token=s3cr3t&page=2" gives "access_token=[redacted]&page=2".
// A parameter is secret when its name, percent-decoded and lower-cased, is
// one of secretParams (token, access_token, refresh_token, id_token, code,
// api_key, apikey, key, password, passwd, secret, client_secret, signature,
// sig, auth, session, ...) or contains one of secretParamWords (token,
// secret, password, passwd, key, signature, credential, session). Both '&'
// and ';' separate parameters, since some servers accept either. A
// parameter without '=' has no value and is kept as it is.
func RedactQuery(rawQuery string) string {
	if rawQuery == "" {
		return ""
	}
	var b strings.Builder
	b.Grow(len(rawQuery))
	for rest := rawQuery; ; {
		i := strings.IndexAny(rest, "&;")
		part := rest
		if i >= 0 {
			part = rest[:i]
		}
		if name, _, ok := strings.Cut(part, "="); ok && isSecretParam(name) {
			b.WriteString(name)
			b.WriteString("=")
			b.WriteString(Redacted)
		} else {
			b.WriteString(part)
		}
		if i < 0 {
			return b.String()
		}
		b.WriteByte(rest[i])
		rest = rest[i+1:]
	}
}

// RedactURL returns a URL (absolute or not) with its query and fragment
// redacted as RedactQuery does; the rest is kept as it is.
func RedactURL(u string) string {
	base, frag, hasFrag := strings.Cut(u, "#")
	path, query, hasQuery := strings.Cut(base, "?")
	out := path
	if hasQuery {
		out += "?" + RedactQuery(query)
	}
	if hasFrag {
		out += "#" + RedactQuery(frag)
	}
	return out
}

// isSecretParam reports whether a raw query parameter name may carry a
// secret value.
func isSecretParam(raw string) bool {
	name, err := url.QueryUnescape(raw)
	if err != nil {
		name = raw
	}
	name = strings.ToLower(strings.TrimSpace(name))
	if secretParams[name] {
		return true
	}
	for _, w := range secretParamWords {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}
