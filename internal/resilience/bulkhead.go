package resilience

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// bulkhead is a semaphore with a bounded, time-limited wait queue. A slot is
// taken before the breaker is asked and released when the response body is
// closed (or when the request fails before that).
type bulkhead struct {
	slots      chan struct{} // nil: unlimited
	maxWaiting int64
	maxWait    time.Duration

	inflight atomic.Int64
	waiting  atomic.Int64

	gInflight prometheus.Gauge
	rejected  prometheus.Counter
}

func newBulkhead(s BulkheadSettings, m *upstreamMetrics) *bulkhead {
	b := &bulkhead{
		maxWaiting: int64(s.MaxWaiting),
		maxWait:    s.MaxWait,
		gInflight:  m.inflight,
		rejected:   m.rejected,
	}
	if s.MaxConcurrent > 0 {
		b.slots = make(chan struct{}, s.MaxConcurrent)
	}
	return b
}

// acquire takes a slot, queueing for at most maxWait (and never past ctx)
// when all are taken. It returns an error wrapping ErrBulkheadFull when the
// queue is full or the wait timed out, or wrapping ctx.Err() when the
// request's context ended first (that one is not ErrNotSent: the caller is
// gone or out of time, so there is no point in sending it elsewhere).
func (b *bulkhead) acquire(ctx context.Context) error {
	if b.slots != nil {
		select {
		case b.slots <- struct{}{}:
		default:
			if err := b.wait(ctx); err != nil {
				return err
			}
		}
	}
	b.inflight.Add(1)
	b.gInflight.Inc()
	return nil
}

func (b *bulkhead) wait(ctx context.Context) error {
	if b.waiting.Add(1) > b.maxWaiting {
		b.waiting.Add(-1)
		b.rejected.Inc()
		return ErrBulkheadFull
	}
	defer b.waiting.Add(-1)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("wait for bulkhead slot: %w", err)
	}
	timer := time.NewTimer(b.maxWait)
	defer timer.Stop()
	select {
	case b.slots <- struct{}{}:
		return nil
	case <-timer.C:
		b.rejected.Inc()
		return fmt.Errorf("no slot within %s: %w", b.maxWait, ErrBulkheadFull)
	case <-ctx.Done():
		return fmt.Errorf("wait for bulkhead slot: %w", ctx.Err())
	}
}

// release gives back a slot taken by acquire. Call it exactly once.
func (b *bulkhead) release() {
	b.inflight.Add(-1)
	b.gInflight.Dec()
	if b.slots != nil {
		<-b.slots
	}
}
