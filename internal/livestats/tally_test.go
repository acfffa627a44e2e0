package livestats

import (
	"sync"
	"testing"
	"time"
)

// Shadow results as the proxy tallies them: kinds 0 and 1.
const (
	kindMatch = iota
	kindMismatch
)

// TestTallyForgetsEventsOlderThanTheWindow is the dashboard's shadow
// column after a fix: 7 mismatches in the first seconds, then a match a
// second. Once the window has passed the mismatches the tally holds none,
// so the parity read from it recovers instead of carrying the old
// differences until the proxy restarts.
func TestTallyForgetsEventsOlderThanTheWindow(t *testing.T) {
	var tl Tally
	for i := range 10 { // all in the first slot (t0 starts one)
		kind := kindMismatch
		if i >= 7 {
			kind = kindMatch
		}
		tl.Add(t0.Add(time.Duration(i)*300*time.Millisecond), kind)
	}
	if c := tl.Snapshot(t0.Add(5 * time.Second)); c[kindMismatch] != 7 || c[kindMatch] != 3 {
		t.Fatalf("5 s in: %d mismatches, %d matches; want 7 and 3", c[kindMismatch], c[kindMatch])
	}
	want := map[int][2]uint64{ // second: mismatches, matches in the window
		30:  {7, 3 + 21},
		59:  {7, 3 + 50}, // the last second the first slot is in the window
		60:  {0, 51},     // the window now starts at 5 s: matches from 10 s
		129: {0, 60},     // the slots of 70 to 129 s
	}
	for sec := 10; sec < 130; sec++ {
		now := t0.Add(time.Duration(sec) * time.Second)
		tl.Add(now, kindMatch)
		w, ok := want[sec]
		if !ok {
			continue
		}
		if c := tl.Snapshot(now); c[kindMismatch] != w[0] || c[kindMatch] != w[1] {
			t.Errorf("%d s in: %d mismatches, %d matches; want %d and %d", sec, c[kindMismatch], c[kindMatch], w[0], w[1])
		}
	}
	if c := tl.Snapshot(t0.Add(129*time.Second + Window)); c != (Counts{}) {
		t.Errorf("a window after the last event the tally holds %v", c)
	}
}

// TestTallyOfTheWindowEdge checks the window's bound by the slot: an event
// counts for the current slot and the 11 before it, and not after.
func TestTallyOfTheWindowEdge(t *testing.T) {
	var tl Tally
	tl.Add(t0, kindMismatch)
	if c := tl.Snapshot(t0.Add(Window - SlotWidth)); c[kindMismatch] != 1 {
		t.Errorf("55 s later: %d mismatches, want the 1 still in the window", c[kindMismatch])
	}
	if c := tl.Snapshot(t0.Add(Window)); c[kindMismatch] != 0 {
		t.Errorf("60 s later: %d mismatches, want 0", c[kindMismatch])
	}
	var never Tally
	if c := never.Snapshot(t0); c != (Counts{}) {
		t.Errorf("an empty tally holds %v", c)
	}
}

func TestConcurrentTalliesLoseNothing(t *testing.T) {
	var tl Tally
	const workers, each = 8, 2000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				tl.Add(t0.Add(time.Duration(i)*time.Millisecond), w%Kinds)
			}
		})
	}
	wg.Wait()
	c := tl.Snapshot(t0.Add(2 * time.Second))
	for k := range Kinds {
		if c[k] != each {
			t.Errorf("kind %d: %d, want %d", k, c[k], each)
		}
	}
}

func TestTallyAddAllocatesNothing(t *testing.T) {
	var tl Tally
	tl.Add(t0, kindMatch)
	if n := testing.AllocsPerRun(1000, func() { tl.Add(t0, kindMismatch) }); n != 0 {
		t.Fatalf("Add allocates %.1f times per call, want 0", n)
	}
}

func BenchmarkTallyAdd(b *testing.B) {
	var tl Tally
	now := time.Now()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			tl.Add(now, kindMatch)
		}
	})
}
