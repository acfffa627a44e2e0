package resilience

import (
	"strings"
	"testing"
)

func TestRedactURL(t *testing.T) {
	for _, tc := range []struct{ raw, want string }{
		{"http://127.0.0.1:9001", "http://127.0.0.1:9001"},
		{"http://admin:hunter2@127.0.0.1:9001/shop", "http://admin:xxxxx@127.0.0.1:9001/shop"},
		{"http://admin@127.0.0.1:9001", "http://admin@127.0.0.1:9001"},       // no password
		{"http://a:b@c@host:1/x?y=1#z", "http://a:xxxxx@host:1/x?y=1#z"},     // the last @ ends the user info
		{"http://a:hunter2@127.0.0.1:1%zz", "http://a:xxxxx@127.0.0.1:1%zz"}, // does not parse
		{"http://127.0.0.1:1/p?x=a:b@c", "http://127.0.0.1:1/p?x=a:b@c"},     // @ after the authority
		{"admin:hunter2@127.0.0.1", "admin:hunter2@127.0.0.1"},               // no scheme: not a URL to mask
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
