package resilience

import "strings"

// RedactURL returns raw, an upstream URL as written, with the password of
// its user info (if any) replaced by "xxxxx", for messages that reach logs
// and the admin listener. It works on the text, so that a URL that does not
// parse is masked too and one that does is shown as written.
func RedactURL(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return raw
	}
	authority := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority = rest[:i]
	}
	at := strings.LastIndexByte(authority, '@')
	if at < 0 {
		return raw
	}
	user, _, hasPassword := strings.Cut(authority[:at], ":")
	if !hasPassword {
		return raw
	}
	return scheme + "://" + user + ":xxxxx" + rest[at:]
}
