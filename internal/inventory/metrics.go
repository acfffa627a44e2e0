package inventory

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// requestsDesc describes the one metric an Inventory exports.
var requestsDesc = prometheus.NewDesc(
	"strangler_legacy_inventory_requests_total",
	"Requests served by the legacy upstream, by path pattern (ids collapsed to {id}), "+
		"counted exactly since the pattern last entered the table; "+
		"at most --inventory-size patterns are kept, the least requested make room for new ones.",
	[]string{"pattern"}, nil,
)

// Describe sends the description of strangler_legacy_inventory_requests_total.
func (inv *Inventory) Describe(ch chan<- *prometheus.Desc) {
	ch <- requestsDesc
}

// Collect sends one counter per kept pattern: at most Limit series. The
// table is copied under the lock and the metrics built after releasing it,
// so a scrape holds up requests only for the copy.
//
// A counter's value is the exact count since the pattern last entered the
// table, Requests - Overcount, not the Space-Saving estimate: a pattern
// evicted at 100 that comes back with one request inherits an estimate of
// the least counted pattern's count plus one, say 251, and exporting that
// would make rate() and increase() count 151 requests that never
// happened. The exact count restarts low, which Prometheus reads as a
// counter reset.
func (inv *Inventory) Collect(ch chan<- prometheus.Metric) {
	for _, e := range inv.snapshot(time.Now()) {
		m, err := prometheus.NewConstMetric(requestsDesc, prometheus.CounterValue, float64(e.Requests-e.Overcount), e.Pattern)
		if err != nil {
			m = prometheus.NewInvalidMetric(requestsDesc, err)
		}
		ch <- m
	}
}

var _ prometheus.Collector = (*Inventory)(nil)
