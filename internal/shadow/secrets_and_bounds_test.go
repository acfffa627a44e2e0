package shadow

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestRedactCredentialHeaders checks the credential headers of common
// gateways, identity-aware proxies and webhooks: each value is redacted.
func TestRedactCredentialHeaders(t *testing.T) {
	for _, name := range []string{
		"Cf-Access-Jwt-Assertion", "X-Goog-Iap-Jwt-Assertion", "X-Amzn-Oidc-Data", "X-Amzn-Oidc-Identity",
		"Ocp-Apim-Subscription-Key", "X-Functions-Key", "X-Access-Key", "Jwt", "X-Jwt", "Signature",
		"X-Hub-Signature-256", "X-Shopify-Hmac-Sha256", "X-Forwarded-Client-Cert", "Ssl-Client-Cert",
		"Client-Cert", "X-Arr-Clientcert", "X-Ms-Client-Principal", "X-Ms-Client-Principal-Name", "Dpop",
		"Authorization", "Cookie", "Set-Cookie", "X-Api-Key", "X-Session-Id",
	} {
		if got := Redact(http.Header{name: {"s3cr3t"}})[name]; !slices.Equal(got, []string{Redacted}) {
			t.Errorf("Redact(%s: s3cr3t) = %q, want [redacted]", name, got)
		}
	}
	for _, name := range []string{"Content-Type", "Accept", "X-Request-Id", "Cache-Control", "Keep-Alive", "X-Amzn-Trace-Id", "Etag"} {
		if got := Redact(http.Header{name: {"v"}})[name]; !slices.Equal(got, []string{"v"}) {
			t.Errorf("Redact(%s: v) = %q, want it kept", name, got)
		}
	}
}

// TestRedactOriginalURLHeaders checks that the headers in which proxies
// pass the original URL on have their query's secrets redacted, as Referer
// does.
func TestRedactOriginalURLHeaders(t *testing.T) {
	for _, name := range []string{"X-Original-Url", "X-Forwarded-Uri", "X-Rewrite-Url", "X-Original-Uri", "X-Envoy-Original-Path", "Referer"} {
		got := Redact(http.Header{name: {"/cb?token=s3cr3t&page=2"}})[name]
		if want := []string{"/cb?token=[redacted]&page=2"}; !slices.Equal(got, want) {
			t.Errorf("Redact(%s) = %q, want %q", name, got, want)
		}
	}
}

// TestRedactOneRule checks that header names, query parameter names and
// JSON member names follow the same rule: each name is secret in all three
// places or in none.
func TestRedactOneRule(t *testing.T) {
	for _, tc := range []struct {
		name   string
		secret bool
	}{
		{"PHPSESSID", true}, {"JSESSIONID", true}, {"state", true}, {"code", true}, {"sig", true},
		{"api_key", true}, {"X-Api-Key", true}, {"client_assertion", true}, {"jwt", true}, {"signature", true},
		{"X-Amz-Signature", true}, {"authorization", true}, {"session", true}, {"password", true},
		{"page", false}, {"sort", false}, {"codec", false}, {"signal", false}, {"q", false}, {"X-Amz-Date", false},
	} {
		header := Redact(http.Header{tc.name: {"v"}})[tc.name][0] == Redacted
		query := RedactQuery(tc.name+"=v") == tc.name+"="+Redacted
		info := NewRequestInfo("POST", "/", "", jsonHeader, []byte(`{"`+tc.name+`":"v"}`))
		member := info.Body == `{"`+tc.name+`":"`+Redacted+`"}`
		if header != tc.secret || query != tc.secret || member != tc.secret {
			t.Errorf("%s: redacted as header %v, as query parameter %v, as JSON member %v; want %v for all",
				tc.name, header, query, member, tc.secret)
		}
	}
}

var jsonHeader = http.Header{"Content-Type": {"application/json"}}

