// Package livestats keeps the last minute of a stream of requests: how many,
// how many failed or fell back, and their latency distribution, so that the
// built-in dashboard can show rates, error ratios and p50/p99 per route and
// side without a Prometheus server.
//
// It owns the sliding window (window.go) and the latency histogram inside
// each of its slots (histogram.go). Recording is lock-free and allocates
// nothing after a series' first request; a series of a route that gets no
// traffic costs a few words.
//
// It must not import the proxy, routing or resilience packages: it knows
// nothing of routes, only of series.
package livestats
