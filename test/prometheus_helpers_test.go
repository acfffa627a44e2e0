package test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// What deploy/ ships, as the tests read it: the Grafana dashboard, the
// Prometheus rules and configuration, and the tools that check them.

// Paths of the deploy/ files, relative to this package.
const (
	dashboardFile     = "../deploy/grafana/dashboards/strangler.json"
	rulesFile         = "../deploy/prometheus/rules.yml"
	rulesTestFile     = "../deploy/prometheus/rules_test.yml"
	promConfigFile    = "../deploy/prometheus/prometheus.yml"
	composeFile       = "../deploy/docker-compose.yml"
	deployReadme      = "../deploy/README.md"
	toolTimeout       = 30 * time.Second // one promtool run
	prometheusPatient = 60 * time.Second // Prometheus to show every query's data
)

// prometheusTool returns the path of an external tool of Debian's
// prometheus package (prometheus, promtool). When it is missing the test is
// skipped, unless STRANGLER_CI=1, where it fails: CI installs the package.
func prometheusTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("STRANGLER_CI") == "1" {
		t.Fatalf("STRANGLER_CI=1 but %s is not installed (%v): install Debian's prometheus package", name, err)
	}
	t.Skipf("%s is not installed (Debian package prometheus); skipping", name)
	return ""
}

// runPromTool runs path with args and stdin within toolTimeout and returns its
// combined output and exit code.
func runPromTool(t *testing.T, stdin string, path string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), toolTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.WaitDelay = stopTimeout
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("%s %s: no answer within %s\n%s", path, strings.Join(args, " "), toolTimeout, out)
	}
	if err != nil && cmd.ProcessState == nil {
		t.Fatalf("%s %s: %v", path, strings.Join(args, " "), err) // it never ran
	}
	return string(out), cmd.ProcessState.ExitCode()
}

// --- the Grafana dashboard ---

// dashQuery is one PromQL query of the dashboard, and where it is.
type dashQuery struct {
	where string // panel, annotation or variable, for messages
	expr  string // as written, with Grafana's variables
}

// dashboardJSON is the dashboard file decoded as generic JSON.
func dashboardJSON(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d map[string]any
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return d
}

// panelsOf returns every panel of d, rows included, with the panels a
// collapsed row holds.
func panelsOf(d map[string]any) []map[string]any {
	var out []map[string]any
	var walk func(list any)
	walk = func(list any) {
		for _, p := range jsonList(list) {
			m := jsonObject(p)
			out = append(out, m)
			walk(m["panels"])
		}
	}
	walk(d["panels"])
	return out
}

// dashboardQueries returns every PromQL query of the dashboard: each panel
// target's expr, each annotation's expr, and each query variable's query.
func dashboardQueries(t *testing.T, d map[string]any) []dashQuery {
	t.Helper()
	var out []dashQuery
	for _, p := range panelsOf(d) {
		for _, tg := range jsonList(p["targets"]) {
			m := jsonObject(tg)
			expr, _ := m["expr"].(string)
			if expr == "" {
				t.Errorf("panel %q target %v has no expr", p["title"], m["refId"])
				continue
			}
			out = append(out, dashQuery{fmt.Sprintf("panel %q (id %v) target %v", p["title"], p["id"], m["refId"]), expr})
		}
	}
	for _, a := range jsonList(jsonObject(d["annotations"])["list"]) {
		m := jsonObject(a)
		if expr, _ := m["expr"].(string); expr != "" {
			out = append(out, dashQuery{fmt.Sprintf("annotation %q", m["name"]), expr})
		}
	}
	for _, v := range jsonList(jsonObject(d["templating"])["list"]) {
		m := jsonObject(v)
		if m["type"] != "query" {
			continue
		}
		out = append(out, dashQuery{fmt.Sprintf("variable $%v", m["name"]), variableQuery(m)})
	}
	return out
}

// variableQuery returns a query variable's query, written as a string
// (Grafana 9 and before) or as an object holding it (Grafana 10 and later
// export it so).
func variableQuery(v map[string]any) string {
	if obj := jsonObject(v["query"]); obj != nil {
		q, _ := obj["query"].(string)
		return q
	}
	q, _ := v["query"].(string)
	return q
}

