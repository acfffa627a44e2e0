package test

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Reload and shutdown under stress, end to end: routes.yaml rewritten
// every 200ms while clients send requests and WebSocket and SSE streams
// stay open; a file seen half-written, an empty file, a Kubernetes-style
// symlink swap; SIGTERM with requests and streams in flight.

// streamTable routes /ws, /sse and, for weight percent of its requests,
// /api to the service; gen changes the service's timeout every other
// generation, which gives it a fresh upstream (breaker, pool) on reload,
// and renames an extra route, which changes the table's shape.
func streamTable(legacyURL, svcURL string, weight, gen int) string {
	return fmt.Sprintf(`# written by strangler's end-to-end reload tests, generation %d
legacy: legacy
upstreams:
  legacy: {url: %s}
  svc: {url: %s, timeout: %ds}
routes:
  - {prefix: /ws, service: svc, name: ws}
  - {prefix: /sse, service: svc, name: sse}
  - {prefix: /api, service: svc, name: api, weight: %d}
  - {prefix: /extra-%d, service: svc, name: extra-%d}
`, gen, legacyURL, svcURL, 5+gen%2, weight, gen%3, gen%3)
}

// TestReloadUnderLoadKeepsStreams rewrites routes.yaml every 200ms for
// three seconds while four clients send requests and two WebSocket and
// two SSE streams (one of each on either side) stay open: no request
// fails, every stream keeps flowing through every reload, and once they
// close nothing is left in flight. strangler runs with -race like the
// tests, so a data race fails it at exit.
func TestReloadUnderLoadKeepsStreams(t *testing.T) {
	t.Parallel()
	const reloads, every = 15, 200 * time.Millisecond
	lg, svc := startStreamUpstream(t, "legacy"), startStreamUpstream(t, "service")
	cfg := newConfig(t, streamTable(lg.url, svc.url, 50, 0))
	sp := startStrangler(t, cfg)

	wsSvc, wsLegacy := dialWS(t, sp.proxyAddr, "/ws/1"), dialWS(t, sp.proxyAddr, "/old/ws/1")
	sseSvc, sseLegacy := openSSE(t, sp.proxy, "/sse/1"), openSSE(t, sp.proxy, "/old/sse/1")
	if sseSvc.from != "service" || sseLegacy.from != "legacy" {
		t.Fatalf("event streams from %q and %q, want service and legacy", sseSvc.from, sseLegacy.from)
	}
	before := sp.metrics(t)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var sent, echoed atomic.Int64
	var errMu sync.Mutex
	var errs []string
	fail := func(format string, args ...any) {
		errMu.Lock()
		defer errMu.Unlock()
		if len(errs) < 10 {
			errs = append(errs, fmt.Sprintf(format, args...))
		}
	}
	for c := range 4 {
		wg.Go(func() {
			for i := 0; i < 20000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				path := []string{"/api/x", "/other", "/ws", "/extra-1/y"}[(c+i)%4]
				code, body, err := send(http.MethodGet, sp.proxy+path, "")
				sent.Add(1)
				if err != nil || code != http.StatusOK || (string(body) != "legacy" && string(body) != "service") {
					fail("GET %s during reloads: %d %q %v", path, code, body, err)
				}
			}
		})
	}
	for _, ws := range []struct {
		c    *wsConn
		name string
	}{{wsSvc, "service"}, {wsLegacy, "legacy"}} {
		wg.Go(func() {
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				line := fmt.Sprintf("ping %d", i)
				got, err := ws.c.roundTrip(line)
				if err != nil || got != ws.name+": "+line {
					fail("WebSocket to %s during reloads: %q %v", ws.name, got, err)
					return
				}
				echoed.Add(1)
			}
		})
	}

	tick := time.NewTicker(every)
	for gen := 1; gen <= reloads; gen++ {
		<-tick.C
		writeConfig(t, cfg, streamTable(lg.url, svc.url, []int{0, 50, 100}[gen%3], gen))
	}
	tick.Stop()
	eventually(t, "the last rewrite to go live", func() bool {
		return sp.status(t).weight(t, "api") == float64([]int{0, 50, 100}[reloads%3]) &&
			sp.metrics(t).sum("strangler_route_weight_ratio", "route", fmt.Sprintf("extra-%d", reloads%3)) == 1
	})
	sseSvc.flowing(t, "the service's event stream after the reloads", 5)
	sseLegacy.flowing(t, "legacy's event stream after the reloads", 5)
	close(stop)
	wg.Wait()

	if len(errs) > 0 {
		t.Fatalf("%d requests and %d WebSocket echoes across %d reloads; failures:\n%s", sent.Load(), echoed.Load(), reloads, strings.Join(errs, "\n"))
	}
	m := sp.metrics(t)
	ok := m.delta(before, "strangler_config_reloads_total", "result", "success")
	if failed := m.delta(before, "strangler_config_reloads_total", "result", "failure"); failed != 0 || ok < reloads/2 {
		t.Fatalf("%g reloads succeeded and %g failed for %d rewrites, want most to succeed and none to fail", ok, failed, reloads)
	}
	if sent.Load() < 100 || echoed.Load() < 20 {
		t.Fatalf("only %d requests and %d echoes during the reloads; the test proves little", sent.Load(), echoed.Load())
	}
	for _, ws := range []struct {
		c    *wsConn
		name string
	}{{wsSvc, "service"}, {wsLegacy, "legacy"}} {
		if got, err := ws.c.roundTrip("after"); err != nil || got != ws.name+": after" {
			t.Fatalf("the WebSocket to %s after %d reloads: %q %v", ws.name, reloads, got, err)
		}
	}
	t.Logf("%d reloads: %d requests, %d WebSocket echoes, %d and %d events, none failed", int(ok), sent.Load(), echoed.Load(), sseSvc.count.Load(), sseLegacy.count.Load())

	// Closed streams give back their slots, on the upstream generation
	// that lent them.
	wsSvc.c.Close()
	wsLegacy.c.Close()
	sseSvc.close()
	sseLegacy.close()
	eventually(t, "nothing left in flight once the streams closed", func() bool {
		m := sp.metrics(t)
		return m.sum("strangler_bulkhead_inflight", "upstream", "svc") == 0 && m.sum("strangler_bulkhead_inflight", "upstream", "legacy") == 0
	})
}

