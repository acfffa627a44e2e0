package resilience

import (
	"strings"
	"testing"
)

func TestRedactURL(t *testing.T) {
	for _, tc := range []struct{ raw, want string }{
		{"http://127.0.0.1:9001", "http://127.0.0.1:9001"},
		{"http://admin:hunter2@127.0.0.1:9001/shop", "http://xxxxx@127.0.0.1:9001/shop"},
		{"http://ghp_SECRETTOKEN@host", "http://xxxxx@host"},               // a token as the user
		{"http://a:b@c@host:1/x?y=1#z", "http://xxxxx@host:1/x?y=1#z"},     // the last @ ends the user info
		{"http://admin:hun/ter2@host:8080", "http://xxxxx@host:8080"},      // a / in the password
		{"http://admin:hun?ter#2@host:8080", "http://xxxxx@host:8080"},     // a ? and a # in it
		{"http://a:hunter2@127.0.0.1:1%zz", "http://xxxxx@127.0.0.1:1%zz"}, // does not parse
		{"admin:hunter2@host:8080", "xxxxx@host:8080"},                     // no scheme
		{"//admin:hunter2@host:8080", "//xxxxx@host:8080"},                 // scheme-relative
		{"http://127.0.0.1:1/p?x=a:b@c", "http://xxxxx@c"},                 // over-masked, never leaked
	} {
		if got := RedactURL(tc.raw); got != tc.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tc.raw, got, tc.want)
		}
	}
}

// TestValidateHidesPasswords checks that no message about a target gives
// away the password written in it: not the resilience checks' own, nor a
// parse error's, which quotes the URL.
func TestValidateHidesPasswords(t *testing.T) {
	s := Settings{Targets: []string{
		"http://a:hunter2@127.0.0.1:1",
		"http://a:hunter2@127.0.0.1:1",
		"http://a:hunter2@127.0.0.1:1%zz",
		"ftp://a:hunter2@127.0.0.1:1",
	}}.WithDefaults()
	err := s.Validate()
	if err == nil {
		t.Fatal("Validate accepted targets with credentials")
	}
	if msg := err.Error(); strings.Contains(msg, "hunter2") {
		t.Errorf("Validate = %s\nwant the password masked", msg)
	}
}
