package test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestDashboardInBrowser loads the admin listener's dashboard in headless
// Chromium while the bundled shop gets traffic through strangler, checks
// what it shows, then edits routes.yaml under the open page: a valid edit
// (a new weight, a renamed route, a new route), a broken one and its fix.
// The page follows every step without a reload and without a JavaScript
// error, and reads on a laptop screen without horizontal scrolling.
func TestDashboardInBrowser(t *testing.T) {
	t.Parallel()
	st := startStack(t)
	body := liveTable(st, 50, false)
	cfg := newConfig(t, body)
	sp := startStrangler(t, cfg)
	driveTraffic(t, sp.proxy)

	b := startBrowser(t, nil)
	b.viewport(t, 1440, 900)
	b.do(t, "open the dashboard", chromedp.Navigate(sp.admin+"/"))

	b.waitFor(t, "the orders row to show traffic on both sides", `(() => {
		const row = document.querySelector('tr[data-route="orders"]');
		if (!row) return false;
		const rate = (f) => parseFloat(row.querySelector('[data-field="' + f + '"]').textContent);
		return rate('legacy-rps') > 0 && rate('extracted-rps') > 0;
	})()`)
	b.waitFor(t, "the headline share to be a percentage", `/^[<>]?\d+(\.\d+)?%$/.test(document.getElementById('headline-share').textContent)`)
	b.waitFor(t, "the inventory to list /api/customers/{id}", `document.querySelector('#inventory-body tr[data-pattern="/api/customers/{id}"]') !== null`)
	b.waitFor(t, "the inventory to show its recent requests beside the total", `(() => {
		const row = document.querySelector('#inventory-body tr[data-pattern="/api/customers/{id}"]');
		const n = (f) => parseInt(row.querySelector('[data-field="' + f + '"]').textContent.replace(/[^0-9]/g, ''), 10);
		return n('recent') > 0 && n('requests') >= n('recent') && document.getElementById('inventory-recent-head').textContent === 'Last 10 min';
	})()`)
	if got := evalIn[string](t, b, `document.body.dataset.connection`); got != "live" {
		t.Errorf("connection indicator %q, want live (server-sent events)", got)
	}
	wantRows(t, b, sp, []string{"/api/inventory", "/api/payments", "orders", "default"})
	if evalIn[bool](t, b, `document.querySelector('tr[data-route="default"] [data-field="extracted-rps"]') !== null`) {
		t.Error("the catch-all row shows an extracted side; it is legacy only")
	}
	wantFits(t, b)

	// A valid edit: orders to 80%, /api/payments named, /api/products
	// taken from the catch-all by a new route. The page must follow without
	// a reload.
	b.do(t, "mark the page", chromedp.Evaluate[chromedp.Void](`window.loadedOnce = true`))
	body = liveTable(st, 80, true)
	gen := sp.apply(t, cfg, body)
	b.waitFor(t, "the page to show the edited table", fmt.Sprintf(`document.getElementById('config-generation').textContent === '%d' &&
		document.querySelector('tr[data-route="orders"] [data-field="weight"]').textContent === '80%%' &&
		document.querySelector('tr[data-route="catalog"]') !== null`, gen))
	wantRows(t, b, sp, []string{"/api/inventory", "payments", "catalog", "orders", "default"})
	wantFits(t, b)

	// A broken edit: the banner shows the error with its line, and the
	// older table keeps serving.
	broken := liveTable(st, 150, true)
	writeConfig(t, cfg, broken)
	where := fmt.Sprintf("routes.yaml:%d:", lineOf(t, broken, "weight: 150"))
	b.waitFor(t, "the config error banner with "+where, fmt.Sprintf(`!document.getElementById('config-error').hidden &&
		document.getElementById('config-error-text').textContent.includes(%q)`, where))
	if got := evalIn[string](t, b, `document.getElementById('config-generation').textContent`); got != strconv.FormatUint(gen, 10) {
		t.Errorf("generation %s while the file is invalid, want %d still serving", got, gen)
	}
	if !evalIn[bool](t, b, `getComputedStyle(document.getElementById('config-error')).display !== 'none'`) {
		t.Error("the config error banner is not displayed")
	}
	wantFits(t, b)

	// The fix: the banner goes away.
	gen = sp.apply(t, cfg, liveTable(st, 90, true))
	b.waitFor(t, "the banner to go away after the fix", fmt.Sprintf(`document.getElementById('config-error').hidden &&
		document.getElementById('config-generation').textContent === '%d' &&
		document.querySelector('tr[data-route="orders"] [data-field="weight"]').textContent === '90%%'`, gen))
	if !evalIn[bool](t, b, `window.loadedOnce === true`) {
		t.Error("the page was reloaded; it must follow edits by itself")
	}

	// Let fresh traffic reach the renamed rows before the picture.
	b.waitFor(t, "the renamed payments row to show traffic", `parseFloat(document.querySelector('tr[data-route="payments"] [data-field="legacy-rps"]').textContent) > 0`)
	t.Logf("screenshot: %s", b.screenshot(t, "dashboard.png"))
}

