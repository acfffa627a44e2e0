package test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Shadow traffic on the real processes: payments not moved yet (weight 0)
// but shadowed, as config/routes.yaml has it. The payments service's fault
// switch alter_field is the demo's deliberate difference.

// shadowTable is the shop's routing table with payments shadowed, its
// route written as in config/routes.yaml.
func shadowTable(st *stack) string {
	return fmt.Sprintf(`# written by strangler's end-to-end shadow tests
legacy: monolith
upstreams:
  monolith: {url: %s}
  payments: {url: %s, timeout: 5s}
routes:
  - prefix: /api/payments
    service: payments
    weight: 0
    name: payments
    shadow:
      percent: 100
      methods: [GET, HEAD]
      ignore: [header:Date]
      max_body: 1MiB
`, st.monolith, st.payments)
}

// shadowReport is the part of /api/shadow/{route} the tests read.
type shadowReport struct {
	Route  string `json:"route"`
	Shadow struct {
		Match    int      `json:"match"`
		Mismatch int      `json:"mismatch"`
		Error    int      `json:"error"`
		Dropped  int      `json:"dropped"`
		Skipped  int      `json:"skipped"`
		Parity   *float64 `json:"parity"`
	} `json:"shadow"`
	Mismatches []struct {
		PrimarySide string `json:"primary_side"`
		Request     struct {
			Method string `json:"method"`
			Path   string `json:"path"`
		} `json:"request"`
		Primary struct {
			Status int    `json:"status"`
			Body   string `json:"body"`
		} `json:"primary"`
		Shadow struct {
			Status int    `json:"status"`
			Body   string `json:"body"`
		} `json:"shadow"`
		Differences []struct {
			Path    string `json:"path"`
			Primary string `json:"primary"`
			Shadow  string `json:"shadow"`
		} `json:"differences"`
	} `json:"mismatches"`
}

func (sp *strangler) shadow(t *testing.T, route string) shadowReport {
	t.Helper()
	var r shadowReport
	getJSON(t, sp.admin+"/api/shadow/"+route, &r)
	return r
}

// waitShadow waits until the route's match and mismatch counts are exactly
// these, and wants no copy failed, dropped or skipped.
func (sp *strangler) waitShadow(t *testing.T, route string, match, mismatch int) shadowReport {
	t.Helper()
	var r shadowReport
	eventually(t, fmt.Sprintf("%s shadow: %d matches and %d mismatches", route, match, mismatch), func() bool {
		r = sp.shadow(t, route)
		return r.Shadow.Match == match && r.Shadow.Mismatch == mismatch
	})
	if s := r.Shadow; s.Error != 0 || s.Dropped != 0 || s.Skipped != 0 {
		t.Errorf("%s shadow: %+v, want no errors, drops or skips", route, s)
	}
	m := sp.metrics(t)
	for result, want := range map[string]int{"match": match, "mismatch": mismatch} {
		if got := m.value(t, "strangler_shadow_requests_total", "route", route, "result", result); got != float64(want) {
			t.Errorf(`strangler_shadow_requests_total{route=%q,result=%q} = %v, want %d`, route, result, got, want)
		}
	}
	return r
}

