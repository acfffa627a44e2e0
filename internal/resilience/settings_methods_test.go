package resilience

import (
	"strings"
	"testing"
)

// TestValidateRetryMethodIndex checks that a bad retry method is named by
// its index in the list as given, not in the upper-cased, sorted and
// de-duplicated list WithDefaults makes of it.
func TestValidateRetryMethodIndex(t *testing.T) {
	ok := []string{"http://127.0.0.1:9101"}
	for _, tc := range []struct {
		name    string
		methods []string
		want    []string
	}{
		{"bad method second", []string{"PUT", "bad method"}, []string{`retry.methods[1]: "bad method" is not an HTTP method`}},
		{"connect second", []string{"PUT", "CONNECT"}, []string{"retry.methods[1]: CONNECT cannot be retried"}},
		{"after a duplicate", []string{"put", "PUT", " connect ", ""}, []string{
			"retry.methods[2]: CONNECT cannot be retried",
			`retry.methods[3]: "" is not an HTTP method`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Settings{Targets: ok, Retry: RetrySettings{Methods: tc.methods}}.Validate()
			if err == nil {
				t.Fatalf("Validate() = nil, want %q", tc.want)
			}
			if got := strings.Split(err.Error(), "\n"); strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("Validate() = %q\nwant %q", got, tc.want)
			}
		})
	}
	if err := (Settings{Targets: ok, Retry: RetrySettings{Methods: []string{"put", " DELETE", "PUT"}}}).Validate(); err != nil {
		t.Errorf("Validate(valid methods) = %v", err)
	}
}
