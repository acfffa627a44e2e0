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
// mismatch, with one rule for header names, query parameter names and the
// member names of a kept JSON request body alike (isSecretName): the name
// is normalised (query names are percent-decoded first), then it is secret
// when it is one of secretNames or contains one of secretWords. Values
// are redacted whole. Besides, the headers whose values are URLs
// (isURLHeader) keep their value with its query, fragment and userinfo
// redacted (RedactURL). A false alarm costs a hidden value in the mismatch
// log, a miss a leaked secret: the words are matched anywhere in the name.

// secretWords make a name secret wherever they appear in its normalised
// form (lower case, letters and digits only, so "X-Api-Key", "api_key"
// and "apiKey" all read "apikey"):
//
//   - auth: Authorization, Proxy-Authorization, Www-Authenticate,
//     X-Auth-User (and, as a false alarm, "author");
//   - token, secret, password, passwd, passphrase, credential;
//   - key: X-Api-Key, Ocp-Apim-Subscription-Key, X-Functions-Key,
//     X-Access-Key, api_key (and Idempotency-Key, as a false alarm);
//   - session, sessid: X-Session-Id, JSESSIONID, PHPSESSID;
//   - cookie: Cookie, Set-Cookie;
//   - jwt, assertion: Jwt, X-Jwt, Cf-Access-Jwt-Assertion,
//     X-Goog-Iap-Jwt-Assertion, client_assertion;
//   - signature, hmac: Signature, X-Hub-Signature-256, X-Amz-Signature,
//     X-Shopify-Hmac-Sha256;
//   - oidc: X-Amzn-Oidc-Data, X-Amzn-Oidc-Identity;
//   - principal: X-Ms-Client-Principal;
//   - clientcert: X-Forwarded-Client-Cert, Ssl-Client-Cert, Client-Cert,
//     X-Arr-Clientcert.
var secretWords = []string{
	"auth", "token", "secret", "password", "passwd", "passphrase", "credential",
	"key", "session", "sessid", "cookie", "jwt", "assertion", "signature", "hmac",
	"oidc", "principal", "clientcert",
}

// secretNames are secret only as whole (normalised) names, being too short
// or too common to match inside other names: OAuth's code and state, sig,
// sid, pass, pwd, otp and DPoP proofs.
var secretNames = map[string]bool{
	"code": true, "state": true, "sig": true, "sid": true,
	"pass": true, "pwd": true, "otp": true, "dpop": true,
}

// urlHeaders carry a URL by their exact (canonical) name; see isURLHeader
// for the others.
var urlHeaders = map[string]bool{
	"Referer":          true,
	"Location":         true,
	"Content-Location": true,
}

// isSecretName reports whether a header, query parameter or JSON member
// name may carry a secret: its normalised form (see normName) is one of
// secretNames or contains one of secretWords.
func isSecretName(name string) bool {
	n := normName(name)
	if secretNames[n] {
		return true
	}
	for _, w := range secretWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// normName lower-cases name and drops every character that is not a letter
// or a digit: "X-Api-Key", "x_api_key" and " apiKey[]" all become "xapikey"
// or "apikey".
func normName(name string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return unicode.ToLower(r)
		}
		return -1
	}, name)
}

// isURLHeader reports whether the values of the header name are URLs (or
// paths with a query) whose secrets RedactURL redacts: Referer, Location,
// Content-Location, and any header whose normalised name ends in "url",
// "uri" or "path", as the original-URL headers of proxies and gateways do
// (X-Original-Url, X-Rewrite-Url, X-Forwarded-Uri, X-Original-Uri,
// X-Envoy-Original-Path). A value that is not a URL comes out unchanged
// unless it holds a '?' or '#'.
func isURLHeader(name string) bool {
	if urlHeaders[http.CanonicalHeaderKey(name)] {
		return true
	}
	n := normName(name)
	return strings.HasSuffix(n, "url") || strings.HasSuffix(n, "uri") || strings.HasSuffix(n, "path")
}

// Redact returns a deep copy of h in which every value of a header whose
// name is secret (see isSecretName: Authorization, Cookie, Set-Cookie,
// X-Api-Key, X-Hub-Signature-256, Cf-Access-Jwt-Assertion, ...) is
// replaced by "[redacted]", and the values of URL-valued headers (see
// isURLHeader: Referer, Location, X-Original-Url, X-Forwarded-Uri, ...)
// have their secrets redacted as RedactURL does. The number of values is
// kept. A nil h gives nil.
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
	case isSecretName(name):
		for i := range cp {
			cp[i] = Redacted
		}
	case isURLHeader(name):
		for i, v := range vs {
			cp[i] = RedactURL(v)
		}
	default:
		copy(cp, vs)
	}
	return cp
}

// RedactQuery returns the raw query (without '?') with the value of every
// secret parameter replaced by "[redacted]", keeping every parameter's
// name, order and separator and the other values byte for byte:
// "access_token=s3cr3t&page=2" gives "access_token=[redacted]&page=2". A
// parameter is secret when its name, percent-decoded leniently (see
// unescapeLenient), is secret by the rule headers follow (isSecretName):
// token, access_token, code, state, api_key, key, password, secret,
// signature, sig, auth, session, PHPSESSID, X-Amz-Signature,
// client_assertion, ... Both '&' and ';' separate parameters, since some
// servers accept either. A parameter without '=' has no value and is kept
// as it is.
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
// ("p%61ss%" is "pass%"), then matched by isSecretName, which keeps only
// its letters and digits (so spaces, a stray '%' and the "[]" of PHP-style
// array names do not matter).
func isSecretParam(raw string) bool {
	return isSecretName(unescapeLenient(raw))
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
