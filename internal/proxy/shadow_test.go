package proxy

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strangler-proxy/strangler/internal/shadow"
)

// Shadow traffic through the Handler: real loopback backends on both sides
// of a route, the copy checked where it lands, the result checked in
// strangler_shadow_requests_total, in Handler.ShadowReport and at the admin
// listener's /api/shadow/{route}. Copies are sent after the answer, so every
// check of a result polls (eventually) and never sleeps.

// answer is what a twin backend replies.
type answer struct {
	status int
	header map[string]string
	body   string
}

// twin is a backend for shadow tests: it answers what answerFor says and
// records every request it receives, real or copy (X-Strangler-Shadow:
// true). Copies can be held: while hold is open they block until it is
// closed or the copy is cancelled, and copiesInFlight and peakInFlight count
// them.
type twin struct {
	name      string
	url       string
	answerFor func(r *http.Request, body string) answer

	hold     chan struct{} // nil: copies are answered at once
	holdOnce sync.Once

	arrived        chan string // the path of each copy, as it arrives (buffered, never blocks)
	copiesInFlight atomic.Int64
	peakInFlight   atomic.Int64

	mu   sync.Mutex
	seen []seenRequest
}

// startTwin serves a twin on 127.0.0.1 until the test ends. With hold, its
// copies block until release (or the end of the test, which releases them
// before the server is closed, so that Close does not wait for them).
func startTwin(t *testing.T, name string, hold bool, answerFor func(r *http.Request, body string) answer) *twin {
	tw := &twin{name: name, answerFor: answerFor, arrived: make(chan string, 1024)}
	if hold {
		tw.hold = make(chan struct{})
	}
	tw.url = startServer(t, tw).URL
	t.Cleanup(tw.release) // runs before the server's Close
	return tw
}

// startTwins starts the legacy and service twins of a shadow test and
// names them in the harness's config data; the service may hold its copies.
func startTwins(t *testing.T, hs *harness, legacyAnswer, svcAnswer func(r *http.Request, body string) answer, holdSvc bool) (legacy, svc *twin) {
	legacy = startTwin(t, "legacy", false, legacyAnswer)
	svc = startTwin(t, "svc", holdSvc, svcAnswer)
	hs.urls["legacy"], hs.urls["svc"] = legacy.url, svc.url
	return legacy, svc
}

// twinsConfig starts a routes.yaml with the twins as upstreams; the
// routes follow.
const twinsConfig = `legacy: legacy
upstreams:
  legacy: {url: "{{.legacy}}"}
  svc: {url: "{{.svc}}"}
routes:
`

func (tw *twin) release() {
	if tw.hold != nil {
		tw.holdOnce.Do(func() { close(tw.hold) })
	}
}

func (tw *twin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s := seenRequest{
		Backend: tw.name, Method: r.Method, Path: r.URL.Path, RequestURI: r.RequestURI,
		RawQuery: r.URL.RawQuery, Host: r.Host, Header: r.Header.Clone(), Body: string(body),
	}
	tw.mu.Lock()
	tw.seen = append(tw.seen, s)
	tw.mu.Unlock()
	if isCopy(s) {
		select {
		case tw.arrived <- r.URL.Path:
		default:
		}
		if tw.hold != nil {
			n := tw.copiesInFlight.Add(1)
			for {
				p := tw.peakInFlight.Load()
				if n <= p || tw.peakInFlight.CompareAndSwap(p, n) {
					break
				}
			}
			select {
			case <-tw.hold:
			case <-r.Context().Done():
			}
			tw.copiesInFlight.Add(-1)
		}
	}
	a := tw.answerFor(r, string(body))
	for k, v := range a.header {
		w.Header().Set(k, v)
	}
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.Header().Set("X-Backend", tw.name) // not compared: only Content-Type is
	if a.status == 0 {
		a.status = http.StatusOK
	}
	w.WriteHeader(a.status)
	_, _ = io.WriteString(w, a.body)
}

func isCopy(s seenRequest) bool { return s.Header.Get(HeaderShadow) == "true" }

// requests returns what the twin received: the real requests and the copies.
func (tw *twin) requests() (direct, copies []seenRequest) {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	for _, s := range tw.seen {
		if isCopy(s) {
			copies = append(copies, s)
		} else {
			direct = append(direct, s)
		}
	}
	return direct, copies
}

// sameAnswer is the answer both sides give unless a test says otherwise:
// it depends on the last path segment and the query only, so that a
// rewritten path on the service side gives the same body.
func sameAnswer(r *http.Request, _ string) answer {
	return answer{body: fmt.Sprintf(`{"id":%q,"query":%q,"price":10}`, path.Base(r.URL.Path), r.URL.RawQuery)}
}

// newShadowHarness is a harness (no echo backends) whose Handler is closed
// at the end of the test, after every twin started later has been released
// and closed.
func newShadowHarness(t *testing.T) *harness {
	hs := newHarness(t)
	t.Cleanup(func() {
		if err := hs.handler.Close(); err != nil {
			t.Errorf("Handler.Close: %v", err)
		}
	})
	return hs
}

// counts are a route's shadow results.
type counts struct{ match, mismatch, error, dropped, skipped uint64 }

func countsOf(st *ShadowStatus) counts {
	return counts{st.Match, st.Mismatch, st.Error, st.Dropped, st.Skipped}
}

// report returns the live shadow report of route; the route must have a
// shadow.
func report(t *testing.T, hs *harness, route string) ShadowReport {
	t.Helper()
	rep, ok := hs.handler.ShadowReport(route)
	if !ok {
		t.Fatalf("ShadowReport(%q): no live route of that name with a shadow", route)
	}
	return rep
}

// waitCounts waits until the route's shadow results are exactly want, then
// checks that strangler_shadow_requests_total says the same for every
// result and that parity is match / (match + mismatch).
func waitCounts(t *testing.T, hs *harness, route string, want counts) ShadowReport {
	t.Helper()
	var rep ShadowReport
	eventually(t, fmt.Sprintf("route %s shadow results %+v", route, want), func() error {
		rep = report(t, hs, route)
		if got := countsOf(rep.Shadow); got != want {
			return fmt.Errorf("got %+v", got)
		}
		return nil
	})
	checkShadowMetrics(t, hs, route, want)
	checkParity(t, rep.Shadow)
	return rep
}

func checkShadowMetrics(t *testing.T, hs *harness, route string, want counts) {
	t.Helper()
	for result, n := range map[string]uint64{
		"match": want.match, "mismatch": want.mismatch, "error": want.error,
		"dropped": want.dropped, "skipped": want.skipped,
	} {
		v, ok, err := metricValue(hs.reg, "strangler_shadow_requests_total", map[string]string{"route": route, "result": result})
		if err != nil || !ok || v != float64(n) {
			t.Errorf(`strangler_shadow_requests_total{route=%q,result=%q} = %v (present %v, err %v), want %d`, route, result, v, ok, err, n)
		}
	}
}

func checkParity(t *testing.T, st *ShadowStatus) {
	t.Helper()
	n := st.Match + st.Mismatch
	switch {
	case n == 0 && st.Parity != nil:
		t.Errorf("parity = %v before any comparison, want null", *st.Parity)
	case n > 0 && (st.Parity == nil || *st.Parity != float64(st.Match)/float64(n)):
		t.Errorf("parity = %v, want %d/%d", st.Parity, st.Match, n)
	}
}

// call sends a request through the proxy and returns the response with
// its body read, within waitLimit: a client that waited for a held copy
// fails here rather than hanging. A body is sent as text/plain unless
// header says otherwise.
func call(t *testing.T, hs *harness, method, target string, header http.Header, body string) (*http.Response, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitLimit)
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, hs.front.URL+target, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "text/plain")
	}
	maps.Copy(req.Header, header)
	res, err := hs.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, target, err)
	}
	return res, string(b)
}

// get sends a GET through the proxy and wants 200 with the body want.
func get(t *testing.T, hs *harness, target string, header http.Header, want string) *http.Response {
	t.Helper()
	res, body := call(t, hs, http.MethodGet, target, header, "")
	if res.StatusCode != http.StatusOK || body != want {
		t.Fatalf("GET %s: %d %s, want 200 %s", target, res.StatusCode, body, want)
	}
	return res
}

// jsonType is the header of a JSON request body.
var jsonType = http.Header{"Content-Type": {"application/json"}}