// simpleTable moves weight percent of /api to the service; the layout puts
// the route's service on a line of its own, so that a file cut before it
// is a route without a service.
func simpleTable(legacyURL, svcURL string, weight int) string {
	return fmt.Sprintf(`# written by strangler's end-to-end reload tests
legacy: legacy
upstreams:
  legacy:
    url: %s
  svc:
    url: %s
routes:
  - prefix: /api
    name: api
    service: svc
    weight: %d
`, legacyURL, svcURL, weight)
}

// answeredBy returns who answered GET /api/x through the proxy.
func answeredBy(t *testing.T, sp *strangler) string {
	t.Helper()
	code, body := call(t, http.MethodGet, sp.proxy+"/api/x", "")
	if code != http.StatusOK {
		t.Fatalf("GET /api/x: %d %s", code, body)
	}
	return string(body)
}

// refusedWith waits until the live config's last reload failed with an
// error containing msg, and checks that the live table is still the one of
// generation gen, served by want.
func refusedWith(t *testing.T, sp *strangler, msg string, gen uint64, want string) {
	t.Helper()
	eventually(t, "the reload to be refused with "+msg, func() bool {
		s := sp.status(t)
		return s.LastReload != nil && s.LastReload.Result == "failure" && strings.Contains(s.LastReload.Error, msg)
	})
	if g := sp.status(t).Generation; g != gen {
		t.Fatalf("generation %d after a refused file, want %d (unchanged)", g, gen)
	}
	if v := sp.metrics(t).value(t, "strangler_config_last_reload_successful"); v != 0 {
		t.Fatalf("strangler_config_last_reload_successful = %g with a refused file on disk, want 0", v)
	}
	for range 5 {
		if by := answeredBy(t, sp); by != want {
			t.Fatalf("with the refused file on disk /api/x was answered by %s, want %s (the old table)", by, want)
		}
	}
}

