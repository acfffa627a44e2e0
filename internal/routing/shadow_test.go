package routing

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/strangler-proxy/strangler/internal/shadow"
)

// shadowYAML is a routes.yaml with one route, /api/items to svc, whose
// shadow block is the given lines (indented under "shadow:"); none gives
// "shadow: {}".
func shadowYAML(lines ...string) string {
	var b strings.Builder
	b.WriteString("legacy: monolith\nupstreams:\n  monolith: {url: \"http://legacy\"}\n  svc: {url: \"http://svc\"}\n")
	b.WriteString("routes:\n  - prefix: /api/items\n    service: svc\n    name: items\n")
	if len(lines) == 0 {
		b.WriteString("    shadow: {}\n")
		return b.String()
	}
	b.WriteString("    shadow:\n")
	for _, l := range lines {
		b.WriteString("      " + l + "\n")
	}
	return b.String()
}

// TestByteSize checks the sizes routes.yaml accepts for max_body, with and
// without units, and that a bad one is an error naming its line and value.
func TestByteSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ByteSize
	}{
		{"1MiB", 1 << 20},
		{"512KiB", 512 << 10},
		{"1000", 1000},
		{"0", 0},
		{"1MB", 1000 * 1000},
		{"2GiB", 2 << 30},
		{"1KB", 1000},
		{"3GB", 3 * 1000 * 1000 * 1000},
		{"10B", 10},
		{`"1MiB"`, 1 << 20},
	} {
		var v struct {
			Size ByteSize `yaml:"size"`
		}
		if err := yaml.Unmarshal([]byte("\nsize: "+tc.in+"\n"), &v); err != nil || v.Size != tc.want {
			t.Errorf("size %s = %d, %v; want %d", tc.in, v.Size, err, tc.want)
		}
	}
	for _, in := range []string{"1XB", "-1", "1.5MiB", "MiB", "", "1e6", "0x10", "1mib", "1 KiBs", "99999999999GiB", "[1]"} {
		var v struct {
			Size ByteSize `yaml:"size"`
		}
		err := yaml.Unmarshal([]byte("\nsize: "+in+"\n"), &v)
		if in == "" {
			// An empty value is null: left at zero, the default.
			if err != nil || v.Size != 0 {
				t.Errorf("size (empty) = %d, %v; want 0, nil", v.Size, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), "is not a size") {
			t.Errorf("size %s = %d, %v; want an error at line 2 saying it is not a size", in, v.Size, err)
		}
	}
	for _, tc := range []struct {
		in   ByteSize
		want string
	}{
		{1 << 20, "1MiB"}, {512 << 10, "512KiB"}, {2 << 30, "2GiB"}, {1000, "1000B"}, {1536, "1536B"}, {0, "0B"}, {64 << 20, "64MiB"},
	} {
		if got := tc.in.String(); got != tc.want {
			t.Errorf("ByteSize(%d).String() = %q, want %q", int64(tc.in), got, tc.want)
		}
	}
}

