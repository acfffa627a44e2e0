package routing

import (
	"strings"
	"testing"
)

// TestURLErrorsHidePasswords checks that a refused url or target with a
// password in it is reported with the password masked: the message goes
// to the log, to /api/status and to the dashboard.
func TestURLErrorsHidePasswords(t *testing.T) {
	path := writeRoutes(t, `legacy: monolith
upstreams:
  monolith:
    url: http://admin:hunter2@127.0.0.1:18903
  orders:
    targets: ["http://u:hunter2@127.0.0.1:99999", "http://a:hunter2@x:1/", "http://a:hunter2@x:1/"]
  pay:
    url: "http://a:hunter2@127.0.0.1:1%zz"
  slash:
    url: "http://admin:hun/ter2@127.0.0.1:1"
  token:
    url: "//ghp_hunter2@127.0.0.1:1"
routes:
  - prefix: /api/orders
    service: orders
`)
	_, err := LoadFile(path)
	msgs := leafErrors(err)
	if len(msgs) < 6 {
		t.Fatalf("LoadFile = %v, want a message per bad url and target", err)
	}
	for _, m := range msgs {
		if strings.Contains(m.Error(), "hunter2") || !strings.Contains(m.Error(), "xxxxx@") {
			t.Errorf("message %q: want the URL shown with its password masked", m)
		}
	}
}
