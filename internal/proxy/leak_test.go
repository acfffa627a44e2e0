package proxy

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests when any goroutine they started is
// still running once they are done: a forwarder, shadow worker, health
// checker or stream copier that outlives its request or its table.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
