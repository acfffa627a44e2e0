package test

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// deploy/ checked with the real tools: promtool on the rules and the
// configuration, promtool on a live /metrics scrape, and a real Prometheus
// server scraping a real strangler whose upstreams fail on purpose, asked
// every query of the Grafana dashboard and every rule.

// TestDeployRulesAndConfigPassPromtool runs promtool's own checks on
// deploy/prometheus: the rules parse, their unit tests (rules_test.yml)
// pass, and prometheus.yml with the rules it loads is valid.
func TestDeployRulesAndConfigPassPromtool(t *testing.T) {
	t.Parallel()
	promtool := prometheusTool(t, "promtool")
	for _, args := range [][]string{
		{"check", "rules", rulesFile},
		{"test", "rules", rulesTestFile},
		{"check", "config", promConfigFile},
	} {
		out, code := runPromTool(t, "", promtool, args...)
		if code != 0 || !strings.Contains(out, "SUCCESS") {
			t.Errorf("promtool %s: exit %d\n%s", strings.Join(args, " "), code, out)
		}
	}
}

// TestDeployAlertsAreDocumented holds the rules to what operators need: the
// five alerts, each with a severity, a summary, a description and a `for`,
// each explained in deploy/README.md, and recording rules named
// strangler:level:what.
func TestDeployAlertsAreDocumented(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile(deployReadme)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"StranglerBreakerOpen", "StranglerExtractedErrorRateAboveLegacy", "StranglerFallbacksClimbing",
		"StranglerConfigInvalid", "StranglerUpstreamNoHealthyTarget"}
	var alerts []string
	recordName := regexp.MustCompile(`^strangler:[a-z_]+:[a-z0-9_]+$|^strangler:[a-z0-9_]+$`)
	for _, g := range loadRules(t).Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				if !recordName.MatchString(r.Record) {
					t.Errorf("recording rule %q: want a name strangler:level:what", r.Record)
				}
				continue
			}
			alerts = append(alerts, r.Alert)
			if s := r.Labels["severity"]; s != "warning" && s != "critical" {
				t.Errorf("alert %s: severity %q, want warning or critical", r.Alert, s)
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("alert %s: want both summary and description annotations, got %v", r.Alert, r.Annotations)
			}
			if r.For == "" {
				t.Errorf("alert %s has no `for`: one bad evaluation would page", r.Alert)
			}
			if !strings.Contains(string(readme), r.Alert) {
				t.Errorf("alert %s is not explained in deploy/README.md", r.Alert)
			}
		}
	}
	slices.Sort(alerts)
	slices.Sort(want)
	if !slices.Equal(alerts, want) {
		t.Errorf("alerts in rules.yml: %v, want %v", alerts, want)
	}
}

