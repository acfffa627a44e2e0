package proxy

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// oneKiB is what the benchmark backends answer.
var oneKiB = bytes.Repeat([]byte("x"), 1024)

// benchHarness is a frontend serving a Handler in front of two backends
// that answer 1 KiB, with the config built by routes applied. serviceHits
// counts the requests the extracted service answered.
func benchHarness(b *testing.B, reg prometheus.Registerer, routes string) (hs *harness, serviceHits *atomic.Int64) {
	hs = &harness{urls: map[string]string{}}
	serviceHits = new(atomic.Int64)
	for _, name := range []string{"monolith", "service"} {
		srv := startServer(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if name == "service" {
				serviceHits.Add(1)
			}
			w.Header().Set("Content-Type", "application/octet-stream")
			_, _ = w.Write(oneKiB)
		}))
		hs.urls[name] = srv.URL
	}
	hs.startProxy(b, reg)
	hs.apply(b, "legacy: monolith\nupstreams:\n  monolith: {url: \"{{.monolith}}\"}\n  service: {url: \"{{.service}}\"}\n"+routes)
	return hs, serviceHits
}

// BenchmarkProxy measures one proxied GET end to end: client, frontend
// server, Handler, upstream transport, backend and back, over loopback
// keep-alive connections. Allocations of every part count.
func BenchmarkProxy(b *testing.B) {
	var hundred strings.Builder
	hundred.WriteString("routes:\n")
	for i := range 100 {
		fmt.Fprintf(&hundred, "  - {prefix: /api/svc%02d, service: service, weight: 50, sticky: \"header:X-Customer-ID\"}\n", i)
	}
	for _, bc := range []struct {
		name    string
		metrics bool
		routes  string
		direct  bool // the baseline: the client asks the legacy backend itself
		target  func(i int) string
	}{
		{name: "direct-no-proxy", direct: true, target: func(int) string { return "/catalog/item/42" }},
		{name: "catch-all", target: func(int) string { return "/catalog/item/42" }},
		{name: "100-routes-sticky-50", metrics: true, routes: hundred.String(),
			target: func(i int) string { return fmt.Sprintf("/api/svc%02d/items/%d", i%100, i) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var reg prometheus.Registerer
			if bc.metrics {
				reg = prometheus.NewPedanticRegistry()
			}
			hs, serviceHits := benchHarness(b, reg, bc.routes)
			// Requests are built before the loop so that only the proxy
			// path and the HTTP machinery are measured.
			// Every request carries the sticky key, so that the cases
			// differ only in routing and metrics.
			base := hs.front.URL
			if bc.direct {
				base = hs.urls["monolith"]
			}
			reqs := make([]*http.Request, 1000)
			for i := range reqs {
				req, err := http.NewRequest("GET", base+bc.target(i), nil)
				if err != nil {
					b.Fatal(err)
				}
				req.Header.Set("X-Customer-Id", fmt.Sprintf("customer-%d", i))
				reqs[i] = req
			}
			buf := make([]byte, 4096)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				res, err := hs.client.Do(reqs[i%len(reqs)])
				if err != nil {
					b.Fatal(err)
				}
				n, _ := io.ReadFull(res.Body, buf)
				res.Body.Close()
				if res.StatusCode != http.StatusOK || n != len(oneKiB) {
					b.Fatalf("status %d, %d bytes", res.StatusCode, n)
				}
				i++
			}
			b.ReportMetric(float64(serviceHits.Load())/float64(i), "service-share")
		})
	}
}
