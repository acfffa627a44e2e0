package test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// soakFor is how long TestSoak drives traffic: go test ./test/ -run
// TestSoak -soak=10m. The default is the short run every test run makes.
var soakFor = flag.Duration("soak", 15*time.Second, "how long TestSoak drives traffic through strangler")

// soakWorkers is how many clients TestSoak runs at once, in the warm-up
// and in the soak alike, so that both leave as many pooled connections.
const soakWorkers = 8

// Bounds on what strangler may keep after the soak, over its state after
// the warm-up.
const (
	soakMoreGoroutines = 20
	soakMoreFDs        = 20
	soakMoreRSS        = 32 << 20 // bytes, on top of twice the baseline
	soakSettle         = 30 * time.Second
)

// soakTable is the shop's routing table with the orders weight and
// timeout of one reload; a different timeout gives the orders upstream a
// fresh breaker and pool.
func soakTable(st *stack, weight, timeoutSeconds int) string {
	return strings.Replace(routesYAML(st, float64(weight)), "orders:    {url: "+st.orders+", timeout: 5s}",
		fmt.Sprintf("orders:    {url: %s, timeout: %ds}", st.orders, timeoutSeconds), 1)
}

// processState is what TestSoak watches of the strangler process, from its
// own /metrics.
type processState struct{ goroutines, fds, rss float64 }

func (p processState) String() string {
	return fmt.Sprintf("%g goroutines, %g open fds, %.1f MiB RSS", p.goroutines, p.fds, p.rss/(1<<20))
}

func (sp *strangler) process(t *testing.T) processState {
	t.Helper()
	m := sp.metrics(t)
	return processState{
		goroutines: m.value(t, "go_goroutines"),
		fds:        m.value(t, "process_open_fds"),
		rss:        m.value(t, "process_resident_memory_bytes"),
	}
}

// soakTally counts what the soak's clients saw.
type soakTally struct {
	mu       sync.Mutex
	outcomes map[string]int
	failures []string
}

func (s *soakTally) add(outcome string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outcomes[outcome]++
}

func (s *soakTally) fail(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outcomes["failure"]++
	if len(s.failures) < 10 {
		s.failures = append(s.failures, fmt.Sprintf(format, args...))
	}
}

func (s *soakTally) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, 0, len(s.outcomes))
	for k := range s.outcomes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%d", k, s.outcomes[k])
	}
	return strings.TrimSpace(b.String())
}

// soakClient is the soak's own HTTP client, so that its connections can
// be closed when the load stops.
type soakClient struct {
	hc   *http.Client
	base string
}

// do sends one request and reads the whole answer; abortAfter > 0 gives
// up on it after that long (a client that hangs up), headersOnly hangs up
// once the headers are in.
func (c *soakClient) do(method, path, body, customer string, abortAfter time.Duration, headersOnly bool) (int, error) {
	ctx, cancel := context.Background(), context.CancelFunc(func() {})
	if abortAfter > 0 {
		ctx, cancel = context.WithTimeout(ctx, abortAfter)
	}
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, err
	}
	if customer != "" {
		req.Header.Set("X-Customer-ID", customer)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	if headersOnly {
		return res.StatusCode, nil
	}
	_, err = io.Copy(io.Discard, res.Body)
	return res.StatusCode, err
}

// soakRequest sends the i-th request of a worker: mostly reads on every
// route, some orders placed, some clients that hang up before the answer
// or after its headers.
func (c *soakClient) soakRequest(i int, tally *soakTally) {
	customer := customers[i%len(customers)]
	get := func(path string) {
		code, err := c.do(http.MethodGet, path, "", customer, 0, false)
		if err != nil || code != http.StatusOK {
			tally.fail("GET %s: %d %v", path, code, err)
			return
		}
		tally.add("get 200")
	}
	switch i % 10 {
	case 0, 1, 2:
		get("/api/orders?scope=local")
	case 3, 4:
		get("/api/products")
	case 5:
		get("/api/inventory/items/sku-1001")
	case 6:
		get("/api/payments?order_id=ord-100001")
	case 7:
		// Orders may run out of stock or meet a fault: any answer will do,
		// a broken connection will not.
		code, err := c.do(http.MethodPost, "/api/orders", `{"items":[{"sku":"sku-1002","quantity":1}]}`, customer, 0, false)
		if err != nil {
			tally.fail("POST /api/orders: %v", err)
			return
		}
		tally.add(fmt.Sprintf("post %d", code))
	case 8:
		// The inventory service answers after 20ms; this client has gone
		// after 5ms.
		if _, err := c.do(http.MethodGet, "/api/inventory/items/sku-1002", "", customer, 5*time.Millisecond, false); err == nil {
			tally.add("abort too late")
		} else if errors.Is(err, context.DeadlineExceeded) {
			tally.add("abort before answer")
		} else {
			tally.fail("aborted GET: %v", err)
		}
	case 9:
		code, err := c.do(http.MethodGet, "/api/products", "", customer, 0, true)
		if err != nil || code != http.StatusOK {
			tally.fail("GET /api/products, hang-up after headers: %d %v", code, err)
			return
		}
		tally.add("abort after headers")
	}
}

