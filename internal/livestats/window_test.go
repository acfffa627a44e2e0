package livestats

import (
	"math"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func TestSnapshotCountsTheLastMinuteOnly(t *testing.T) {
	var s Series
	for i := range 120 { // one request a second for two minutes
		now := t0.Add(time.Duration(i) * time.Second)
		s.Observe(now, 0.010, i%10 == 0)
		if i%20 == 0 {
			s.AddFallback(now)
		}
	}
	end := t0.Add(119 * time.Second)
	sum := s.Snapshot(end)
	// The window holds the current slot and the 11 before it: 55 to 60 s.
	if sum.Requests < 55 || sum.Requests > 60 {
		t.Fatalf("requests in window = %d, want 55..60", sum.Requests)
	}
	if sum.Errors < 5 || sum.Errors > 6 {
		t.Errorf("errors in window = %d, want 5..6", sum.Errors)
	}
	if sum.Fallbacks < 2 || sum.Fallbacks > 3 {
		t.Errorf("fallbacks in window = %d, want 2..3", sum.Fallbacks)
	}
	if r := sum.Rate(); math.Abs(r-1) > 0.05 {
		t.Errorf("rate = %.3f/s, want about 1/s", r)
	}

	later := s.Snapshot(end.Add(Window + SlotWidth))
	if later.Requests != 0 || later.Errors != 0 || later.Fallbacks != 0 {
		t.Errorf("a minute after the last request the window still holds %+v", later)
	}
	if _, ok := later.Quantile(0.5); ok {
		t.Error("quantile of an empty window reported a value")
	}
}

func TestSlotsAreRecycledNotAccumulated(t *testing.T) {
	var s Series
	s.Observe(t0, 0.001, true)
	// The same slot index a whole window later must not keep the old count.
	s.Observe(t0.Add(Window), 0.001, false)
	sum := s.Snapshot(t0.Add(Window))
	if sum.Requests != 1 || sum.Errors != 0 {
		t.Fatalf("after recycling: requests=%d errors=%d, want 1 and 0", sum.Requests, sum.Errors)
	}
}

func TestRateOfAYoungSeries(t *testing.T) {
	var s Series
	for i := range 20 {
		s.Observe(t0.Add(time.Duration(i)*100*time.Millisecond), 0.001, false)
	}
	sum := s.Snapshot(t0.Add(2 * time.Second))
	// 20 requests in the 2 s the series has existed, not spread over a
	// whole minute.
	if r := sum.Rate(); math.Abs(r-10) > 0.5 {
		t.Fatalf("rate = %.2f/s, want 10/s", r)
	}
}

func TestQuantilesAreWithinABucket(t *testing.T) {
	var s Series
	for i := 1; i <= 1000; i++ { // 1 ms .. 1000 ms, evenly
		s.Observe(t0, float64(i)/1000, false)
	}
	sum := s.Snapshot(t0)
	for _, c := range []struct{ q, want float64 }{{0.5, 0.5}, {0.99, 0.99}, {0.1, 0.1}} {
		got, ok := sum.Quantile(c.q)
		if !ok {
			t.Fatalf("q%.2f: no value", c.q)
		}
		if math.Abs(got-c.want)/c.want > 0.19 {
			t.Errorf("q%.2f = %.4fs, want %.4fs within 19%%", c.q, got, c.want)
		}
	}
	if r, ok := sum.ErrorRatio(); !ok || r != 0 {
		t.Errorf("error ratio = %v, %v; want 0, true", r, ok)
	}
}

func TestBucketsCoverEveryDuration(t *testing.T) {
	prev := 0
	for _, d := range []float64{-1, 0, math.NaN(), 1e-9, 1e-5, 6.2e-5, 1e-4, 0.00123, 0.5, 1, 3.3, 63, 64, 1e6, math.Inf(1)} {
		i := bucketOf(d)
		if i < 0 || i >= numBuckets {
			t.Fatalf("bucketOf(%v) = %d, outside 0..%d", d, i, numBuckets-1)
		}
		if d > 0 && i < prev {
			t.Errorf("bucketOf(%v) = %d, below the bucket of a smaller duration (%d)", d, i, prev)
		}
		if d > 0 {
			prev = i
		}
		if lo, hi := bucketBounds(i); i > 0 && i < numBuckets-1 && (d < lo || d >= hi) {
			t.Errorf("bucketOf(%v) = %d, whose bounds are [%v, %v)", d, i, lo, hi)
		}
	}
}

func TestConcurrentObserversLoseNothing(t *testing.T) {
	var s Series
	const workers, each = 8, 2000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				s.Observe(t0.Add(time.Duration(i)*time.Millisecond), 0.002, w == 0)
			}
		}()
	}
	wg.Wait()
	sum := s.Snapshot(t0.Add(2 * time.Second))
	if sum.Requests != workers*each || sum.Errors != each {
		t.Fatalf("requests=%d errors=%d, want %d and %d", sum.Requests, sum.Errors, workers*each, each)
	}
}

func TestObserveAllocatesNothing(t *testing.T) {
	var s Series
	s.Observe(t0, 0.001, false)
	if n := testing.AllocsPerRun(1000, func() { s.Observe(t0, 0.003, false) }); n != 0 {
		t.Fatalf("Observe allocates %.1f times per call, want 0", n)
	}
}

func TestSummaryAdd(t *testing.T) {
	var a, b Series
	a.Observe(t0, 0.001, true)
	b.Observe(t0, 0.1, false)
	b.Observe(t0, 0.1, false)
	sum := a.Snapshot(t0)
	sum.Add(b.Snapshot(t0))
	if sum.Requests != 3 || sum.Errors != 1 {
		t.Fatalf("sum = %d requests, %d errors; want 3 and 1", sum.Requests, sum.Errors)
	}
	if p, _ := sum.Quantile(0.99); p < 0.08 {
		t.Errorf("p99 of the sum = %v, want the slow series' 0.1 s", p)
	}
}

func BenchmarkObserve(b *testing.B) {
	var s Series
	now := time.Now()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s.Observe(now, 0.0042, false)
		}
	})
}