// TestReloadHalfWrittenFile writes routes.yaml in place in two steps, as a
// slow writer does, and lets the watcher see the first half: the half is
// refused and the old table keeps serving, and the whole file, once
// written, goes live.
func TestReloadHalfWrittenFile(t *testing.T) {
	t.Parallel()
	lg, svc := startStreamUpstream(t, "legacy"), startStreamUpstream(t, "service")
	cfg := newConfig(t, simpleTable(lg.url, svc.url, 0))
	sp := startStrangler(t, cfg)
	gen := sp.status(t).Generation

	full := simpleTable(lg.url, svc.url, 100)
	cut := strings.Index(full, "    service: svc")
	half, rest := full[:cut], full[cut:]
	halfPath := filepath.Join(t.TempDir(), "half.yaml")
	if err := os.WriteFile(halfPath, []byte(half), 0o644); err != nil {
		t.Fatal(err)
	}
	if p := start(t, "strangler", "validate", halfPath); p.wait(t, patience) != 1 {
		t.Fatalf("strangler validate accepts the first half of the file; the test needs a half that is not a table:\n%s", half)
	}

	f, err := os.OpenFile(cfg, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(half); err != nil {
		t.Fatal(err)
	}
	refusedWith(t, sp, "service is required", gen, "legacy")

	if _, err := f.WriteString(rest); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the whole file to go live", func() bool {
		s := sp.status(t)
		return s.Generation == gen+1 && s.LastReload.Result == "success"
	})
	if by := answeredBy(t, sp); by != "service" {
		t.Fatalf("with the whole file live /api/x was answered by %s, want the service", by)
	}
}

// TestReloadEmptyFile empties routes.yaml in place: refused with a clear
// error while the old table serves; a good file then goes live.
func TestReloadEmptyFile(t *testing.T) {
	t.Parallel()
	lg, svc := startStreamUpstream(t, "legacy"), startStreamUpstream(t, "service")
	cfg := newConfig(t, simpleTable(lg.url, svc.url, 100))
	sp := startStrangler(t, cfg)
	gen := sp.status(t).Generation

	if err := os.Truncate(cfg, 0); err != nil {
		t.Fatal(err)
	}
	refusedWith(t, sp, "empty configuration", gen, "service")
	if s := sp.status(t); !strings.Contains(s.LastReload.Error, filepath.Base(cfg)+":1:") {
		t.Fatalf("the error for an empty file is %q, want it to name the file and line 1", s.LastReload.Error)
	}

	sp.apply(t, cfg, simpleTable(lg.url, svc.url, 0))
	if by := answeredBy(t, sp); by != "legacy" {
		t.Fatalf("after the good file, /api/x was answered by %s, want legacy", by)
	}
}

