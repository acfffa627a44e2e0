package livestats

import (
	"math"
	"testing"
	"time"
)

// TestRateCoversTheTimeSinceStart is the auditor's case: a route added,
// then one request half a minute later. Its rate is that request over the
// half minute the route has existed, and it stays consistent as time goes
// on, instead of reading 1/s at once and 0.18/s five seconds later.
func TestRateCoversTheTimeSinceStart(t *testing.T) {
	var s Series
	s.Start(t0)
	if sum := s.Snapshot(t0.Add(10 * time.Second)); sum.Requests != 0 || sum.Seconds != 10 || sum.Rate() != 0 {
		t.Errorf("before any request: %+v, want 0 requests over the 10 s since the start", sum)
	}
	first := t0.Add(30 * time.Second)
	s.Observe(first, 0.001, false)
	for _, c := range []struct {
		after   time.Duration
		seconds float64
	}{
		{0, 30},
		{5 * time.Second, 35},
		// Older than the window: the window's 55 to 60 s.
		{40 * time.Second, 55},
	} {
		sum := s.Snapshot(first.Add(c.after))
		if sum.Requests != 1 || sum.Seconds != c.seconds {
			t.Errorf("%s after the request: %d requests over %v s, want 1 over %v s", c.after, sum.Requests, sum.Seconds, c.seconds)
		}
		if want := 1 / c.seconds; math.Abs(sum.Rate()-want) > 1e-9 {
			t.Errorf("%s after the request: rate %.4f/s, want %.4f/s", c.after, sum.Rate(), want)
		}
	}
}

// TestStartAfterTheFirstRecordKeepsIt checks that a series that recorded
// before Start keeps its first record as its beginning.
func TestStartAfterTheFirstRecordKeepsIt(t *testing.T) {
	var s Series
	s.Observe(t0, 0.001, false)
	s.Start(t0.Add(20 * time.Second))
	if sum := s.Snapshot(t0.Add(30 * time.Second)); sum.Seconds != 30 {
		t.Errorf("seconds = %v, want the 30 s since the first record", sum.Seconds)
	}
	var never Series
	if sum := never.Snapshot(t0); sum.Seconds != 0 || sum.Rate() != 0 {
		t.Errorf("a series never begun covers %+v, want nothing", sum)
	}
}
