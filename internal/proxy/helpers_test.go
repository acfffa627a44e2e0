package proxy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/strangler-proxy/strangler/internal/accesslog"
	"github.com/strangler-proxy/strangler/internal/routing"
	"github.com/strangler-proxy/strangler/internal/testwait"
)

// waitLimit bounds everything a test waits for: a response, a metric that
// is updated after the response was sent, a signal from a backend. It is
// generous because CI machines are shared: comparing 64 MiB of shadow
// copies under the race detector on a loaded core takes seconds.
const waitLimit = 30 * time.Second

// mainConfig is the routes.yaml most routing tests run against: every
// kind of route, with the longer /api/orders/returns written after
// /api/orders.
const mainConfig = "testdata/routes.yaml.tmpl"

// mainBackends are the upstreams mainConfig names.
var mainBackends = []string{"monolith", "orders", "returns", "payments", "reviews", "inventory"}

// seenRequest is what an echo backend saw of a forwarded request. The
// backend answers with it as JSON and keeps it for later checks.
type seenRequest struct {
	Backend    string      `json:"backend"`
	Method     string      `json:"method"`
	Path       string      `json:"path"`        // decoded path
	RequestURI string      `json:"request_uri"` // target exactly as on the wire
	RawQuery   string      `json:"raw_query"`
	Host       string      `json:"host"`
	Header     http.Header `json:"header"`
	Body       string      `json:"body"`
}

// wirePath is the path part of the request target the backend received.
func (s seenRequest) wirePath() string {
	p, _, _ := strings.Cut(s.RequestURI, "?")
	return p
}

// backend is an echo upstream: it answers with the seenRequest as JSON,
// names itself in X-Backend, echoes X-Request-ID like many real services
// do, and records every request. The status is 200, or the one a
// "status" query parameter asks for.
type backend struct {
	name string
	srv  *httptest.Server

	mu   sync.Mutex
	seen []seenRequest
}

func startBackend(t testing.TB, name string) *backend {
	b := &backend{name: name}
	b.srv = startServer(t, http.HandlerFunc(b.ServeHTTP))
	return b
}

func (b *backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s := seenRequest{
		Backend: b.name, Method: r.Method, Path: r.URL.Path, RequestURI: r.RequestURI,
		RawQuery: r.URL.RawQuery, Host: r.Host, Header: r.Header.Clone(), Body: string(body),
	}
	b.mu.Lock()
	b.seen = append(b.seen, s)
	b.mu.Unlock()
	w.Header().Set("X-Backend", b.name)
	w.Header().Set("Content-Type", "application/json")
	if id := r.Header.Get("X-Request-Id"); id != "" {
		w.Header().Set("X-Request-Id", id)
	}
	if code, err := strconv.Atoi(r.URL.Query().Get("status")); err == nil {
		w.WriteHeader(code)
	}
	_ = json.NewEncoder(w).Encode(s)
}

// requests returns a copy of what the backend has received so far.
func (b *backend) requests() []seenRequest {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.seen)
}

// startServer serves h on 127.0.0.1 until the test ends.
func startServer(t testing.TB, h http.Handler) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// harness is a proxy Handler with a pedantic registry, served by an
// httptest frontend, in front of echo backends.
type harness struct {
	handler  *Handler
	reg      *prometheus.Registry
	front    *httptest.Server
	client   *http.Client
	backends map[string]*backend
	urls     map[string]string // template data for configs: upstream name -> URL
	// configure, when set, adjusts each new Handler before it serves.
	configure func(*Handler)
}

// newHarness starts one echo backend per name and a frontend serving a
// Handler that has no table yet.
func newHarness(t testing.TB, names ...string) *harness {
	return newConfiguredHarness(t, nil, names...)
}

// newConfiguredHarness is newHarness with configure (when not nil) applied to
// the Handler before it serves.
func newConfiguredHarness(t testing.TB, configure func(*Handler), names ...string) *harness {
	hs := &harness{
		reg:       prometheus.NewPedanticRegistry(),
		backends:  map[string]*backend{},
		urls:      map[string]string{},
		configure: configure,
	}
	for _, n := range names {
		b := startBackend(t, n)
		hs.backends[n] = b
		hs.urls[n] = b.srv.URL
	}
	hs.startProxy(t, hs.reg)
	return hs
}