// itemsConfig moves /api/items (name items, rewritten to /v2/items on the
// service) at weight to the svc twin, with the given shadow block.
func itemsConfig(weight float64, shadowBlock string) string {
	return fmt.Sprintf(`
legacy: legacy
upstreams:
  legacy: {url: "{{.legacy}}"}
  svc: {url: "{{.svc}}"}
routes:
  - prefix: /api/items
    service: svc
    name: items
    rewrite: /v2/items
    weight: %g
    shadow: %s
`, weight, shadowBlock)
}

// TestShadowIdenticalAnswersMatch checks that copies go to the side that
// did not answer, marked, with the client's request (query, headers, the
// request id, the service's rewrite), and that identical answers count as
// matches with parity 1: at weight 0 legacy answers and the service gets
// the copy; at weight 100 the other way round.
func TestShadowIdenticalAnswersMatch(t *testing.T) {
	hs := newShadowHarness(t)
	legacy, svc := startTwins(t, hs, sameAnswer, sameAnswer, false)
	hs.apply(t, itemsConfig(0, "{}"))

	hdr := http.Header{"X-Customer-Id": {"c-7"}}
	for i := range 4 {
		get(t, hs, fmt.Sprintf("/api/items/%d?x=%d", i, i), hdr, fmt.Sprintf(`{"id":"%d","query":"x=%d","price":10}`, i, i))
	}
	res, _ := call(t, hs, http.MethodHead, "/api/items/head", nil, "")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("HEAD: %d", res.StatusCode)
	}
	rep := waitCounts(t, hs, "items", counts{match: 5})
	if rep.Route != "items" || len(rep.Mismatches) != 0 || rep.Shadow.Parity == nil || *rep.Shadow.Parity != 1 {
		t.Errorf("report = %+v, want route items, parity 1, no mismatches", rep)
	}
	if st := rep.Shadow; st.Percent != 100 || !slices.Equal(st.Methods, []string{"GET", "HEAD"}) || st.MaxBody != 1<<20 {
		t.Errorf("shadow settings in the report = %+v, want the defaults", st)
	}

	legacyReal, legacyCopies := legacy.requests()
	svcReal, svcCopies := svc.requests()
	if len(legacyReal) != 5 || len(legacyCopies) != 0 || len(svcReal) != 0 || len(svcCopies) != 5 {
		t.Fatalf("weight 0: legacy got %d requests and %d copies, svc %d and %d; want 5 real at legacy, 5 copies at svc",
			len(legacyReal), len(legacyCopies), len(svcReal), len(svcCopies))
	}
	for _, c := range svcCopies {
		// Find the real request this copy is of, by request id.
		i := slices.IndexFunc(legacyReal, func(s seenRequest) bool {
			return s.Header.Get("X-Request-Id") == c.Header.Get("X-Request-Id")
		})
		if i < 0 {
			t.Errorf("copy %s %s carries request id %q, which no real request had", c.Method, c.RequestURI, c.Header.Get("X-Request-Id"))
			continue
		}
		r := legacyReal[i]
		if want := strings.Replace(r.RequestURI, "/api/items", "/v2/items", 1); c.RequestURI != want || c.Method != r.Method {
			t.Errorf("copy of %s %s reached svc as %s %s, want %s (the service's rewrite)", r.Method, r.RequestURI, c.Method, c.RequestURI, want)
		}
		if r.Method == http.MethodGet && c.Header.Get("X-Customer-Id") != "c-7" {
			t.Errorf("copy of %s lost the client's X-Customer-ID: %v", r.RequestURI, c.Header)
		}
		if got := c.Header.Values(HeaderShadow); len(got) != 1 || got[0] != "true" {
			t.Errorf("copy %s: %s = %q, want one value true", c.RequestURI, HeaderShadow, got)
		}
	}

	// Weight 100: the service answers and legacy gets the copies, with the
	// original path. The route keeps its name, so the counts go on.
	hs.apply(t, itemsConfig(100, "{}"))
	for i := range 3 {
		res := get(t, hs, fmt.Sprintf("/api/items/w%d", i), nil, fmt.Sprintf(`{"id":"w%d","query":"","price":10}`, i))
		if res.Header.Get("X-Backend") != "svc" {
			t.Fatalf("weight 100: answered by %q, want svc", res.Header.Get("X-Backend"))
		}
	}
	waitCounts(t, hs, "items", counts{match: 8})
	_, legacyCopies = legacy.requests()
	svcReal, svcCopies = svc.requests()
	if len(legacyCopies) != 3 || len(svcReal) != 3 || len(svcCopies) != 5 {
		t.Fatalf("weight 100: legacy got %d copies, svc %d real requests and %d copies; want 3 copies at legacy, 3 real at svc",
			len(legacyCopies), len(svcReal), len(svcCopies))
	}
	for _, c := range legacyCopies {
		if !strings.HasPrefix(c.RequestURI, "/api/items/w") || c.Method != http.MethodGet {
			t.Errorf("copy to legacy: %s %s, want GET /api/items/w... (the original path)", c.Method, c.RequestURI)
		}
	}
	for _, r := range svcReal {
		if isCopy(r) {
			t.Errorf("real request %s carries %s", r.RequestURI, HeaderShadow)
		}
	}
}

// diffAnswers are the answers of the mismatch test: legacy and the service
// agree on /noise (but for an ignored field and Date) and /format (but for
// key order, number formatting and Content-Type spelling), and disagree on
// /price.
func diffAnswers(side string) func(r *http.Request, _ string) answer {
	return func(r *http.Request, _ string) answer {
		switch c := path.Base(r.URL.Path); {
		case c == "price" && side == "legacy":
			return answer{body: `{"id":1,"price":10,"generated_at":"t1"}`,
				header: map[string]string{"Set-Cookie": "sid=s3cr3t-set-cookie"}}
		case c == "price":
			return answer{body: `{"id":1,"price":11,"generated_at":"t1"}`}
		case c == "noise" && side == "legacy":
			return answer{body: `{"id":1,"price":10,"generated_at":"2026-11-23T13:40:02Z"}`,
				header: map[string]string{"Date": "Mon, 23 Nov 2026 13:40:02 GMT"}}
		case c == "noise":
			return answer{body: `{"id":1,"price":10,"generated_at":"2026-11-23T13:40:03Z"}`,
				header: map[string]string{"Date": "Tue, 24 Nov 2026 00:00:00 GMT"}}
		case c == "format" && side == "legacy":
			return answer{body: `{"id":1,"price":10,"tags":["a","b"],"generated_at":"t1"}`,
				header: map[string]string{"Content-Type": "application/json; charset=utf-8"}}
		case c == "format":
			return answer{body: "{\n  \"generated_at\": \"t1\", \"tags\": [\"a\", \"b\"],\n  \"price\": 1e1, \"id\": 1.0\n}\n",
				header: map[string]string{"Content-Type": "application/json;charset=UTF-8"}}
		}
		return answer{status: http.StatusNotFound, body: `{"error":"no such case"}`}
	}
}

