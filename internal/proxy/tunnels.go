package proxy

import (
	"context"
	"net"
	"sync"
)

// tunnels are the client connections handed over for a protocol upgrade
// (WebSocket) and still open. http.Server.Shutdown neither waits for nor
// closes them, so the handler keeps them: a shutdown can give them the same
// grace period as other requests, and cut the ones still open after it.
type tunnels struct {
	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	changed chan struct{} // closed, and replaced, whenever one ends
}

func newTunnels() *tunnels {
	return &tunnels{conns: map[net.Conn]struct{}{}, changed: make(chan struct{})}
}

// add records an upgraded connection.
func (t *tunnels) add(c net.Conn) {
	t.mu.Lock()
	t.conns[c] = struct{}{}
	t.mu.Unlock()
}

// remove forgets an upgraded connection that has ended.
func (t *tunnels) remove(c net.Conn) {
	t.mu.Lock()
	delete(t.conns, c)
	close(t.changed)
	t.changed = make(chan struct{})
	t.mu.Unlock()
}

// open returns how many upgraded connections are open.
func (t *tunnels) open() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.conns)
}

// drain waits until every upgraded connection has ended or ctx is done;
// then it closes those still open and returns how many it closed.
func (t *tunnels) drain(ctx context.Context) int {
	for {
		t.mu.Lock()
		n, changed := len(t.conns), t.changed
		t.mu.Unlock()
		if n == 0 {
			return 0
		}
		select {
		case <-changed:
		case <-ctx.Done():
			t.mu.Lock()
			defer t.mu.Unlock()
			for c := range t.conns {
				_ = c.Close()
			}
			return len(t.conns)
		}
	}
}