// startProxy serves a new Handler, with its metrics in reg (nil: none),
// on an httptest frontend.
func (hs *harness) startProxy(t testing.TB, reg prometheus.Registerer) {
	hs.handler = New(Options{Registerer: reg})
	h := hs.handler
	if hs.configure != nil {
		hs.configure(h)
	}
	t.Cleanup(func() { _ = h.Close() }) // after the frontend's Close: no request is left
	hs.front = httptest.NewUnstartedServer(hs.handler)
	hs.front.Config.ErrorLog = log.New(serverLog{t}, "", 0)
	hs.front.Start()
	t.Cleanup(hs.front.Close)
	hs.client = hs.front.Client()
	// Enough idle connections for the concurrent tests and benchmarks,
	// so that they do not churn through ports.
	hs.client.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
}

// newAccessLogHarness is newHarness with every request written to the
// returned buffer by the returned access log, and no metrics.
func newAccessLogHarness(t testing.TB, names ...string) (*harness, *lockedBuffer, *accesslog.Logger) {
	hs := newHarness(t, names...)
	out := &lockedBuffer{}
	access, err := accesslog.New(out, accesslog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	hs.handler = New(Options{AccessLog: access})
	h := hs.handler
	t.Cleanup(func() { _ = h.Close() })
	front := httptest.NewServer(hs.handler)
	t.Cleanup(front.Close)
	hs.front, hs.client = front, front.Client()
	return hs, out, access
}

// newMainHarness is a harness with mainConfig applied.
func newMainHarness(t testing.TB) *harness {
	hs := newHarness(t, mainBackends...)
	hs.apply(t, readFile(t, mainConfig))
	return hs
}

// serverLog fails the test when the frontend's http.Server reports a
// panic in the handler or a second WriteHeader, and logs anything else.
type serverLog struct{ t testing.TB }

func (l serverLog) Write(p []byte) (int, error) {
	msg := strings.TrimSpace(string(p))
	if strings.Contains(msg, "panic") || strings.Contains(msg, "superfluous") {
		l.t.Errorf("frontend server: %s", msg)
	} else {
		l.t.Logf("frontend server: %s", msg)
	}
	return len(p), nil
}

// render fills a routes.yaml template with the harness's upstream URLs:
// {{.orders}} is the orders backend's URL.
func (hs *harness) render(t testing.TB, tmpl string) []byte {
	t.Helper()
	tp, err := template.New("routes.yaml").Option("missingkey=error").Parse(tmpl)
	if err != nil {
		t.Fatalf("parse config template: %v", err)
	}
	var buf bytes.Buffer
	if err := tp.Execute(&buf, hs.urls); err != nil {
		t.Fatalf("render config template: %v", err)
	}
	return buf.Bytes()
}

// apply loads a routes.yaml template into the handler, as a Reloader
// would, and returns the new generation.
func (hs *harness) apply(t testing.TB, tmpl string) uint64 {
	t.Helper()
	cfg, err := routing.Load("routes.yaml", hs.render(t, tmpl))
	if err != nil {
		t.Fatalf("load config: %v", err)
	}
	gen, err := hs.handler.Apply(cfg)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return gen
}

// writeConfig renders tmpl into the file at path.
func (hs *harness) writeConfig(t testing.TB, path, tmpl string) {
	t.Helper()
	writeFile(t, path, hs.render(t, tmpl))
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// configPath is where Reloader tests keep routes.yaml.
func configPath(t testing.TB) string {
	return filepath.Join(t.TempDir(), "routes.yaml")
}

// do sends a request through the frontend and returns the response with
// its body read.
func (hs *harness) do(t testing.TB, method, target string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, hs.front.URL+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		if k == "Host" {
			req.Host = v[0] // the client sends req.Host, never Header["Host"]
			continue
		}
		req.Header[k] = v
	}
	res, err := hs.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, target, err)
	}
	return res, body
}

// forward sends a request that must be answered 200 by an echo backend
// and returns what that backend saw.
func (hs *harness) forward(t testing.TB, method, target string, header http.Header) (*http.Response, seenRequest) {
	t.Helper()
	res, body := hs.do(t, method, target, header)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: status %d, body %s", method, target, res.StatusCode, body)
	}
	var s seenRequest
	if err := json.Unmarshal(body, &s); err != nil {
		t.Fatalf("%s %s: backend answer %q: %v", method, target, body, err)
	}
	return res, s
}

