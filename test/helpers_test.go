package test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Time limits. Every wait in these tests is bounded by one of them.
const (
	patience    = 15 * time.Second // eventually's deadline
	pollEvery   = 10 * time.Millisecond
	stopTimeout = 10 * time.Second // SIGTERM to exit, before Kill
)

// eventually polls cond until it holds, failing the test after patience.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", patience, what)
		}
		time.Sleep(pollEvery)
	}
}

// --- processes ---

// proc is one running binary from binDir. Its stdout and stderr are kept
// line by line, and logged when the test fails.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *output
	done chan struct{} // closed once the process has exited
	// minded is set once the test signals the process or waits for its
	// exit: how it ends is then the test's to judge.
	minded atomic.Bool
}

// start runs a binary built by TestMain and stops it when the test ends:
// SIGTERM, then Kill after stopTimeout. A process that exits non-zero
// after that SIGTERM (a data race report, a failed shutdown) fails the
// test, and so does one that exited non-zero by itself before the test
// ended, unless the test signalled it or waited for it.
func start(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	if binDir == "" {
		t.Skip("end-to-end test: binaries are not built in -short mode")
	}
	o := &output{}
	cmd := exec.Command(filepath.Join(binDir, name), args...)
	cmd.Stdout = &lineWriter{out: o}
	cmd.Stderr = &lineWriter{out: o}
	cmd.WaitDelay = stopTimeout
	// A -race binary sleeps 1s before exiting unless told not to.
	cmd.Env = append(os.Environ(), strings.TrimSpace("GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{name: name, cmd: cmd, out: o, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait() // the exit status is read from cmd.ProcessState
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			t.Logf("output of %s %s:\n%s", name, strings.Join(args, " "), o)
		}
	})
	return p
}

// stop ends the process at the end of the test (see start).
func (p *proc) stop(t testing.TB) {
	select {
	case <-p.done:
		// Exited already. When the test signalled it or waited for it, the
		// test judged how; otherwise it ended on its own, and a non-zero
		// exit (a crash, a data race report, a fatal error) is a failure
		// nothing else would report.
		if code := p.cmd.ProcessState.ExitCode(); code != 0 && !p.minded.Load() {
			t.Errorf("%s exited by itself (%v) before the test ended", p.name, p.cmd.ProcessState)
		}
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if code := p.cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("%s exited with code %d after SIGTERM", p.name, code)
		}
	case <-time.After(stopTimeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Errorf("%s did not exit within %s of SIGTERM; killed", p.name, stopTimeout)
	}
}

// signal sends sig to the process; how it then ends is the test's to
// judge.
func (p *proc) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	p.minded.Store(true)
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v to %s: %v", sig, p.name, err)
	}
}

// wait waits at most within for the process to exit and returns its exit
// code.
func (p *proc) wait(t *testing.T, within time.Duration) int {
	t.Helper()
	p.minded.Store(true)
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(within):
		t.Fatalf("%s did not exit within %s", p.name, within)
		return -1
	}
}

// waitLine waits until the process prints a line matching re and returns
// the submatches.
func (p *proc) waitLine(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	var m []string
	eventually(t, fmt.Sprintf("%s to print %q", p.name, re), func() bool {
		if m = p.out.find(re); m != nil {
			return true
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited (%v) before printing %q:\n%s", p.name, p.cmd.ProcessState, re, p.out)
		default:
		}
		return false
	})
	return m
}

// output collects the lines a process prints, from both streams.
type output struct {
	mu    sync.Mutex
	lines []string
}

func (o *output) find(re *regexp.Regexp) []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, l := range o.lines {
		if m := re.FindStringSubmatch(l); m != nil {
			return m
		}
	}
	return nil
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return strings.Join(o.lines, "\n")
}

// lineWriter splits one stream into lines, so lines of stdout and stderr
// never interleave.
type lineWriter struct {
	out     *output
	partial []byte
}

func (w *lineWriter) Write(b []byte) (int, error) {
	w.out.mu.Lock()
	defer w.out.mu.Unlock()
	w.partial = append(w.partial, b...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			return len(b), nil
		}
		w.out.lines = append(w.out.lines, string(w.partial[:i]))
		w.partial = w.partial[i+1:]
	}
}