// TestDashboardIsImportable reads the Grafana dashboard as an import sees
// it: a data source variable every panel uses, a multi-value route
// variable with All, a row repeated per route, unique panel ids on the
// 24-column grid, rate windows from $__rate_interval (or $__range) only,
// and a panel for every view the cutover needs.
func TestDashboardIsImportable(t *testing.T) {
	t.Parallel()
	d := dashboardJSON(t)
	if d["uid"] == nil || d["title"] == nil || d["id"] != nil {
		t.Errorf("dashboard uid %v, title %v, id %v: want a uid and a title, and id null for import", d["uid"], d["title"], d["id"])
	}
	vars := map[string]map[string]any{}
	for _, v := range jsonList(jsonObject(d["templating"])["list"]) {
		m := jsonObject(v)
		name, _ := m["name"].(string)
		vars[name] = m
	}
	if ds := vars["datasource"]; ds == nil || ds["type"] != "datasource" || ds["query"] != "prometheus" {
		t.Errorf("variable datasource = %v, want type datasource, query prometheus", ds)
	}
	route := vars["route"]
	if route == nil || route["type"] != "query" || route["multi"] != true || route["includeAll"] != true ||
		!usesDatasourceVar(route["datasource"]) {
		t.Errorf("variable route = %v, want a multi-value query variable with All on ${datasource}", route)
	}
	if q := variableQuery(route); strings.ReplaceAll(q, " ", "") != "label_values(strangler_requests_total,route)" {
		t.Errorf("variable route query %q, want label_values(strangler_requests_total, route)", q)
	}

	ids := map[any]string{}
	repeated := false
	for _, p := range panelsOf(d) {
		title := fmt.Sprint(p["title"])
		if other, dup := ids[p["id"]]; dup {
			t.Errorf("panels %q and %q share id %v", other, title, p["id"])
		}
		ids[p["id"]] = title
		g := jsonObject(p["gridPos"])
		x, _ := g["x"].(float64)
		if w, _ := g["w"].(float64); w <= 0 || x+w > 24 {
			t.Errorf("panel %q: gridPos %v leaves the 24-column grid", title, g)
		}
		if p["type"] == "row" {
			repeated = repeated || p["repeat"] == "route"
			continue
		}
		if !usesDatasourceVar(p["datasource"]) {
			t.Errorf("panel %q: datasource %v, want {type: prometheus, uid: ${datasource}}", title, p["datasource"])
		}
		if len(jsonList(p["targets"])) == 0 {
			t.Errorf("panel %q has no query", title)
		}
		for _, tg := range jsonList(p["targets"]) {
			if ds, set := jsonObject(tg)["datasource"]; set && !usesDatasourceVar(ds) {
				t.Errorf("panel %q: a target's datasource %v, want ${datasource}", title, ds)
			}
		}
	}
	if !repeated {
		t.Error("no row repeats per $route")
	}

	window := regexp.MustCompile(`\[([^\]]*)\]`)
	all := ""
	for _, q := range dashboardQueries(t, d) {
		all += q.expr + "\n"
		if _, err := expandGrafanaVars(q.expr); err != nil {
			t.Errorf("%s: %v", q.where, err)
		}
		for _, m := range window.FindAllStringSubmatch(q.expr, -1) {
			if m[1] != "$__rate_interval" && m[1] != "$__range" {
				t.Errorf("%s: range [%s], want [$__rate_interval] (or [$__range] for totals over the time range)", q.where, m[1])
			}
		}
	}
	for _, metric := range []string{"strangler_requests_total", "strangler_route_weight_ratio", "strangler_route_moved",
		"strangler_request_duration_seconds_bucket", "strangler_circuit_breaker_state", "strangler_upstream_healthy",
		"strangler_fallbacks_total", "strangler_shadow_requests_total", "strangler_config_last_reload_successful",
		"strangler_config_generation", "strangler_config_last_reload_success_timestamp_seconds",
		"strangler_legacy_inventory_requests_total", "strangler_access_log_dropped_total"} {
		if !strings.Contains(all, metric) {
			t.Errorf("no dashboard query reads %s", metric)
		}
	}
}

// usesDatasourceVar reports whether ds, a panel's or target's datasource,
// is the dashboard's datasource variable.
func usesDatasourceVar(ds any) bool {
	m := jsonObject(ds)
	return m["type"] == "prometheus" && (m["uid"] == "${datasource}" || m["uid"] == "$datasource")
}

// composeService is the part of a docker-compose service the test reads.
type composeService struct {
	Image string `yaml:"image"`
	Build *struct {
		Context    string `yaml:"context"`
		Dockerfile string `yaml:"dockerfile"`
	} `yaml:"build"`
	Command     []string `yaml:"command"`
	Volumes     []string `yaml:"volumes"`
	Ports       []string `yaml:"ports"`
	NetworkMode string   `yaml:"network_mode"`
}

