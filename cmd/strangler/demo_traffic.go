package main

// The demo's sample traffic: a few reads a second through the proxy, as the
// shop's customers would send them, so the dashboard, the metrics and the
// shadow comparison have something to show from the first second, and a
// change of weight in routes.yaml shows as a change of served share.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

const (
	// defaultDemoTraffic is the default of --traffic, in requests per
	// second.
	defaultDemoTraffic = 4
	// maxDemoTraffic bounds --traffic: the sample traffic is there to be
	// watched, not to load the machine.
	maxDemoTraffic = 100
	// minDemoTraffic is the slowest --traffic other than 0 (off): one
	// request every 100 s.
	minDemoTraffic = 0.01
	// trafficTimeout bounds each request of the sample traffic.
	trafficTimeout = 3 * time.Second
	// trafficInFlight bounds the sample requests in flight. A tick that
	// finds them all taken sends nothing: a slow app slows the sample
	// traffic down instead of piling requests up.
	trafficInFlight = 8
	// trafficBodyLimit bounds how much of an answer is read; the
	// connection of a longer one is closed instead of reused.
	trafficBodyLimit = 1 << 20
	// trafficUserAgent tells the apps, and anyone watching the wire, that
	// a request is the demo's sample traffic.
	trafficUserAgent = "strangler-demo-traffic"
	// trafficCustomers is how many of the seeded customers (cus-100001
	// on) the sample traffic acts as: all of the bundled shop's 24, so
	// the sticky split of /api/orders shows in steps of about 4%.
	trafficCustomers = 24
)

// checkDemoTraffic refuses a --traffic rate out of range.
func checkDemoTraffic(rate float64) error {
	if !(rate == 0 || rate >= minDemoTraffic && rate <= maxDemoTraffic) {
		return fmt.Errorf("--traffic %g: want 0 (off), or %g to %d requests per second", rate, minDemoTraffic, maxDemoTraffic)
	}
	return nil
}

// sampleRequest returns the path and the X-Customer-ID ("" for none) of
// the i-th sample request. The mix is that of the traffic service of
// deploy/docker-compose.yml (products, a customer, their orders, stock,
// a payment), with the orders, the route being moved, asked twice as
// often, each time as the next customer: reads only, so the sample
// traffic never changes the shop's data.
func sampleRequest(i int) (path, customer string) {
	n := i / 6
	switch i % 6 {
	case 0:
		return "/api/products", ""
	case 1, 4:
		k := 2 * n // the k-th orders request
		if i%6 == 4 {
			k++
		}
		return "/api/orders?scope=local", fmt.Sprintf("cus-%d", 100001+k%trafficCustomers)
	case 2:
		return fmt.Sprintf("/api/customers/cus-%d", 100001+n%trafficCustomers), ""
	case 3:
		return fmt.Sprintf("/api/inventory/items/sku-%d", 1001+n%4), ""
	default:
		return fmt.Sprintf("/api/payments/pay-%d", 100001+n%8), ""
	}
}

// trafficBase returns the URL the sample traffic is sent to: the proxy's
// listener, at 127.0.0.1 when it listens on every interface.
func trafficBase(proxyAddr string) string {
	host, port, err := net.SplitHostPort(proxyAddr)
	if err != nil {
		return "http://" + proxyAddr
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// startSampleTraffic sends sample requests (sampleRequest) to the proxy at
// base, rate a second, the first at once, until ctx ends or stop is
// called. stop waits for the requests in flight, cutting them short, and
// closes the connections. Failed requests are logged at debug level only:
// the proxy's own logs and metrics tell what happened to them.
func startSampleTraffic(ctx context.Context, base string, rate float64, log *slog.Logger) (stop func()) {
	transport := &http.Transport{MaxIdleConnsPerHost: trafficInFlight, IdleConnTimeout: 30 * time.Second}
	client := &http.Client{Transport: transport, Timeout: trafficTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	stopSending := sendSampleTraffic(ctx, client, base, rate, log)
	return func() {
		stopSending()
		transport.CloseIdleConnections()
	}
}

// sendSampleTraffic is startSampleTraffic with the client given.
func sendSampleTraffic(ctx context.Context, client *http.Client, base string, rate float64, log *slog.Logger) (stop func()) {
	// Requests are cut short by stop, not by ctx: when the demo stops, the
	// proxy drains them as it does any client's.
	reqCtx, cancelRequests := context.WithCancel(context.WithoutCancel(ctx))
	ctx, cancelTicks := context.WithCancel(ctx)
	slots := make(chan struct{}, trafficInFlight)
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case slots <- struct{}{}:
				wg.Go(func() {
					defer func() { <-slots }()
					sendSample(reqCtx, client, base, i, log)
				})
			default: // every slot taken: skip this tick
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	})
	return func() {
		cancelTicks()
		cancelRequests()
		wg.Wait()
	}
}

// sendSample sends the i-th sample request and reads its answer.
func sendSample(ctx context.Context, client *http.Client, base string, i int, log *slog.Logger) {
	path, customer := sampleRequest(i)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err != nil {
		log.Debug("demo: sample traffic", "path", path, "error", err)
		return
	}
	req.Header.Set("User-Agent", trafficUserAgent)
	if customer != "" {
		req.Header.Set("X-Customer-ID", customer)
	}
	res, err := client.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			log.Debug("demo: sample traffic", "path", path, "error", err)
		}
		return
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, trafficBodyLimit))
	if res.StatusCode >= 500 {
		log.Debug("demo: sample traffic", "path", path, "status", res.StatusCode)
	}
}