// --- the shop: monolith and extracted services ---

// listening is the line every bundled app logs once its listener is bound.
var listening = regexp.MustCompile(`msg=listening .*addr=(127\.0\.0\.1:\d+)`)

// stack is the bundled shop, wired as strangler demo wires it; each field
// is an app's base URL.
type stack struct {
	monolith, orders, payments, inventory string
}

// startStack starts inventory, the monolith, orders and payments on
// loopback port 0. The monolith and the orders service each need the
// other's URL; the monolith reaches orders through a relay whose target is
// set once orders has started.
func startStack(t *testing.T) *stack {
	t.Helper()
	var s stack
	s.inventory = startApp(t, "inventory")
	toOrders := startRelay(t)
	s.monolith = startApp(t, "legacy-monolith", "--inventory-url", s.inventory, "--orders-url", toOrders.url())
	s.orders = startApp(t, "orders", "--monolith-url", s.monolith, "--inventory-url", s.inventory)
	toOrders.target(s.orders)
	s.payments = startApp(t, "payments", "--monolith-url", s.monolith, "--orders-url", s.orders)
	return &s
}

func startApp(t *testing.T, name string, args ...string) string {
	t.Helper()
	p := start(t, name, append([]string{"--addr", "127.0.0.1:0"}, args...)...)
	return "http://" + p.waitLine(t, listening)[1]
}

// relay forwards TCP connections on a loopback port to a target set later.
type relay struct {
	ln    net.Listener
	to    atomic.Pointer[string] // host:port
	mu    sync.Mutex
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

func startRelay(t *testing.T) *relay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{ln: ln, conns: map[net.Conn]bool{}}
	r.wg.Go(r.accept)
	t.Cleanup(func() {
		ln.Close()
		r.mu.Lock()
		for c := range r.conns {
			c.Close()
		}
		r.conns = nil // pipes started from now on close at once
		r.mu.Unlock()
		r.wg.Wait()
	})
	return r
}

func (r *relay) url() string { return "http://" + r.ln.Addr().String() }

func (r *relay) target(baseURL string) {
	host := strings.TrimPrefix(baseURL, "http://")
	r.to.Store(&host)
}

func (r *relay) accept() {
	for {
		in, err := r.ln.Accept()
		if err != nil {
			return // closed
		}
		r.wg.Go(func() { r.pipe(in) })
	}
}

func (r *relay) pipe(in net.Conn) {
	to := r.to.Load()
	if to == nil {
		in.Close()
		return
	}
	out, err := net.DialTimeout("tcp", *to, 5*time.Second)
	if err != nil {
		in.Close()
		return
	}
	if !r.track(in, out) {
		return
	}
	defer r.untrack(in, out)
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(out, in)
		close(done)
	}()
	_, _ = io.Copy(in, out)
	in.Close()
	out.Close()
	<-done
}

// track registers both ends for cleanup; false when the relay is closing.
func (r *relay) track(conns ...net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conns == nil {
		for _, c := range conns {
			c.Close()
		}
		return false
	}
	for _, c := range conns {
		r.conns[c] = true
	}
	return true
}

func (r *relay) untrack(conns ...net.Conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range conns {
		delete(r.conns, c) // no-op once r.conns is nil
	}
}

// --- strangler ---

// serving is the line strangler serve logs once both listeners are bound.
var serving = regexp.MustCompile(`msg="strangler serving" proxy=(127\.0\.0\.1:\d+) admin=(127\.0\.0\.1:\d+)`)

// strangler is a running strangler process.
type strangler struct {
	*proc
	proxyAddr string // host:port of the proxy listener
	proxy     string // its base URL
	admin     string // base URL of the admin listener
}

// startStrangler runs strangler serve on config with loopback port 0
// listeners and a 20ms reload debounce; extra flags come last, so they
// override these.
func startStrangler(t *testing.T, config string, extra ...string) *strangler {
	t.Helper()
	args := append([]string{"serve", "--config", config, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
		"--reload-debounce", "20ms"}, extra...)
	p := start(t, "strangler", args...)
	m := p.waitLine(t, serving)
	return &strangler{proc: p, proxyAddr: m[1], proxy: "http://" + m[1], admin: "http://" + m[2]}
}