// grafanaVar matches a Grafana variable reference: ${name}, ${name:format},
// $name or [[name]].
var grafanaVar = regexp.MustCompile(`\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]`)

// grafanaVars are the values the tests give Grafana's variables: rate
// windows of 15 scrapes at 1s, and every route.
var grafanaVars = map[string]string{
	"__rate_interval": "15s",
	"__interval":      "15s",
	"__range":         "1m",
	"route":           ".*",
}

// expandGrafanaVars replaces Grafana's variables in expr as Grafana would with
// grafanaVars. A "$1" stays: it is label_replace's capture group. Any other
// unknown variable is an error.
func expandGrafanaVars(expr string) (string, error) {
	var unknown []string
	out := grafanaVar.ReplaceAllStringFunc(expr, func(ref string) string {
		m := grafanaVar.FindStringSubmatch(ref)
		name := m[1] + m[2] + m[3]
		if v, ok := grafanaVars[name]; ok {
			return v
		}
		if _, err := strconv.Atoi(name); err == nil {
			return ref
		}
		unknown = append(unknown, ref)
		return ref
	})
	if unknown != nil {
		return "", fmt.Errorf("unknown Grafana variables %v", unknown)
	}
	return out, nil
}

// labelValuesQuery matches a variable query label_values(selector, label).
var labelValuesQuery = regexp.MustCompile(`^\s*label_values\(\s*(.+?)\s*,\s*(\w+)\s*\)\s*$`)

func jsonList(v any) []any {
	l, _ := v.([]any)
	return l
}

