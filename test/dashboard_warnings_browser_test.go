package test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestDashboardWarnsOfFailingShadows loads the dashboard in headless
// Chromium for a route whose every shadow copy fails (its service is not
// listening): the shadow cell must say so instead of "none yet". The
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
