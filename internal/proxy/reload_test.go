package proxy

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// ordersConfig moves /api/orders to the orders backend with the given
// weight, written out so that the weight has a line of its own.
func ordersConfig(weight string) string {
	return `legacy: monolith
upstreams:
  monolith:
    url: {{.monolith}}
  orders:
    url: {{.orders}}
routes:
  - prefix: /api/orders
    service: orders
    name: orders
    weight: ` + weight + "\n"
}

// reloadMetrics is the expected text of the reload metrics.
func reloadMetrics(success, failure int, lastOK bool, generation uint64) string {
	ok := 0
	if lastOK {
		ok = 1
	}
	return fmt.Sprintf(`
# HELP strangler_config_generation Generation number of the live routing table; it grows by one with every successful reload.
# TYPE strangler_config_generation gauge
strangler_config_generation %d
# HELP strangler_config_last_reload_successful 1 when the last attempt to load routes.yaml succeeded, 0 when the file on disk is invalid and an older table is serving.
# TYPE strangler_config_last_reload_successful gauge
strangler_config_last_reload_successful %d
# HELP strangler_config_reloads_total Attempts to load routes.yaml, by result (success or failure). Unchanged files are not counted.
# TYPE strangler_config_reloads_total counter
strangler_config_reloads_total{result="failure"} %d
strangler_config_reloads_total{result="success"} %d
`, generation, ok, failure, success)
}

// reloadFixture is a harness with a Reloader of a routes.yaml in a temp
// directory.
type reloadFixture struct {
	*harness
	path string
	r    *Reloader
}

func newReloadFixture(t *testing.T) *reloadFixture {
	return newReloadFixtureWith(t, nil)
}

// newReloadFixtureWith is newReloadFixture with configure (when not nil)
// applied to the Handler before it serves.
func newReloadFixtureWith(t *testing.T, configure func(*Handler)) *reloadFixture {
	hs := newConfiguredHarness(t, configure, "monolith", "orders")
	path := configPath(t)
	return &reloadFixture{harness: hs, path: path, r: NewReloader(path, "", hs.handler, nil)}
}

// check compares the reload metrics, the live generation, the last reload
// result and which backend answers /api/orders/1.
func (f *reloadFixture) check(t *testing.T, success, failure int, lastResult string, gen uint64, backend string) ReloadResult {
	t.Helper()
	// Both results are exported from the start, at 0.
	want := reloadMetrics(success, failure, lastResult == "success", gen)
	if err := testutil.GatherAndCompare(f.reg, strings.NewReader(want),
		"strangler_config_reloads_total", "strangler_config_last_reload_successful", "strangler_config_generation"); err != nil {
		t.Error(err)
	}
	st := f.handler.Status(f.r)
	if st.Generation != gen {
		t.Errorf("Status().Generation = %d, want %d", st.Generation, gen)
	}
	if st.Config != f.path {
		t.Errorf("Status().Config = %q, want %q", st.Config, f.path)
	}
	if st.LastReload == nil || st.LastReload.Result != lastResult || st.LastReload.Generation != gen {
		t.Fatalf("Status().LastReload = %+v, want result %s at generation %d", st.LastReload, lastResult, gen)
	}
	if _, s := f.forward(t, "GET", "/api/orders/1", nil); s.Backend != backend {
		t.Errorf("/api/orders/1 answered by %s, want %s", s.Backend, backend)
	}
	return *st.LastReload
}