// TestComposeRunsTheDemoWithPrometheusAndGrafana reads
// deploy/docker-compose.yml (docker itself is not needed): the demo is
// built from the repository's Dockerfile with its listeners reachable on
// the compose network, images are pinned, every mounted file exists,
// Prometheus scrapes the demo's admin port, Grafana reads Prometheus and
// the dashboard directory, and strangler accepts the demo's command line.
func TestComposeRunsTheDemoWithPrometheusAndGrafana(t *testing.T) {
	t.Parallel()
	var compose struct {
		Services map[string]composeService `yaml:"services"`
	}
	readYAML(t, composeFile, &compose)
	deployDir := filepath.Dir(composeFile)
	demo, prom, graf := compose.Services["strangler"], compose.Services["prometheus"], compose.Services["grafana"]

	if demo.Build == nil {
		t.Fatal("service strangler is not built from the repository")
	}
	if _, err := os.Stat(filepath.Join(deployDir, demo.Build.Context, demo.Build.Dockerfile)); err != nil {
		t.Errorf("service strangler builds %s in %s: %v", demo.Build.Dockerfile, demo.Build.Context, err)
	}
	if len(demo.Command) == 0 || demo.Command[0] != "demo" {
		t.Fatalf("service strangler runs %v, want strangler demo", demo.Command)
	}
	listen, admin := flagValue(demo.Command, "listen"), flagValue(demo.Command, "admin")
	for flag, addr := range map[string]string{"--listen": listen, "--admin": admin} {
		if host, _, err := net.SplitHostPort(addr); err != nil || host != "" {
			t.Errorf("service strangler: %s %q, want :PORT (every interface of the container, for the compose network)", flag, addr)
		}
	}
	_, adminPort, _ := net.SplitHostPort(admin)

	for name, s := range compose.Services {
		if s.Image == "" {
			continue
		}
		if tag := s.Image[strings.LastIndex(s.Image, ":")+1:]; !strings.Contains(s.Image, ":") || tag == "latest" ||
			(s.Build == nil && !regexp.MustCompile(`\d`).MatchString(tag)) {
			t.Errorf("service %s: image %q is not pinned to a version", name, s.Image)
		}
		for _, v := range s.Volumes {
			src, dst, _ := strings.Cut(v, ":")
			if !strings.HasPrefix(src, ".") {
				continue // a named volume
			}
			if _, err := os.Stat(filepath.Join(deployDir, src)); err != nil {
				t.Errorf("service %s mounts %s at %s: %v", name, src, dst, err)
			}
		}
		for _, p := range s.Ports {
			if !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("service %s publishes %q beyond the host's loopback", name, p)
			}
		}
	}

	// Prometheus loads deploy/prometheus and scrapes the admin listener.
	if !slices.Contains(prom.Volumes, "./prometheus:/etc/prometheus:ro") ||
		!slices.Contains(prom.Command, "--config.file=/etc/prometheus/prometheus.yml") {
		t.Errorf("service prometheus: volumes %v, command %v; want deploy/prometheus as /etc/prometheus and its prometheus.yml", prom.Volumes, prom.Command)
	}
	var promCfg struct {
		ScrapeConfigs []struct {
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	readYAML(t, promConfigFile, &promCfg)
	var targets []string
	for _, sc := range promCfg.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			targets = append(targets, st.Targets...)
		}
	}
	if !slices.Contains(targets, "strangler:"+adminPort) {
		t.Errorf("prometheus.yml scrapes %v, want strangler:%s, the demo's admin listener", targets, adminPort)
	}

	// Grafana reads Prometheus and the mounted dashboards.
	var ds struct {
		Datasources []struct {
			Type, URL string
		} `yaml:"datasources"`
	}
	readYAML(t, filepath.Join(deployDir, "grafana/provisioning/datasources/prometheus.yml"), &ds)
	if len(ds.Datasources) != 1 || ds.Datasources[0].Type != "prometheus" || ds.Datasources[0].URL != "http://prometheus:9090" {
		t.Errorf("Grafana data sources %+v, want the prometheus service at http://prometheus:9090", ds.Datasources)
	}
	var providers struct {
		Providers []struct {
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	readYAML(t, filepath.Join(deployDir, "grafana/provisioning/dashboards/strangler.yml"), &providers)
	if len(providers.Providers) != 1 ||
		!slices.Contains(graf.Volumes, "./grafana/dashboards:"+providers.Providers[0].Options.Path+":ro") ||
		!slices.Contains(graf.Volumes, "./grafana/provisioning:/etc/grafana/provisioning:ro") {
		t.Errorf("service grafana mounts %v, providers %+v: want the provisioning directory and the dashboards where the provider reads them", graf.Volumes, providers.Providers)
	}

	// The demo's command line, as compose runs it, is one strangler accepts.
	p := start(t, "strangler", append(slices.Clone(demo.Command), "--help")...)
	if code := p.wait(t, patience); code != 0 {
		t.Fatalf("strangler %s --help: exit %d, want 0 (a flag compose passes is unknown?)\n%s", strings.Join(demo.Command, " "), code, p.out)
	}
}

// readYAML decodes the YAML file at path into v.
func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// flagValue returns the value of --name in args, written --name=value or
// --name value.
func flagValue(args []string, name string) string {
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v
		}
		if a == "--"+name && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// observedTable is the shop's routing table for the Prometheus tests:
// inventory moved, checked every 100ms; orders moved for weight percent of
// the customers, with a breaker that opens after 3 failures and probes
// again after 1s; payments not moved but shadowed.
func observedTable(st *stack, ordersWeight float64) string {
	return fmt.Sprintf(`# written by strangler's end-to-end Prometheus tests
legacy: monolith
upstreams:
  monolith: {url: %s}
  orders: {url: %s, timeout: 5s, retry: {attempts: 1},
           breaker: {consecutive_failures: 3, open_for: 1s, half_open_requests: 1}}
  payments: {url: %s, timeout: 5s}
  inventory: {url: %s, timeout: 5s,
              health: {path: /health/ready, interval: 100ms, timeout: 100ms, healthy_after: 2, unhealthy_after: 2}}
routes:
  - prefix: /api/inventory
    service: inventory
  - prefix: /api/orders
    service: orders
    name: orders
    weight: %g
    sticky: header:X-Customer-ID
  - prefix: /api/payments
    service: payments
    name: payments
    weight: 0
    shadow: {percent: 100}
`, st.monolith, st.orders, st.payments, st.inventory, ordersWeight)
}

// observedRoutes are the route names observedTable gives strangler, with
// the catch-all.
var observedRoutes = []string{"/api/inventory", "orders", "payments", "default"}

// trafficEvery and trafficLimit pace and bound driveTraffic: 50 requests a
// second, for at most two minutes.
const (
	trafficEvery = 20 * time.Millisecond
	trafficLimit = 6000
)

// driveTraffic sends requests through the proxy at base in the background
// until the test ends, cycling over observedTable's routes (orders for 20
// customers) and two paths only legacy serves. A request that gets no HTTP
// answer fails the test.
func driveTraffic(t *testing.T, base string) {
	t.Helper()
	done := make(chan struct{})
	var failed error // the first transport error; read after wg.Wait
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(trafficEvery)
		defer tick.Stop()
		for i := range trafficLimit {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			customer := fmt.Sprintf("cus-%d", 100001+i%20)
			var err error
			switch i % 5 {
			case 0:
				_, _, err = send(http.MethodGet, base+"/api/orders?scope=local", "", "X-Customer-ID", customer)
			case 1:
				_, _, err = send(http.MethodGet, base+"/api/inventory/items/sku-1001", "")
			case 2:
				_, _, err = send(http.MethodGet, base+"/api/payments/pay-100001", "")
			case 3:
				_, _, err = send(http.MethodGet, base+"/api/products", "")
			case 4:
				_, _, err = send(http.MethodGet, base+"/api/customers/"+customer, "")
			}
			if err != nil && failed == nil {
				failed = err
			}
		}
	})
	t.Cleanup(func() {
		close(done)
		wg.Wait()
		if failed != nil {
			t.Errorf("a request through the proxy got no answer: %v", failed)
		}
	})
}

