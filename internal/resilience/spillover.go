package resilience

import "context"

// spilloverKey marks a request context with Spillover.
type spilloverKey struct{}

// Spillover returns a context for a request that another upstream could
// not take and that this one serves in its stead: a fallback to the legacy
// app. Such a request is refused like any other when the breaker is open
// or the bulkhead full, but its outcome counts toward neither the breaker
// nor the passive health checks: a failing extracted service, whose
// requests the legacy app may not be able to serve either (the legacy app
// may itself call that service), must not open the legacy app's breaker
// and take the rest of the shop down with it. The legacy app's own traffic
// still opens it.
func Spillover(ctx context.Context) context.Context {
	return context.WithValue(ctx, spilloverKey{}, true)
}

// isSpillover reports whether ctx was made by Spillover.
func isSpillover(ctx context.Context) bool {
	v, _ := ctx.Value(spilloverKey{}).(bool)
	return v
}

// ignoreVerdict wraps done so that the breaker ignores the outcome.
func ignoreVerdict(done doneFunc) doneFunc {
	return func(error) { done(errIgnored) }
}