// TestShadowDefaults checks what an empty shadow block means (every GET and
// HEAD copied, bodies up to 1 MiB compared), that methods are upper-cased,
// and that a route without shadow has none.
func TestShadowDefaults(t *testing.T) {
	cfg, err := Load("inline.yaml", []byte(shadowYAML()))
	if err != nil {
		t.Fatal(err)
	}
	sc := cfg.Routes[0].Shadow
	if sc == nil || sc.Percent == nil || *sc.Percent != 100 || !slices.Equal(sc.Methods, []string{"GET", "HEAD"}) ||
		sc.MaxBody == nil || *sc.MaxBody != 1<<20 || len(sc.Ignore) != 0 {
		t.Fatalf("shadow: {} after defaults = %+v, want percent 100, GET and HEAD, 1MiB", sc)
	}
	if DefaultShadowMaxBody != 1<<20 {
		t.Errorf("DefaultShadowMaxBody = %s, want 1MiB", DefaultShadowMaxBody)
	}
	tbl, err := Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sh := tbl.Match("/api/items/1", "GET").Shadow
	if sh == nil || sh.Percent != 100 || !slices.Equal(sh.Methods, []string{"GET", "HEAD"}) || sh.MaxBody != 1<<20 || sh.Rules == nil {
		t.Fatalf("compiled shadow = %+v, want the defaults and rules", sh)
	}
	if r := tbl.Match("/other", "GET"); r.Shadow != nil {
		t.Errorf("the catch-all route has a shadow: %+v", r.Shadow)
	}

	tbl = mustTable(t, shadowYAML("percent: 12.5", "methods: [get, Post]", "ignore: [body:$.generated_at, header:Date]", "max_body: 512KiB"))
	sh = tbl.Match("/api/items", "GET").Shadow
	if sh.Percent != 12.5 || !slices.Equal(sh.Methods, []string{"GET", "POST"}) || sh.MaxBody != 512<<10 ||
		!slices.Equal(sh.Ignore, []string{"body:$.generated_at", "header:Date"}) {
		t.Errorf("compiled shadow = %+v, want percent 12.5, GET and POST, 512KiB, the ignore list", sh)
	}

	tbl = mustTable(t, routesYAML("{prefix: /api/orders, service: orders}"))
	if r := tbl.Match("/api/orders", "GET"); r.Shadow != nil {
		t.Errorf("a route without shadow has one: %+v", r.Shadow)
	}
}

// TestShadowValidation checks that every bad shadow setting is reported,
// all at once, each at its line.
func TestShadowValidation(t *testing.T) {
	const data = `legacy: monolith
upstreams:
  monolith: {url: "http://legacy"}
  svc: {url: "http://svc"}
routes:
  - prefix: /a
    service: svc
    shadow:
      percent: 150
  - prefix: /b
    service: svc
    shadow:
      max_body: 65MiB
  - prefix: /c
    service: svc
    shadow:
      ignore: [header:Date, body:$.generated_at]
  - prefix: /d
    service: svc
    shadow:
      methods: [GET, "GET POST"]
  - prefix: /e
    service: svc
    shadow:
      max_body: 1XB
  - prefix: /f
    service: svc
    shadow:
      percent: -1
  - prefix: /g
    service: svc
    shadow:
      max_body: -1
  - prefix: /h
    service: svc
    shadow:
      max_body: 1.5MiB
  - prefix: /i
    service: svc
    shadow: {percent: .nan, methods: [""]}
`
	want := []wantErr{
		{9, `route "/a": shadow.percent must be between 0 and 100, got 150`},
		{13, `route "/b": shadow.max_body must be between 1B and 64MiB, got 65MiB`},
		{21, `route "/d": shadow method "GET POST" is not a valid HTTP method token`},
		{25, `"1XB" is not a size`},
		{29, `route "/f": shadow.percent must be between 0 and 100, got -1`},
		{33, `"-1" is not a size`},
		{37, `"1.5MiB" is not a size`},
		{40, `route "/i": shadow.percent must be between 0 and 100, got NaN`},
		{40, `route "/i": shadow method "" is not a valid HTTP method token`},
	}
	cfg, err := Load("inline.yaml", []byte(data))
	if err == nil {
		t.Fatalf("Load = %+v, nil; want errors", cfg)
	}
	msgs := leafErrors(err)
	for _, w := range want {
		prefix := fmt.Sprintf("inline.yaml:%d: ", w.line)
		if !slices.ContainsFunc(msgs, func(e error) bool {
			return strings.HasPrefix(e.Error(), prefix) && strings.Contains(e.Error(), w.msg)
		}) {
			t.Errorf("no message %q...%q in:\n%v", prefix, w.msg, err)
		}
	}
	if len(msgs) != len(want) {
		t.Errorf("got %d messages, want %d (every problem once):\n%v", len(msgs), len(want), err)
	}
	for i := 1; i < len(msgs); i++ {
		if lineOf(msgs[i]) < lineOf(msgs[i-1]) {
			t.Errorf("messages out of line order:\n%v", err)
			break
		}
	}

	// The bounds themselves are valid.
	for _, lines := range [][]string{
		{"percent: 0", "max_body: 1"},
		{"percent: 100", "max_body: 64MiB"},
		{"percent: 0.01", "max_body: 1B", `ignore: [body:$, header:X-Trace, "body:$.items[*].etag", "body:$.items[0].price"]`},
	} {
		if _, err := Load("inline.yaml", []byte(shadowYAML(lines...))); err != nil {
			t.Errorf("shadow %v: %v", lines, err)
		}
	}
}