// TestShadowMismatch checks that a changed JSON field is a mismatch whose
// diff names the field and both values; that the mismatch log, read with
// Handler.ShadowReport and at GET /api/shadow/{route}, holds the request
// with Authorization and Cookie redacted; that ignored fields and headers do
// not count; and that key order, number formatting and Content-Type spelling
// are no difference.
func TestShadowMismatch(t *testing.T) {
	hs := newShadowHarness(t)
	startTwins(t, hs, diffAnswers("legacy"), diffAnswers("svc"), false)
	hs.apply(t, twinsConfig+`  - prefix: /api/items
    service: svc
    name: items
    weight: 0
    shadow: {ignore: ["body:$.generated_at", "header:Date"]}
  - prefix: /api/strict
    service: svc
    weight: 0
    shadow: {}
`)
	admin := startServer(t, NewAdmin(AdminOptions{Handler: hs.handler, Gatherer: hs.reg}))

	secrets := http.Header{
		"Authorization": {"Bearer s3cr3t-authorization"},
		"Cookie":        {"session=s3cr3t-cookie"},
		"X-Customer-Id": {"c-42"},
	}
	res := get(t, hs, "/api/items/price?currency=eur", secrets, `{"id":1,"price":10,"generated_at":"t1"}`)
	requestID := res.Header.Get("X-Request-Id")
	rep := waitCounts(t, hs, "items", counts{mismatch: 1})

	// The same report, as JSON at the admin listener.
	code, body := adminGet(t, admin.URL+"/api/shadow/items")
	if code != http.StatusOK {
		t.Fatalf("GET /api/shadow/items: %d %s", code, body)
	}
	var fromAdmin ShadowReport
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&fromAdmin); err != nil {
		t.Fatalf("/api/shadow/items body %s: %v", body, err)
	}
	if strings.Contains(body, "s3cr3t") {
		t.Errorf("/api/shadow/items shows a secret:\n%s", body)
	}
	if len(fromAdmin.Mismatches) != 1 || len(rep.Mismatches) != 1 {
		t.Fatalf("mismatches: %d at the admin listener, %d from ShadowReport; want 1:\n%s", len(fromAdmin.Mismatches), len(rep.Mismatches), body)
	}
	if a, b := fromAdmin.Mismatches[0], rep.Mismatches[0]; a.RequestID != b.RequestID || !slices.Equal(a.Differences, b.Differences) {
		t.Errorf("the admin listener and ShadowReport disagree:\n%+v\n%+v", a, b)
	}
	m := fromAdmin.Mismatches[0]
	if want := []shadow.Difference{{Path: "$.price", Primary: "10", Shadow: "11"}}; !slices.Equal(m.Differences, want) {
		t.Errorf("differences = %+v, want %+v", m.Differences, want)
	}
	checks := []struct{ what, got, want string }{
		{"request_id", m.RequestID, requestID},
		{"primary_side", m.PrimarySide, "legacy"},
		{"request method", m.Request.Method, "GET"},
		{"request path", m.Request.Path, "/api/items/price"},
		{"request query", m.Request.Query, "currency=eur"},
		{"Authorization", strings.Join(m.Request.Header.Values("Authorization"), ","), shadow.Redacted},
		{"Cookie", strings.Join(m.Request.Header.Values("Cookie"), ","), shadow.Redacted},
		{"X-Customer-ID", m.Request.Header.Get("X-Customer-Id"), "c-42"},
		{HeaderShadow, m.Request.Header.Get(HeaderShadow), ""},
		{"primary body", m.Primary.Body, `{"id":1,"price":10,"generated_at":"t1"}`},
		{"shadow body", m.Shadow.Body, `{"id":1,"price":11,"generated_at":"t1"}`},
		{"primary Set-Cookie", strings.Join(m.Primary.Header.Values("Set-Cookie"), ","), shadow.Redacted},
		{"primary status", fmt.Sprint(m.Primary.Status), "200"},
		{"shadow status", fmt.Sprint(m.Shadow.Status), "200"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("mismatch %s = %q, want %q", c.what, c.got, c.want)
		}
	}

	// Ignored noise and formatting are matches; a second real difference
	// is the newest entry of the log.
	get(t, hs, "/api/items/noise", nil, `{"id":1,"price":10,"generated_at":"2026-11-23T13:40:02Z"}`)
	get(t, hs, "/api/items/format", nil, `{"id":1,"price":10,"tags":["a","b"],"generated_at":"t1"}`)
	waitCounts(t, hs, "items", counts{match: 2, mismatch: 1})
	get(t, hs, "/api/items/price?n=2", nil, `{"id":1,"price":10,"generated_at":"t1"}`)
	rep = waitCounts(t, hs, "items", counts{match: 2, mismatch: 2})
	if len(rep.Mismatches) != 2 || rep.Mismatches[0].Request.Query != "n=2" || rep.Mismatches[1].Request.Query != "currency=eur" {
		t.Errorf("mismatch log = %+v, want the two /price requests, newest first", rep.Mismatches)
	}

	// Without the ignore rule, the same noise is a mismatch at the field.
	get(t, hs, "/api/strict/noise", nil, `{"id":1,"price":10,"generated_at":"2026-11-23T13:40:02Z"}`)
	rep = waitCounts(t, hs, "/api/strict", counts{mismatch: 1})
	if d := rep.Mismatches[0].Differences; len(d) != 1 || d[0].Path != "$.generated_at" {
		t.Errorf("strict route differences = %+v, want one at $.generated_at", d)
	}
	// A route name with slashes works as it is, and an unknown one is 404.
	if code, body := adminGet(t, admin.URL+"/api/shadow//api/strict"); code != http.StatusOK || !strings.Contains(body, `"$.generated_at"`) {
		t.Errorf("GET /api/shadow//api/strict: %d %s", code, body)
	}
	if code, body := adminGet(t, admin.URL+"/api/shadow/nope"); code != http.StatusNotFound {
		t.Errorf("GET /api/shadow/nope: %d %s, want 404", code, body)
	}
	// /api/status carries the same counts.
	for _, rs := range hs.handler.Status(nil).Routes {
		if rs.Name == "items" && (rs.Shadow == nil || countsOf(rs.Shadow) != (counts{match: 2, mismatch: 2})) {
			t.Errorf("/api/status route items shadow = %+v", rs.Shadow)
		}
	}
}

func adminGet(t *testing.T, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(b)
}

// echoAnswer repeats the method and body, the same on both sides: 201 to
// a POST, 200 otherwise.
func echoAnswer(r *http.Request, body string) answer {
	a := answer{body: fmt.Sprintf(`{"method":%q,"body":%q}`, r.Method, body)}
	if r.Method == http.MethodPost {
		a.status = http.StatusCreated
	}
	return a
}

// TestShadowWrites checks that a POST is not copied by default (the other
// side never receives it), and that with methods: [POST] it is, with the
// same body and Content-Type, while a GET on that route is not.
func TestShadowWrites(t *testing.T) {
	hs := newShadowHarness(t)
	legacy, svc := startTwins(t, hs, echoAnswer, echoAnswer, false)
	hs.apply(t, twinsConfig+`  - {prefix: /api/reads, service: svc, weight: 0, name: reads, shadow: {}}
  - {prefix: /api/writes, service: svc, weight: 0, name: writes, shadow: {methods: [post]}}
`)

	// Default methods: the POST stays with legacy. The GET after it is the
	// witness: once its copy is counted, a copy of the POST would have
	// been queued before it.
	if res, body := call(t, hs, http.MethodPost, "/api/reads", jsonType, `{"sku":"a"}`); res.StatusCode != http.StatusCreated {
		t.Fatalf("POST /api/reads: %d %s", res.StatusCode, body)
	}
	get(t, hs, "/api/reads/1", nil, `{"method":"GET","body":""}`)
	waitCounts(t, hs, "reads", counts{match: 1})
	if _, copies := svc.requests(); len(copies) != 1 || copies[0].Method != http.MethodGet {
		t.Fatalf("svc got copies %+v, want only the GET's", copies)
	}

	// methods: [POST]: the copy carries the same body and Content-Type.
	const body = `{"sku":"b","qty":2}`
	if res, got := call(t, hs, http.MethodPost, "/api/writes/new?x=1", jsonType, body); res.StatusCode != http.StatusCreated || res.Header.Get("X-Backend") != "legacy" {
		t.Fatalf("POST /api/writes: %d from %q: %s", res.StatusCode, res.Header.Get("X-Backend"), got)
	}
	waitCounts(t, hs, "writes", counts{match: 1})
	// A GET on the POST-only route is not copied; the next POST is the
	// witness.
	get(t, hs, "/api/writes/2", nil, `{"method":"GET","body":""}`)
	call(t, hs, http.MethodPost, "/api/writes/new", jsonType, `{}`)
	waitCounts(t, hs, "writes", counts{match: 2})

	legacyReal, legacyCopies := legacy.requests()
	_, copies := svc.requests()
	if len(legacyCopies) != 0 || len(legacyReal) != 5 {
		t.Errorf("legacy got %d real requests and %d copies, want 5 and 0", len(legacyReal), len(legacyCopies))
	}
	if len(copies) != 3 {
		t.Fatalf("svc got %d copies, want 3 (a GET of reads, two POSTs of writes): %+v", len(copies), copies)
	}
	c := copies[1]
	if c.Method != http.MethodPost || c.RequestURI != "/api/writes/new?x=1" || c.Body != body || c.Header.Get("Content-Type") != "application/json" {
		t.Errorf("copy of the POST = %s %s %q Content-Type %q, want POST /api/writes/new?x=1 %q application/json",
			c.Method, c.RequestURI, c.Body, c.Header.Get("Content-Type"), body)
	}
	if copies[2].Method != http.MethodPost {
		t.Errorf("third copy is a %s, want the POST (the GET on writes is not copied)", copies[2].Method)
	}
}

// holdConfig moves /api/items at weight 0 to a held svc, which gets every
// copy; max_body as given.
func holdConfig(maxBody string) string {
	return `
legacy: legacy
upstreams:
  legacy: {url: "{{.legacy}}"}
  svc: {url: "{{.svc}}", timeout: 30s}
routes:
  - {prefix: /api/items, service: svc, weight: 0, name: items, shadow: {max_body: ` + maxBody + `}}
`
}

