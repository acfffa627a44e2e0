package proxy

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// adminFixture is a reload fixture with the admin handler served on its
// own listener, as cmd does.
type adminFixture struct {
	*reloadFixture
	admin *http.Client
	url   string
}

func newAdminFixture(t *testing.T) *adminFixture {
	return newAdminFixtureWith(t, nil)
}

// newAdminFixtureWith is newAdminFixture with configure (when not nil)
// applied to the Handler before it serves.
func newAdminFixtureWith(t *testing.T, configure func(*Handler)) *adminFixture {
	f := newReloadFixtureWith(t, configure)
	srv := startServer(t, NewAdmin(AdminOptions{Handler: f.handler, Reloader: f.r, Gatherer: f.reg}))
	return &adminFixture{reloadFixture: f, admin: srv.Client(), url: srv.URL}
}

// get fetches an admin path.
func (a *adminFixture) get(t *testing.T, method, path string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, a.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := a.admin.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(b)
}

func (a *adminFixture) status(t *testing.T) Status {
	t.Helper()
	return adminJSON[Status](t, a, "/api/status")
}

// adminJSON GETs an admin path that must answer 200 with JSON and decodes
// it strictly: a field the type does not know fails the test.
func adminJSON[T any](t *testing.T, a *adminFixture, path string) T {
	t.Helper()
	res, body := a.get(t, "GET", path)
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%s: %d %s %s", path, res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	var v T
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%s body %s: %v", path, body, err)
	}
	return v
}

// TestAdmin checks the admin listener's endpoints before and after the
// first table, and after a refused reload.
func TestAdmin(t *testing.T) {
	a := newAdminFixture(t)

	if res, body := a.get(t, "GET", "/healthz"); res.StatusCode != http.StatusOK {
		t.Errorf("/healthz before the first table: %d %s", res.StatusCode, body)
	}
	if res, body := a.get(t, "GET", "/readyz"); res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz before the first table: %d %s, want 503", res.StatusCode, body)
	}
	if st := a.status(t); st.Ready || st.Generation != 0 || len(st.Routes) != 0 || st.LastReload != nil {
		t.Errorf("/api/status before the first table = %+v", st)
	}

	a.writeConfig(t, a.path, `legacy: monolith
upstreams:
  monolith: {url: "{{.monolith}}"}
  orders: {url: "{{.orders}}", timeout: 5s}
routes:
  - {prefix: /api/orders, service: orders, weight: 25, sticky: "header:X-Customer-ID", name: orders}
  - {prefix: /api/orders/returns, service: orders, weight: 100, methods: [POST], rewrite: /returns}
`)
	if err := a.r.Reload(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if res, body := a.get(t, "GET", p); res.StatusCode != http.StatusOK {
			t.Errorf("%s after the first table: %d %s", p, res.StatusCode, body)
		}
	}
	if res, _ := a.get(t, "HEAD", "/readyz"); res.StatusCode != http.StatusOK {
		t.Errorf("HEAD /readyz: %d", res.StatusCode)
	}

	st := a.status(t)
	want := []RouteStatus{
		{RouteSettings: RouteSettings{Name: "/api/orders/returns", Prefix: "/api/orders/returns", Service: "orders", Weight: 100, Methods: []string{"POST"}, Rewrite: "/returns"}},
		{RouteSettings: RouteSettings{Name: "orders", Prefix: "/api/orders", Service: "orders", Weight: 25, Sticky: "header:X-Customer-ID"}},
	}
	if !st.Ready || st.Generation != 1 || st.Legacy != "monolith" || st.Config != a.path || st.LoadedAt == nil {
		t.Errorf("/api/status = %+v", st)
	}
	if !routesEqual(st.Routes, want) {
		t.Errorf("/api/status routes = %+v, want %+v", st.Routes, want)
	}
	if len(st.Upstreams) != 2 ||
		st.Upstreams[0].Name != "monolith" || st.Upstreams[0].Timeout != "30s" || !st.Upstreams[0].Legacy ||
		len(st.Upstreams[0].Targets) != 1 || st.Upstreams[0].Targets[0].URL != a.urls["monolith"] ||
		st.Upstreams[1].Name != "orders" || st.Upstreams[1].Timeout != "5s" || st.Upstreams[1].Legacy ||
		len(st.Upstreams[1].Targets) != 1 || st.Upstreams[1].Targets[0].URL != a.urls["orders"] ||
		st.Upstreams[1].Breaker.State != "closed" {
		t.Errorf("/api/status upstreams = %+v", st.Upstreams)
	}
	if st.LastReload == nil || st.LastReload.Result != "success" || st.LastReload.Generation != 1 {
		t.Errorf("/api/status last_reload = %+v", st.LastReload)
	}

	// A refused reload shows in last_reload; the table is the old one.
	writeFile(t, a.path, []byte("legacy: monolith\nupstreams: {}\n"))
	reloadErr := a.r.Reload()
	if reloadErr == nil {
		t.Fatal("Reload(no upstreams) = nil")
	}
	st = a.status(t)
	if st.Generation != 1 || len(st.Routes) != 2 || st.LastReload == nil ||
		st.LastReload.Result != "failure" || st.LastReload.Error != reloadErr.Error() {
		t.Errorf("/api/status after a refused reload = %+v, last_reload %+v", st, st.LastReload)
	}
	if res, _ := a.get(t, "GET", "/readyz"); res.StatusCode != http.StatusOK {
		t.Errorf("/readyz after a refused reload: %d, want 200 (the old table serves)", res.StatusCode)
	}
}