// TestShadowIgnoreValidation checks that each bad shadow.ignore entry is
// reported once, at its own line (here all on the flow list's line 10),
// naming the entry and saying what is wrong.
func TestShadowIgnoreValidation(t *testing.T) {
	data := shadowYAML("ignore: [header:Date, foo:bar, body:items, \"header:\"]")
	_, err := Load("inline.yaml", []byte(data))
	if err == nil {
		t.Fatal("Load = nil error, want errors for the bad ignore entries")
	}
	msgs := leafErrors(err)
	want := []string{
		`inline.yaml:10: shadow.ignore[1] "foo:bar": unknown kind "foo"`,
		`inline.yaml:10: shadow.ignore[2] "body:items": path "items" must start with "$"`,
		`inline.yaml:10: shadow.ignore[3] "header:": bad header name ""`,
	}
	ok := len(msgs) == len(want)
	for i := 0; ok && i < len(want); i++ {
		ok = strings.HasPrefix(msgs[i].Error(), want[i])
	}
	if !ok {
		t.Fatalf("got:\n%v\nwant one message per bad entry, starting:\n%s", err, strings.Join(want, "\n"))
	}
}

// TestShadowMaxBodyZero: max_body 0 is outside 1B..64MiB and must be
// refused like 65MiB, not silently replaced.
func TestShadowMaxBodyZero(t *testing.T) {
	for _, v := range []string{"0", "0B", "0KiB"} {
		cfg, err := Load("inline.yaml", []byte(shadowYAML("max_body: "+v)))
		if err == nil {
			t.Fatalf("shadow max_body: %s is accepted and becomes %s: applyDefaults (load.go) replaces an explicit 0 "+
				"with the 1MiB default before validateShadow runs, so its 'max_body must be between 1B and 64MiB' check "+
				"never sees 0 (ShadowConfig.MaxBody cannot tell absent from 0)", v, cfg.Routes[0].Shadow.MaxBody)
		}
		if !strings.Contains(err.Error(), "inline.yaml:10: ") || !strings.Contains(err.Error(), "max_body must be between 1B and 64MiB") {
			t.Errorf("max_body: %s: %v, want the bound at line 10", v, err)
		}
	}
}

func lineOf(err error) int {
	var le *LineError
	if !errors.As(err, &le) {
		return 0
	}
	return le.Line
}

// TestShadowWants checks which requests a shadow copies: only the listed
// methods, and the share percent says.
func TestShadowWants(t *testing.T) {
	wants := func(t *testing.T, sh *Shadow, method string, n int) int {
		t.Helper()
		got := 0
		for range n {
			if sh.Wants(httptest.NewRequest(method, "/api/items/1", nil)) {
				got++
			}
		}
		return got
	}
	shadowOf := func(t *testing.T, lines ...string) *Shadow {
		t.Helper()
		return mustTable(t, shadowYAML(lines...)).Match("/api/items/1", "GET").Shadow
	}

	def := shadowOf(t)
	for method, want := range map[string]int{"GET": 1000, "HEAD": 1000, "POST": 0, "PUT": 0, "DELETE": 0, "PATCH": 0, "OPTIONS": 0} {
		if got := wants(t, def, method, 1000); got != want {
			t.Errorf("default shadow: %s copied %d times of 1000, want %d", method, got, want)
		}
	}
	post := shadowOf(t, "methods: [POST]")
	if got := wants(t, post, "POST", 1000); got != 1000 {
		t.Errorf("methods [POST]: POST copied %d of 1000", got)
	}
	if got := wants(t, post, "GET", 1000); got != 0 {
		t.Errorf("methods [POST]: GET copied %d of 1000, want 0", got)
	}
	if got := wants(t, shadowOf(t, "percent: 0"), "GET", 10000); got != 0 {
		t.Errorf("percent 0: copied %d of 10000, want 0", got)
	}
	if got := wants(t, shadowOf(t, "percent: 100"), "GET", 10000); got != 10000 {
		t.Errorf("percent 100: copied %d of 10000, want all", got)
	}
	// A share: 25% of 20000 is 5000 ± 61 (one standard deviation); 10 of
	// them is a bound a correct implementation never crosses.
	const n = 20000
	got := wants(t, shadowOf(t, "percent: 25"), "GET", n)
	if sd := math.Sqrt(n * 0.25 * 0.75); math.Abs(float64(got)-n*0.25) > 10*sd {
		t.Errorf("percent 25: copied %d of %d, want about %d", got, n, n/4)
	}
}

