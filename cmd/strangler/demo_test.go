package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer safe for the demo's writes and the test's
// reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// demoGet returns the status and body of a GET, or 0 when it failed.
func demoGet(url string) (int, string) {
	res, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// freePorts returns n distinct loopback ports free a moment ago.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// demoRun is a demo started by startDemo.
type demoRun struct {
	shop, admin string            // base URLs of the proxy and the admin listener
	config      string            // the copy of config/routes.yaml it serves
	original    []byte            // config/routes.yaml as read
	apps        map[string]string // each app's base URL, by name
	ports       []int             // each app's port, in demoApps order
	out, errOut *lockedBuffer
	stop        func() int // ends the demo and returns its exit code (also called when the test ends)
}

// startDemo runs the demo on free ports with a copy of config/routes.yaml
// and the extra flags, and waits for its banner.
func startDemo(t *testing.T, extra ...string) *demoRun {
	t.Helper()
	data, err := os.ReadFile("../../config/routes.yaml")
	if err != nil {
		t.Fatal(err)
	}
	d := &demoRun{config: filepath.Join(t.TempDir(), "routes.yaml"), original: data, apps: map[string]string{},
		ports: freePorts(t, len(demoApps)), out: &lockedBuffer{}, errOut: &lockedBuffer{}}
	if err := os.WriteFile(d.config, data, 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"--config", d.config, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--reload-debounce", "20ms",
		"--shutdown-timeout", "5s", "--log-level", "warn"}
	for i, port := range d.ports {
		args = append(args, "--"+demoApps[i]+"-port", strconv.Itoa(port))
		d.apps[demoApps[i]] = fmt.Sprintf("http://127.0.0.1:%d", port)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- runDemo(ctx, append(args, extra...), d.out, d.errOut) }()
	code, stopped := 0, false
	d.stop = func() int {
		if !stopped {
			stopped = true
			cancel()
			select {
			case code = <-done:
			case <-time.After(15 * time.Second):
				t.Fatal("demo did not stop")
			}
		}
		return code
	}
	t.Cleanup(func() { d.stop() })
	banner := regexp.MustCompile(`Shop, through the proxy\s+(http://\S+)/\s+Migration dashboard\s+(http://\S+)/`)
	eventually(t, "the demo's banner", func() bool {
		select {
		case code := <-done:
			t.Fatalf("demo exited with %d: %s", code, d.errOut.String())
		default:
		}
		m := banner.FindStringSubmatch(d.out.String())
		if m != nil {
			d.shop, d.admin = m[1], m[2]
		}
		return m != nil
	})
	return d
}
