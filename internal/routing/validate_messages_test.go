package routing

import (
	"strings"
	"testing"
)

// TestRetryMethodsLines checks that a bad retry method is named by its
// index in the file, at its own line, however the list sorts: resilience
// upper-cases, sorts and de-duplicates the list only after checking it.
func TestRetryMethodsLines(t *testing.T) {
	const head = "legacy: monolith\nupstreams:\n  monolith: {url: \"http://l\"}\n  orders:\n    url: http://o\n    retry:\n"
	for _, tc := range []struct {
		name, retry string
		want        []string
	}{
		{"flow list", "      methods: [PUT, \"bad method\"]\n", []string{
			`inline.yaml:7: upstream "orders": retry.methods[1]: "bad method" is not an HTTP method`,
		}},
		{"block list", "      methods:\n        - put\n        - bad method\n        - CONNECT\n        - delete\n", []string{
			`inline.yaml:9: upstream "orders": retry.methods[1]: "bad method" is not an HTTP method`,
			`inline.yaml:10: upstream "orders": retry.methods[2]: CONNECT cannot be retried`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load("inline.yaml", []byte(head+tc.retry))
			msgs := leafErrors(err)
			if len(msgs) != len(tc.want) {
				t.Fatalf("Load = %v\nwant %d messages: %q", err, len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				if msgs[i].Error() != w {
					t.Errorf("message %d = %q\nwant        %q", i, msgs[i], w)
				}
			}
		})
	}
}

// TestPathAndNameMessages checks that the message for a refused prefix or
// rewrite names the character refused, '%' included, and that a name too
// long says the limit.
func TestPathAndNameMessages(t *testing.T) {
	const head = "legacy: monolith\nupstreams:\n  monolith: {url: \"http://l\"}\n  orders: {url: \"http://o\"}\nroutes:\n  - service: orders\n"
	long := strings.Repeat("n", 129)
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"percent in prefix", head + "    prefix: /a%20b\n", `inline.yaml:7: route "/a%20b": prefix must start with '/' and hold no empty or dot segments, no trailing '/', no '?', '#', '%', '\' or NUL`},
		{"percent in rewrite", head + "    prefix: /a\n    rewrite: /b%2f\n", `inline.yaml:8: route "/a": rewrite must start with '/' and hold no empty or dot segments, no '?', '#', '%', '\' or NUL`},
		{"route name too long", head + "    prefix: /a\n    name: " + long + "\n", `inline.yaml:8: route "/a": name is 129 characters long; at most 128`},
		{"upstream name too long", "legacy: monolith\nupstreams:\n  monolith: {url: \"http://l\"}\n  " + long + ": {url: \"http://o\"}\n",
			`inline.yaml:4: upstream "` + long + `": name is 129 characters long; at most 128`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load("inline.yaml", []byte(tc.yaml))
			msgs := leafErrors(err)
			if len(msgs) != 1 || msgs[0].Error() != tc.want {
				t.Errorf("Load = %v\nwant only %q", err, tc.want)
			}
		})
	}
	// 128 characters pass.
	if _, err := Load("inline.yaml", []byte(head+"    prefix: /a\n    name: "+long[1:]+"\n")); err != nil {
		t.Errorf("Load(name of 128 characters) = %v", err)
	}
}