func routesEqual(a, b []RouteStatus) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.Name != y.Name || x.Prefix != y.Prefix || x.Service != y.Service || x.Weight != y.Weight ||
			x.Sticky != y.Sticky || x.Rewrite != y.Rewrite || strings.Join(x.Methods, ",") != strings.Join(y.Methods, ",") {
			return false
		}
	}
	return true
}

// TestAdminMetrics checks that /metrics serves the registry in the text
// format.
func TestAdminMetrics(t *testing.T) {
	a := newAdminFixture(t)
	a.writeConfig(t, a.path, ordersConfig("100"))
	if err := a.r.Reload(); err != nil {
		t.Fatal(err)
	}
	a.forward(t, "GET", "/api/orders/1", nil)
	waitMetric(t, a.reg, "strangler_requests_total", requestLabels("orders", "extracted", "orders", "GET", "200"), 1)

	res, body := a.get(t, "GET", "/metrics")
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		`strangler_requests_total{code="200",method="GET",route="orders",side="extracted",upstream="orders"} 1`,
		`strangler_route_weight_ratio{route="orders",service="orders"} 1`,
		`strangler_config_generation 1`,
		`strangler_config_reloads_total{result="success"} 1`,
		`strangler_request_duration_seconds_count{route="orders",side="extracted",upstream="orders"} 1`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// TestAdminNotFound checks that unknown admin paths and methods get JSON
// errors.
func TestAdminNotFound(t *testing.T) {
	a := newAdminFixture(t)
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/nope", http.StatusNotFound},
		{"GET", "/nope/deeper", http.StatusNotFound},
		{"GET", "/api/orders/1", http.StatusNotFound},
		{"POST", "/api/status", http.StatusMethodNotAllowed},
		{"DELETE", "/metrics", http.StatusMethodNotAllowed},
	} {
		res, body := a.get(t, tc.method, tc.path)
		var e map[string]string
		if res.StatusCode != tc.status || res.Header.Get("Content-Type") != "application/json" ||
			json.Unmarshal([]byte(body), &e) != nil || e["error"] == "" {
			t.Errorf("%s %s: %d %s %q, want %d with a JSON error", tc.method, tc.path,
				res.StatusCode, res.Header.Get("Content-Type"), body, tc.status)
		}
	}
}

// TestProxyDoesNotServeAdmin checks that the admin paths on the proxy
// listener are ordinary requests for the legacy application.
func TestProxyDoesNotServeAdmin(t *testing.T) {
	hs := newMainHarness(t)
	for _, p := range []string{"/", "/metrics", "/api/status", "/api/dashboard", "/healthz", "/readyz"} {
		if _, s := hs.forward(t, "GET", p, nil); s.Backend != "monolith" || s.Path != p {
			t.Errorf("GET %s on the proxy answered by %s with path %s, want the legacy backend", p, s.Backend, s.Path)
		}
	}
}

// TestAdminServesTheDashboard checks that the admin root is the dashboard
// page, locked to its own origin.
func TestAdminServesTheDashboard(t *testing.T) {
	a := newAdminFixture(t)
	res, body := a.get(t, "GET", "/")
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if !strings.Contains(res.Header.Get("Content-Security-Policy"), "default-src 'none'") || !strings.Contains(body, "assets/app.js") {
		t.Errorf("GET /: CSP %q, body without its script", res.Header.Get("Content-Security-Policy"))
	}
}

// TestReadyzDuringShutdown checks that once a shutdown has begun /readyz
// answers 503, so that a load balancer stops sending traffic while
// requests drain, and that the rest of the admin listener keeps answering.
func TestReadyzDuringShutdown(t *testing.T) {
	a := newAdminFixture(t)
	a.writeConfig(t, a.path, "legacy: monolith\nupstreams:\n  monolith: {url: \"{{.monolith}}\"}\n")
	if err := a.r.Reload(); err != nil {
		t.Fatal(err)
	}
	if res, body := a.get(t, "GET", "/readyz"); res.StatusCode != http.StatusOK {
		t.Fatalf("/readyz with a live table: %d %s", res.StatusCode, body)
	}
	a.handler.BeginShutdown()
	if res, body := a.get(t, "GET", "/readyz"); res.StatusCode != http.StatusServiceUnavailable || body != "shutting down\n" {
		t.Errorf("/readyz after BeginShutdown: %d %q, want 503 \"shutting down\"", res.StatusCode, body)
	}
	if res, body := a.get(t, "GET", "/healthz"); res.StatusCode != http.StatusOK {
		t.Errorf("/healthz after BeginShutdown: %d %s, want 200: the process is alive", res.StatusCode, body)
	}
	if st := a.status(t); st.Ready || st.Generation != 1 {
		t.Errorf("/api/status after BeginShutdown: ready %v generation %d, want not ready, generation 1", st.Ready, st.Generation)
	}
}
