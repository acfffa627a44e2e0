package test

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The fault promise, end to end: an extracted service that refuses
// connections, resets a body half-way, swallows requests, answers slowly,
// answers 503 over and over, or silently drops its kept-alive connections
// gets the status README's Errors table names, moves the metric README's
// Fallback table names, and once the fault is gone strangler serves it
// again by itself: the breaker closes after open_for, nothing stays in
// flight, no connection stays stuck.

// faultTimeout and faultOpenFor are the service's timeout and breaker
// open_for in the fault tests; faultFailures failures in a row open it.
const (
	faultTimeout  = 300 * time.Millisecond
	faultOpenFor  = time.Second
	faultFailures = 3
)

// faultTable routes /fb (fallback on) and /nofb (fallback off) to the svc
// upstream at svcURL; everything else goes to the legacy upstream.
func faultTable(legacyURL, svcURL string) string {
	return fmt.Sprintf(`# written by strangler's end-to-end fault tests
legacy: legacy
upstreams:
  legacy: {url: %s}
  svc:
    url: %s
    timeout: %s
    breaker: {consecutive_failures: %d, open_for: %s, half_open_requests: 1}
    bulkhead: {max_concurrent: 32}
    retry: {attempts: 1}
routes:
  - {prefix: /fb, service: svc, name: fb}
  - {prefix: /nofb, service: svc, name: nofb, fallback: false}
`, legacyURL, svcURL, faultTimeout, faultFailures, faultOpenFor)
}

// faultRig is strangler in front of a legacy stub and a raw upstream.
type faultRig struct {
	sp *strangler
	up *rawUpstream
}

func startFaultRig(t *testing.T) *faultRig {
	t.Helper()
	up := startRawUpstream(t)
	sp := startStrangler(t, newConfig(t, faultTable(startLegacyStub(t), up.url)))
	return &faultRig{sp: sp, up: up}
}

// get sends GET path through the proxy and returns the status, the
// Retry-After header and the body; a transport error fails the test.
func (r *faultRig) get(t *testing.T, path string) (int, string, string) {
	t.Helper()
	code, retryAfter, body, err := r.try(path)
	if err != nil {
		t.Fatal(err)
	}
	return code, retryAfter, body
}

