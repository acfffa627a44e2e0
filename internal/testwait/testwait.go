// Package testwait holds the bounded waits the tests of several packages
// share, so that a regression fails its test within a deadline instead of
// hanging until go test's own timeout. It is for tests only and imports no
// internal package.
package testwait

import (
	"testing"
	"time"
)

// Recv receives a value from ch, failing the test when none comes within
// limit; what names the awaited event in the failure. Not for synctest
// bubbles, where a blocked receive is reported as a deadlock anyway.
func Recv[T any](t testing.TB, ch <-chan T, limit time.Duration, what string) T {
	t.Helper()
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		t.Fatalf("timed out after %s waiting for %s", limit, what)
		panic("unreachable")
	}
}
