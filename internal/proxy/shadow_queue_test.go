package proxy

import (
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestShadowQueueHoldsBoundedBytes checks the admission rule of the shadow
// queue on its own, with no copy sent (the shadower is closed, so no lane
// starts a goroutine and every admitted copy stays held): many routes, each
// offering one large copy, fill the shared 64 MiB; past it only empty lanes
// take a copy, and never past the 128 MiB reserve, however many routes.
func TestShadowQueueHoldsBoundedBytes(t *testing.T) {
	s := newShadower(discardLogger())
	s.close()
	const size, routes = 3 << 20, 100
	var dropped int
	for i := range routes {
		sr := &shadowRoute{lane: s.laneFor(fmt.Sprintf("r%d", i))}
		for j := range sr.counters {
			sr.counters[j] = prometheus.NewCounter(prometheus.CounterOpts{Name: "copies"})
		}
		// Two copies per route: the second finds its lane holding one.
		for range 2 {
			s.submit(&shadowTask{sr: sr, size: size})
		}
		dropped += int(sr.lane.counts[shadowDropped].Load())
	}
	if held := s.held.Load(); held > shadowReserveBytes {
		t.Errorf("the queue holds %d MiB, want at most the %d MiB reserve", held>>20, shadowReserveBytes>>20)
	}
	// Below 64 MiB every lane takes both copies (21 copies fill it);
	// past it only each empty lane's first, up to 128 MiB.
	if want := 2*routes - shadowReserveBytes/size; dropped != want {
		t.Errorf("dropped %d copies, want %d", dropped, want)
	}
}
