package inventory

import "github.com/prometheus/client_golang/prometheus"

// requestsDesc describes the one metric an Inventory exports.
var requestsDesc = prometheus.NewDesc(
	"strangler_legacy_inventory_requests_total",
	"Requests served by the legacy upstream, by path pattern (ids collapsed to {id}); "+
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
func (inv *Inventory) Collect(ch chan<- prometheus.Metric) {
	for _, e := range inv.snapshot() {
		m, err := prometheus.NewConstMetric(requestsDesc, prometheus.CounterValue, float64(e.Requests), e.Pattern)
		if err != nil {
			m = prometheus.NewInvalidMetric(requestsDesc, err)
		}
		ch <- m
	}
}

var _ prometheus.Collector = (*Inventory)(nil)