// status is the part of /api/status the tests read.
type status struct {
	Generation uint64 `json:"generation"`
	Routes     []struct {
		Name   string  `json:"name"`
		Weight float64 `json:"weight"`
	} `json:"routes"`
	LastReload *struct {
		Time       string `json:"time"`
		Result     string `json:"result"`
		Error      string `json:"error"`
		Generation uint64 `json:"generation"`
	} `json:"last_reload"`
}

func (s status) weight(t *testing.T, route string) float64 {
	t.Helper()
	for _, r := range s.Routes {
		if r.Name == route {
			return r.Weight
		}
	}
	t.Fatalf("/api/status lists no route %q: %+v", route, s.Routes)
	return 0
}

func (sp *strangler) status(t *testing.T) status {
	t.Helper()
	var s status
	getJSON(t, sp.admin+"/api/status", &s)
	return s
}

// apply saves body as the config and waits until strangler serves it: a
// new generation, loaded successfully.
func (sp *strangler) apply(t *testing.T, config, body string) uint64 {
	t.Helper()
	old := sp.status(t)
	before, lastTry := old.Generation, ""
	if old.LastReload != nil {
		lastTry = old.LastReload.Time
	}
	writeConfig(t, config, body)
	var gen uint64
	eventually(t, "the edit to routes.yaml to go live", func() bool {
		s := sp.status(t)
		if s.LastReload != nil && s.LastReload.Time != lastTry && s.LastReload.Result == "failure" {
			t.Fatalf("edit refused: %s", s.LastReload.Error)
		}
		gen = s.Generation
		return gen > before
	})
	return gen
}

// metrics scrapes the admin /metrics.
func (sp *strangler) metrics(t *testing.T) metrics {
	t.Helper()
	code, body := call(t, http.MethodGet, sp.admin+"/metrics", "")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics: %d", code)
	}
	m, err := parseMetrics(string(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return m
}

// servedBy runs do, which sends exactly one request through the proxy,
// and returns the labels (route, side, upstream, method, code) of the
// strangler_requests_total series it was counted in. Nothing else may send
// requests through the proxy meanwhile.
func (sp *strangler) servedBy(t *testing.T, do func()) map[string]string {
	t.Helper()
	before := sp.metrics(t)
	do()
	var labels map[string]string
	eventually(t, "strangler_requests_total to count the request", func() bool {
		diff := sp.metrics(t).since(before, "strangler_requests_total")
		if len(diff) > 1 || (len(diff) == 1 && diff[0].value != 1) {
			t.Fatalf("one request counted as %+v", diff)
		}
		if len(diff) == 1 {
			labels = diff[0].labels
		}
		return labels != nil
	})
	return labels
}

// --- routes.yaml ---

// routesYAML is the routing table of the bundled shop with the given orders
// weight: inventory moved, orders moving (sticky by customer), payments
// not yet.
func routesYAML(s *stack, ordersWeight float64) string {
	return fmt.Sprintf(`# written by strangler's end-to-end tests
legacy: monolith
upstreams:
  monolith:  {url: %s}
  orders:    {url: %s, timeout: 5s}
  payments:  {url: %s}
  inventory: {url: %s}
routes:
  - prefix: /api/inventory
    service: inventory
  - prefix: /api/orders
    service: orders
    weight: %g
    sticky: header:X-Customer-ID
    name: orders
  - prefix: /api/payments
    service: payments
    weight: 0
`, s.monolith, s.orders, s.payments, s.inventory, ordersWeight)
}

// newConfig writes body to routes.yaml in a fresh directory and returns
// its path.
func newConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "routes.yaml")
	writeConfig(t, path, body)
	return path
}