// TestShadowNeverDelaysTheClient checks that the client's answer never
// waits for the copy, not even when the pool and its queue are full: with a
// shadow side that hangs (it holds every copy until the test ends), each of
// more requests than the workers plus the queue hold gets its full answer
// while copies are provably still blocked in the shadow handler. A proxy
// that waited for the copy, or blocked on a full queue, would never answer
// the first of them (the call fails at its deadline). No duration is
// measured: the proof is the order of events.
func TestShadowNeverDelaysTheClient(t *testing.T) {
	hs := newShadowHarness(t)
	_, svc := startTwins(t, hs, sameAnswer, sameAnswer, true)
	hs.apply(t, holdConfig("1MiB"))
	ask := func(i int) {
		t.Helper()
		get(t, hs, fmt.Sprintf("/api/items/%d", i), nil, fmt.Sprintf(`{"id":"%d","query":"","price":10}`, i))
	}
	held := func() int64 { return svc.copiesInFlight.Load() }

	// Fill the pool: the copy of request i is taken by a worker and blocks
	// in the shadow handler before request i+1 is sent, and request i+1 is
	// answered while copies 0..i are held.
	for i := range shadowWorkers {
		ask(i)
		waitFor(t, svc.arrived, fmt.Sprintf("the copy of request %d blocked at the shadow side", i))
		eventually(t, fmt.Sprintf("%d copies held", i+1), func() error {
			if n := held(); n != int64(i+1) {
				return fmt.Errorf("%d held", n)
			}
			return nil
		})
	}
	// Every worker is blocked and the queue is empty. Fill the queue and
	// overflow it: every one of these answers arrives while all the
	// workers' copies are still held.
	more := shadowQueueLen + 2*shadowWorkers
	for i := range more {
		ask(shadowWorkers + i)
		if n := held(); n != shadowWorkers {
			t.Fatalf("request %d answered with %d copies held at the shadow side, want all %d workers blocked", shadowWorkers+i, n, shadowWorkers)
		}
	}
	// The queue took exactly shadowQueueLen copies; the rest were dropped,
	// none was compared, and the shadow side got no copy beyond the held
	// ones: the hang was never released.
	eventually(t, "the overflow to be counted as dropped", func() error {
		if c := countsOf(report(t, hs, "items").Shadow); c != (counts{dropped: uint64(more - shadowQueueLen)}) {
			return fmt.Errorf("results %+v", c)
		}
		return nil
	})
	if _, copies := svc.requests(); len(copies) != shadowWorkers || held() != shadowWorkers {
		t.Fatalf("the shadow side received %d copies, %d held; want the %d held ones only", len(copies), held(), shadowWorkers)
	}

	// Released, the held and queued copies are answered, compared and
	// match.
	svc.release()
	waitCounts(t, hs, "items", counts{match: uint64(shadowWorkers + shadowQueueLen), dropped: uint64(more - shadowQueueLen)})
}

// TestShadowQueueBound checks the bounds of a route's shadow lane with a
// shadow side that holds every copy: at most 8 copies in flight, the rest
// queued up to 256 copies (or 16 MiB held, in flight included), anything
// beyond dropped and counted; every client request is still answered; and
// once released, every copy that was not dropped is compared.
func TestShadowQueueBound(t *testing.T) {
	for _, tc := range []struct {
		name             string
		requests         int
		bodySize         int    // bytes of each answer
		maxBody          string // the route's max_body
		heldMin, heldMax int    // how many copies the lane holds, in flight and queued
	}{
		// 400 small answers: 8 in flight, 256 queued, the rest dropped;
		// copies that arrive before a lane goroutine took its first one
		// find a queue of 256 with fewer than 8 in flight.
		{"count", 400, 40, "1MiB", shadowQueueLen, shadowWorkers + shadowQueueLen},
		// 1 MiB answers (and their headers): the lane's 16 MiB hold 15.
		{"bytes", 80, 1 << 20, "1MiB", shadowLaneBytes/(1<<20) - 1, shadowLaneBytes / (1 << 20)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs := newShadowHarness(t)
			body := strings.Repeat("x", tc.bodySize)
			fixed := func(*http.Request, string) answer {
				return answer{header: map[string]string{"Content-Type": "text/plain"}, body: body}
			}
			_, svc := startTwins(t, hs, fixed, fixed, true)
			hs.apply(t, holdConfig(tc.maxBody))

			for i := range tc.requests {
				if code, n := getSize(t, hs, fmt.Sprintf("/api/items/%d", i)); code != http.StatusOK || n != int64(tc.bodySize) {
					t.Fatalf("request %d: %d with %d bytes, want 200 with %d", i, code, n, tc.bodySize)
				}
			}
			least, most := uint64(tc.requests-tc.heldMax), uint64(tc.requests-tc.heldMin)
			var dropped uint64
			eventually(t, "dropped copies to be counted", func() error {
				dropped = report(t, hs, "items").Shadow.Dropped
				if dropped < least {
					return fmt.Errorf("dropped %d, want at least %d", dropped, least)
				}
				return nil
			})
			if dropped > most {
				t.Errorf("dropped %d of %d copies, want at most %d: the lane holds %d", dropped, tc.requests, most, tc.heldMin)
			}
			eventually(t, "every lane goroutine to hold a copy", func() error {
				if n := svc.copiesInFlight.Load(); n != shadowWorkers {
					return fmt.Errorf("%d copies in flight at the shadow side", n)
				}
				return nil
			})
			if p := svc.peakInFlight.Load(); p > shadowWorkers {
				t.Errorf("up to %d copies in flight at the shadow side, want at most %d", p, shadowWorkers)
			}

			svc.release()
			waitCounts(t, hs, "items", counts{match: uint64(tc.requests) - dropped, dropped: dropped})
			if p := svc.peakInFlight.Load(); p > shadowWorkers {
				t.Errorf("up to %d copies in flight at the shadow side, want at most %d", p, shadowWorkers)
			}
			if _, copies := svc.requests(); len(copies) != tc.requests-int(dropped) {
				t.Errorf("svc got %d copies, want %d", len(copies), tc.requests-int(dropped))
			}
		})
	}
}

// TestShadowHungRouteDoesNotStarveOthers checks that each route has its own
// lane: with one route's shadow side holding every copy and its lane full
// (copies dropped), another route's copies are still all sent and
// compared. A queue shared by all routes would drop them until the held
// copies time out.
func TestShadowHungRouteDoesNotStarveOthers(t *testing.T) {
	hs := newShadowHarness(t)
	_, svc := startTwins(t, hs, sameAnswer, sameAnswer, true)
	other := startTwin(t, "other", false, sameAnswer)
	hs.urls["other"] = other.url
	hs.apply(t, `
legacy: legacy
upstreams:
  legacy: {url: "{{.legacy}}"}
  svc: {url: "{{.svc}}", timeout: 30s}
  other: {url: "{{.other}}"}
routes:
  - {prefix: /api/items, service: svc, weight: 0, name: items, shadow: {}}
  - {prefix: /api/other, service: other, weight: 0, name: other, shadow: {}}
`)
	overflow := shadowWorkers + shadowQueueLen + 16
	for i := range overflow {
		get(t, hs, fmt.Sprintf("/api/items/%d", i), nil, fmt.Sprintf(`{"id":"%d","query":"","price":10}`, i))
	}
	eventually(t, "the held route to drop copies", func() error {
		if d := report(t, hs, "items").Shadow.Dropped; d < 16 {
			return fmt.Errorf("dropped %d", d)
		}
		return nil
	})
	const n = 20
	for i := range n {
		get(t, hs, fmt.Sprintf("/api/other/%d", i), nil, fmt.Sprintf(`{"id":"%d","query":"","price":10}`, i))
	}
	waitCounts(t, hs, "other", counts{match: n})
	if held := svc.copiesInFlight.Load(); held != shadowWorkers {
		t.Errorf("%d copies held at the hung side, want %d: the check ran before the lane filled", held, shadowWorkers)
	}
}