// TestMetricsPassPromtoolCheck scrapes a strangler that has served every
// kind of request (both sides, fallbacks, shadow copies, the access log
// and the legacy inventory on) and has promtool check the exposition:
// names, units, help texts and types, Go and process collectors included.
func TestMetricsPassPromtoolCheck(t *testing.T) {
	t.Parallel()
	promtool := prometheusTool(t, "promtool")
	st := startStack(t)
	sp := startStrangler(t, newConfig(t, observedTable(st, 50)), "--access-log", filepath.Join(t.TempDir(), "access.log"))
	setFaults(t, st.orders, http.MethodPatch, `{"error_rate":1,"error_status":500}`)
	for i := range 40 {
		call(t, http.MethodGet, sp.proxy+"/api/orders?scope=local", "", "X-Customer-ID", fmt.Sprintf("cus-%d", 100001+i%20))
		call(t, http.MethodGet, sp.proxy+"/api/payments/pay-100001", "")
		call(t, http.MethodGet, sp.proxy+"/api/inventory/items/sku-1001", "")
		call(t, http.MethodGet, sp.proxy+"/api/customers/cus-100001", "")
	}
	eventually(t, "a fallback and a shadow comparison to be counted", func() bool {
		m := sp.metrics(t)
		return m.sum("strangler_fallbacks_total", "route", "orders") > 0 &&
			m.sum("strangler_shadow_requests_total", "route", "payments", "result", "match") > 0
	})

	code, body := call(t, http.MethodGet, sp.admin+"/metrics", "")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics: %d", code)
	}
	out, exit := runPromTool(t, string(body), promtool, "check", "metrics")
	if exit != 0 || strings.TrimSpace(out) != "" {
		t.Errorf("promtool check metrics on strangler's /metrics: exit %d\n%s", exit, out)
	}
	for _, family := range []string{"strangler_requests_total counter", "strangler_request_duration_seconds histogram",
		"strangler_fallbacks_total counter", "strangler_shadow_requests_total counter",
		"strangler_legacy_inventory_requests_total counter", "strangler_access_log_dropped_total counter",
		"go_goroutines gauge", "process_cpu_seconds_total counter"} {
		if !strings.Contains(string(body), "\n# TYPE "+family+"\n") {
			t.Errorf("/metrics has no family %q: promtool did not see it", family)
		}
	}
}

