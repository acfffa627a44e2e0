package benchkit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Main runs check with a context that ends on SIGINT/SIGTERM or after
// limit, and exits: 0 when check returns nil, 1 with the error otherwise.
// Checks stop what they start through defers before they return.
func Main(name string, limit time.Duration, check func(ctx context.Context) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(ctx, limit)
	err := check(ctx)
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	cancel()
	stop()
	if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("did not finish within %s: %w", limit, err)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: FAIL: %v\n", name, err)
		os.Exit(1)
	}
}
