package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestWithPorts(t *testing.T) {
	in := "legacy: monolith\nupstreams:\n  monolith:\n    url: http://127.0.0.1:8401   # the shop\n" +
		"  orders:\n    url: \"http://127.0.0.1:8411/base\"\n  payments: {url: 'http://localhost:8412', timeout: 5s}\n" +
		"  inventory:\n    url: http://127.0.0.1:8413\n"
	got := string(withPorts([]byte(in), demoPorts{"monolith": 9401, "orders": 9411, "payments": 9412}))
	want := "legacy: monolith\nupstreams:\n  monolith:\n    url: \"http://127.0.0.1:9401\"   # the shop\n" +
		"  orders:\n    url: \"http://127.0.0.1:9411/base\"\n  payments: {url: \"http://localhost:9412\", timeout: 5s}\n" +
		"  inventory:\n    url: http://127.0.0.1:8413\n"
	if got != want {
		t.Fatalf("withPorts =\n%s\nwant\n%s", got, want)
	}
	for _, bad := range []string{"legacy: [", "", "upstreams: 3\n"} {
		if got := string(withPorts([]byte(bad), demoPorts{"monolith": 1})); got != bad {
			t.Errorf("withPorts(%q) = %q, want it unchanged", bad, got)
		}
	}
}

func TestDemoRejectsBadPortFlag(t *testing.T) {
	var out, errOut lockedBuffer
	for _, arg := range []string{"--orders-port=70000", "--orders-port=x", "--monolith-port=-1"} {
		if code := runDemo(context.Background(), []string{arg}, &out, &errOut); code != exitUsage {
			t.Errorf("demo %s = exit %d, want %d; stderr %s", arg, code, exitUsage, errOut.String())
		}
	}
}

// TestDemoPortFlags runs the demo with every app moved off the ports of
// routes.yaml (as when 8401 is taken): the apps listen on the flag ports,
// the shop answers through the proxy, the user's routes.yaml is untouched,
// and an edit of it still reaches the proxy.
func TestDemoPortFlags(t *testing.T) {
	d := startDemo(t)
	shop, admin, user, data, ports, out, errOut, stop := d.shop, d.admin, d.config, d.original, d.ports, d.out, d.errOut, d.stop
	for i, name := range demoApps {
		if code, body := demoGet(fmt.Sprintf("http://127.0.0.1:%d/health/live", ports[i])); code != 200 {
			t.Errorf("%s on its flag port %d: %d %s", name, ports[i], code, body)
		}
		if !strings.Contains(out.String(), fmt.Sprintf("%s 127.0.0.1:%d", name, ports[i])) {
			t.Errorf("banner does not show %s on port %d:\n%s", name, ports[i], out.String())
		}
	}
	if code, body := demoGet(shop + "/api/inventory/items/sku-1001"); code != 200 {
		t.Fatalf("inventory through the proxy: %d %s", code, body)
	}
	if now, _ := os.ReadFile(user); !bytes.Equal(now, data) {
		t.Fatal("the demo changed the user's routes.yaml")
	}

	// The user raises orders from 25 to 100 in their file.
	edited := bytes.Replace(data, []byte("weight: 25"), []byte("weight: 100"), 1)
	if bytes.Equal(edited, data) {
		t.Fatal("config/routes.yaml no longer has orders at weight: 25; update the test")
	}
	if err := os.WriteFile(user, edited, 0o644); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the edit to reach the proxy", func() bool {
		_, body := demoGet(admin + "/api/status")
		var st struct {
			Routes []struct {
				Name   string  `json:"name"`
				Weight float64 `json:"weight"`
			} `json:"routes"`
		}
		if json.Unmarshal([]byte(body), &st) != nil {
			return false
		}
		for _, r := range st.Routes {
			if r.Name == "orders" {
				return r.Weight == 100
			}
		}
		return false
	})
	if code, body := demoGet(shop + "/api/inventory/items/sku-1001"); code != 200 {
		t.Fatalf("after the reload, inventory through the proxy: %d %s", code, body)
	}
	if code := stop(); code != exitOK {
		t.Fatalf("demo exit %d: %s", code, errOut.String())
	}
}