// TestShadowHungLanesDoNotStarveOthers checks the queue's shared bound:
// five routes whose shadow side holds every 1 MiB copy fill the 64 MiB all
// lanes share, and another route with copies as large, whose lane is
// empty, still gets each of them sent and compared, one at a time.
func TestShadowHungLanesDoNotStarveOthers(t *testing.T) {
	hs := newShadowHarness(t)
	body := strings.Repeat("x", 1<<20)
	large := func(*http.Request, string) answer {
		return answer{header: map[string]string{"Content-Type": "text/plain"}, body: body}
	}
	_, svc := startTwins(t, hs, large, large, true)
	other := startTwin(t, "other", false, large)
	hs.urls["other"] = other.url
	cfg := strings.Replace(twinsConfig, "routes:\n", "  other: {url: \"{{.other}}\"}\nroutes:\n", 1) +
		"  - {prefix: /api/other, service: other, weight: 0, name: other, shadow: {max_body: 2MiB}}\n"
	const hung = 5
	for i := range hung {
		cfg += fmt.Sprintf("  - {prefix: /api/r%d, service: svc, weight: 0, name: r%d, shadow: {max_body: 2MiB}}\n", i, i)
	}
	hs.apply(t, cfg)
	for i := range hung {
		for j := range 16 {
			if code, n := getSize(t, hs, fmt.Sprintf("/api/r%d/%d", i, j)); code != http.StatusOK || n != int64(len(body)) {
				t.Fatalf("r%d request %d: %d with %d bytes", i, j, code, n)
			}
		}
	}
	// More than 64 MiB were asked for (five lanes of 15): the shared
	// bound dropped some.
	var dropped uint64
	for i := range hung {
		dropped += report(t, hs, fmt.Sprintf("r%d", i)).Shadow.Dropped
	}
	if dropped <= hung {
		t.Fatalf("the hung lanes dropped %d copies, want the shared 64 MiB bound to be reached", dropped)
	}
	// The other route's copies are as large: the room the hung lanes
	// left in the shared bound (less than one copy) does not take them.
	const n = 10
	for i := range n {
		if code, size := getSize(t, hs, fmt.Sprintf("/api/other/%d", i)); code != http.StatusOK || size != int64(len(body)) {
			t.Fatalf("other request %d: %d with %d bytes", i, code, size)
		}
		waitCounts(t, hs, "other", counts{match: uint64(i + 1)})
	}
	if held := svc.copiesInFlight.Load(); held < (hung-1)*shadowWorkers {
		t.Errorf("%d copies held at the hung side, want the hung lanes still held", held)
	}
}

// getSize sends a GET through the proxy within waitLimit and returns the
// status and the length of the body, read without keeping it.
func getSize(t *testing.T, hs *harness, target string) (int, int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitLimit)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, hs.front.URL+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := hs.client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	defer res.Body.Close()
	n, err := io.Copy(io.Discard, res.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", target, err)
	}
	return res.StatusCode, n
}

// TestShadowSkipped checks what is not compared: answers and request bodies
// over max_body are counted as skipped (an answer the client got too large
// is never sent to the other side), percent: 0 copies nothing, and a
// request the service could not take that legacy served instead is skipped.
func TestShadowSkipped(t *testing.T) {
	t.Run("max_body", func(t *testing.T) {
		hs := newShadowHarness(t)
		sized := func(side string) func(*http.Request, string) answer {
			return func(r *http.Request, _ string) answer {
				n := 100
				if c := path.Base(r.URL.Path); c == "large" || c == "shadow-large" && side == "svc" {
					n = 4 << 10
				}
				return answer{body: `"` + strings.Repeat("x", n-2) + `"`}
			}
		}
		_, svc := startTwins(t, hs, sized("legacy"), sized("svc"), false)
		hs.apply(t, twinsConfig+`  - {prefix: /api/big, service: svc, weight: 0, name: big, shadow: {max_body: 1KiB, methods: [GET, POST]}}
`)
		// The client's answer is 4 KiB: skipped at once, nothing sent.
		if res, body := call(t, hs, http.MethodGet, "/api/big/large", nil, ""); res.StatusCode != http.StatusOK || len(body) != 4<<10 {
			t.Fatalf("GET /api/big/large: %d with %d bytes, want the whole 4 KiB", res.StatusCode, len(body))
		}
		waitCounts(t, hs, "big", counts{skipped: 1})
		// A 4 KiB request body: skipped at once too.
		if res, _ := call(t, hs, http.MethodPost, "/api/big/post", nil, strings.Repeat("y", 4<<10)); res.StatusCode != http.StatusOK {
			t.Fatalf("POST /api/big/post: %d", res.StatusCode)
		}
		waitCounts(t, hs, "big", counts{skipped: 2})
		if _, copies := svc.requests(); len(copies) != 0 {
			t.Errorf("svc got copies %+v of requests too large to compare", copies)
		}
		// The client's answer is small, the shadow's 4 KiB: sent, then
		// skipped.
		get(t, hs, "/api/big/shadow-large", nil, `"`+strings.Repeat("x", 98)+`"`)
		get(t, hs, "/api/big/small", nil, `"`+strings.Repeat("x", 98)+`"`)
		waitCounts(t, hs, "big", counts{match: 1, skipped: 3})
		if _, copies := svc.requests(); len(copies) != 2 {
			t.Errorf("svc got %d copies, want 2 (shadow-large and small)", len(copies))
		}
	})

	t.Run("percent 0", func(t *testing.T) {
		hs := newShadowHarness(t)
		_, svc := startTwins(t, hs, sameAnswer, sameAnswer, false)
		hs.apply(t, twinsConfig+`  - {prefix: /api/none, service: svc, weight: 0, name: none, shadow: {percent: 0}}
  - {prefix: /api/all, service: svc, weight: 0, name: all, shadow: {percent: 100}}
`)
		for i := range 50 {
			get(t, hs, fmt.Sprintf("/api/none/%d", i), nil, fmt.Sprintf(`{"id":"%d","query":"","price":10}`, i))
		}
		// The witness: a copy queued after all of them is compared.
		get(t, hs, "/api/all/w", nil, `{"id":"w","query":"","price":10}`)
		waitCounts(t, hs, "all", counts{match: 1})
		waitCounts(t, hs, "none", counts{})
		if _, copies := svc.requests(); len(copies) != 1 || copies[0].Path != "/api/all/w" {
			t.Errorf("svc got copies %+v, want only the witness's", copies)
		}
	})

	t.Run("fallback", func(t *testing.T) {
		hs := newShadowHarness(t)
		legacy := startTwin(t, "legacy", false, sameAnswer)
		hs.urls["legacy"], hs.urls["svc"] = legacy.url, deadURL(t)
		hs.apply(t, itemsConfig(100, "{}"))
		res := get(t, hs, "/api/items/1", nil, `{"id":"1","query":"","price":10}`)
		if res.Header.Get("X-Backend") != "legacy" {
			t.Fatalf("answered by %q, want legacy (fallback)", res.Header.Get("X-Backend"))
		}
		waitCounts(t, hs, "items", counts{skipped: 1})
		if direct, copies := legacy.requests(); len(direct) != 1 || len(copies) != 0 {
			t.Errorf("legacy got %d real requests and %d copies, want the fallback only", len(direct), len(copies))
		}
	})

	// strangler's own error reply (here 502: the service is unreachable and
	// the route does not fall back) is no side's answer: comparing it with
	// legacy's would count the outage as a mismatch.
	t.Run("own error reply", func(t *testing.T) {
		hs := newShadowHarness(t)
		legacy := startTwin(t, "legacy", false, sameAnswer)
		hs.urls["legacy"], hs.urls["svc"] = legacy.url, deadURL(t)
		hs.apply(t, twinsConfig+`  - {prefix: /api/items, service: svc, name: items, fallback: false, shadow: {}}
`)
		res, body := call(t, hs, http.MethodGet, "/api/items/1", nil, "")
		checkErrorReply(t, res, []byte(body), http.StatusBadGateway)
		waitCounts(t, hs, "items", counts{skipped: 1})
		if _, copies := legacy.requests(); len(copies) != 0 {
			t.Errorf("legacy got %d copies, want none", len(copies))
		}
	})
}