// TestReloadSymlinkSwap lays routes.yaml out as Kubernetes mounts a
// ConfigMap: routes.yaml -> ..data/routes.yaml, ..data -> a timestamped
// directory, each update a new directory and ..data swapped to it by
// rename. Every swap goes live, including the second, after the directory
// the first pointed at is gone.
func TestReloadSymlinkSwap(t *testing.T) {
	t.Parallel()
	lg, svc := startStreamUpstream(t, "legacy"), startStreamUpstream(t, "service")
	dir := t.TempDir()
	version := 0
	publish := func(body string) {
		t.Helper()
		version++
		ts := fmt.Sprintf("..2026_11_23_14_00_%02d.%d", version, 1000+version)
		if err := os.Mkdir(filepath.Join(dir, ts), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, ts, "routes.yaml"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		old, _ := os.Readlink(filepath.Join(dir, "..data"))
		if err := os.Symlink(ts, filepath.Join(dir, "..data_tmp")); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
		if old != "" {
			if err := os.RemoveAll(filepath.Join(dir, old)); err != nil {
				t.Fatal(err)
			}
		}
	}
	publish(simpleTable(lg.url, svc.url, 0))
	cfg := filepath.Join(dir, "routes.yaml")
	if err := os.Symlink(filepath.Join("..data", "routes.yaml"), cfg); err != nil {
		t.Fatal(err)
	}
	sp := startStrangler(t, cfg)
	if by := answeredBy(t, sp); by != "legacy" {
		t.Fatalf("/api/x answered by %s at weight 0, want legacy", by)
	}

	for i, w := range []int{100, 0, 100} {
		gen := sp.status(t).Generation
		publish(simpleTable(lg.url, svc.url, w))
		eventually(t, fmt.Sprintf("swap %d to go live", i+1), func() bool {
			s := sp.status(t)
			return s.Generation > gen && s.weight(t, "api") == float64(w)
		})
		want := map[int]string{0: "legacy", 100: "service"}[w]
		if by := answeredBy(t, sp); by != want {
			t.Fatalf("after swap %d (weight %d) /api/x was answered by %s, want %s", i+1, w, by, want)
		}
	}
}

// TestSIGTERMStopsAcceptingAndDrains sends SIGTERM while a request is held
// by the upstream: the proxy stops accepting connections at once, the held
// request still completes when the upstream answers, and strangler then
// exits 0 within its grace period.
func TestSIGTERMStopsAcceptingAndDrains(t *testing.T) {
	t.Parallel()
	const grace = 10 * time.Second
	release := make(chan struct{})
	var held atomic.Int64
	up := startHoldingUpstream(t, release, &held)
	sp := startStrangler(t, newConfig(t, fmt.Sprintf("legacy: legacy\nupstreams:\n  legacy: {url: %s}\n", up)),
		"--shutdown-timeout", grace.String())

	type result struct {
		code int
		body string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		code, body, err := send(http.MethodGet, sp.proxy+"/slow", "")
		done <- result{code, string(body), err}
	}()
	eventually(t, "the request to be held at the upstream", func() bool { return held.Load() == 1 })
	signalled := time.Now()
	sp.signal(t, syscall.SIGTERM)

	eventually(t, "the proxy listener to refuse new connections", func() bool {
		c, err := net.DialTimeout("tcp", sp.proxyAddr, time.Second)
		if err != nil {
			return true
		}
		c.Close()
		return false
	})
	select {
	case r := <-done:
		t.Fatalf("the held request finished (%d %q %v) before the upstream answered", r.code, r.body, r.err)
	default:
	}
	close(release)
	select {
	case r := <-done:
		if r.err != nil || r.code != http.StatusOK || r.body != "released" {
			t.Fatalf("the request in flight at SIGTERM: %d %q %v, want the upstream's 200", r.code, r.body, r.err)
		}
	case <-time.After(patience):
		t.Fatal("the request in flight at SIGTERM never finished")
	}
	if code := sp.wait(t, grace); code != 0 {
		t.Fatalf("strangler exited %d after draining, want 0", code)
	}
	if took := time.Since(signalled); took >= grace {
		t.Fatalf("strangler took %s to exit with nothing left in flight, want well within the grace period %s", took, grace)
	}
}

// startHoldingUpstream answers every request 200 "released" once release
// is closed, counting the requests it holds meanwhile in held.
func startHoldingUpstream(t *testing.T, release chan struct{}, held *atomic.Int64) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		held.Add(1)
		defer held.Add(-1)
		select {
		case <-release:
			_, _ = w.Write([]byte("released"))
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestSIGTERMGivesWebSocketsTheGracePeriod sends SIGTERM while only a
// WebSocket is open. Go's server does not wait for upgraded connections, so
// without the proxy's own tracking strangler would exit at once and cut it:
// the WebSocket must keep working after the shutdown has begun, and
// strangler must exit 0 as soon as the client closes it, well before the
// grace period ends.
func TestSIGTERMGivesWebSocketsTheGracePeriod(t *testing.T) {
	t.Parallel()
	const grace = 60 * time.Second // longer than the test may take
	up := startStreamUpstream(t, "legacy")
	sp := startStrangler(t, newConfig(t, fmt.Sprintf("legacy: legacy\nupstreams:\n  legacy: {url: %s}\n", up.url)),
		"--shutdown-timeout", grace.String())
	ws := dialWS(t, sp.proxyAddr, "/ws/1")
	if got, err := ws.roundTrip("hello"); err != nil || got != "legacy: hello" {
		t.Fatalf("WebSocket before SIGTERM: %q %v", got, err)
	}
	sp.signal(t, syscall.SIGTERM)
	sp.waitLine(t, regexp.MustCompile(`waiting for upgraded connections to end.* open=1`))
	if code, body := call(t, http.MethodGet, sp.admin+"/readyz", ""); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz while draining: %d %s, want 503 so that load balancers stop sending traffic", code, body)
	}
	// Keep talking for a second of the shutdown: a strangler that did not
	// wait for the WebSocket would be gone within milliseconds.
	for i, until := 0, time.Now().Add(time.Second); i < 1000 && time.Now().Before(until); i++ {
		line := fmt.Sprintf("during shutdown %d", i)
		if got, err := ws.roundTrip(line); err != nil || got != "legacy: "+line {
			t.Fatalf("WebSocket exchange %d after SIGTERM: %q %v; want the echo while the grace period runs", i, got, err)
		}
	}
	select {
	case <-sp.done:
		t.Fatal("strangler exited while a WebSocket was open and the grace period running")
	default:
	}
	closed := time.Now()
	ws.c.Close()
	code := sp.wait(t, stopTimeout)
	t.Logf("exit code %d, %s after the client closed the WebSocket", code, time.Since(closed).Round(time.Millisecond))
	if code != 0 {
		t.Errorf("exit code %d after the last WebSocket ended, want 0", code)
	}
}

// TestSIGTERMShutdownDelayKeepsAccepting checks --shutdown-delay: after
// SIGTERM strangler answers /readyz with 503 but keeps serving new
// connections for the delay, so that requests a load balancer sends before
// it notices are not refused; then it stops and exits 0.
func TestSIGTERMShutdownDelayKeepsAccepting(t *testing.T) {
	t.Parallel()
	const delay = 5 * time.Second // ample for the checks below, even on a loaded machine
	up := startStreamUpstream(t, "legacy")
	sp := startStrangler(t, newConfig(t, fmt.Sprintf("legacy: legacy\nupstreams:\n  legacy: {url: %s}\n", up.url)),
		"--shutdown-delay", delay.String())
	signalled := time.Now()
	sp.signal(t, syscall.SIGTERM)
	sp.waitLine(t, regexp.MustCompile(`still accepting requests`))
	if code, body := call(t, http.MethodGet, sp.admin+"/readyz", ""); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz during the shutdown delay: %d %s, want 503", code, body)
	}
	conn, err := net.DialTimeout("tcp", sp.proxyAddr, 5*time.Second)
	if err != nil {
		t.Fatalf("a new connection during the shutdown delay: %v", err)
	}
	conn.Close()
	if code, body := call(t, http.MethodGet, sp.proxy+"/during-delay", ""); code != http.StatusOK || string(body) != "legacy" {
		t.Errorf("request during the shutdown delay: %d %s, want 200 from legacy", code, body)
	}
	code := sp.wait(t, delay+stopTimeout)
	took := time.Since(signalled)
	t.Logf("exit code %d, %s after SIGTERM", code, took.Round(time.Millisecond))
	if code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	if took < delay {
		t.Errorf("strangler exited %s after SIGTERM, before its shutdown delay of %s", took, delay)
	}
}