// writeConfig replaces the file at path as editors save: write a
// temporary file next to it, then rename it over the old one.
func writeConfig(t *testing.T, path, body string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// lineOf returns the 1-based line of the first line of body containing s.
func lineOf(t *testing.T, body, s string) int {
	t.Helper()
	for i, l := range strings.Split(body, "\n") {
		if strings.Contains(l, s) {
			return i + 1
		}
	}
	t.Fatalf("no line contains %q", s)
	return 0
}

// --- HTTP ---

// client talks to loopback servers only; each test's processes are new,
// so kept-alive connections never outlive their server for long.
var client = &http.Client{
	Timeout:   10 * time.Second,
	Transport: &http.Transport{MaxIdleConnsPerHost: 16, IdleConnTimeout: 30 * time.Second},
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

// send sends one request; header holds name, value pairs. Safe to use from
// any goroutine.
func send(method, url, body string, header ...string) (int, []byte, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: read body: %w", method, url, err)
	}
	return res.StatusCode, b, nil
}

// call is send for the test goroutine: a transport error fails the test.
func call(t *testing.T, method, url, body string, header ...string) (int, []byte) {
	t.Helper()
	code, b, err := send(method, url, body, header...)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return code, b
}

// getJSON GETs url, wants 200, and decodes the body into v.
func getJSON(t *testing.T, url string, v any, header ...string) {
	t.Helper()
	code, body := call(t, http.MethodGet, url, "", header...)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, code, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: decode %s: %v", url, body, err)
	}
}

// rawRequest sends "METHOD target HTTP/1.1" to addr exactly as written,
// so that encoded dots and slashes reach the proxy untouched.
func rawRequest(t *testing.T, addr, method, target string) (int, []byte) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", method, target, addr); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, target, err)
	}
	return res.StatusCode, b
}

// --- metrics ---

// sample is one line of the Prometheus text format.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

type metrics []sample

// sum adds up the samples of name whose labels include the given name,
// value pairs.
func (m metrics) sum(name string, labels ...string) float64 {
	var total float64
	for _, s := range m {
		if s.name == name && s.has(labels) {
			total += s.value
		}
	}
	return total
}

func (s sample) has(labels []string) bool {
	for i := 0; i+1 < len(labels); i += 2 {
		if s.labels[labels[i]] != labels[i+1] {
			return false
		}
	}
	return true
}

// since returns the samples of name whose value changed from before, with
// the change as value.
func (m metrics) since(before metrics, name string) []sample {
	key := func(s sample) string {
		b, _ := json.Marshal(s.labels) // sorted keys
		return string(b)
	}
	old := map[string]float64{}
	for _, s := range before {
		if s.name == name {
			old[key(s)] = s.value
		}
	}
	var out []sample
	for _, s := range m {
		if s.name == name && s.value != old[key(s)] {
			out = append(out, sample{name, s.labels, s.value - old[key(s)]})
		}
	}
	return out
}

// parseMetrics parses the Prometheus text exposition format: comments are
// skipped, every other line is name{labels} value [timestamp].
func parseMetrics(text string) (metrics, error) {
	var out metrics
	for n, line := range strings.Split(text, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s, err := parseSample(line)
		if err != nil {
			return nil, fmt.Errorf("line %d %q: %w", n+1, line, err)
		}
		out = append(out, s)
	}
	return out, nil
}

func parseSample(line string) (sample, error) {
	s := sample{labels: map[string]string{}}
	i := strings.IndexAny(line, "{ ")
	if i <= 0 {
		return s, fmt.Errorf("no metric name")
	}
	s.name, line = line[:i], line[i:]
	if line[0] == '{' {
		line = line[1:]
		for {
			line = strings.TrimLeft(line, ", ")
			if strings.HasPrefix(line, "}") {
				line = line[1:]
				break
			}
			eq := strings.Index(line, `="`)
			if eq <= 0 {
				return s, fmt.Errorf("bad label at %q", line)
			}
			name := line[:eq]
			line = line[eq+2:]
			var v strings.Builder
			for {
				if line == "" {
					return s, fmt.Errorf("unterminated label %s", name)
				}
				c := line[0]
				line = line[1:]
				if c == '"' {
					break
				}
				if c == '\\' && line != "" {
					c, line = line[0], line[1:]
					if c == 'n' {
						c = '\n'
					}
				}
				v.WriteByte(c)
			}
			s.labels[name] = v.String()
		}
	}
	fields := strings.Fields(line)
	if len(fields) == 0 {
		return s, fmt.Errorf("no value")
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return s, err
	}
	s.value = v
	return s, nil
}