// drive runs soakWorkers clients until stop closes or each has sent max
// requests.
func (c *soakClient) drive(stop <-chan struct{}, max int, tally *soakTally) {
	var wg sync.WaitGroup
	for w := range soakWorkers {
		wg.Go(func() {
			for i := w; i < w+max; i++ {
				select {
				case <-stop:
					return
				default:
				}
				c.soakRequest(i, tally)
			}
		})
	}
	wg.Wait()
}

// TestSoak drives mixed traffic through strangler in front of the bundled
// shop for -soak (15s by default): reads and writes on every route,
// clients that hang up, the orders service resetting connections and
// failing requests, and routes.yaml rewritten every 500ms. Afterwards
// strangler's goroutines, open files and memory must come back near
// where they were after a warm-up with the same clients, and nothing may
// stay in flight.
func TestSoak(t *testing.T) {
	t.Parallel()
	st := startStack(t)
	if soakTable(st, 50, 6) == soakTable(st, 50, 5) {
		t.Fatal("soakTable no longer changes the orders timeout; update it to routesYAML")
	}
	cfg := newConfig(t, soakTable(st, 50, 5))
	sp := startStrangler(t, cfg)
	tr := &http.Transport{MaxIdleConnsPerHost: soakWorkers}
	c := &soakClient{hc: &http.Client{Transport: tr, Timeout: 10 * time.Second}, base: sp.proxy}
	t.Cleanup(tr.CloseIdleConnections)
	setFaults(t, st.inventory, http.MethodPut, `{"latency":"20ms"}`)

	// Warm-up: the same clients, no faults, no reloads.
	warm := &soakTally{outcomes: map[string]int{}}
	c.drive(nil, 50, warm)
	if warm.outcomes["failure"] > 0 {
		t.Fatalf("warm-up failures: %s\n%s", warm, strings.Join(warm.failures, "\n"))
	}
	tr.CloseIdleConnections()
	var base processState
	eventually(t, "strangler to settle after the warm-up", func() bool {
		base = sp.process(t)
		return sp.metrics(t).sum("strangler_bulkhead_inflight") == 0
	})
	before := sp.metrics(t)
	t.Logf("after the warm-up (%s): %s", warm, base)

	// The soak.
	setFaults(t, st.orders, http.MethodPut, `{"reset_rate":0.1,"error_rate":0.05,"error_status":503}`)
	tally := &soakTally{outcomes: map[string]int{}}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { c.drive(stop, 1<<30, tally) })
	began := time.Now()
	tick := time.NewTicker(500 * time.Millisecond)
	reloads := 0
	for time.Since(began) < *soakFor {
		<-tick.C
		reloads++
		writeConfig(t, cfg, soakTable(st, []int{0, 25, 50, 100}[reloads%4], 5+reloads/4%2))
	}
	tick.Stop()
	close(stop)
	wg.Wait()
	setFaults(t, st.orders, http.MethodDelete, "")
	sp.apply(t, cfg, soakTable(st, 50, 5))
	tr.CloseIdleConnections()
	t.Logf("%s of soak, %d rewrites of routes.yaml: %s", soakFor.Round(time.Second), reloads, tally)
	if tally.outcomes["failure"] > 0 {
		t.Errorf("failed requests during the soak:\n%s", strings.Join(tally.failures, "\n"))
	}
	if tally.outcomes["get 200"] < 100 || tally.outcomes["abort before answer"] == 0 {
		t.Fatalf("too little traffic to judge: %s", tally)
	}

	// Back near the baseline, within soakSettle.
	var now processState
	deadline := time.Now().Add(soakSettle)
	poll := time.NewTicker(200 * time.Millisecond)
	defer poll.Stop()
	for {
		now = sp.process(t)
		inflight := sp.metrics(t).sum("strangler_bulkhead_inflight")
		// An idle pooled upstream connection (kept up to 90 s) holds an
		// fd and two goroutines, its read and write loops: those are
		// allowed for every fd over the baseline, any other goroutine is
		// a leak.
		pooled := max(0, now.fds-base.fds)
		if inflight == 0 && now.goroutines <= base.goroutines+soakMoreGoroutines+2*pooled &&
			now.fds <= base.fds+soakMoreFDs && now.rss <= 2*base.rss+soakMoreRSS {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s after the soak: %s and %g requests in flight; baseline %s (bounds +%d goroutines and 2 per extra fd, +%d fds, 2x+%d MiB RSS)",
				soakSettle, now, inflight, base, soakMoreGoroutines, soakMoreFDs, soakMoreRSS>>20)
		}
		<-poll.C
	}
	t.Logf("after the soak: %s", now)
	m := sp.metrics(t)
	if failed := m.delta(before, "strangler_config_reloads_total", "result", "failure"); failed != 0 {
		t.Errorf("%g reloads failed during the soak, want none", failed)
	}
	if aborted := m.delta(before, "strangler_requests_total", "code", "499"); aborted == 0 {
		t.Errorf("no request counted 499 although clients hung up")
	}
	if code, body := call(t, http.MethodGet, sp.proxy+"/api/products", ""); code != http.StatusOK {
		t.Fatalf("GET /api/products after the soak: %d %s", code, body)
	}
}