// try is get that returns a transport error rather than failing the test.
func (r *faultRig) try(path string) (int, string, string, error) {
	res, err := client.Get(r.sp.proxy + path)
	if err != nil {
		return 0, "", "", fmt.Errorf("GET %s: %w", path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, "", "", fmt.Errorf("GET %s: read body: %w", path, err)
	}
	return res.StatusCode, res.Header.Get("Retry-After"), string(b), nil
}

// wantLegacy sends GET path, which must be answered 200 by legacy.
func (r *faultRig) wantLegacy(t *testing.T, what, path string) {
	t.Helper()
	if code, _, body := r.get(t, path); code != http.StatusOK || body != "legacy" {
		t.Fatalf("%s: GET %s = %d %q, want legacy's 200", what, path, code, body)
	}
}

func (r *faultRig) breaker(t *testing.T) float64 {
	t.Helper()
	return r.sp.metrics(t).value(t, "strangler_circuit_breaker_state", "upstream", "svc")
}

// svcStatus is the svc upstream's part of /api/status.
type svcStatus struct {
	Name    string `json:"name"`
	Breaker struct {
		State               string `json:"state"`
		ConsecutiveFailures int    `json:"consecutive_failures"`
	} `json:"breaker"`
	Bulkhead struct {
		InFlight int64 `json:"in_flight"`
		Waiting  int64 `json:"waiting"`
	} `json:"bulkhead"`
	Targets []struct {
		Healthy  bool  `json:"healthy"`
		InFlight int64 `json:"in_flight"`
	} `json:"targets"`
}

func (r *faultRig) svc(t *testing.T) svcStatus {
	t.Helper()
	var s struct{ Upstreams []svcStatus }
	getJSON(t, r.sp.admin+"/api/status", &s)
	for _, u := range s.Upstreams {
		if u.Name == "svc" {
			return u
		}
	}
	t.Fatal("/api/status lists no upstream svc")
	return svcStatus{}
}

// openTries is how many times wantOpenThenRecover opens the breaker and
// checks it, when its checks could not be judged in time, before it gives
// up: a machine that slow cannot run the test.
const openTries = 3

// wantOpen checks that the breaker is open: its state is 2, the route
// without fallback answers strangler's 503 with Retry-After, and the route
// with fallback falls back for breaker_open without reaching the service.
// tripped is a time no later than the breaker opened: only answers given
// within open_for of it certainly met the open breaker. wantOpen reports
// false, having judged nothing, when an answer came later than that; it
// sends no request once that time has passed, since the breaker may
// then be half-open and let it through.
func (r *faultRig) wantOpen(t *testing.T, what string, tripped time.Time) bool {
	t.Helper()
	deadline := tripped.Add(faultOpenFor)
	inTime := func() bool { return time.Now().Before(deadline) }
	before, seen := r.sp.metrics(t), r.up.requests.Load()
	s := r.breaker(t)
	if !inTime() {
		return false
	}
	if s != 2 {
		t.Fatalf("%s: after %d failures in a row the breaker state is %g, want 2 (open)", what, faultFailures, s)
	}
	code, retryAfter, body, err := r.try("/nofb/x")
	if !inTime() {
		return false
	}
	if err != nil || code != http.StatusServiceUnavailable || retryAfter != "1" || !strings.Contains(body, `"status":503`) {
		t.Fatalf("%s, breaker open: GET /nofb/x = %d (Retry-After %q) %s, error %v; want strangler's 503 with Retry-After: 1", what, code, retryAfter, body, err)
	}
	code, _, body, err = r.try("/fb/x")
	if !inTime() {
		return false
	}
	if err != nil || code != http.StatusOK || body != "legacy" {
		t.Fatalf("%s, breaker open: GET /fb/x = %d %q, error %v; want legacy's 200", what, code, body, err)
	}
	if n := r.up.requests.Load() - seen; n != 0 {
		t.Fatalf("%s: the open breaker let %d requests through to the service", what, n)
	}
	eventually(t, what+": the breaker_open fallback to be counted", func() bool {
		return r.sp.metrics(t).delta(before, "strangler_fallbacks_total", "route", "fb", "reason", "breaker_open") == 1
	})
	return true
}

// tripAgain waits for the breaker to turn half-open once open_for is over
// and opens it again with trip, which must send one request that the still
// failing service fails: the half-open probe. It returns a time no later
// than the breaker opened again.
func (r *faultRig) tripAgain(t *testing.T, what string, trip func()) time.Time {
	t.Helper()
	eventually(t, what+": the breaker to turn half-open after open_for", func() bool { return r.breaker(t) == 1 })
	tripped := time.Now()
	trip()
	eventually(t, what+": the failed half-open probe to open the breaker again", func() bool { return r.breaker(t) == 2 })
	return tripped
}

// wantOpenThenRecover checks that the breaker is open (wantOpen), heals
// the upstream with heal, and waits for strangler to serve the service
// again by itself, with nothing left in flight and no connection held.
// tripped is a time no later than the breaker opened. When the open-state
// checks took longer than open_for, so that the breaker may have turned
// half-open under them, they are not judged: trip opens the breaker again
// (tripAgain) and they run once more, up to openTries times in all; a
// machine slower than that fails the test rather than passing it unchecked.
func (r *faultRig) wantOpenThenRecover(t *testing.T, what string, tripped time.Time, trip, heal func()) {
	t.Helper()
	for try := 1; !r.wantOpen(t, what, tripped); try++ {
		if try == openTries {
			t.Fatalf("%s: %d times the open-state checks took longer than open_for (%s) after the breaker opened; too slow to test", what, openTries, faultOpenFor)
		}
		t.Logf("%s: the open-state checks took longer than open_for (%s); opening the breaker again", what, faultOpenFor)
		tripped = r.tripAgain(t, what, trip)
	}

	heal()
	eventually(t, what+": the service to be served again once healed", func() bool {
		code, _, body := r.get(t, "/fb/x")
		return code == http.StatusOK && body == "service" && r.breaker(t) == 0
	})
	eventually(t, what+": nothing left in flight or held at the service", func() bool {
		s := r.svc(t)
		return s.Bulkhead.InFlight == 0 && s.Bulkhead.Waiting == 0 && len(s.Targets) == 1 &&
			s.Targets[0].InFlight == 0 && s.Targets[0].Healthy && r.up.held.Load() == 0
	})
	m := r.sp.metrics(t)
	if v := m.value(t, "strangler_upstream_healthy", "upstream", "svc", "target", r.up.url); v != 1 {
		t.Fatalf("%s: strangler_upstream_healthy of the svc target = %g after recovery, want 1", what, v)
	}
	if v := m.value(t, "strangler_bulkhead_inflight", "upstream", "svc"); v != 0 {
		t.Fatalf("%s: strangler_bulkhead_inflight{upstream=svc} = %g after recovery, want 0", what, v)
	}
}

// failNoFallback sends GET /nofb/x and ignores the answer: the failing
// service's, or an error.
func (r *faultRig) failNoFallback() { _, _, _, _ = r.try("/nofb/x") }

// failThenFallBack sends one GET to the route without fallback, which must
// answer code, and faultFailures-1 GETs to the route with fallback, which
// legacy must answer for reason; together they open the breaker. It
// returns the time the last of them was sent: the breaker opened after it.
func (r *faultRig) failThenFallBack(t *testing.T, what string, code int, body, reason string) time.Time {
	t.Helper()
	var tripped time.Time
	before := r.sp.metrics(t)
	began := time.Now()
	got, _, b := r.get(t, "/nofb/x")
	if got != code || !strings.Contains(b, body) {
		t.Fatalf("%s: GET /nofb/x = %d %s, want %d with %q", what, got, b, code, body)
	}
	if code == http.StatusGatewayTimeout && time.Since(began) < faultTimeout {
		t.Fatalf("%s: the 504 came after %s, before the route timeout %s", what, time.Since(began), faultTimeout)
	}
	for range faultFailures - 1 {
		tripped = time.Now()
		r.wantLegacy(t, what, "/fb/x")
	}
	eventually(t, what+": the metrics to count the failures", func() bool {
		m := r.sp.metrics(t)
		return m.delta(before, "strangler_requests_total", "route", "nofb", "side", extracted, "code", fmt.Sprint(code)) == 1 &&
			m.delta(before, "strangler_fallbacks_total", "route", "fb", "reason", reason) == faultFailures-1 &&
			m.delta(before, "strangler_requests_total", "route", "fb", "side", legacy, "code", "200") == faultFailures-1
	})
	return tripped
}

// TestFaultsRecover runs every fault against one strangler, one after the
// other; each must leave strangler able to serve the service again.
func TestFaultsRecover(t *testing.T) {
	t.Parallel()
	r := startFaultRig(t)
	if code, _, body := r.get(t, "/nofb/x"); code != http.StatusOK || body != "service" {
		t.Fatalf("before any fault: GET /nofb/x = %d %q, want the service's 200", code, body)
	}

	t.Run("connection refused", func(t *testing.T) {
		r.up.refuse()
		tripped := r.failThenFallBack(t, "refused", http.StatusBadGateway, `"upstream unavailable"`, "connect_error")
		r.wantOpenThenRecover(t, "refused", tripped, r.failNoFallback, func() { r.up.listenAgain(t) })
	})

	t.Run("blackhole", func(t *testing.T) {
		r.up.set(blackhole)
		tripped := r.failThenFallBack(t, "blackhole", http.StatusGatewayTimeout, `"status":504`, "timeout")
		r.wantOpenThenRecover(t, "blackhole", tripped, r.failNoFallback, func() { r.up.set(answerOK) })
	})

	t.Run("stream of 503", func(t *testing.T) {
		r.up.set(answer503)
		// Without fallback the client gets the service's own answer.
		tripped := r.failThenFallBack(t, "503s", http.StatusServiceUnavailable, `"upstream overloaded"`, "bad_status")
		r.wantOpenThenRecover(t, "503s", tripped, r.failNoFallback, func() { r.up.set(answerOK) })
	})

	t.Run("reset mid-body", func(t *testing.T) {
		r.up.set(resetMidBody)
		var tripped time.Time
		for i, path := range []string{"/nofb/x", "/fb/x", "/fb/x"} {
			tripped = time.Now()
			r.wantTruncated(t, fmt.Sprintf("reset %d, GET %s", i+1, path), path)
		}
		trip := func() { r.wantTruncated(t, "reset, half-open probe", "/nofb/x") }
		r.wantOpenThenRecover(t, "reset mid-body", tripped, trip, func() { r.up.set(answerOK) })
	})

	t.Run("slow body", func(t *testing.T) {
		// The timeout bounds the wait for headers, not a body that keeps
		// coming: a slow body arrives whole, and is no failure.
		r.up.set(slowBody)
		before := r.sp.metrics(t)
		began := time.Now()
		code, _, body := r.get(t, "/nofb/x")
		if took := time.Since(began); code != http.StatusOK || body != slowBodyWant() || took < faultTimeout {
			t.Fatalf("slow body: GET /nofb/x = %d %q after %s, want the whole slow body, longer than the timeout %s", code, body, took, faultTimeout)
		}
		r.wantLegacy(t, "slow body (control)", "/other")
		if s := r.svc(t); s.Breaker.State != "closed" || s.Breaker.ConsecutiveFailures != 0 || s.Bulkhead.InFlight != 0 {
			t.Fatalf("slow body: svc %+v, want a closed breaker without failures and nothing in flight", s)
		}
		if d := r.sp.metrics(t).delta(before, "strangler_fallbacks_total"); d != 0 {
			t.Fatalf("slow body: %g fallbacks, want none", d)
		}
		r.up.set(answerOK)
	})

	t.Run("connections dropped after each answer", func(t *testing.T) {
		// The service closes every connection after its answer without
		// Connection: close. Each request then finds a pooled connection
		// that is, or is about to be, dead: idempotent requests must
		// still all succeed, on a fresh connection, without a retry.
		r.up.set(closeAfterResponse)
		before := r.sp.metrics(t)
		for i := range 20 {
			dropped := r.up.dropped.Load()
			if code, _, body := r.get(t, "/nofb/x"); code != http.StatusOK || body != "service" {
				t.Fatalf("request %d to a service that drops its connections: %d %q, want the service's 200", i+1, code, body)
			}
			eventually(t, "the service to drop the connection", func() bool { return r.up.dropped.Load() > dropped })
		}
		m := r.sp.metrics(t)
		if d := m.delta(before, "strangler_requests_total", "route", "nofb", "code", "200"); d != 20 {
			t.Fatalf("%g requests counted 200, want 20", d)
		}
		if d := m.delta(before, "strangler_retries_total"); d != 0 {
			t.Fatalf("%g retries for a dropped idle connection, want none (a resend on a fresh connection is not a retry)", d)
		}
		if s := r.svc(t); s.Breaker.State != "closed" || s.Breaker.ConsecutiveFailures != 0 {
			t.Fatalf("dropped connections: svc breaker %+v, want closed without failures", s.Breaker)
		}
		r.up.set(answerOK)
	})
}

// wantTruncated sends GET path to a service that resets the body after its
// first chunk: the client gets the 200 and the first chunk, and then an
// error, never a clean end of a shortened body.
func (r *faultRig) wantTruncated(t *testing.T, what, path string) {
	t.Helper()
	res, err := client.Get(r.sp.proxy + path)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("%s: status %d, want the service's 200 (it was sent before the reset)", what, res.StatusCode)
	}
	br := bufio.NewReader(res.Body)
	line, err := br.ReadString('\n')
	if err != nil || line != firstChunk {
		t.Fatalf("%s: first chunk %q (%v), want %q", what, line, err, firstChunk)
	}
	r.up.reset <- struct{}{}
	rest, err := io.ReadAll(br)
	if err == nil {
		t.Fatalf("%s: the body ended cleanly after %q+%q; a reset upstream must not look like a complete answer", what, line, rest)
	}
}