// TestShadowHeaders checks shadow.headers: absent means Content-Type, names
// are kept in canonical form and order, and the compiled rules compare
// exactly those, less what ignore takes out.
func TestShadowHeaders(t *testing.T) {
	sh := mustTable(t, shadowYAML()).Match("/api/items/1", "GET").Shadow
	if !slices.Equal(sh.Headers, []string{"Content-Type"}) || !slices.Equal(sh.Rules.ComparedHeaders(), []string{"Content-Type"}) {
		t.Errorf("default headers = %q, compared %q; want [Content-Type]", sh.Headers, sh.Rules.ComparedHeaders())
	}
	sh = mustTable(t, shadowYAML("headers: [cache-control, ETag, x-total-count, Date]", "ignore: [header:DATE, header:Server]")).
		Match("/api/items/1", "GET").Shadow
	if want := []string{"Cache-Control", "Etag", "X-Total-Count", "Date"}; !slices.Equal(sh.Headers, want) {
		t.Errorf("headers = %q, want %q", sh.Headers, want)
	}
	if want := []string{"Cache-Control", "Etag", "X-Total-Count"}; !slices.Equal(sh.Rules.ComparedHeaders(), want) {
		t.Errorf("compared = %q, want %q (Date ignored)", sh.Rules.ComparedHeaders(), want)
	}
	// The rules compare Cache-Control now, and no longer Content-Type.
	a := shadow.Response{Status: 200, Header: http.Header{"Cache-Control": {"no-store"}, "Content-Type": {"text/plain"}}}
	b := shadow.Response{Status: 200, Header: http.Header{"Cache-Control": {"max-age=60"}, "Content-Type": {"text/html"}}}
	if got, want := sh.Rules.Compare(a, b), []shadow.Difference{{Path: "header:Cache-Control", Primary: "no-store", Shadow: "max-age=60"}}; !slices.Equal(got, want) {
		t.Errorf("differences = %q, want %q", got, want)
	}
}

// TestShadowHeadersValidation checks that every bad shadow.headers entry
// is reported at its own line with the file name, all at once, in line
// order, together with the file's other problems.
func TestShadowHeadersValidation(t *testing.T) {
	path := filepath.Join("testdata", "shadow_headers.yaml")
	cfg, err := LoadFile(path)
	if err == nil {
		t.Fatalf("LoadFile = %+v, nil; want errors", cfg)
	}
	want := []wantErr{
		{14, `shadow.headers[1] "Bad Name": not a valid header name`},
		{15, `shadow.headers[2] "content-type": duplicate of headers[0] "Content-Type"`},
		{16, `shadow.headers[3] "Content-Encoding": not comparable: bodies are compared decoded`},
		{17, `shadow.headers[4] "": not a valid header name`},
		{21, `shadow.headers must be a list of header names`},
		{25, `shadow.headers[1]: want a header name`},
		{25, `shadow.headers[2]: want a header name`},
		{25, `shadow.headers[3] "etag": duplicate of headers[0] "ETag"`},
		{26, `route "/c": shadow.percent must be between 0 and 100, got 150`},
	}
	msgs := leafErrors(err)
	for i, w := range want {
		prefix := fmt.Sprintf("%s:%d: ", path, w.line)
		if i >= len(msgs) || !strings.HasPrefix(msgs[i].Error(), prefix) || !strings.Contains(msgs[i].Error(), w.msg) {
			t.Errorf("message %d: want %q...%q in:\n%v", i, prefix, w.msg, err)
		}
	}
	if len(msgs) != len(want) {
		t.Errorf("got %d messages, want %d (every problem once):\n%v", len(msgs), len(want), err)
	}
}