func jsonObject(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// --- the Prometheus rules ---

// ruleSet is the part of a Prometheus rule file the tests read.
type ruleSet struct {
	Groups []struct {
		Name  string    `yaml:"name"`
		Rules []ruleDef `yaml:"rules"`
	} `yaml:"groups"`
}

// ruleDef is one recording (Record) or alerting (Alert) rule.
type ruleDef struct {
	Record      string            `yaml:"record"`
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

func (r ruleDef) name() string { return r.Record + r.Alert }

func loadRules(t *testing.T) ruleSet {
	t.Helper()
	b, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var f ruleSet
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	return f
}

// --- a Prometheus server ---

// promServer is a running Prometheus and the base URL of its HTTP API.
type promServer struct {
	*proc
	url string
}

// promListening is the line Prometheus logs once its web listener is bound.
var promListening = regexp.MustCompile(`msg="Listening on" address=(127\.0\.0\.1:\d+)`)

// startPrometheus runs Prometheus from path on a free loopback port with
// storage in a temporary directory, scraping target (host:port of a
// strangler admin listener) every second and evaluating deploy/'s rules
// every second. It is stopped when the test ends.
func startPrometheus(t *testing.T, path, target string) *promServer {
	t.Helper()
	rules, err := filepath.Abs(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	body := fmt.Sprintf(`# written by strangler's end-to-end tests
global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}
rule_files: [%q]
scrape_configs:
  - job_name: strangler
    static_configs: [{targets: [%q]}]
`, rules, target)
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startExternal(t, path, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address=127.0.0.1:0")
	s := &promServer{proc: p, url: "http://" + p.waitLine(t, promListening)[1]}
	eventually(t, "Prometheus to be ready", func() bool {
		code, _, err := send(http.MethodGet, s.url+"/-/ready", "")
		return err == nil && code == http.StatusOK
	})
	return s
}

// startExternal runs a program that is not one of TestMain's binaries, as
// start runs those: output kept, SIGTERM then Kill when the test ends.
func startExternal(t *testing.T, path string, args ...string) *proc {
	t.Helper()
	if binDir == "" {
		t.Skip("end-to-end test: skipped in -short mode")
	}
	o := &output{}
	cmd := exec.Command(path, args...)
	cmd.Stdout = &lineWriter{out: o}
	cmd.Stderr = &lineWriter{out: o}
	cmd.WaitDelay = stopTimeout
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	p := &proc{name: filepath.Base(path), cmd: cmd, out: o, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			t.Logf("output of %s:\n%s", path, o)
		}
	})
	return p
}

// promResult is the data of an /api/v1 answer.
type promResult struct {
	ResultType string            `json:"resultType"`
	Result     []json.RawMessage `json:"result"`
}

// api GETs path (with query) from Prometheus's HTTP API and decodes the
// answer's data into v; any failure is returned, not fatal, so that a
// polling loop can report it.
func (s *promServer) api(path string, query url.Values, v any) error {
	code, body, err := send(http.MethodGet, s.url+path+"?"+query.Encode(), "")
	if err != nil {
		return err
	}
	var answer struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &answer); err != nil {
		return fmt.Errorf("GET %s: %d %.200s: %w", path, code, body, err)
	}
	if answer.Status != "success" {
		return fmt.Errorf("GET %s: %d %s", path, code, answer.Error)
	}
	if err := json.Unmarshal(answer.Data, v); err != nil {
		return fmt.Errorf("GET %s: decode data: %w", path, err)
	}
	return nil
}

// query runs an instant PromQL query and returns how many series (or
// scalars) it answered.
func (s *promServer) query(expr string) (int, error) {
	var r promResult
	if err := s.api("/api/v1/query", url.Values{"query": {expr}}, &r); err != nil {
		return 0, err
	}
	if r.ResultType == "scalar" || r.ResultType == "string" {
		return 1, nil
	}
	return len(r.Result), nil
}

// labelValues returns the values of label on the series selector matches
// over the last five minutes: what Grafana's label_values(selector, label)
// lists.
func (s *promServer) labelValues(selector, label string) ([]string, error) {
	var values []string
	now := time.Now()
	err := s.api("/api/v1/label/"+label+"/values", url.Values{
		"match[]": {selector},
		"start":   {strconv.FormatInt(now.Add(-5*time.Minute).Unix(), 10)},
		"end":     {strconv.FormatInt(now.Unix(), 10)},
	}, &values)
	return values, err
}

// promRule is a rule as /api/v1/rules reports it.
type promRule struct {
	Name      string `json:"name"`
	Type      string `json:"type"` // recording or alerting
	Health    string `json:"health"`
	LastError string `json:"lastError"`
	State     string `json:"state"` // alerting: inactive, pending or firing
}

// rules returns the loaded rules by group name.
func (s *promServer) rules() (map[string][]promRule, error) {
	var data struct {
		Groups []struct {
			Name  string     `json:"name"`
			Rules []promRule `json:"rules"`
		} `json:"groups"`
	}
	if err := s.api("/api/v1/rules", url.Values{}, &data); err != nil {
		return nil, err
	}
	out := map[string][]promRule{}
	for _, g := range data.Groups {
		out[g.Name] = g.Rules
	}
	return out, nil
}

// --- checks that must each hold at least once ---

// promCheck is a condition on the running Prometheus that must be seen to
// hold at least once before the deadline.
type promCheck struct {
	what string // which query of which panel or rule, phrased as its failure
	expr string // the PromQL sent, for the failure message
	ok   func() (bool, error)
}

// awaitChecks polls every pending check until each has held once, or
// fails the test after within, naming each check that never held, its
// query and the last error it met.
func awaitChecks(t *testing.T, within time.Duration, checks []promCheck) {
	t.Helper()
	deadline := time.Now().Add(within)
	pending := checks
	lastErr := map[string]error{}
	for len(pending) > 0 && time.Now().Before(deadline) {
		var still []promCheck
		for _, c := range pending {
			ok, err := c.ok()
			lastErr[c.what] = err
			if !ok {
				still = append(still, c)
			}
		}
		pending = still
		if len(pending) > 0 {
			time.Sleep(200 * time.Millisecond) // the next poll; Prometheus scrapes and evaluates every second
		}
	}
	for _, c := range pending {
		msg := fmt.Sprintf("%s (waited %s)", c.what, within)
		if c.expr != "" {
			msg += "\n    query: " + c.expr
		}
		if err := lastErr[c.what]; err != nil {
			msg += fmt.Sprintf("\n    last error: %v", err)
		}
		t.Error(msg)
	}
}