// TestSecondSignalStopsAtOnce sends SIGTERM with a long shutdown delay and
// grace period and an endless event stream open, then SIGINT: the second
// signal must end both waits, cut the stream and exit 0 at once.
func TestSecondSignalStopsAtOnce(t *testing.T) {
	t.Parallel()
	const long = time.Minute // longer than the test may take
	up := startStreamUpstream(t, "legacy")
	sp := startStrangler(t, newConfig(t, fmt.Sprintf("legacy: legacy\nupstreams:\n  legacy: {url: %s}\n", up.url)),
		"--shutdown-delay", long.String(), "--shutdown-timeout", long.String())
	sse := openSSE(t, sp.proxy, "/sse/1")
	sp.signal(t, syscall.SIGTERM)
	sp.waitLine(t, regexp.MustCompile(`still accepting requests`))
	again := time.Now()
	sp.signal(t, syscall.SIGINT)
	code := sp.wait(t, stopTimeout)
	t.Logf("exit code %d, %s after the second signal", code, time.Since(again).Round(time.Millisecond))
	if code != 0 {
		t.Errorf("exit code %d after a second signal, want 0", code)
	}
	eventually(t, "the event stream to end", sse.ended.Load)
}

// TestSIGTERMWithStreamsOpen sends SIGTERM while a WebSocket and an SSE
// stream are open, neither of which would ever end by itself: strangler
// gives them its grace period, then cuts them and exits 0, without waiting
// any longer.
func TestSIGTERMWithStreamsOpen(t *testing.T) {
	t.Parallel()
	const grace = time.Second
	up := startStreamUpstream(t, "legacy")
	sp := startStrangler(t, newConfig(t, fmt.Sprintf("legacy: legacy\nupstreams:\n  legacy: {url: %s}\n", up.url)),
		"--shutdown-timeout", grace.String())
	ws := dialWS(t, sp.proxyAddr, "/ws/1")
	sse := openSSE(t, sp.proxy, "/sse/1")
	if got, err := ws.roundTrip("hello"); err != nil || got != "legacy: hello" {
		t.Fatalf("WebSocket before SIGTERM: %q %v", got, err)
	}
	signalled := time.Now()
	sp.signal(t, syscall.SIGTERM)
	code := sp.wait(t, grace+stopTimeout)
	took := time.Since(signalled)
	t.Logf("exit code %d, %s after SIGTERM", code, took.Round(time.Millisecond))
	if took < grace || took > grace+3*time.Second {
		t.Fatalf("strangler exited %s after SIGTERM with streams open, want just after the grace period %s", took, grace)
	}
	if code != 0 {
		t.Errorf("exit code %d after cutting streams at the end of the grace period, want 0", code)
	}
	eventually(t, "the event stream to end", sse.ended.Load)
	if _, err := ws.roundTrip("after"); err == nil {
		t.Fatal("the WebSocket still echoes after strangler exited")
	}
}