// brokenOrdersWeight is a weight routes.yaml refuses.
const brokenOrdersWeight = 150

// TestPrometheusAnswersEveryDashboardQueryAndRule runs a real Prometheus
// with deploy/'s rules, scraping a real strangler in front of the bundled
// shop under steady traffic, and makes every condition the dashboard and
// the alerts watch for happen: a successful reload, then the orders
// service failing (its breaker opens, fallbacks climb, its 5xx share
// exceeds legacy's), the inventory service unready (no healthy target) and
// a broken routes.yaml. Every dashboard query and variable, every rule
// expression, every recorded series and every alert's pending state must
// then show up, and every rule must evaluate without error.
func TestPrometheusAnswersEveryDashboardQueryAndRule(t *testing.T) {
	t.Parallel()
	promBin := prometheusTool(t, "prometheus")
	dash := dashboardJSON(t)
	rules := loadRules(t)
	st := startStack(t)
	cfg := newConfig(t, observedTable(st, 50))
	sp := startStrangler(t, cfg, "--access-log", filepath.Join(t.TempDir(), "access.log"))
	prom := startPrometheus(t, promBin, strings.TrimPrefix(sp.admin, "http://"))
	driveTraffic(t, sp.proxy)

	// A reload Prometheus sees: generation 1 scraped, then generation 2.
	awaitChecks(t, patience, []promCheck{hasData(prom, "Prometheus never scraped strangler", "strangler_config_generation == 1")})
	if t.Failed() {
		t.FailNow()
	}
	sp.apply(t, cfg, observedTable(st, 60))

	setFaults(t, st.orders, http.MethodPatch, `{"error_rate":1,"error_status":500}`)
	setFaults(t, st.inventory, http.MethodPatch, `{"unready":true}`)
	writeConfig(t, cfg, observedTable(st, brokenOrdersWeight))
	eventually(t, "strangler to refuse the broken routes.yaml", func() bool {
		s := sp.status(t)
		return s.LastReload != nil && s.LastReload.Result == "failure"
	})

	var checks []promCheck
	for _, q := range dashboardQueries(t, dash) {
		expr, err := expandGrafanaVars(q.expr)
		if err != nil {
			t.Fatalf("%s: %v", q.where, err)
		}
		if m := labelValuesQuery.FindStringSubmatch(expr); m != nil {
			checks = append(checks, labelValuesCheck(prom, q.where+" did not list every route", m[1], m[2]))
			continue
		}
		checks = append(checks, hasData(prom, q.where+" returned no data", expr))
	}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			kind := "recording rule"
			if r.Alert != "" {
				kind = "alerting rule"
			}
			checks = append(checks, hasData(prom, fmt.Sprintf("%s %s (group %s): its expression returned no data", kind, r.name(), g.Name), r.Expr))
			if r.Record != "" {
				checks = append(checks, hasData(prom, fmt.Sprintf("recording rule %s recorded no series", r.Record), r.Record))
			} else {
				checks = append(checks, alertActive(prom, g.Name, r.Alert))
			}
		}
	}
	began := time.Now()
	awaitChecks(t, prometheusPatient, checks)
	if !t.Failed() {
		t.Logf("%d dashboard queries, rules, recorded series and alert states all seen within %s", len(checks), time.Since(began).Round(time.Millisecond))
	}

	// Every rule of the file is loaded, in its group, and evaluates cleanly.
	loaded, err := prom.rules()
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range rules.Groups {
		got := loaded[g.Name]
		if len(got) != len(g.Rules) {
			t.Errorf("Prometheus has %d rules in group %s, rules.yml %d", len(got), g.Name, len(g.Rules))
		}
		for _, r := range got {
			if r.Health != "ok" || r.LastError != "" {
				t.Errorf("rule %s (group %s): health %q, last error %q", r.Name, g.Name, r.Health, r.LastError)
			}
		}
	}
}