// TestShadowPayments runs the demo's deliberate difference: the payments
// service answers like the monolith (matches), then alters amount_cents in
// its answers (mismatches at $.amount_cents, the client still served by the
// monolith), then answers like it again.
func TestShadowPayments(t *testing.T) {
	t.Parallel()
	st := startStack(t)
	sp := startStrangler(t, newConfig(t, shadowTable(st)))

	// A payment of the monolith's seed, and the list of its order.
	var p struct {
		ID          string `json:"id"`
		OrderID     string `json:"order_id"`
		AmountCents int64  `json:"amount_cents"`
	}
	getJSON(t, sp.proxy+"/api/payments/pay-100001", &p)
	if p.ID != "pay-100001" || p.OrderID == "" || p.AmountCents <= 0 {
		t.Fatalf("GET /api/payments/pay-100001 = %+v, want a seeded payment", p)
	}
	reads := []string{"/api/payments/pay-100001", "/api/payments?order_id=" + p.OrderID}
	readAll := func() {
		t.Helper()
		for _, path := range reads {
			if code, body := call(t, http.MethodGet, sp.proxy+path, ""); code != http.StatusOK {
				t.Fatalf("GET %s: %d %s", path, code, body)
			}
		}
	}
	readAll()
	r := sp.waitShadow(t, "payments", 3, 0)
	if r.Route != "payments" || r.Shadow.Parity == nil || *r.Shadow.Parity != 1 || len(r.Mismatches) != 0 {
		t.Fatalf("/api/shadow/payments = %+v, want parity 1 and no mismatches", r)
	}

	// The deliberate difference: the service adds 1 to every amount_cents.
	setFaults(t, st.payments, http.MethodPatch, `{"alter_field":"amount_cents"}`)
	readAll()
	r = sp.waitShadow(t, "payments", 3, 2)
	if len(r.Mismatches) != 2 {
		t.Fatalf("mismatches = %+v, want the two reads", r.Mismatches)
	}
	want := strconv.FormatInt(p.AmountCents, 10)
	altered := strconv.FormatInt(p.AmountCents+1, 10)
	// The two copies run on two workers: either may be logged first.
	one, list := r.Mismatches[0], r.Mismatches[1]
	if one.Request.Path != "/api/payments/pay-100001" {
		one, list = list, one
	}
	if one.Request.Method != http.MethodGet || one.Request.Path != "/api/payments/pay-100001" || one.PrimarySide != "legacy" ||
		one.Primary.Status != http.StatusOK || one.Shadow.Status != http.StatusOK {
		t.Errorf("mismatch of the payment: %+v", one)
	}
	if list.Request.Path != "/api/payments" || list.PrimarySide != "legacy" || len(list.Differences) == 0 {
		t.Errorf("mismatch of the list: %+v", list)
	}
	for _, d := range list.Differences {
		if !strings.HasSuffix(d.Path, ".amount_cents") {
			t.Errorf("the list differs at %s, want only amount_cents fields", d.Path)
		}
	}
	if len(one.Differences) != 1 || one.Differences[0].Path != "$.amount_cents" ||
		one.Differences[0].Primary != want || one.Differences[0].Shadow != altered {
		t.Errorf("differences = %+v, want one at $.amount_cents: %s against %s", one.Differences, want, altered)
	}
	var primary, shadowed struct {
		AmountCents int64 `json:"amount_cents"`
	}
	if json.Unmarshal([]byte(one.Primary.Body), &primary) != nil || json.Unmarshal([]byte(one.Shadow.Body), &shadowed) != nil ||
		primary.AmountCents != p.AmountCents || shadowed.AmountCents != p.AmountCents+1 {
		t.Errorf("bodies in the log: primary %s, shadow %s", one.Primary.Body, one.Shadow.Body)
	}
	// The client is still served by the monolith, unaltered.
	var again struct {
		AmountCents int64 `json:"amount_cents"`
	}
	getJSON(t, sp.proxy+"/api/payments/pay-100001", &again)
	if again.AmountCents != p.AmountCents {
		t.Errorf("the client got amount_cents %d while the service was altered, want the monolith's %d", again.AmountCents, p.AmountCents)
	}
	sp.waitShadow(t, "payments", 3, 3)

	// Faults cleared: matches again; the log keeps the past mismatches.
	setFaults(t, st.payments, http.MethodDelete, "")
	readAll()
	r = sp.waitShadow(t, "payments", 5, 3)
	if len(r.Mismatches) != 3 || *r.Shadow.Parity != 5.0/8 {
		t.Errorf("after the fix: %d mismatches logged, parity %v; want 3 and 5/8", len(r.Mismatches), *r.Shadow.Parity)
	}
}

// TestShadowShutdownWithHungShadowSide checks that SIGTERM is not held up
// by a shadow side that hangs: the real requests are drained within
// --shutdown-timeout, and copies still in flight are abandoned. The
// shadow side's timeout is 3s; strangler must exit well before that.
func TestShadowShutdownWithHungShadowSide(t *testing.T) {
	t.Parallel()
	legacy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":1}`)
	}))
	t.Cleanup(legacy.Close)
	arrived, release := make(chan struct{}, 16), make(chan struct{})
	hung := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(hung.Close)
	t.Cleanup(func() { close(release) }) // before Close, which waits for the handler
	sp := startStrangler(t, newConfig(t, fmt.Sprintf(`legacy: monolith
upstreams:
  monolith: {url: %s}
  payments: {url: %s, timeout: 3s}
routes:
  - {prefix: /api/payments, service: payments, weight: 0, name: payments, shadow: {}}
`, legacy.URL, hung.URL)), "--shutdown-timeout", "200ms")

	if code, body := call(t, http.MethodGet, sp.proxy+"/api/payments/1", ""); code != http.StatusOK {
		t.Fatalf("GET /api/payments/1: %d %s", code, body)
	}
	select {
	case <-arrived:
	case <-time.After(patience):
		t.Fatalf("the copy did not reach the shadow side within %s", patience)
	}
	start := time.Now()
	sp.signal(t, syscall.SIGTERM)
	code := sp.wait(t, stopTimeout)
	took := time.Since(start)
	if code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
	if took >= 2*time.Second {
		t.Fatalf("strangler took %s to exit after SIGTERM with --shutdown-timeout 200ms, because one shadow copy "+
			"was held by the shadow side (timeout 3s): serve's deferred Handler.Close waits for the shadow workers, "+
			"which do not cancel copies in flight; with the default timeout of 30s, exit takes 30s longer", took)
	}
}