// TestReloader walks a Reloader through a good file, the same bytes
// again, a broken file, a fix, a missing file and the same good bytes
// restored.
func TestReloader(t *testing.T) {
	f := newReloadFixture(t)
	if _, ok := f.r.Last(); ok {
		t.Error("Last() reports an attempt before the first Reload")
	}

	// A good file: generation 1.
	f.writeConfig(t, f.path, ordersConfig("100"))
	if err := f.r.Reload(); err != nil {
		t.Fatalf("Reload(good): %v", err)
	}
	first := f.check(t, 1, 0, "success", 1, "orders")
	if first.Error != "" {
		t.Errorf("success carries error %q", first.Error)
	}
	if ts := testutil.ToFloat64(f.handler.metrics.lastOKTime); ts < float64(time.Now().Add(-time.Minute).Unix()) || ts > float64(time.Now().Unix()+1) {
		t.Errorf("strangler_config_last_reload_success_timestamp_seconds = %v, want about now", ts)
	}
	okTime := testutil.ToFloat64(f.handler.metrics.lastOKTime)

	// The same bytes: nothing happens, nothing is counted.
	if err := f.r.Reload(); err != nil {
		t.Fatalf("Reload(unchanged): %v", err)
	}
	if again := f.check(t, 1, 0, "success", 1, "orders"); !again.Time.Equal(first.Time) {
		t.Errorf("an unchanged file changed the last reload time: %v, then %v", first.Time, again.Time)
	}

	// A broken file: refused with file:line, the old table serves.
	f.writeConfig(t, f.path, ordersConfig("150"))
	weightLine := strings.Count(ordersConfig("150"), "\n")
	err := f.r.Reload()
	if err == nil {
		t.Fatal("Reload(weight 150) = nil, want an error")
	}
	for _, want := range []string{fmt.Sprintf("%s:%d:", f.path, weightLine), "weight", "150"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Reload(weight 150) = %q, want it to contain %q", err, want)
		}
	}
	failed := f.check(t, 1, 1, "failure", 1, "orders")
	if failed.Error != err.Error() {
		t.Errorf("LastReload.Error = %q, want %q", failed.Error, err)
	}
	if st := f.handler.Status(f.r); len(st.Routes) != 1 || st.Routes[0].Weight != 100 {
		t.Errorf("live routes after a refused reload = %+v, want orders at 100", st.Routes)
	}
	if got := testutil.ToFloat64(f.handler.metrics.lastOKTime); got != okTime {
		t.Errorf("a failed reload moved the last success time from %v to %v", okTime, got)
	}
	// The same broken bytes again: the same error, not counted again.
	if again := f.r.Reload(); again == nil || again.Error() != err.Error() {
		t.Errorf("Reload(unchanged broken file) = %v, want %v", again, err)
	}
	f.check(t, 1, 1, "failure", 1, "orders")

	// The fix: generation 2 serves.
	fixed := ordersConfig("0")
	f.writeConfig(t, f.path, fixed)
	if err := f.r.Reload(); err != nil {
		t.Fatalf("Reload(fixed): %v", err)
	}
	f.check(t, 2, 1, "success", 2, "monolith")

	// The file disappears: a failure, generation 2 still serves.
	if err := os.Remove(f.path); err != nil {
		t.Fatal(err)
	}
	if err := f.r.Reload(); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Reload(missing file) = %v, want fs.ErrNotExist", err)
	}
	f.check(t, 2, 2, "failure", 2, "monolith")

	// The same good bytes come back: they are loaded again.
	f.writeConfig(t, f.path, fixed)
	if err := f.r.Reload(); err != nil {
		t.Fatalf("Reload(restored): %v", err)
	}
	f.check(t, 3, 2, "success", 3, "monolith")
}

// TestReloadFirstFileBroken checks that a broken first file leaves the
// handler not ready and is reported.
func TestReloadFirstFileBroken(t *testing.T) {
	f := newReloadFixture(t)
	f.writeConfig(t, f.path, ordersConfig("-1"))
	if err := f.r.Reload(); err == nil {
		t.Fatal("Reload(weight -1) = nil, want an error")
	}
	if f.handler.Ready() {
		t.Error("Ready() after a refused first file")
	}
	res, body := f.do(t, "GET", "/api/orders/1", nil)
	checkErrorReply(t, res, body, http.StatusServiceUnavailable)
	st := f.handler.Status(f.r)
	if st.Ready || st.LastReload == nil || st.LastReload.Result != "failure" || st.LastReload.Generation != 0 {
		t.Errorf("Status() = %+v, want not ready with a failed last reload", st)
	}
}

