package benchkit

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Routes describes the routes.yaml a check runs with.
type Routes struct {
	// Backend is the URL of both upstreams (legacy and service).
	Backend string
	// Timeout is the upstreams' timeout, e.g. "5s".
	Timeout string
	// Weight is the share (0..100) of the split routes sent to the service.
	Weight int
}

// Write writes the routes.yaml of the full feature set bench/run uses
// (breaker, bulkhead and retries on both upstreams, 100 routes with a
// sticky split, the catch-all among them) to path, atomically: a temp
// file in the same directory renamed over it, as editors save.
func (r Routes) Write(path string) error {
	var b strings.Builder
	b.WriteString("legacy: monolith\nupstreams:\n")
	for _, name := range []string{"monolith", "service"} {
		fmt.Fprintf(&b, "  %s:\n    url: %s\n    timeout: %s\n", name, r.Backend, r.Timeout)
		b.WriteString("    breaker: {consecutive_failures: 5, failure_ratio: 0.5, min_requests: 20, window: 10s, open_for: 15s, half_open_requests: 3}\n")
		b.WriteString("    bulkhead: {max_concurrent: 1000, max_waiting: 100, max_wait: 100ms}\n")
		b.WriteString("    retry: {attempts: 2, backoff: 50ms, max_backoff: 1s, budget: 0.2}\n")
	}
	b.WriteString("routes:\n")
	for i := 1; i <= 99; i++ {
		fmt.Fprintf(&b, "  - {prefix: /api/service%d/items, service: service, weight: %d, sticky: 'header:X-Customer-ID'}\n", i, r.Weight)
	}
	fmt.Fprintf(&b, "  - {prefix: /, service: service, weight: %d, sticky: 'header:X-Customer-ID', name: all}\n", r.Weight)
	tmp, err := os.CreateTemp(filepath.Dir(path), ".routes-*.yaml")
	if err != nil {
		return fmt.Errorf("write routes: %w", err)
	}
	if _, err := tmp.WriteString(b.String()); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("write routes: %w", err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write routes: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write routes: %w", err)
	}
	return nil
}