// TestCompareJSONEitherSideTyped checks that bodies are compared as JSON
// when either side says it is JSON (application/json, text/json, +json),
// and that charset=utf-8 on a JSON type is the default.
func TestCompareJSONEitherSideTyped(t *testing.T) {
	for _, tc := range []struct {
		name            string
		ignore          []string
		primary, shadow Response
		want            []Difference
	}{
		{
			name:    "legacy text/html, service JSON, Content-Type ignored",
			ignore:  []string{"header:Content-Type"},
			primary: resp(200, "text/html", `{"a":1,"b":2}`),
			shadow:  resp(200, "application/json", `{"b":2,"a":1}`),
		},
		{
			name:    "both text/json",
			primary: resp(200, "text/json", `{"a":1,"b":2}`),
			shadow:  resp(200, "text/json", `{"b":2,"a":1.0}`),
		},
		{
			name:    "charset=UTF-8 or none on JSON",
			primary: resp(200, "application/json;charset=UTF-8", `{"a":1}`),
			shadow:  resp(200, "application/json", `{"a":1}`),
		},
		{
			name:    "charset=utf-8 on problem+json",
			primary: resp(200, "application/problem+json; charset=utf-8", `{"a":1}`),
			shadow:  resp(200, "application/problem+json", `{"a":1}`),
		},
		{
			name:    "another charset still differs",
			primary: resp(200, "application/json; charset=iso-8859-1", `{"a":1}`),
			shadow:  resp(200, "application/json", `{"a":1}`),
			want:    []Difference{{"header:Content-Type", "application/json; charset=iso-8859-1", "application/json"}},
		},
		{
			name:    "charset=utf-8 on text/html is not dropped",
			primary: resp(200, "text/html; charset=utf-8", `x`),
			shadow:  resp(200, "text/html", `x`),
			want:    []Difference{{"header:Content-Type", "text/html; charset=utf-8", "text/html"}},
		},
		{
			name:    "neither side JSON: bytes",
			primary: resp(200, "text/plain", `{"a":1}`),
			shadow:  resp(200, "text/plain", `{"a":1.0}`),
			want:    []Difference{{"body", `7 bytes, first difference at offset 6: "{\"a\":1}"`, `9 bytes, first difference at offset 6: "{\"a\":1.0}"`}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := mustRules(t, tc.ignore...).Compare(tc.primary, tc.shadow); !slices.Equal(got, tc.want) {
				t.Errorf("Compare = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestCompareJSONInvalidStrings checks that strings the decoder would turn
// into U+FFFD (invalid UTF-8, lone surrogate escapes) never make two
// different bodies equal, while surrogate pairs and escaped backslashes
// still compare as JSON.
func TestCompareJSONInvalidStrings(t *testing.T) {
	for _, tc := range []struct {
		name, a, b string
		equal      bool
	}{
		{"invalid UTF-8", "{\"s\":\"\xff\"}", "{\"s\":\"\xfe\"}", false},
		{"invalid UTF-8 against U+FFFD", "{\"s\":\"\xff\"}", `{"s":"` + "\uFFFD" + `"}`, false},
		{"lone high surrogates", `{"s":"\ud800"}`, `{"s":"\udbff"}`, false},
		{"lone low surrogate against U+FFFD", `{"s":"\udc00"}`, `{"s":"\ufffd"}`, false},
		{"high surrogate before a non-surrogate", `{"s":"\ud800\u0041"}`, `{"s":"\ud801\u0041"}`, false},
		{"surrogate pairs differ", `{"s":"\ud83d\ude00"}`, `{"s":"\ud83d\ude01"}`, false},
		{"surrogate pair equals the character", `{"s":"\ud83d\ude00","n":1}`, `{"n":1.0,"s":"😀"}`, true},
		{"escaped backslash is not an escape", `{"s":"\\ud800","n":1}`, `{"n":1.0,"s":"\\ud800"}`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := mustRules(t).Compare(js(tc.a), js(tc.b))
			if (got == nil) != tc.equal {
				t.Errorf("Compare(%q, %q) = %q, want equal %v", tc.a, tc.b, got, tc.equal)
			}
		})
	}
}

// TestMismatchHeadersBounded checks that a kept request or answer holds at
// most MaxHeaderInfo bytes of headers, with cut values marked and left-out
// ones counted, however large the headers were.
func TestMismatchHeadersBounded(t *testing.T) {
	huge := strings.Repeat("x", 900<<10)
	h := http.Header{"Accept": {"*/*"}, "X-Big": {huge}, "X-Request-Id": {"r-1"}}
	for i := range 50 {
		h[fmt.Sprintf("X-Pad-%02d", i)] = []string{strings.Repeat("p", 1000)}
	}
	req := NewRequestInfo("GET", "/p", "", h, nil)
	res := NewResponseInfo(Response{Status: 200, Header: h, Body: []byte(huge)})
	for _, side := range []struct {
		name    string
		header  http.Header
		omitted int
	}{{"request", req.Header, req.OmittedHeaders}, {"response", res.Header, res.OmittedHeaders}} {
		if n := int(headerSize(side.header)); n > MaxHeaderInfo {
			t.Errorf("%s: kept %d bytes of headers, want at most %d", side.name, n, MaxHeaderInfo)
		}
		big := side.header.Get("X-Big")
		if !strings.HasSuffix(big, truncatedMark) || len(big) > maxHeaderValueInfo+len(truncatedMark) {
			t.Errorf("%s: X-Big kept as %d bytes ending %q, want it cut to %d bytes and marked", side.name, len(big), big[max(0, len(big)-20):], maxHeaderValueInfo)
		}
		if side.header.Get("Accept") != "*/*" || side.omitted == 0 || side.omitted+len(side.header) != len(h) {
			t.Errorf("%s: Accept %q, %d headers kept, %d left out; want Accept kept and the %d others counted",
				side.name, side.header.Get("Accept"), len(side.header), side.omitted, len(h))
		}
	}
	if h.Get("X-Big") != huge {
		t.Error("NewRequestInfo changed its input")
	}
	b, err := json.Marshal(Mismatch{Request: req, Primary: res, Shadow: res})
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 4*MaxHeaderInfo+3*MaxBodyInfo {
		t.Errorf("a mismatch with 900 KB headers is %d bytes of JSON", len(b))
	}
	if !strings.Contains(string(b), `"omitted_headers":`) {
		t.Errorf("JSON lacks omitted_headers: %.300s", b)
	}
}

// headerSize is the bytes of names (once per value) and values of h.
func headerSize(h http.Header) int {
	n := 0
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + len(v)
		}
	}
	return n
}

// TestMismatchPathAndDifferencesBounded checks that a huge request path or
// query, or a huge JSON member name, does not make a kept mismatch huge.
func TestMismatchPathAndDifferencesBounded(t *testing.T) {
	long := strings.Repeat("a", 100<<10)
	req := NewRequestInfo("GET", "/"+long, "q="+long, nil, nil)
	if len(req.Path) > MaxHeaderInfo+len(truncatedMark) || !strings.HasSuffix(req.Path, truncatedMark) ||
		len(req.Query) > MaxHeaderInfo+len(truncatedMark) || !strings.HasSuffix(req.Query, truncatedMark) {
		t.Errorf("path %d bytes, query %d bytes: want each cut to %d bytes and marked", len(req.Path), len(req.Query), MaxHeaderInfo)
	}
	diffs := mustRules(t).Compare(js(`{"`+long+`":1}`), js(`{"`+long+`":2}`))
	if len(diffs) != 1 || len(diffs[0].Path) > maxPathRender+len("…") {
		t.Errorf("a difference at a 100 KiB member name has a path of %d bytes, want at most about %d", len(diffs[0].Path), maxPathRender)
	}
}

// TestNewRequestInfoBody checks that the request body is kept so that the
// request can be replayed: JSON and form bodies with their secrets
// redacted, cut to MaxBodyInfo and marked, other bodies noted, not kept.
func TestNewRequestInfoBody(t *testing.T) {
	form := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	bigJSON := `{"items":[` + strings.TrimSuffix(strings.Repeat(`"abcdefgh",`, 1000), ",") + `]}`
	for _, tc := range []struct {
		name   string
		header http.Header
		body   string
		want   string
	}{
		{"none", jsonHeader, "", ""},
		{"JSON without secrets, as sent", jsonHeader, `{"b": 2, "a": [1, 2.50]}`, `{"b": 2, "a": [1, 2.50]}`},
		{"JSON with secrets, redacted at any depth", jsonHeader,
			`{"user":"ann","password":"hunter2","nested":[{"client_secret":{"k":1},"id":7}],"n":1.50}`,
			`{"n":1.50,"nested":[{"client_secret":"[redacted]","id":7}],"password":"[redacted]","user":"ann"}`},
		{"JSON sent as text/plain", http.Header{"Content-Type": {"text/plain"}}, `{"token":"t"}`, `{"token":"[redacted]"}`},
		{"form", form, "user=ann&password=hunter2&state=xyz", "user=ann&password=[redacted]&state=[redacted]"},
		{"large JSON, cut", jsonHeader, bigJSON, bigJSON[:MaxBodyInfo] + truncatedMark},
		{"multipart, not kept", http.Header{"Content-Type": {"multipart/form-data; boundary=x"}}, "--x\r\npassword\r\n--x--",
			"(20 bytes of multipart/form-data, not kept: only JSON and form bodies are kept, with their secrets redacted)"},
		{"no type, not JSON, not kept", nil, "password=hunter2",
			"(16 bytes of unknown type, not kept: only JSON and form bodies are kept, with their secrets redacted)"},
		{"invalid UTF-8 JSON, not kept", jsonHeader, "{\"password\":\"\xff\"}",
			"(16 bytes of application/json, not kept: only JSON and form bodies are kept, with their secrets redacted)"},
		{"gzip, not kept", http.Header{"Content-Type": {"application/json"}, "Content-Encoding": {"gzip"}}, "\x1f\x8b...",
			"(5 bytes in Content-Encoding gzip, not kept)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := NewRequestInfo("POST", "/login", "", tc.header, []byte(tc.body)).Body
			if got != tc.want {
				t.Errorf("Body = %q, want %q", got, tc.want)
			}
			if !utf8.ValidString(got) || strings.Contains(got, "hunter2") {
				t.Errorf("Body %q is not valid UTF-8 or leaks a secret", got)
			}
		})
	}
	b, err := json.Marshal(NewRequestInfo("GET", "/", "", nil, nil))
	if err != nil || strings.Contains(string(b), `"body"`) {
		t.Errorf("a request without a body marshals as %s (%v), want no body field", b, err)
	}
}
