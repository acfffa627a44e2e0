package proxy

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestShadowCopyDropsConnectionListedHeaders checks that a header the
// client names in its Connection header reaches neither the real request
// (ReverseProxy removes it) nor the copy, while the request id, which the
// real path puts back, reaches both.
func TestShadowCopyDropsConnectionListedHeaders(t *testing.T) {
	hdr := http.Header{
		"Connection":   {"X-Foo, x-request-id", "X-Bar"},
		"X-Foo":        {"foo"},
		"X-Bar":        {"bar"},
		"X-Kept":       {"kept"},
		"X-Request-Id": {"rid-connection-1"},
	}
	direct, copies := shadowedOnce(t, newShadowHarness(t), hdr)
	for _, s := range []struct {
		name string
		req  seenRequest
	}{{"real request", direct[0]}, {"copy", copies[0]}} {
		for _, name := range []string{"X-Foo", "X-Bar"} {
			if v, ok := s.req.Header[name]; ok {
				t.Errorf("the %s carries %s: %q, which the client listed in Connection", s.name, name, v)
			}
		}
		if s.req.Header.Get("X-Kept") != "kept" || s.req.Header.Get("X-Request-Id") != "rid-connection-1" {
			t.Errorf("the %s: X-Kept %q, X-Request-Id %q; want kept and rid-connection-1",
				s.name, s.req.Header.Get("X-Kept"), s.req.Header.Get("X-Request-Id"))
		}
	}
}

// sideAnswer answers a POST with the side's name in the body, so that the
// two sides always disagree.
func sideAnswer(side string) func(r *http.Request, body string) answer {
	return func(r *http.Request, body string) answer {
		return answer{status: http.StatusCreated, body: fmt.Sprintf(`{"side":%q}`, side)}
	}
}

// TestShadowMismatchKeepsRequestBody checks that a mismatch on a POST keeps
// the request body, so that the request can be replayed, with its secret
// members redacted, in the report and at /api/shadow/{route}.
func TestShadowMismatchKeepsRequestBody(t *testing.T) {
	hs := newShadowHarness(t)
	startTwins(t, hs, sideAnswer("legacy"), sideAnswer("svc"), false)
	hs.apply(t, twinsConfig+`  - {prefix: /api/writes, service: svc, weight: 0, name: writes, shadow: {methods: [post]}}
`)
	admin := startServer(t, NewAdmin(AdminOptions{Handler: hs.handler, Gatherer: hs.reg}))

	if res, body := call(t, hs, http.MethodPost, "/api/writes/new", jsonType, `{"sku":"b","qty":2,"password":"hunter2"}`); res.StatusCode != http.StatusCreated {
		t.Fatalf("POST /api/writes/new: %d %s", res.StatusCode, body)
	}
	rep := waitCounts(t, hs, "writes", counts{mismatch: 1})
	if got, want := rep.Mismatches[0].Request.Body, `{"password":"[redacted]","qty":2,"sku":"b"}`; got != want {
		t.Errorf("kept request body = %q, want %q", got, want)
	}
	code, body := adminGet(t, admin.URL+"/api/shadow/writes")
	if code != http.StatusOK || !strings.Contains(body, `"{\"password\":\"[redacted]\",\"qty\":2,\"sku\":\"b\"}"`) || strings.Contains(body, "hunter2") {
		t.Errorf("GET /api/shadow/writes: %d, want the redacted request body:\n%s", code, body)
	}
}

// TestShadowMismatchHeadersBounded checks that mismatches of requests with
// huge headers keep only a bounded part of them.
func TestShadowMismatchHeadersBounded(t *testing.T) {
	hs := newShadowHarness(t)
	startTwins(t, hs, diffAnswers("legacy"), diffAnswers("svc"), false)
	hs.apply(t, itemsConfig(0, "{}"))
	admin := startServer(t, NewAdmin(AdminOptions{Handler: hs.handler, Gatherer: hs.reg}))

	big := http.Header{"X-Big": {strings.Repeat("b", 200<<10)}}
	for range 3 {
		get(t, hs, "/api/items/price", big, `{"id":1,"price":10,"generated_at":"t1"}`)
	}
	rep := waitCounts(t, hs, "items", counts{mismatch: 3})
	if v := rep.Mismatches[0].Request.Header.Get("X-Big"); !strings.HasSuffix(v, "…(truncated)") || len(v) > 4<<10 {
		t.Errorf("kept X-Big is %d bytes, want it cut and marked", len(v))
	}
	code, body := adminGet(t, admin.URL+"/api/shadow/items")
	if code != http.StatusOK || len(body) > 3*40<<10 {
		t.Errorf("GET /api/shadow/items: %d, %d bytes for 3 mismatches of requests with 200 KiB headers", code, len(body))
	}
}