// demoConfigWith writes config/routes.yaml to a temporary directory with
// old replaced by new, and returns its path.
func demoConfigWith(t *testing.T, old, new string) string {
	t.Helper()
	data, err := os.ReadFile("../../config/routes.yaml")
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(data), old, new, 1)
	if edited == string(data) {
		t.Fatalf("config/routes.yaml no longer has %q; update the test", old)
	}
	path := filepath.Join(t.TempDir(), "routes.yaml")
	if err := os.WriteFile(path, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestDemoPortFlagTargets checks that --orders-port on an upstream that uses
// targets: instead of url: fails at once, as a flag error naming the
// upstream and the form, instead of binding the file's port.
func TestDemoPortFlagTargets(t *testing.T) {
	user := demoConfigWith(t, "    url: http://127.0.0.1:8411\n", "    targets: [http://127.0.0.1:8411]\n")
	port := freePorts(t, 1)[0]
	var out, errOut lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- runDemo(context.Background(), []string{"--config", user, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
			"--log-level", "error", "--orders-port", strconv.Itoa(port)}, &out, &errOut)
	}()
	select {
	case code := <-done:
		if code != exitUsage {
			t.Fatalf("exit %d, want %d; stderr %s", code, exitUsage, errOut.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the demo started instead of failing")
	}
	msg := errOut.String()
	for _, want := range []string{`--orders-port ` + strconv.Itoa(port), `upstream "orders"`, "targets: instead of url:", user} {
		if !strings.Contains(msg, want) {
			t.Errorf("stderr does not say %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "run the demo from the repository root") {
		t.Errorf("stderr gives the wrong hint:\n%s", msg)
	}
}

// TestCheckDemoPorts checks that each form withPorts cannot rewrite is
// reported with the upstream's name and the form, and that the forms it
// can rewrite, unflagged upstreams and texts that do not load pass.
func TestCheckDemoPorts(t *testing.T) {
	const head = "legacy: monolith\nroutes:\n  - {prefix: /api, service: svc}\nupstreams:\n  svc: {url: \"http://127.0.0.1:8499\"}\n"
	for _, tc := range []struct{ name, upstreams, want string }{
		{"plain", "  monolith:\n    url: http://127.0.0.1:8401\n", ""},
		{"flow", "  monolith: {url: 'http://127.0.0.1:8401', timeout: 5s}\n", ""},
		{"targets", "  monolith:\n    targets: [http://127.0.0.1:8401, http://127.0.0.1:8402]\n", "it uses targets: instead of url:"},
		{"alias", "  other:\n    url: &u http://127.0.0.1:8401\n  monolith:\n    url: *u\n", "its url is the alias *u"},
		{"alias upstream", "  other: &m\n    url: http://127.0.0.1:8401\n  monolith: *m\n", "its url comes through the alias *m"},
		{"merge", "  other: &m\n    url: http://127.0.0.1:8401\n  monolith:\n    <<: *m\n    timeout: 5s\n", "merge key"},
		{"block", "  monolith:\n    url: >-\n      http://127.0.0.1:8401\n", "its url is a block scalar"},
		{"literal", "  monolith:\n    url: |-\n      http://127.0.0.1:8401\n", "its url is a block scalar"},
		{"next line", "  monolith:\n    url:\n      http://127.0.0.1:8401\n", ""},
		{"already there", "  monolith:\n    url: >-\n      http://127.0.0.1:9401\n", ""},
		{"multiline", "  monolith:\n    url: \"http://127.0.0.1:\\\n      8401\"\n", "its url spans several lines"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			user := []byte(head + tc.upstreams)
			err := checkDemoPorts("routes.yaml", user, withPorts(user, demoPorts{"monolith": 9401}), demoPorts{"monolith": 9401})
			if tc.want == "" {
				if err != nil {
					t.Fatalf("error %v", err)
				}
				return
			}
			if _, ok := errors.AsType[*portFlagError](err); !ok {
				t.Fatalf("error %v (%T), want a *portFlagError", err, err)
			}
			for _, want := range []string{tc.want, `upstream "monolith"`, "--monolith-port 9401", "routes.yaml"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
		})
	}
	user := []byte(head + "  monolith:\n    targets: [http://127.0.0.1:8401]\n")
	if err := checkDemoPorts("routes.yaml", user, user, demoPorts{"orders": 9411}); err != nil {
		t.Errorf("unflagged upstream: %v", err)
	}
	if err := checkDemoPorts("routes.yaml", []byte("legacy: ["), []byte("legacy: ["), demoPorts{"monolith": 9401}); err != nil {
		t.Errorf("text that does not load: %v", err)
	}
}

// TestDemoPortFlagsNameUserFile checks that, with port flags, a routes.yaml
// refused at start is reported at the file and line the user edits, not at
// the copy the proxy serves.
func TestDemoPortFlagsNameUserFile(t *testing.T) {
	user := demoConfigWith(t, "weight: 25\n", "weight: 250\n")
	var out, errOut lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- runDemo(context.Background(), []string{"--config", user, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
			"--log-level", "error", "--orders-port", strconv.Itoa(freePorts(t, 1)[0])}, &out, &errOut)
	}()
	select {
	case code := <-done:
		if code != exitError {
			t.Fatalf("exit %d, want %d; stderr %s", code, exitError, errOut.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the demo started with an invalid routes.yaml")
	}
	msg := errOut.String()
	if !strings.Contains(msg, user+":") || !strings.Contains(msg, "weight must be between 0 and 100") {
		t.Errorf("stderr does not name %s and its line:\n%s", user, msg)
	}
	if strings.Contains(msg, "strangler-demo-") {
		t.Errorf("stderr names the copy of routes.yaml, which the user does not edit:\n%s", msg)
	}
}

// TestDemoPortFlagsStatusNamesUserFile checks that, with port flags,
// /api/status (and so the dashboard) names the routes.yaml the user edits,
// not the copy the proxy serves, and so does the error of a broken save,
// at the user's line.
func TestDemoPortFlagsStatusNamesUserFile(t *testing.T) {
	d := startDemo(t, "--traffic", "0")
	type status struct {
		Config     string `json:"config"`
		LastReload *struct {
			Result string `json:"result"`
			Error  string `json:"error"`
		} `json:"last_reload"`
	}
	read := func() status {
		var st status
		if _, body := demoGet(d.admin + "/api/status"); json.Unmarshal([]byte(body), &st) != nil {
			t.Fatalf("/api/status: %s", body)
		}
		return st
	}
	if st := read(); st.Config != d.config {
		t.Errorf("/api/status config = %q, want the user's %q", st.Config, d.config)
	}
	broken := bytes.Replace(d.original, []byte("weight: 25\n"), []byte("weight: 250\n"), 1)
	line := bytes.Count(broken[:bytes.Index(broken, []byte("weight: 250"))], []byte("\n")) + 1
	if err := os.WriteFile(d.config, broken, 0o644); err != nil {
		t.Fatal(err)
	}
	var st status
	eventually(t, "the broken save to be refused", func() bool {
		st = read()
		return st.LastReload != nil && st.LastReload.Result == "failure"
	})
	if want := fmt.Sprintf("%s:%d: ", d.config, line); !strings.Contains(st.LastReload.Error, want) {
		t.Errorf("reload error %q does not name %q", st.LastReload.Error, want)
	}
	if strings.Contains(d.errOut.String(), "strangler-demo-") {
		t.Errorf("the log names the copy of routes.yaml:\n%s", d.errOut.String())
	}

	// A save the copy cannot follow (the orders url as a block scalar,
	// which --orders-port cannot rewrite) is refused where the user looks,
	// not only in the log; the next good save is applied.
	good := d.original
	unmovable := bytes.Replace(good, []byte("url: http://127.0.0.1:8411\n"), []byte("url: >-\n      http://127.0.0.1:8411\n"), 1)
	if bytes.Equal(unmovable, good) {
		t.Fatal("the orders url is not where the test expects it in config/routes.yaml")
	}
	for _, save := range []struct {
		data   []byte
		result string
		says   string
	}{
		{good, "success", ""},
		{unmovable, "failure", "--orders-port"},
		{good, "success", ""},
	} {
		if err := os.WriteFile(d.config, save.data, 0o644); err != nil {
			t.Fatal(err)
		}
		eventually(t, "a "+save.result+" on /api/status", func() bool {
			st = read()
			return st.LastReload != nil && st.LastReload.Result == save.result
		})
		if !strings.Contains(st.LastReload.Error, save.says) {
			t.Errorf("reload error %q, want it to name %q", st.LastReload.Error, save.says)
		}
	}
}
