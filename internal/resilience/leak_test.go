package resilience

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests when any goroutine they started is
// still running once they are done: a health checker that outlives its
// upstream, or a response body watcher that outlives its request.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