// TestDashboardAsksForAdminToken serves the admin listener with a token:
// the page asks for it, then streams with it.
func TestDashboardAsksForAdminToken(t *testing.T) {
	t.Parallel()
	tokenFile := filepath.Join(t.TempDir(), "admin-token")
	if err := os.WriteFile(tokenFile, []byte("tok-dashboard\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sp := startStrangler(t, newConfig(t, "legacy: monolith\nupstreams:\n  monolith: {url: http://127.0.0.1:9}\n"),
		"--admin-token-file", tokenFile)

	// Before the token the page's two data requests are refused, as they
	// should be; Chromium logs each refusal as an error.
	b := startBrowser(t, regexp.MustCompile(`^error at \S+/api/dashboard(/events)?:1: error: Failed to load resource: the server responded with a status of 401 `))
	b.do(t, "open the dashboard", chromedp.Navigate(sp.admin+"/"))
	b.waitFor(t, "the page to ask for the token", `!document.getElementById('token-form').hidden && document.body.dataset.connection === 'locked'`)
	b.do(t, "enter the token",
		chromedp.SendKeys(chromedp.ID("token-input"), "tok-dashboard"),
		chromedp.Click(chromedp.CSS("#token-form button")))
	b.waitFor(t, "data with the token", `document.getElementById('token-form').hidden &&
		document.body.dataset.connection === 'live' && document.getElementById('config-generation').textContent === '1' &&
		document.querySelector('tr[data-route="default"]') !== null`)
}

// wantRows checks that the page shows exactly the routes of the live
// table, in its order: no stale row survives an edit.
func wantRows(t *testing.T, b *browser, sp *strangler, want []string) {
	t.Helper()
	var snap struct {
		Routes []struct{ Name string } `json:"routes"`
	}
	getJSON(t, sp.admin+"/api/dashboard", &snap)
	var live []string
	for _, r := range snap.Routes {
		live = append(live, r.Name)
	}
	shown := evalIn[[]string](t, b, `[...document.querySelectorAll('#routes-body tr[data-route]')].map((r) => r.dataset.route)`)
	if !slices.Equal(live, want) || !slices.Equal(shown, want) {
		t.Errorf("routes: /api/dashboard lists %q, the page shows %q, want %q", live, shown, want)
	}
}

// wantFits checks that the page needs no horizontal scrolling on the two
// common laptop screens, and leaves the viewport at 1440x900.
func wantFits(t *testing.T, b *browser) {
	t.Helper()
	for _, size := range [][2]int64{{1366, 768}, {1440, 900}} {
		b.viewport(t, size[0], size[1])
		if w := evalIn[[]int](t, b, `[document.documentElement.scrollWidth, document.documentElement.clientWidth]`); w[0] > w[1] {
			t.Errorf("at %dx%d the page is %d px wide for %d px: it scrolls sideways", size[0], size[1], w[0], w[1])
		}
	}
}

// liveTable is the routing table of TestDashboardInBrowser: routesYAML's
// (inventory moved, orders at ordersWeight sticky by customer, payments at
// weight 0) with payments shadowed. The edited table names the payments
// route and takes /api/products from the catch-all into a new route,
// catalog, at weight 0.
func liveTable(s *stack, ordersWeight float64, edited bool) string {
	// routesYAML ends with the payments route: these lines continue it.
	body := routesYAML(s, ordersWeight) + "    shadow: {ignore: [\"header:Date\"]}\n"
	if edited {
		body += "    name: payments\n" +
			"  - prefix: /api/products\n    service: inventory\n    weight: 0\n    name: catalog\n"
	}
	return body
}
