package shadow

import (
	"net/http"
	"reflect"
	"testing"
)

func TestRedact(t *testing.T) {
	for _, tc := range []struct {
		name   string
		secret bool
	}{
		{"Authorization", true},
		{"Proxy-Authorization", true},
		{"Cookie", true},
		{"Set-Cookie", true},
		{"X-Auth-User", true},
		{"X-Csrf-Token", true},
		{"X-Client-Secret", true},
		{"X-Db-Password", true},
		{"X-Api-Key", true},
		{"Apikey", true},
		{"X_Api_Key", true},
		{"X-Session-Id", true},
		{"Www-Authenticate", true},
		{"X-Amz-Credential", true},
		{"Content-Type", false},
		{"Accept", false},
		{"X-Request-Id", false},
		{"Cache-Control", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Redact(http.Header{tc.name: {"v1", "v2"}})
			want := []string{"v1", "v2"}
			if tc.secret {
				want = []string{Redacted, Redacted}
			}
			if !reflect.DeepEqual(got[tc.name], want) {
				t.Errorf("Redact(%s) = %q, want %q", tc.name, got[tc.name], want)
			}
		})
	}
}

func TestRedactCopies(t *testing.T) {
	if Redact(nil) != nil {
		t.Error("Redact(nil) != nil")
	}
	in := http.Header{"Accept": {"a"}, "authorization": {"Bearer x"}}
	out := Redact(in)
	out["Accept"][0] = "changed"
	if in.Get("Accept") != "a" || in["authorization"][0] != "Bearer x" {
		t.Errorf("Redact modified or aliases its input: %v", in)
	}
	if out["authorization"][0] != Redacted {
		t.Errorf("non-canonical authorization not redacted: %v", out)
	}
}
