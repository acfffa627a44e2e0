package shadow

import (
	"net/http"
	"strings"
	"unicode"
)

// Redacted replaces the values of secret-bearing headers and query
// parameters.
const Redacted = "[redacted]"

// This file is the one place that decides what is secret in a kept
// mismatch: header names (secretHeaders, secretWords), query parameter
// names (secretParams, secretParamWords) and the headers whose values are
// URLs whose query, fragment and userinfo are redacted (urlHeaders).

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
// exactly after decoding, lower-casing and trimming the name (see
// isSecretParam): OAuth and OpenID Connect
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

// urlHeaders carry a URL whose query, fragment (where OAuth's implicit flow
// and hash-routed apps put tokens and codes) and userinfo may hold secrets:
// their values are kept, redacted as RedactURL does.
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
// Content-Location, the values of secret query and fragment parameters and
// the userinfo are redacted as RedactURL does. The number of values is kept. A nil h gives nil.
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
// A parameter is secret when its name, percent-decoded leniently,
// lower-cased and trimmed as isSecretParam does, is
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

// RedactURL returns a URL (absolute or not) with its secrets redacted; the
// rest is kept byte for byte:
//
//   - the query is redacted as RedactQuery does;
//   - so is the fragment, where OAuth's implicit flow puts tokens
//     ("#access_token=..."); a fragment holding a '?', as hash-routed
//     single-page apps use ("#/callback?code=..."), has the part before
//     and the part after its first '?' redacted each as a query, so the
//     route is kept and the secret parameters after it are redacted;
//   - the userinfo of an authority ("scheme://user:password@host" or
//     "//user:password@host") is replaced whole: the user name and the
//     password each become "[redacted]" ("https://[redacted]:[redacted]@host"),
//     and a user name alone becomes "[redacted]". The user name goes too
//     because services put tokens there ("https://ghp_...@github.com",
//     "https://TOKEN:x-oauth-basic@host"); the separators are kept, so the
//     log still shows that the URL carried credentials and in which form.
func RedactURL(u string) string {
	base, frag, hasFrag := strings.Cut(u, "#")
	path, query, hasQuery := strings.Cut(base, "?")
	out := redactUserinfo(path)
	if hasQuery {
		out += "?" + RedactQuery(query)
	}
	if hasFrag {
		route, fquery, hasFQuery := strings.Cut(frag, "?")
		out += "#" + RedactQuery(route)
		if hasFQuery {
			out += "?" + RedactQuery(fquery)
		}
	}
	return out
}

// redactUserinfo returns the part of a URL before its query and fragment
// with the userinfo of its authority, if any, redacted as RedactURL says.
// The authority is what follows "//" at the start or right after a scheme
// ("https://"), up to the next '/'; its userinfo is what comes before its
// last '@'.
func redactUserinfo(s string) string {
	start := authorityStart(s)
	if start < 0 {
		return s
	}
	authority := s[start:]
	if i := strings.IndexByte(authority, '/'); i >= 0 {
		authority = authority[:i]
	}
	at := strings.LastIndexByte(authority, '@')
	if at < 0 {
		return s
	}
	redacted := Redacted
	if strings.Contains(authority[:at], ":") {
		redacted += ":" + Redacted
	}
	return s[:start] + redacted + s[start+at:]
}

// authorityStart returns the index where the authority of the URL s begins
// (just after its "//"), or -1 when s has none: s must start with "//" or
// with a scheme (a letter, then letters, digits, '+', '-' or '.') followed
// by "://".
func authorityStart(s string) int {
	if strings.HasPrefix(s, "//") {
		return 2
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		case i > 0 && c == ':' && strings.HasPrefix(s[i:], "://"):
			return i + 3
		default:
			return -1
		}
	}
	return -1
}

// isSecretParam reports whether a raw query parameter name may carry a
// secret value. The name is percent-decoded leniently (see
// unescapeLenient), so a name with a stray '%' is still decoded
// ("p%61ss%" is "pass%"), lower-cased, and stripped of leading and
// trailing characters other than letters and digits (spaces, a stray '%',
// the "[]" of PHP-style array names) before it is matched.
func isSecretParam(raw string) bool {
	name := strings.ToLower(unescapeLenient(raw))
	name = strings.TrimFunc(name, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
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

// unescapeLenient decodes a query component as url.QueryUnescape does
// ('+' is a space, "%XX" is the byte 0xXX), except that a '%' not followed
// by two hex digits is kept as it is instead of failing the whole name.
func unescapeLenient(s string) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '+':
			b = append(b, ' ')
		case c == '%' && i+2 < len(s) && ishex(s[i+1]) && ishex(s[i+2]):
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
