package proxy

import (
	"time"

	"github.com/strangler-proxy/strangler/internal/livestats"
	"github.com/strangler-proxy/strangler/internal/routing"
)

// routeLive is the last minute of one route's traffic, per side. It is kept
// by route name, so a reload that keeps a route keeps its figures.
type routeLive struct {
	legacy, extracted livestats.Series
}

// liveStats holds the routeLive of every route of the live table. Only
// Apply touches it, under the Handler's applyMu; the request path reaches
// the series through its forwarders.
type liveStats map[string]*routeLive

// of returns the figures of the route called name, creating them on first
// use: a new route's series begin now, so that its rates cover the time
// it has existed.
func (l liveStats) of(name string) *routeLive {
	rl := l[name]
	if rl == nil {
		rl = new(routeLive)
		now := time.Now()
		rl.legacy.Start(now)
		rl.extracted.Start(now)
		l[name] = rl
	}
	return rl
}

// retain forgets the routes not in t.
func (l liveStats) retain(t *routing.Table) {
	keep := make(map[string]bool, len(t.Routes))
	for _, r := range t.Routes {
		keep[r.Name] = true
	}
	for name := range l {
		if !keep[name] {
			delete(l, name)
		}
	}
}
