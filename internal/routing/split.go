package routing

import (
	"errors"
	"math/rand/v2"
	"net/http"
	"net/textproto"
	"strings"
)

// Side says which upstream serves a request.
type Side uint8

const (
	// Legacy is the legacy application.
	Legacy Side = iota
	// Extracted is the route's extracted service.
	Extracted
)

// String returns "legacy" or "extracted", the values of the side label.
func (s Side) String() string {
	if s == Extracted {
		return "extracted"
	}
	return "legacy"
}

// buckets is the resolution of the split: weights are in hundredths of a
// percent.
const buckets = 10000

// stickyKey reads the value a sticky route splits on.
type stickyKey struct {
	header string // canonical header name, or ""
	cookie string // cookie name, or ""
}

// parseSticky parses "header:NAME" or "cookie:NAME".
func parseSticky(s string) (kind, name string, err error) {
	kind, name, ok := strings.Cut(s, ":")
	if !ok || (kind != "header" && kind != "cookie") {
		return "", "", errors.New(`want "header:NAME" or "cookie:NAME"`)
	}
	if !validToken(strings.ToUpper(name)) {
		return "", "", errors.New("name must be a non-empty header or cookie name")
	}
	return kind, name, nil
}

func newStickyKey(s string) stickyKey {
	kind, name, err := parseSticky(s)
	switch {
	case err != nil:
		return stickyKey{}
	case kind == "header":
		return stickyKey{header: textproto.CanonicalMIMEHeaderKey(name)}
	default:
		return stickyKey{cookie: name}
	}
}

// value returns the key of r, or "" when r carries none.
func (k stickyKey) value(r *http.Request) string {
	switch {
	case k.header != "":
		if v := r.Header[k.header]; len(v) > 0 {
			return v[0]
		}
	case k.cookie != "":
		return cookieValue(r.Header["Cookie"], k.cookie)
	}
	return ""
}

// cookieValue finds one cookie in the Cookie header lines without parsing
// every cookie into a slice, as http.Request.Cookie would.
func cookieValue(lines []string, name string) string {
	for _, line := range lines {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
			if ok && k == name {
				return strings.Trim(v, `"`)
			}
		}
	}
	return ""
}

// Pick decides which side serves r. Without a sticky key each request goes
// to the service with probability weight/100. With one, the key's hash
// (salted with the route's prefix) gives the request a fixed bucket in
// [0, 10000): the request goes to the service when its bucket is below
// weight*100. So the same key always lands on the same side, raising the
// weight only ever moves keys from legacy to the service, and every proxy
// with the same file decides alike.
func (r *Route) Pick(req *http.Request) Side {
	switch {
	case r.threshold == 0:
		return Legacy
	case r.threshold >= buckets:
		return Extracted
	}
	var b uint64
	if key := r.sticky.value(req); key != "" {
		b = r.Bucket(key)
	} else {
		b = rand.Uint64N(buckets)
	}
	if b < r.threshold {
		return Extracted
	}
	return Legacy
}

// Bucket returns the fixed bucket in [0, 10000) of a sticky key on this
// route. A key whose bucket is below weight*100 goes to the service.
func (r *Route) Bucket(key string) uint64 {
	return mix(fnv1a(r.salt, key)) % buckets
}

// fnv1a hashes s with 64-bit FNV-1a starting from h.
func fnv1a(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// mix is the murmur3 finalizer: it spreads FNV's low bits so that the
// modulo gives an even split.
func mix(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}
