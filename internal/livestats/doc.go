// Package livestats keeps the last minute of a stream of requests: how many,
// how many failed or fell back, and their latency distribution, so that the
// built-in dashboard can show rates, error ratios and p50/p99 per route and
// side without a Prometheus server; and the last minute of a few kinds of
// event, such as a route's shadow results, so that its parity too covers
// the last minute.
//
// It owns the sliding window's slots (ring.go), the requests' series
// (window.go) with the latency histogram inside each of its slots
// (histogram.go), and the events' tally (tally.go). Recording is lock-free
// but to recycle a slot once per slot width, and allocates nothing after a
// series' or tally's first record; a series of a route that gets no
// traffic costs a few words.
//
// It must not import the proxy, routing or resilience packages: it knows
// nothing of routes, only of series and kinds of event.
package livestats