// TestShadowStatsSurviveReload checks that a route's shadow counts and its
// mismatch log survive a reload that keeps the route's name, whatever else
// changes, and that a new name starts from nothing.
func TestShadowStatsSurviveReload(t *testing.T) {
	hs := newShadowHarness(t)
	startTwins(t, hs, diffAnswers("legacy"), diffAnswers("svc"), false)
	gen := hs.apply(t, itemsConfig(0, "{}"))

	get(t, hs, "/api/items/format", nil, `{"id":1,"price":10,"tags":["a","b"],"generated_at":"t1"}`)
	get(t, hs, "/api/items/format", nil, `{"id":1,"price":10,"tags":["a","b"],"generated_at":"t1"}`)
	get(t, hs, "/api/items/price", nil, `{"id":1,"price":10,"generated_at":"t1"}`)
	before := waitCounts(t, hs, "items", counts{match: 2, mismatch: 1})

	// Another weight and ignore list; the same name.
	if g := hs.apply(t, itemsConfig(100, `{percent: 100, ignore: ["body:$.price"]}`)); g != gen+1 {
		t.Fatalf("generation %d after the reload, want %d", g, gen+1)
	}
	after := report(t, hs, "items")
	if countsOf(after.Shadow) != (counts{match: 2, mismatch: 1}) {
		t.Errorf("counts after the reload = %+v, want those before: %+v", countsOf(after.Shadow), countsOf(before.Shadow))
	}
	checkShadowMetrics(t, hs, "items", counts{match: 2, mismatch: 1})
	if len(after.Mismatches) != 1 || after.Mismatches[0].RequestID != before.Mismatches[0].RequestID {
		t.Errorf("mismatch log after the reload = %+v, want the one before", after.Mismatches)
	}
	if !slices.Equal(after.Shadow.Ignore, []string{"body:$.price"}) {
		t.Errorf("ignore after the reload = %q, want the new setting", after.Shadow.Ignore)
	}
	// The new table applies to new requests (the service answers, and the
	// price is now ignored), on top of the old counts.
	get(t, hs, "/api/items/price", nil, `{"id":1,"price":11,"generated_at":"t1"}`)
	waitCounts(t, hs, "items", counts{match: 3, mismatch: 1})

	// A new name starts from nothing.
	hs.apply(t, strings.Replace(itemsConfig(0, "{}"), "name: items", "name: items-v2", 1))
	if _, ok := hs.handler.ShadowReport("items"); ok {
		t.Errorf("ShadowReport(items) after the route was renamed: found")
	}
	waitCounts(t, hs, "items-v2", counts{})
	get(t, hs, "/api/items/format", nil, `{"id":1,"price":10,"tags":["a","b"],"generated_at":"t1"}`)
	waitCounts(t, hs, "items-v2", counts{match: 1})
}

// TestShadowErrorsBypassProtections checks that copies that fail count as
// errors and nothing else: the client is served, and the shadow side's
// breaker and health never see the copies (ten connection failures, twice
// what opens the breaker).
func TestShadowErrorsBypassProtections(t *testing.T) {
	hs := newShadowHarness(t)
	legacy := startTwin(t, "legacy", false, sameAnswer)
	hs.urls["legacy"], hs.urls["svc"] = legacy.url, deadURL(t)
	hs.apply(t, itemsConfig(0, "{}"))
	for i := range 10 {
		get(t, hs, fmt.Sprintf("/api/items/%d", i), nil, fmt.Sprintf(`{"id":"%d","query":"","price":10}`, i))
	}
	waitCounts(t, hs, "items", counts{error: 10})
	for _, up := range hs.handler.Status(nil).Upstreams {
		if up.Name != "svc" {
			continue
		}
		b := up.Breaker
		if b.State != "closed" || b.Requests != 0 || b.Failures != 0 || b.ConsecutiveFailures != 0 {
			t.Errorf("svc breaker after 10 failed copies = %+v, want closed and untouched", b)
		}
		for _, tg := range up.Targets {
			if !tg.Healthy || tg.ConsecutiveFailures != 0 {
				t.Errorf("svc target after 10 failed copies = %+v, want healthy and untouched", tg)
			}
		}
	}
}

// TestShadowClientHangUp checks that a request whose client went away
// while its answer was streaming is never compared: no copy is sent, so a
// cut answer cannot show as a mismatch.
func TestShadowClientHangUp(t *testing.T) {
	hs := newShadowHarness(t)
	release := make(chan struct{})
	legacy := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if path.Base(r.URL.Path) != "cut" {
			_, _ = io.WriteString(w, `{"id":1}`)
			return
		}
		_, _ = io.WriteString(w, `{"id":`)
		_ = http.NewResponseController(w).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
		_, _ = io.WriteString(w, `1}`)
	}))
	t.Cleanup(func() { close(release) })
	svc := startTwin(t, "svc", false, func(*http.Request, string) answer { return answer{body: `{"id":1}`} })
	hs.urls["legacy"], hs.urls["svc"] = legacy.URL, svc.url
	hs.apply(t, itemsConfig(0, "{}"))

	ctx, cancel := context.WithTimeout(t.Context(), waitLimit)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, hs.front.URL+"/api/items/cut", nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := hs.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(res.Body, make([]byte, len(`{"id":`))); err != nil {
		t.Fatal(err)
	}
	cancel() // the client goes away mid-body
	res.Body.Close()
	// The request is over once it is counted; a copy would have been
	// queued by then. The next request is the witness: once its copy is
	// compared, a copy of the cut one would have been taken from the queue
	// before it.
	waitMetric(t, hs.reg, "strangler_requests_total", requestLabels("items", "legacy", "legacy", "GET", "200"), 1)
	get(t, hs, "/api/items/witness", nil, `{"id":1}`)
	// (Whether the hang-up is also counted as skipped is not pinned: a
	// hang-up mid-body aborts the handler before anything is counted.)
	rep := waitCounts(t, hs, "items", counts{match: 1, skipped: report(t, hs, "items").Shadow.Skipped})
	if len(rep.Mismatches) != 0 {
		t.Errorf("a client hang-up was compared: %+v", rep.Mismatches)
	}
	if _, copies := svc.requests(); len(copies) != 1 || copies[0].Path != "/v2/items/witness" {
		t.Errorf("svc got copies %+v, want only the witness's", copies)
	}
}

// TestShadowMarkOnlyOnCopies checks that the receiving side can tell a copy
// from real traffic: a client that sends X-Strangler-Shadow: true itself
// must not make its real request look like a copy.
func TestShadowMarkOnlyOnCopies(t *testing.T) {
	hs := newShadowHarness(t)
	legacy, svc := startTwins(t, hs, sameAnswer, sameAnswer, false)
	hs.apply(t, itemsConfig(0, "{}"))
	get(t, hs, "/api/items/1", http.Header{HeaderShadow: {"true"}}, `{"id":"1","query":"","price":10}`)
	waitCounts(t, hs, "items", counts{match: 1})
	if _, copies := svc.requests(); len(copies) != 1 {
		t.Errorf("svc got %d copies, want 1", len(copies))
	}
	if direct, copies := legacy.requests(); len(direct) != 1 || len(copies) != 0 {
		t.Fatalf("a client's own %s: true reaches the side that answers it: legacy received the real request "+
			"as %d real requests and %d marked as copies, so the service cannot tell real traffic from copies "+
			"(forwarder.rewrite does not remove the header from real requests)", HeaderShadow, len(direct), len(copies))
	}
}

// TestShadowCloseCancelsHeldCopies checks that Handler.Close (which serve
// calls on SIGTERM, after draining) does not wait for copies held by a hung
// shadow side: it cancels them. The shadow side's timeout is 1s; Close must
// return well before a copy would time out.
func TestShadowCloseCancelsHeldCopies(t *testing.T) {
	hs := newHarness(t) // Close is called by the test itself
	_, svc := startTwins(t, hs, sameAnswer, sameAnswer, true)
	hs.apply(t, strings.Replace(holdConfig("1MiB"), "timeout: 30s", "timeout: 1s", 1))
	get(t, hs, "/api/items/1", nil, `{"id":"1","query":"","price":10}`)
	waitFor(t, svc.arrived, "the copy at the shadow side")

	start := time.Now()
	if err := hs.handler.Close(); err != nil {
		t.Errorf("Handler.Close: %v", err)
	}
	took := time.Since(start)
	if c := countsOf(report(t, hs, "items").Shadow); took >= 500*time.Millisecond && c.error == 1 {
		t.Fatalf("Handler.Close took %s with one copy held by the shadow side: it returned only when the copy "+
			"timed out (results %+v). shadower.close waits for the workers, whose copies run under "+
			"context.Background() with the upstream's timeout (at most 30s), and does not cancel them; so SIGTERM "+
			"takes up to 30s more than --shutdown-timeout when a shadow side hangs", took, c)
	}
	if took >= 500*time.Millisecond {
		t.Errorf("Handler.Close took %s with one copy held, want it to cancel the copy", took)
	}
}

// TestShadowRoundRobin checks that copies go round robin over the shadow
// side's instances.
func TestShadowRoundRobin(t *testing.T) {
	hs := newShadowHarness(t)
	legacy := startTwin(t, "legacy", false, sameAnswer)
	a := startTwin(t, "a", false, sameAnswer)
	b := startTwin(t, "b", false, sameAnswer)
	hs.urls["legacy"], hs.urls["a"], hs.urls["b"] = legacy.url, a.url, b.url
	hs.apply(t, `
legacy: legacy
upstreams:
  legacy: {url: "{{.legacy}}"}
  svc: {targets: ["{{.a}}", "{{.b}}"]}
routes:
  - {prefix: /api/items, service: svc, weight: 0, name: items, shadow: {}}
`)
	for i := range 6 {
		get(t, hs, fmt.Sprintf("/api/items/%d", i), nil, fmt.Sprintf(`{"id":"%d","query":"","price":10}`, i))
		waitCounts(t, hs, "items", counts{match: uint64(i + 1)})
	}
	_, toA := a.requests()
	_, toB := b.requests()
	if len(toA) != 3 || len(toB) != 3 {
		t.Errorf("copies: %d to one instance, %d to the other; want 3 and 3", len(toA), len(toB))
	}
}