// TestZeroFailuresDuringReload sends traffic from 8 clients while another
// goroutine rewrites the config 50 times and reloads it: weights 0, 50
// and 100, a route added and removed. Every response must be a 200 from
// one of the backends.
func TestZeroFailuresDuringReload(t *testing.T) {
	hs := newHarness(t, "monolith", "orders", "inventory")
	path := configPath(t)
	r := NewReloader(path, "", hs.handler, nil)
	config := func(i int) string {
		c := `legacy: monolith
upstreams:
  monolith: {url: "{{.monolith}}"}
  orders: {url: "{{.orders}}"}
  inventory: {url: "{{.inventory}}"}
routes:
  - {prefix: /api/orders, service: orders, weight: ` + []string{"0", "50", "100"}[i%3] + `}
`
		if i%2 == 1 {
			c += "  - {prefix: /api/inventory, service: inventory, weight: 100}\n"
		}
		return c
	}
	rendered := make([][]byte, 51)
	for i := range rendered {
		rendered[i] = hs.render(t, config(i))
	}
	writeFile(t, path, rendered[0])
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}

	const (
		clients   = 8
		perClient = 2000
		reloads   = 50
	)
	// The clients stop after perClient requests each or at the deadline,
	// but never before the last reload.
	deadline := time.Now().Add(5 * time.Second)
	reloaded := make(chan struct{})
	var served, failures atomic.Int64
	var wg sync.WaitGroup
	allowed := map[string][]string{
		"/api/orders/1":    {"monolith", "orders"},
		"/api/orders":      {"monolith", "orders"},
		"/api/inventory/2": {"monolith", "inventory"},
		"/home":            {"monolith"},
	}
	targets := slices.Sorted(maps.Keys(allowed))
	for c := range clients {
		wg.Go(func() {
			for i := 0; ; i++ {
				if i >= perClient || time.Now().After(deadline) {
					select {
					case <-reloaded:
						return
					default:
					}
				}
				target := targets[(c+i)%len(targets)]
				res, err := hs.client.Get(hs.front.URL + target)
				if err != nil {
					failures.Add(1)
					t.Errorf("GET %s: %v", target, err)
					return
				}
				res.Body.Close()
				backend := res.Header.Get("X-Backend")
				if res.StatusCode != http.StatusOK || !slices.Contains(allowed[target], backend) {
					failures.Add(1)
					t.Errorf("GET %s: status %d from %q", target, res.StatusCode, backend)
					return
				}
				served.Add(1)
			}
		})
	}

	// Spread the reloads over the traffic, so that every generation
	// serves requests, and read the status while tables are swapped.
	wg.Go(func() {
		defer close(reloaded)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for i := 1; i <= reloads; i++ {
			due := int64(i * clients * perClient / (reloads + 1))
			for served.Load() < due && failures.Load() == 0 && time.Now().Before(deadline) {
				_ = hs.handler.Status(r)
				<-tick.C
			}
			if failures.Load() != 0 {
				return
			}
			if err := os.WriteFile(path, rendered[i], 0o600); err != nil {
				t.Error(err)
				return
			}
			if err := r.Reload(); err != nil {
				t.Errorf("reload %d: %v", i, err)
				return
			}
		}
	})
	wg.Wait()
	if t.Failed() {
		return
	}
	st := hs.handler.Status(r)
	if st.Generation != reloads+1 {
		t.Errorf("generation = %d, want %d", st.Generation, reloads+1)
	}
	if served.Load() < reloads {
		t.Errorf("only %d requests served across %d reloads", served.Load(), reloads)
	}
	t.Logf("%d requests, %d reloads, no failure", served.Load(), reloads)
}

// TestRefuseHoldsUntilResume checks a refusal from outside (the demo's
// save it cannot copy): it shows as a failed reload, a Reload (SIGHUP, a
// late watcher event) does not replace it with the file it would read,
// and Resume reloads that file even though its bytes did not change.
func TestRefuseHoldsUntilResume(t *testing.T) {
	f := newReloadFixture(t)
	f.writeConfig(t, f.path, ordersConfig("100"))
	if err := f.r.Reload(); err != nil {
		t.Fatal(err)
	}
	refusal := errors.New("routes.yaml: --orders-port 9999: cannot move upstream \"orders\"")
	f.r.Refuse(refusal)
	for _, step := range []string{"after Refuse", "after a Reload"} {
		if step == "after a Reload" {
			if err := f.r.Reload(); !errors.Is(err, refusal) {
				t.Fatalf("Reload while refused = %v, want the refusal", err)
			}
		}
		if last, _ := f.r.Last(); last.Result != "failure" || last.Error != refusal.Error() {
			t.Fatalf("%s: last reload %+v, want the refusal", step, last)
		}
	}
	gen := f.r.handler.cur.Load().id
	if err := f.r.Resume(); err != nil {
		t.Fatalf("Resume: %v", err)
	}
	if last, _ := f.r.Last(); last.Result != "success" || last.Generation == gen {
		t.Fatalf("after Resume: last reload %+v, want a new generation loaded from the unchanged file (was %d)", last, gen)
	}
}
