package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// requestsServed sums strangler_requests_total at the admin listener over
// the series whose labels match every key="value" in labels.
func requestsServed(t *testing.T, admin string, labels ...string) float64 {
	t.Helper()
	code, body := demoGet(admin + "/metrics")
	if code != http.StatusOK {
		t.Fatalf("GET %s/metrics: %d %s", admin, code, body)
	}
	var sum float64
	series := regexp.MustCompile(`(?m)^strangler_requests_total\{([^}]*)\} (\S+)$`)
	for _, m := range series.FindAllStringSubmatch(body, -1) {
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(","+m[1]+",", ","+l+",")
		}
		if v, err := strconv.ParseFloat(m[2], 64); ok && err == nil {
			sum += v
		}
	}
	return sum
}

// TestDemoSampleTraffic checks that the demo's sample traffic reaches every
// route through the proxy without the test sending a request: the orders
// route on both sides of its sticky split (so it acts as several
// customers), the moved inventory, the shadowed payments and the rest on
// the monolith.
func TestDemoSampleTraffic(t *testing.T) {
	d := startDemo(t, "--traffic", "20")
	for _, want := range [][]string{
		{`route="orders"`, `side="extracted"`},
		{`route="orders"`, `side="legacy"`},
		{`route="/api/inventory"`, `side="extracted"`},
		{`route="payments"`, `side="legacy"`},
		{`route="default"`, `side="legacy"`},
	} {
		eventually(t, "sample traffic on "+strings.Join(want, " "), func() bool {
			return requestsServed(t, d.admin, want...) > 0
		})
	}
	if n := requestsServed(t, d.admin, `code="500"`) + requestsServed(t, d.admin, `code="502"`) + requestsServed(t, d.admin, `code="404"`); n > 0 {
		t.Errorf("%g sample requests failed (404, 500 or 502): the mix asks for what the shop does not have", n)
	}
	if !strings.Contains(d.out.String(), "Sample traffic            20 reads/s") || !strings.Contains(d.out.String(), "--traffic 0 turns it off") {
		t.Errorf("banner does not say the sample traffic runs and how to turn it off:\n%s", d.out.String())
	}
	if code := d.stop(); code != exitOK {
		t.Fatalf("demo exit %d: %s", code, d.errOut.String())
	}
}

// TestDemoTrafficOff checks that --traffic 0 sends nothing: the banner says
// so, the sample traffic never starts (it would log that before the
// banner), and the proxy counts only the test's own requests.
func TestDemoTrafficOff(t *testing.T) {
	d := startDemo(t, "--traffic", "0", "--log-level", "info")
	if !strings.Contains(d.out.String(), "Sample traffic            off") {
		t.Errorf("banner does not say the sample traffic is off:\n%s", d.out.String())
	}
	if strings.Contains(d.errOut.String(), "sending sample traffic") {
		t.Errorf("the sample traffic started with --traffic 0:\n%s", d.errOut.String())
	}
	for i := 1; i <= 2; i++ {
		if code, body := demoGet(d.shop + "/api/products"); code != http.StatusOK {
			t.Fatalf("GET /api/products: %d %s", code, body)
		}
		eventually(t, "the test's request to be counted", func() bool { return requestsServed(t, d.admin) >= float64(i) })
		if n := requestsServed(t, d.admin); n != float64(i) {
			t.Fatalf("the proxy served %g requests; the test sent %d", n, i)
		}
	}
	if code := d.stop(); code != exitOK {
		t.Fatalf("demo exit %d: %s", code, d.errOut.String())
	}
}

func TestDemoRejectsBadTrafficFlag(t *testing.T) {
	for _, arg := range []string{"-1", "101", "NaN", "x", "1e-10", "0.009"} {
		var out, errOut lockedBuffer
		if code := runDemo(context.Background(), []string{"--traffic", arg}, &out, &errOut); code != exitUsage || !strings.Contains(errOut.String(), "traffic") {
			t.Errorf("demo --traffic %s = exit %d, stderr %s; want %d naming the flag", arg, code, errOut.String(), exitUsage)
		}
	}
}

// fakeShop answers sample requests in a synctest bubble, recording them;
// with hold set, it answers none and keeps each until its request ends.
type fakeShop struct {
	hold bool

	mu                sync.Mutex
	inFlight, maxSeen int
	paths, customers  map[string]int
	n                 int
}

