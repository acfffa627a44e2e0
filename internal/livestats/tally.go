package livestats

import (
	"sync/atomic"
	"time"
)

// Kinds is how many kinds of event a Tally tells apart.
const Kinds = 8

// Tally counts events of up to Kinds kinds over the last minute, in the
// same sliding window as a Series: a route's shadow results by result, say.
// The zero value is ready to use; it is safe for concurrent use. Add takes
// no lock but to recycle a slot, and allocates nothing after the first
// event.
type Tally struct {
	ring ring[tallySlot, *tallySlot]
}

// tallySlot counts the events of one SlotWidth of time.
type tallySlot struct {
	epoch  atomic.Int64 // unix time / SlotWidth of the counts held
	counts [Kinds]atomic.Uint64
}

func (sl *tallySlot) epochOf() *atomic.Int64 { return &sl.epoch }

func (sl *tallySlot) clear() {
	for i := range sl.counts {
		sl.counts[i].Store(0)
	}
}

// Add counts one event of kind at now. kind must be in [0, Kinds): Add
// panics otherwise, as an index out of range does.
func (t *Tally) Add(now time.Time, kind int) {
	t.ring.at(now).counts[kind].Add(1)
}

// Counts are a Tally's events in its window, by kind.
type Counts [Kinds]uint64

// Snapshot sums the slots of the window that ends at now.
func (t *Tally) Snapshot(now time.Time) Counts {
	var c Counts
	t.ring.each(now, func(sl *tallySlot) {
		for i := range sl.counts {
			c[i] += sl.counts[i].Load()
		}
	})
	return c
}
