package test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/strangler-proxy/strangler/internal/dashboard"
	"github.com/strangler-proxy/strangler/internal/inventory"
	"github.com/strangler-proxy/strangler/internal/proxy"
)

// TestDashboardWarnsOfFailingShadows loads the dashboard in headless
// Chromium for a route whose every shadow copy fails (its service is not
// listening): the shadow cell must say so instead of "none yet", for
// the last minute and, in its tooltip, since the proxy started. The
// headline counts the requests over the time the proxy has run, not "the
// last 60 s" of a process a few seconds old, and the inventory says how
// many patterns it keeps.
func TestDashboardWarnsOfFailingShadows(t *testing.T) {
	t.Parallel()
	legacy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("{}"))
	}))
	t.Cleanup(legacy.Close)
	begin := time.Now()
	sp := startStrangler(t, newConfig(t, fmt.Sprintf(`legacy: monolith
upstreams:
  monolith: {url: %s}
  payments: {url: "http://127.0.0.1:9"}
routes:
  - prefix: /api/payments
    service: payments
    name: payments
    weight: 0
    shadow: {percent: 100}
`, legacy.URL)))
	for range 5 {
		if code, body := call(t, http.MethodGet, sp.proxy+"/api/payments/pay-100001", ""); code != http.StatusOK {
			t.Fatalf("GET /api/payments/pay-100001: %d %s", code, body)
		}
	}

	b := startBrowser(t, nil)
	b.viewport(t, 1440, 900)
	b.do(t, "open the dashboard", chromedp.Navigate(sp.admin+"/"))
	b.waitFor(t, "the shadow cell to warn of 5 failed copies", `(() => {
		const c = document.querySelector('tr[data-route="payments"] [data-field="shadow"]');
		const problems = c && c.querySelector('[data-field="shadow-problems"]');
		return Boolean(problems) && c.dataset.failing === 'true' && c.classList.contains('warn') &&
			problems.textContent === '5 failed' && c.querySelector('a').textContent === 'not compared';
	})()`)
	// The cell shows the last minute; the tooltip also the counts since the
	// proxy started, the same here.
	title := evalIn[string](t, b, `document.querySelector('tr[data-route="payments"] [data-field="shadow"] a').title`)
	for _, want := range []string{"last 60 s: 0 matched, 0 differed, 5 failed", "since the proxy started: 0 matched, 0 differed, 5 failed"} {
		if !strings.Contains(title, want) {
			t.Errorf("shadow tooltip %q lacks %q", title, want)
		}
	}
	b.waitFor(t, "the inventory to count its kept patterns", `document.getElementById('inventory-bound').textContent === 'top 1 of 1 patterns kept (at most 500)'`)

	text := evalIn[string](t, b, `document.getElementById('headline-requests').textContent`)
	age := time.Since(begin)
	m := regexp.MustCompile(`^5 requests in the last (\d+) s$`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("headline %q, want 5 requests over the time the proxy has run", text)
	}
	if s, _ := strconv.Atoi(m[1]); age < 50*time.Second && (s < 1 || float64(s) > age.Seconds()+1) {
		t.Errorf("headline %q from a proxy %s old: want at most the %.0f s it has run", text, age.Round(time.Second), age.Seconds()+1)
	}
	wantFits(t, b)
}

// TestDashboardShadowWarningClearsWithTheWindow drives the page with
// snapshots from a stand-in admin listener: a route whose copies differed
// warns; once the differences have left the window (7 since the start, 0
// in the last minute), the cell reads the window's 100% without the
// warning, and the parity since the start under it.
func TestDashboardShadowWarningClearsWithTheWindow(t *testing.T) {
	t.Parallel()
	row := func(recent, sinceStart *proxy.ShadowParity) proxy.Dashboard {
		return proxy.Dashboard{
			Time: time.Now(), WindowSeconds: 60,
			Routes: []proxy.RouteView{{
				RouteSettings: proxy.RouteSettings{Name: "payments", Prefix: "/api/payments", Service: "payments", Fallback: true},
				Breaker:       "closed", HealthyTargets: 1, Targets: 1, Extracted: &proxy.SideView{},
				Shadow: recent, ShadowSinceStart: sinceStart,
			}},
			Config:    proxy.ConfigView{Valid: true, Generation: 1},
			Inventory: proxy.InventoryView{Patterns: []inventory.Entry{}},
		}
	}
	parity := func(p float64) *float64 { return &p }
	differing := &proxy.ShadowParity{Parity: parity(0.3), Match: 3, Mismatch: 7}
	var snap atomic.Pointer[proxy.Dashboard]
	snap.Store(ptrTo(row(differing, differing)))

	stop := make(chan struct{})
	mux := http.NewServeMux()
	mux.Handle("/", dashboard.Handler())
	mux.HandleFunc("/api/dashboard/events", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			d := *snap.Load()
			d.Time = time.Now()
			b, err := json.Marshal(d)
			if err != nil {
				t.Errorf("snapshot: %v", err)
				return
			}
			if _, err := fmt.Fprintf(w, "event: dashboard\ndata: %s\n\n", b); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-tick.C:
			case <-r.Context().Done():
				return
			case <-stop:
				return
			}
		}
	})
	admin := httptest.NewServer(mux)
	t.Cleanup(admin.Close)
	t.Cleanup(func() { close(stop) }) // before Close, which waits for the stream

	b := startBrowser(t, nil)
	b.viewport(t, 1440, 900)
	b.do(t, "open the dashboard", chromedp.Navigate(admin.URL+"/"))
	const cell = `document.querySelector('tr[data-route="payments"] [data-field="shadow"]')`
	b.waitFor(t, "the shadow cell to warn of 7 differences", `(() => {
		const c = `+cell+`;
		return Boolean(c) && c.classList.contains('warn') && c.querySelector('a').textContent === '30%' &&
			c.querySelector('[data-field="shadow-counts"]').textContent === '3 same · 7 diff' &&
			!c.querySelector('[data-field="shadow-since-start"]');
	})()`)

	snap.Store(ptrTo(row(&proxy.ShadowParity{Parity: parity(1), Match: 40},
		&proxy.ShadowParity{Parity: parity(43.0 / 50), Match: 43, Mismatch: 7})))
	b.waitFor(t, "the shadow cell to read the last minute's 100% without a warning", `(() => {
		const c = `+cell+`;
		const since = c && c.querySelector('[data-field="shadow-since-start"]');
		return Boolean(since) && !c.classList.contains('warn') && c.querySelector('a').textContent === '100%' &&
			c.querySelector('[data-field="shadow-counts"]').textContent === '40 same · 0 diff' &&
			since.textContent === 'since start 86% · 7 diff';
	})()`)
	title := evalIn[string](t, b, cell+`.querySelector('a').title`)
	if want := "since the proxy started: 43 matched, 7 differed"; !strings.Contains(title, want) {
		t.Errorf("shadow tooltip %q lacks %q", title, want)
	}

	snap.Store(ptrTo(row(&proxy.ShadowParity{}, &proxy.ShadowParity{Parity: parity(43.0 / 50), Match: 43, Mismatch: 7})))
	b.waitFor(t, "an idle shadow to say it compared nothing lately", cell+`.querySelector('a').textContent === 'none in 60 s'`)
	wantFits(t, b)
}

func ptrTo[T any](v T) *T { return &v }