// TestShadowCopyForwardingHeaders checks that a copy does not carry the
// forwarding headers the client sent, which the real path drops as
// untrusted: the shadow side must not see a client-chosen address or host.
func TestShadowCopyForwardingHeaders(t *testing.T) {
	spoofed := http.Header{
		"X-Forwarded-For":  {"203.0.113.66"},
		"X-Forwarded-Host": {"evil.example"},
		"Forwarded":        {"for=203.0.113.66"},
		"X-Real-Ip":        {"203.0.113.66"},
	}
	direct, copies := shadowedOnce(t, newShadowHarness(t), spoofed)
	// The real path drops them (ReverseProxy and forwarder.rewrite).
	for name := range spoofed {
		if v := direct[0].Header.Get(name); strings.Contains(v, "203.0.113.66") || strings.Contains(v, "evil") {
			t.Errorf("the real request carries the client's %s: %q", name, v)
		}
	}
	var leaked []string
	for name := range spoofed {
		if v := copies[0].Header.Get(name); strings.Contains(v, "203.0.113.66") || strings.Contains(v, "evil") {
			leaked = append(leaked, name+": "+v)
		}
	}
	if len(leaked) > 0 {
		slices.Sort(leaked)
		t.Fatalf("the copy carries the forwarding headers the client sent, which the real path drops: %q. "+
			"shadowRoute.begin clones the client's headers and removes only hop-by-hop ones, so the shadow side "+
			"sees a client-chosen address and host (and no X-Forwarded-* or %s of strangler's own, unlike the "+
			"real request: %v)", leaked, HeaderRoute, direct[0].Header)
	}
}

// TestShadowCopyForwardingHeadersFromTrustedProxy checks that behind a
// trusted load balancer a copy carries the forwarding headers the real
// request carries: the balancer's client chain with the peer appended, and
// its host and scheme. Without them the shadow side would see another
// client and scheme than the real side (a redirect to http:// where the
// real answer says https://) and report noise as mismatches.
func TestShadowCopyForwardingHeadersFromTrustedProxy(t *testing.T) {
	trusted, err := ParseTrustedProxies("127.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	fromBalancer := http.Header{
		"X-Forwarded-For":   {"203.0.113.66"},
		"X-Forwarded-Host":  {"shop.example"},
		"X-Forwarded-Proto": {"https"},
		"Forwarded":         {"for=203.0.113.66;host=shop.example;proto=https"},
		"X-Real-Ip":         {"203.0.113.66"},
	}
	direct, copies := shadowedOnce(t, newHarnessWith(t, Options{TrustedProxies: trusted}), fromBalancer)
	if got := direct[0].Header.Get("X-Forwarded-For"); !strings.HasPrefix(got, "203.0.113.66, 127.0.0.1") {
		t.Fatalf("the real request's X-Forwarded-For = %q, want the balancer's chain with the peer appended", got)
	}
	for name := range fromBalancer {
		if real, copied := direct[0].Header.Values(name), copies[0].Header.Values(name); !slices.Equal(real, copied) {
			t.Errorf("%s: the real request carries %q, the copy %q; want the same", name, real, copied)
		}
	}
}

// shadowedOnce sends one GET with header through hs, on a route served by
// legacy and shadowed to the service, and returns what legacy received
// (one real request) and what the service received (one copy).
func shadowedOnce(t *testing.T, hs *harness, header http.Header) (direct, copies []seenRequest) {
	t.Helper()
	legacy, svc := startTwins(t, hs, sameAnswer, sameAnswer, false)
	hs.apply(t, itemsConfig(0, "{}"))
	get(t, hs, "/api/items/1", header, `{"id":"1","query":"","price":10}`)
	waitCounts(t, hs, "items", counts{match: 1})
	direct, _ = legacy.requests()
	_, copies = svc.requests()
	if len(direct) != 1 || len(copies) != 1 {
		t.Fatalf("legacy got %d real requests, svc %d copies; want 1 and 1", len(direct), len(copies))
	}
	return direct, copies
}

// browserEncodings is what a browser accepts.
var browserEncodings = http.Header{"Accept-Encoding": {"gzip, deflate, br, zstd"}}

