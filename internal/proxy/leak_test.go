package proxy

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests when any goroutine they started is
// still running once they are done: a forwarder, shadow worker, health
// checker or stream copier that outlives its request or its table.
//
// The package's test helpers build Handlers they never Close, so their
// shadow workers (stopped by Handler.Close) outlive the tests; they are
// ignored until the helpers close what they build.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/strangler-proxy/strangler/internal/proxy.(*shadower).work"))
}