func (f *fakeShop) RoundTrip(r *http.Request) (*http.Response, error) {
	f.mu.Lock()
	f.n++
	f.inFlight++
	f.maxSeen = max(f.maxSeen, f.inFlight)
	f.paths[r.Method+" "+strings.TrimPrefix(r.URL.String(), "http://proxy")]++
	if c := r.Header.Get("X-Customer-ID"); c != "" {
		f.customers[c]++
	}
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inFlight--
		f.mu.Unlock()
	}()
	if f.hold {
		<-r.Context().Done()
		return nil, r.Context().Err()
	}
	return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(strings.NewReader("{}")), Request: r}, nil
}

func (f *fakeShop) get() (n, inFlight, maxSeen int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n, f.inFlight, f.maxSeen
}

// TestSampleTrafficRate checks the sample traffic's rate (the first request
// at once, then one per 1/rate), its mix (reads only, the orders route as
// every seeded customer) and that it stops when its context ends.
func TestSampleTrafficRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		shop := &fakeShop{paths: map[string]int{}, customers: map[string]int{}}
		ctx, cancel := context.WithCancel(t.Context())
		stop := sendSampleTraffic(ctx, &http.Client{Transport: shop}, "http://proxy", 4, slog.New(slog.DiscardHandler))
		defer stop()
		synctest.Wait()
		if n, _, _ := shop.get(); n != 1 {
			t.Fatalf("%d requests at the start, want 1", n)
		}
		time.Sleep(10*time.Second + time.Millisecond) // in the bubble: no real wait
		synctest.Wait()
		if n, _, _ := shop.get(); n != 41 {
			t.Fatalf("%d requests after 10s at 4/s, want 41", n)
		}
		cancel()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if n, _, _ := shop.get(); n != 41 {
			t.Fatalf("%d requests after the context ended, want 41", n)
		}
		for p := range shop.paths {
			if !strings.HasPrefix(p, "GET /api/") {
				t.Errorf("sample request %q: want a GET under /api/", p)
			}
		}
		for _, want := range []string{"GET /api/products", "GET /api/orders?scope=local", "GET /api/customers/cus-100001",
			"GET /api/inventory/items/sku-1001", "GET /api/payments/pay-100001"} {
			if shop.paths[want] == 0 {
				t.Errorf("no sample request %q in %v", want, shop.paths)
			}
		}
		if len(shop.customers) < 10 {
			t.Errorf("orders asked as %d customers after 41 requests, want them spread over the seeded ones: %v", len(shop.customers), shop.customers)
		}
	})
	for i := range 6 * trafficCustomers {
		if _, c := sampleRequest(i); c != "" && c > "cus-100024" {
			t.Errorf("request %d acts as %s, not one of the 24 seeded customers", i, c)
		}
	}
}

// TestSampleTrafficBounded checks that a shop that never answers gets at
// most trafficInFlight sample requests at a time, each given up after
// trafficTimeout, and that stop ends the requests in flight at once.
func TestSampleTrafficBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		shop := &fakeShop{hold: true, paths: map[string]int{}, customers: map[string]int{}}
		client := &http.Client{Transport: shop, Timeout: trafficTimeout}
		stop := sendSampleTraffic(t.Context(), client, "http://proxy", maxDemoTraffic, slog.New(slog.DiscardHandler))
		time.Sleep(trafficTimeout - time.Millisecond)
		synctest.Wait()
		if n, inFlight, _ := shop.get(); n != trafficInFlight || inFlight != trafficInFlight {
			t.Fatalf("%d requests sent, %d in flight to a shop that does not answer; want %d, the bound", n, inFlight, trafficInFlight)
		}
		time.Sleep(trafficTimeout)
		synctest.Wait()
		if n, _, maxSeen := shop.get(); n <= trafficInFlight || maxSeen != trafficInFlight {
			t.Fatalf("after the timeout: %d requests sent, at most %d in flight; want more than %d sent, never more than %[3]d at once",
				n, maxSeen, trafficInFlight)
		}
		start := time.Now()
		stop()
		if took := time.Since(start); took != 0 {
			t.Errorf("stop took %s, waiting for the requests in flight; want them cut at once", took)
		}
		if _, inFlight, _ := shop.get(); inFlight != 0 {
			t.Fatalf("%d requests still in flight after stop", inFlight)
		}
	})
}

func TestTrafficBase(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:8480":  "http://127.0.0.1:8480",
		"0.0.0.0:8480":    "http://127.0.0.1:8480",
		"[::]:8480":       "http://127.0.0.1:8480",
		"[::1]:8480":      "http://[::1]:8480",
		"192.0.2.10:8480": "http://192.0.2.10:8480",
	} {
		if got := trafficBase(in); got != want {
			t.Errorf("trafficBase(%q) = %q, want %q", in, got, want)
		}
	}
}