// hasData is a check that the PromQL expr answers at least one series;
// what is its failure message.
func hasData(prom *promServer, what, expr string) promCheck {
	return promCheck{what: what, expr: expr, ok: func() (bool, error) {
		n, err := prom.query(expr)
		return n > 0, err
	}}
}

// labelValuesCheck is a check that Grafana's label_values(selector, label)
// lists every route of observedTable.
func labelValuesCheck(prom *promServer, what, selector, label string) promCheck {
	return promCheck{what: what, expr: fmt.Sprintf("label_values(%s, %s)", selector, label), ok: func() (bool, error) {
		values, err := prom.labelValues(selector, label)
		if err != nil {
			return false, err
		}
		for _, r := range observedRoutes {
			if !slices.Contains(values, r) {
				return false, fmt.Errorf("values %v lack %q", values, r)
			}
		}
		return true, nil
	}}
}

// alertActive is a check that Prometheus reports the alert pending or
// firing.
func alertActive(prom *promServer, group, alert string) promCheck {
	return promCheck{what: fmt.Sprintf("alert %s (group %s) was never pending or firing", alert, group), ok: func() (bool, error) {
		loaded, err := prom.rules()
		if err != nil {
			return false, err
		}
		for _, r := range loaded[group] {
			if r.Name == alert {
				return r.State == "pending" || r.State == "firing", nil
			}
		}
		return false, fmt.Errorf("Prometheus has no alert %s in group %s", alert, group)
	}}
}
