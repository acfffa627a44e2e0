package main

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"
)

// TestLoopbackAdminRefusesForeignHostNames checks the defence against DNS
// rebinding: on a loopback admin listener, a request whose Host is a name
// other than localhost (a page's own domain, pointed at 127.0.0.1) is
// refused, while IP addresses and localhost are served, and the proxy
// listener is not affected.
func TestLoopbackAdminRefusesForeignHostNames(t *testing.T) {
	legacy, orders := backend(t, "legacy"), backend(t, "orders")
	cfg := filepath.Join(t.TempDir(), "routes.yaml")
	writeConfig(t, cfg, config(legacy.URL, orders.URL, 0))
	ctx, cancel := context.WithCancel(context.Background())
	proxyAddr, adminAddr, done := startProxy(t, ctx, cfg)
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("runProxy did not return after cancel")
		}
	}()

	client := &http.Client{Timeout: 10 * time.Second}
	status := func(addr, host, path string) int {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	for _, tc := range []struct {
		host string
		want int
	}{
		{"attacker.example:80", http.StatusForbidden},
		{"attacker.example", http.StatusForbidden},
		{"localhost.attacker.example", http.StatusForbidden},
		{adminAddr, http.StatusOK},
		{"localhost", http.StatusOK},
		{"LOCALHOST:9090", http.StatusOK},
		{"dashboard.localhost", http.StatusOK},
		{"[::1]:9090", http.StatusOK},
	} {
		for _, path := range []string{"/api/status", "/"} {
			if got := status(adminAddr, tc.host, path); got != tc.want {
				t.Errorf("admin %s with Host %q: %d, want %d", path, tc.host, got, tc.want)
			}
		}
	}
	if got := status(proxyAddr, "shop.example", "/api/orders/1"); got != http.StatusOK {
		t.Errorf("proxy with Host shop.example: %d, want 200", got)
	}
}
