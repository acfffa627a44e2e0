package test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// TestAccessLogAndAdminToken runs strangler serve with an access log and
// an admin token in front of the bundled shop: every request is one JSON
// line naming who answered, with the trace id sent upstream, and the
// admin API answers only with the token.
func TestAccessLogAndAdminToken(t *testing.T) {
	st := startStack(t)
	dir := t.TempDir()
	logPath := filepath.Join(dir, "access.log")
	tokenPath := filepath.Join(dir, "admin-token")
	if err := os.WriteFile(tokenPath, []byte("tok-123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sp := startStrangler(t, newConfig(t, routesYAML(st, 100)),
		"--access-log", logPath, "--admin-token-file", tokenPath)

	const trace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	if code, body := call(t, "GET", sp.proxy+"/api/orders", "",
		"X-Request-ID", "e2e-req-1", "Traceparent", trace, "X-Customer-ID", "cus-100001"); code != http.StatusOK {
		t.Fatalf("GET /api/orders: %d %s", code, body)
	}
	if code, body := call(t, "GET", sp.proxy+"/api/customers/cus-100002", "", "X-Request-ID", "e2e-req-2"); code != http.StatusOK {
		t.Fatalf("GET /api/customers/cus-100002: %d %s", code, body)
	}

	type record struct {
		RequestID string `json:"request_id"`
		TraceID   string `json:"trace_id"`
		Path      string `json:"path"`
		Route     string `json:"route"`
		Side      string `json:"side"`
		Upstream  string `json:"upstream"`
		Status    int    `json:"status"`
	}
	byID := map[string]record{}
	eventually(t, "both requests in the access log", func() bool {
		b, err := os.ReadFile(logPath)
		if err != nil {
			return false
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			var r record
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Fatalf("access log line %q: %v", sc.Bytes(), err)
			}
			byID[r.RequestID] = r
		}
		return len(byID) >= 2
	})
	if r := byID["e2e-req-1"]; r.TraceID != "0af7651916cd43dd8448eb211c80319c" || r.Route != "orders" ||
		r.Side != "extracted" || r.Upstream != "orders" || r.Status != 200 || r.Path != "/api/orders" {
		t.Errorf("orders record = %+v", r)
	}
	if r := byID["e2e-req-2"]; len(r.TraceID) != 32 || r.Route != "default" || r.Side != "legacy" || r.Upstream != "monolith" {
		t.Errorf("customers record = %+v", r)
	}

	for _, p := range []string{"/api/status", "/api/dashboard", "/metrics"} {
		if code, _ := call(t, "GET", sp.admin+p, ""); code != http.StatusUnauthorized {
			t.Errorf("GET %s without the token: %d, want 401", p, code)
		}
		if code, _ := call(t, "GET", sp.admin+p, "", "Authorization", "Bearer tok-123"); code != http.StatusOK {
			t.Errorf("GET %s with the token: %d, want 200", p, code)
		}
	}
	if code, _ := call(t, "GET", sp.admin+"/readyz", ""); code != http.StatusOK {
		t.Errorf("GET /readyz without the token: %d, want 200", code)
	}
}