// dialRaw opens a connection to addr whose reads and writes give up after
// waitLimit.
func dialRaw(t testing.TB, addr string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.SetDeadline(time.Now().Add(waitLimit)); err != nil {
		conn.Close()
		t.Fatal(err)
	}
	return conn
}

// rawExchange writes a request with exactly these header lines and body on
// a new connection to addr and reads the response.
func rawExchange(t testing.TB, addr, method, target string, headers []string, body string) (*http.Response, []byte) {
	t.Helper()
	conn := dialRaw(t, addr)
	defer conn.Close()
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n", method, target, addr)
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n" + body)
	if _, err := io.WriteString(conn, b.String()); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%s %s: read response: %v", method, target, err)
	}
	defer res.Body.Close()
	got, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, target, err)
	}
	return res, got
}

// rawRequest writes the request line and headers exactly as given on a
// new connection to addr, so that targets Go's client would normalise
// reach the proxy as written, and reads the response.
func rawRequest(t testing.TB, addr, method, target string, headers ...string) (*http.Response, []byte) {
	t.Helper()
	return rawExchange(t, addr, method, target, headers, "")
}

// errorBody is the JSON the proxy answers its own errors with.
type errorBody struct {
	Error     string `json:"error"`
	Status    int    `json:"status"`
	RequestID string `json:"request_id"`
}

// checkErrorReply checks that res is the proxy's own JSON error with the
// given status, and that the body's request id is the one on the response.
func checkErrorReply(t testing.TB, res *http.Response, body []byte, status int) errorBody {
	t.Helper()
	if res.StatusCode != status {
		t.Fatalf("status = %d, want %d; body %s", res.StatusCode, status, body)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var e errorBody
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("error body %q: %v", body, err)
	}
	if e.Status != status || e.Error == "" {
		t.Errorf("error body = %+v, want status %d and a message", e, status)
	}
	if e.RequestID == "" || e.RequestID != res.Header.Get("X-Request-Id") {
		t.Errorf("error body request_id = %q, response X-Request-Id = %q; want the same non-empty id",
			e.RequestID, res.Header.Get("X-Request-Id"))
	}
	return e
}

// eventually polls cond until it returns nil, and fails the test when it
// still does not after waitLimit. Metrics are recorded after the response
// has gone out, so they are read with it.
func eventually(t testing.TB, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v (after %s)", what, err, waitLimit)
		}
		<-tick.C
	}
}

// waitFor waits for a value or the close of ch, for at most waitLimit.
func waitFor[T any](t testing.TB, ch <-chan T, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(waitLimit):
		t.Fatalf("timed out after %s waiting for %s", waitLimit, what)
	}
}

// recv receives a value from ch, failing the test when none comes within
// waitLimit.
func recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	return testwait.Recv(t, ch, waitLimit, what)
}

// metricValue returns the value of the counter or gauge with exactly these
// labels, or the sample count of such a histogram, from g.
func metricValue(g prometheus.Gatherer, name string, labels map[string]string) (float64, bool, error) {
	mfs, err := g.Gather()
	if err != nil {
		return 0, false, err
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if !sameLabels(m.GetLabel(), labels) {
				continue
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue(), true, nil
			case m.Gauge != nil:
				return m.Gauge.GetValue(), true, nil
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount()), true, nil
			}
		}
	}
	return 0, false, nil
}

func sameLabels(got []*dto.LabelPair, want map[string]string) bool {
	if len(got) != len(want) {
		return false
	}
	for _, l := range got {
		if v, ok := want[l.GetName()]; !ok || v != l.GetValue() {
			return false
		}
	}
	return true
}

// waitMetric waits until the named series has the value want.
func waitMetric(t testing.TB, g prometheus.Gatherer, name string, labels map[string]string, want float64) {
	t.Helper()
	eventually(t, fmt.Sprintf("%s%v", name, labels), func() error {
		v, ok, err := metricValue(g, name, labels)
		switch {
		case err != nil:
			return err
		case !ok:
			return fmt.Errorf("no such series, want %v", want)
		case v != want:
			return fmt.Errorf("= %v, want %v", v, want)
		}
		return nil
	})
}

// requestLabels are the labels of one strangler_requests_total series.
func requestLabels(route, side, upstream, method, code string) map[string]string {
	return map[string]string{"route": route, "side": side, "upstream": upstream, "method": method, "code": code}
}