// gzipped compresses s with a real gzip writer at level.
func gzipped(t *testing.T, s string, level int) string {
	t.Helper()
	var b bytes.Buffer
	w, err := gzip.NewWriterLevel(&b, level)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(w, s); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// compressedAnswers are the answers of TestShadowCompressedAnswers: both
// sides gzip when the request accepts it, at different levels, and the
// service writes its JSON in another order with another generated_at.
func compressedAnswers(t *testing.T, side string) func(r *http.Request, _ string) answer {
	return func(r *http.Request, _ string) answer {
		c := path.Base(r.URL.Path)
		doc := `{"id":1,"price":10,"generated_at":"t1"}`
		level := gzip.BestSpeed
		if side == "svc" {
			doc, level = `{"generated_at":"t2","price":1e1,"id":1.0}`, gzip.BestCompression
			if c == "price" {
				doc = `{"generated_at":"t2","price":11,"id":1}`
			}
		}
		if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			return answer{status: http.StatusNotAcceptable, body: `{"error":"the copy lost Accept-Encoding"}`}
		}
		gz := map[string]string{"Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
		switch {
		case side == "svc" && c == "plain": // this side does not compress
			return answer{body: doc}
		case side == "svc" && c == "br":
			return answer{header: map[string]string{"Content-Encoding": "br"}, body: "\x1b\x26\x00\xf8\x25\x02"}
		case side == "svc" && c == "corrupt":
			z := gzipped(t, doc, level)
			return answer{header: gz, body: z[:len(z)-6]}
		case side == "legacy" && c == "bomb": // small on the wire, past max_body once decoded
			return answer{header: gz, body: gzipped(t, `{"pad":"`+strings.Repeat(" ", 100<<10)+`"}`, gzip.BestCompression)}
		}
		return answer{header: gz, body: gzipped(t, doc, level)}
	}
}

// TestShadowCompressedAnswers checks that compressed answers are compared
// decoded, with the client's Accept-Encoding kept on the copy: equal
// documents gzipped differently (or not at all on one side) match, ignore
// rules apply inside gzip, a changed field is named and shown decoded, a
// corrupt gzip is a mismatch that says so, and what cannot be decoded (br)
// or decodes past max_body is skipped, not a bogus mismatch.
func TestShadowCompressedAnswers(t *testing.T) {
	hs := newShadowHarness(t)
	_, svc := startTwins(t, hs, compressedAnswers(t, "legacy"), compressedAnswers(t, "svc"), false)
	hs.apply(t, itemsConfig(0, `{ignore: ["body:$.generated_at"], max_body: 64KiB}`))

	for _, c := range []string{"same", "plain", "price", "corrupt", "br", "bomb"} {
		res, body := call(t, hs, http.MethodGet, "/api/items/"+c, browserEncodings, "")
		if res.StatusCode != http.StatusOK || res.Header.Get("Content-Encoding") != "gzip" || res.Header.Get("X-Backend") != "legacy" {
			t.Fatalf("GET /api/items/%s: %d, Content-Encoding %q from %q", c, res.StatusCode, res.Header.Get("Content-Encoding"), res.Header.Get("X-Backend"))
		}
		if c == "same" && body != gzipped(t, `{"id":1,"price":10,"generated_at":"t1"}`, gzip.BestSpeed) {
			t.Fatalf("the client did not get legacy's gzip bytes as they are")
		}
	}
	rep := waitCounts(t, hs, "items", counts{match: 2, mismatch: 2, skipped: 2})
	if _, copies := svc.requests(); len(copies) != 6 || copies[0].Header.Get("Accept-Encoding") != browserEncodings.Get("Accept-Encoding") {
		t.Errorf("copies = %d, the first with Accept-Encoding %q; want 6 with the client's", len(copies), copies[0].Header.Get("Accept-Encoding"))
	}
	byPath := map[string]shadow.Mismatch{}
	for _, m := range rep.Mismatches {
		byPath[path.Base(m.Request.Path)] = m
	}
	price, corrupt := byPath["price"], byPath["corrupt"]
	if want := []shadow.Difference{{Path: "$.price", Primary: "10", Shadow: "11"}}; !slices.Equal(price.Differences, want) {
		t.Errorf("price differences = %+v, want %+v", price.Differences, want)
	}
	if price.Primary.Body != `{"id":1,"price":10,"generated_at":"t1"}` || price.Shadow.Body != `{"generated_at":"t2","price":11,"id":1}` ||
		price.Primary.Header.Get("Content-Encoding") != "gzip" {
		t.Errorf("price mismatch shows %q against %q (headers %v); want the decoded bodies", price.Primary.Body, price.Shadow.Body, price.Primary.Header)
	}
	if d := corrupt.Differences; len(d) != 1 || d[0].Path != "body" || !strings.HasPrefix(d[0].Shadow, "does not decode") ||
		!strings.Contains(d[0].Primary, "bytes decoded from") {
		t.Errorf("corrupt differences = %+v, want one body difference saying the shadow's gzip does not decode", d)
	}
}

// TestShadowComparesChosenHeaders checks shadow.headers end to end: a
// chosen header that differs is a mismatch naming it with both values, an
// ignored one is not, and headers not chosen never count.
func TestShadowComparesChosenHeaders(t *testing.T) {
	answers := func(side string) func(r *http.Request, _ string) answer {
		return func(r *http.Request, _ string) answer {
			h := map[string]string{"Cache-Control": "no-store", "Vary": "Accept", "Date": "Mon, 23 Nov 2026 13:40:02 GMT"}
			if side == "svc" {
				h["Vary"], h["Date"] = "Origin", "Tue, 24 Nov 2026 00:00:00 GMT"
				if path.Base(r.URL.Path) == "cache" {
					h["Cache-Control"] = "max-age=60"
				}
			}
			return answer{header: h, body: `{"id":1}`}
		}
	}
	hs := newShadowHarness(t)
	startTwins(t, hs, answers("legacy"), answers("svc"), false)
	hs.apply(t, itemsConfig(0, `{headers: [content-type, Cache-Control, Vary], ignore: ["header:vary"]}`))
	get(t, hs, "/api/items/cache", nil, `{"id":1}`)
	get(t, hs, "/api/items/other", nil, `{"id":1}`)
	rep := waitCounts(t, hs, "items", counts{match: 1, mismatch: 1})
	want := []shadow.Difference{{Path: "header:Cache-Control", Primary: "no-store", Shadow: "max-age=60"}}
	if m := rep.Mismatches[0]; path.Base(m.Request.Path) != "cache" || !slices.Equal(m.Differences, want) {
		t.Errorf("mismatch %s: %+v, want %+v", m.Request.Path, m.Differences, want)
	}
	if got, want := rep.Shadow.Headers, []string{"Content-Type", "Cache-Control"}; !slices.Equal(got, want) {
		t.Errorf("status shows compared headers %q, want %q", got, want)
	}
}

// TestShadowRedactsQuerySecrets checks that the kept mismatch never holds a
// secret from the query string (or from a URL in Referer), while the
// parameter names and the other values stay readable.
func TestShadowRedactsQuerySecrets(t *testing.T) {
	hs := newShadowHarness(t)
	startTwins(t, hs, diffAnswers("legacy"), diffAnswers("svc"), false)
	hs.apply(t, itemsConfig(0, "{}"))
	admin := startServer(t, NewAdmin(AdminOptions{Handler: hs.handler, Gatherer: hs.reg}))

	referer := http.Header{"Referer": {"https://shop.example/cb?code=s3cr3t-code&state=42"}}
	get(t, hs, "/api/items/price?access_token=s3cr3t-token&page=2&X-Amz-Signature=s3cr3t-sig&q=a%20b", referer, `{"id":1,"price":10,"generated_at":"t1"}`)
	rep := waitCounts(t, hs, "items", counts{mismatch: 1})
	m := rep.Mismatches[0]
	if want := "access_token=[redacted]&page=2&X-Amz-Signature=[redacted]&q=a%20b"; m.Request.Query != want {
		t.Errorf("kept query = %q, want %q", m.Request.Query, want)
	}
	if want := "https://shop.example/cb?code=[redacted]&state=[redacted]"; m.Request.Header.Get("Referer") != want {
		t.Errorf("kept Referer = %q, want %q", m.Request.Header.Get("Referer"), want)
	}
	if code, body := adminGet(t, admin.URL+"/api/shadow/items"); code != http.StatusOK || strings.Contains(body, "s3cr3t") {
		t.Errorf("GET /api/shadow/items: %d, shows a secret:\n%s", code, body)
	}
}

// TestShadowSkipsConditionalAnswers checks that a 304 Not Modified or 412
// Precondition Failed from the side that answered is skipped, not
// compared: it says what the client had cached, and the other side's
// validators need not be the same, so every revalidating browser would
// otherwise count as a mismatch.
func TestShadowSkipsConditionalAnswers(t *testing.T) {
	hs := newShadowHarness(t)
	conditional := func(r *http.Request, body string) answer {
		switch {
		case r.Header.Get("If-None-Match") == `"legacy"` && r.Header.Get(HeaderShadow) == "":
			return answer{status: http.StatusNotModified}
		case r.Header.Get("If-Match") != "" && r.Header.Get(HeaderShadow) == "":
			return answer{status: http.StatusPreconditionFailed, body: `{"error":"changed"}`}
		}
		return sameAnswer(r, body)
	}
	_, svc := startTwins(t, hs, conditional, sameAnswer, false)
	hs.apply(t, itemsConfig(0, "{}"))

	res, _ := call(t, hs, http.MethodGet, "/api/items/a", http.Header{"If-None-Match": {`"legacy"`}}, "")
	if res.StatusCode != http.StatusNotModified {
		t.Fatalf("conditional GET: %d, want 304", res.StatusCode)
	}
	res, _ = call(t, hs, http.MethodGet, "/api/items/b", http.Header{"If-Match": {`"old"`}}, "")
	if res.StatusCode != http.StatusPreconditionFailed {
		t.Fatalf("GET with If-Match: %d, want 412", res.StatusCode)
	}
	get(t, hs, "/api/items/c", nil, `{"id":"c","query":"","price":10}`)
	waitCounts(t, hs, "items", counts{match: 1, skipped: 2})
	if _, copies := svc.requests(); len(copies) != 1 || copies[0].Path != "/v2/items/c" {
		t.Errorf("svc got copies %+v, want only the unconditional one's", copies)
	}
}

// TestShadowCopyKeepsPathEncoding checks that a copy's path is encoded as
// the real request's is forwarded: %3B and %2C stay escaped (a service
// could read a bare ";" as a path parameter and answer another resource),
// in both directions.
func TestShadowCopyKeepsPathEncoding(t *testing.T) {
	hs := newShadowHarness(t)
	legacy, svc := startTwins(t, hs, sameAnswer, sameAnswer, false)
	hs.apply(t, twinsConfig+`  - {prefix: /api/items, service: svc, weight: 0, name: items, shadow: {}}
  - {prefix: /api/goods, service: svc, weight: 100, name: goods, shadow: {}}
`)
	get(t, hs, "/api/items/a%3Bb", nil, `{"id":"a;b","query":"","price":10}`)
	get(t, hs, "/api/goods/a%2Cb", nil, `{"id":"a,b","query":"","price":10}`)
	waitCounts(t, hs, "items", counts{match: 1})
	waitCounts(t, hs, "goods", counts{match: 1})

	direct, _ := legacy.requests()
	_, copies := svc.requests()
	if len(direct) != 1 || len(copies) != 1 {
		t.Fatalf("legacy got %d real requests, svc %d copies; want 1 each", len(direct), len(copies))
	}
	if direct[0].RequestURI != "/api/items/a%3Bb" || copies[0].RequestURI != direct[0].RequestURI {
		t.Errorf("items: legacy got %q, the copy %q; want both /api/items/a%%3Bb", direct[0].RequestURI, copies[0].RequestURI)
	}
	svcDirect, _ := svc.requests()
	_, legacyCopies := legacy.requests()
	if len(svcDirect) != 1 || len(legacyCopies) != 1 ||
		svcDirect[0].RequestURI != "/api/goods/a%2Cb" || legacyCopies[0].RequestURI != svcDirect[0].RequestURI {
		t.Errorf("goods: svc got %+v, the copy to legacy %+v; want both /api/goods/a%%2Cb", svcDirect, legacyCopies)
	}
}
