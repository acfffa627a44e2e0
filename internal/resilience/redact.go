package resilience

import "strings"

// RedactURL returns raw, an upstream URL as written, with its user info
// (user and password, or a token written as the user) replaced by "xxxxx",
// for messages that reach logs and the admin listener. It works on the
// text, so that a URL that does not parse is masked too and one that does
// is shown as written: everything between the scheme (or the start, or a
// leading //) and the last @ is user info, even when it holds a /, ? or #,
// as a mistyped password may. A URL whose query or path holds an @ is
// masked up to it: the message loses some of the URL, never a secret.
func RedactURL(raw string) string {
	start := 0
	if i := strings.Index(raw, "://"); i >= 0 {
		start = i + len("://")
	} else if strings.HasPrefix(raw, "//") {
		start = len("//")
	}
	at := strings.LastIndexByte(raw[start:], '@')
	if at < 0 {
		return raw
	}
	return raw[:start] + "xxxxx" + raw[start+at:]
}
