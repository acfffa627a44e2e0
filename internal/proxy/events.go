package proxy

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// dashboardEvery is how often /api/dashboard/events sends a snapshot.
const dashboardEvery = time.Second

// serveEvents streams snapshot() as server-sent events named event: one at
// once and then one every interval, until the client goes away, stop is
// closed, or the admin token the stream was opened with is no longer the
// current one (the token file was rotated): the stream then ends at its
// next tick, as a new request with the old token would be refused. Each
// event's data is one line of JSON.
func serveEvents(w http.ResponseWriter, r *http.Request, event string, interval time.Duration,
	stop <-chan struct{}, snapshot func() any) {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // tell buffering proxies in front to pass events through
	w.WriteHeader(http.StatusOK)

	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		data, err := json.Marshal(snapshot())
		if err != nil {
			return // cannot happen for the snapshot types
		}
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, data); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
		select {
		case <-tick.C:
			if !stillAuthorized(r.Context()) {
				return
			}
		case <-r.Context().Done():
			return
		case <-stop:
			return
		}
	}
}
