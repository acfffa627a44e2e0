package livestats

import (
	"sync"
	"sync/atomic"
	"time"
)

// Window is how far back a Series or a Tally remembers, and SlotWidth the
// step by which it forgets: a snapshot covers between Window-SlotWidth and
// Window of the most recent time.
const (
	Window    = 60 * time.Second
	SlotWidth = 5 * time.Second
	numSlots  = int(Window / SlotWidth)
)

// slotOf is what each slot of a ring holds: counts over one SlotWidth,
// tagged with the epoch (unix time / SlotWidth) they belong to.
type slotOf[T any] interface {
	*T
	// epochOf returns the slot's epoch.
	epochOf() *atomic.Int64
	// clear empties the slot's counts; its epoch is left alone.
	clear()
}

// ring is the slots of one window, allocated on the first record; a slot
// is emptied when time comes round to it again a window later. The zero
// value is ready to use. Recording takes no lock but once per slot and
// window, to recycle the slot.
type ring[T any, P slotOf[T]] struct {
	slots atomic.Pointer[[numSlots]T]
	reset sync.Mutex // taken only to allocate the slots or recycle one
}

// epochAt returns the epoch of the slot that holds now.
func epochAt(now time.Time) int64 {
	return now.UnixNano() / int64(SlotWidth)
}

// at returns the slot of now, emptied of older counts.
func (r *ring[T, P]) at(now time.Time) P {
	slots := r.slots.Load()
	if slots == nil {
		slots = r.allocate()
	}
	epoch := epochAt(now)
	sl := P(&slots[epoch%int64(numSlots)])
	if sl.epochOf().Load() != epoch {
		r.recycle(sl, epoch)
	}
	return sl
}

func (r *ring[T, P]) allocate() *[numSlots]T {
	r.reset.Lock()
	defer r.reset.Unlock()
	if slots := r.slots.Load(); slots != nil {
		return slots
	}
	slots := new([numSlots]T)
	r.slots.Store(slots)
	return slots
}

// recycle empties sl for epoch. The epoch is stored last, so a recorder
// that sees it finds the slot already emptied; a record by a goroutine
// that read the time a whole window ago may land in the new slot, an
// error the dashboard can live with.
func (r *ring[T, P]) recycle(sl P, epoch int64) {
	r.reset.Lock()
	defer r.reset.Unlock()
	if sl.epochOf().Load() >= epoch {
		return
	}
	sl.clear()
	sl.epochOf().Store(epoch)
}

// each calls f with every slot of the window that ends at now.
func (r *ring[T, P]) each(now time.Time, f func(P)) {
	slots := r.slots.Load()
	if slots == nil {
		return
	}
	epoch := epochAt(now)
	for i := range slots {
		sl := P(&slots[i])
		if e := sl.epochOf().Load(); e > epoch || e <= epoch-int64(numSlots) {
			continue
		}
		f(sl)
	}
}
