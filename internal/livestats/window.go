package livestats

import (
	"sync/atomic"
	"time"
)

// Series is the last minute of one stream of requests. The zero value is
// ready to use; it is safe for concurrent use.
type Series struct {
	ring ring[slot, *slot]
	// born is when the series began, in unix nanoseconds: set by Start, or
	// else by the first record. Rates are averaged over the time since
	// then while it is shorter than the window.
	born atomic.Int64
}

// Start marks the series as existing from now, before any request. A
// route's series start when the route is created, so that its rates are
// averaged over the time the route has existed (at most the window), not
// over the time since its first request: without Start, a single request
// reads 1/s at once and 0.18/s five seconds later, however long the route
// had been idle before it. Only the first call counts, and none after the
// first record.
func (s *Series) Start(now time.Time) {
	s.born.CompareAndSwap(0, now.UnixNano())
}

// slot counts the requests of one SlotWidth of time.
type slot struct {
	epoch     atomic.Int64 // unix time / SlotWidth of the counts held
	requests  atomic.Uint64
	errors    atomic.Uint64
	fallbacks atomic.Uint64
	latency   histogram
}

func (sl *slot) epochOf() *atomic.Int64 { return &sl.epoch }

func (sl *slot) clear() {
	sl.requests.Store(0)
	sl.errors.Store(0)
	sl.fallbacks.Store(0)
	for i := range sl.latency {
		sl.latency[i].Store(0)
	}
}

// Observe records one request that ended at now, took seconds, and failed
// when failed is true.
func (s *Series) Observe(now time.Time, seconds float64, failed bool) {
	sl := s.slotAt(now)
	sl.requests.Add(1)
	if failed {
		sl.errors.Add(1)
	}
	sl.latency[bucketOf(seconds)].Add(1)
}

// AddFallback records one request that fell back at now.
func (s *Series) AddFallback(now time.Time) {
	s.slotAt(now).fallbacks.Add(1)
}

// slotAt returns the slot of now, emptied of older counts; the first
// record begins the series unless Start did.
func (s *Series) slotAt(now time.Time) *slot {
	if s.born.Load() == 0 {
		s.Start(now)
	}
	return s.ring.at(now)
}

// Summary is what a Series saw in its window.
type Summary struct {
	// Requests, Errors and Fallbacks are counts over Seconds.
	Requests, Errors, Fallbacks uint64
	// Seconds is the time the counts cover: the window, or less when the
	// series began (see Series.Start) less than a window ago; at least 1
	// once the series has begun, 0 before.
	Seconds float64
	latency [numBuckets]uint64
}

// Snapshot sums the slots of the window that ends at now.
func (s *Series) Snapshot(now time.Time) Summary {
	var sum Summary
	born := s.born.Load()
	if born == 0 {
		return sum // not begun: nothing to cover
	}
	epoch := epochAt(now)
	start := max((epoch-int64(numSlots)+1)*int64(SlotWidth), born)
	sum.Seconds = max(float64(now.UnixNano()-start)/1e9, 1)
	s.ring.each(now, func(sl *slot) {
		sum.Requests += sl.requests.Load()
		sum.Errors += sl.errors.Load()
		sum.Fallbacks += sl.fallbacks.Load()
		for b := range sl.latency {
			sum.latency[b] += sl.latency[b].Load()
		}
	})
	return sum
}

// Add adds the counts of o to s.
func (s *Summary) Add(o Summary) {
	s.Requests += o.Requests
	s.Errors += o.Errors
	s.Fallbacks += o.Fallbacks
	s.Seconds = max(s.Seconds, o.Seconds)
	for i := range s.latency {
		s.latency[i] += o.latency[i]
	}
}

// Rate returns requests per second.
func (s *Summary) Rate() float64 {
	if s.Seconds <= 0 {
		return 0
	}
	return float64(s.Requests) / s.Seconds
}

// ErrorRatio returns the failed share of requests, and false when there
// were none.
func (s *Summary) ErrorRatio() (float64, bool) {
	if s.Requests == 0 {
		return 0, false
	}
	return float64(s.Errors) / float64(s.Requests), true
}

// Quantile returns the q-quantile (0 < q <= 1) of latency in seconds, and
// false when there were no requests.
func (s *Summary) Quantile(q float64) (float64, bool) {
	return quantile(&s.latency, q)
}
