package shadow

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// resp builds a captured answer with the given Content-Type ("" for none).
func resp(status int, ct, body string) Response {
	h := http.Header{}
	if ct != "" {
		h.Set("Content-Type", ct)
	}
	return Response{Status: status, Header: h, Body: []byte(body)}
}

func js(body string) Response { return resp(200, "application/json", body) }

func text(body string) Response { return resp(200, "text/plain", body) }

// mustRules parses ignore entries or fails the test.
func mustRules(t testing.TB, ignore ...string) *Rules {
	t.Helper()
	r, err := ParseRules(ignore)
	if err != nil {
		t.Fatalf("ParseRules(%q): %v", ignore, err)
	}
	return r
}

func TestCompare(t *testing.T) {
	for _, tc := range []struct {
		name            string
		ignore          []string
		primary, shadow Response
		want            []Difference
	}{
		{
			name:    "key order and number formatting do not matter",
			primary: js(`{"a":1,"b":[0.1,true,null,"x",-0],"c":{"d":100,"e":1.50}}`),
			shadow:  js(` {"c":{"e":15e-1,"d":1E2},"b":[1e-1,true,null,"x",0],"a":1.0} `),
		},
		{"1 equals 1e0", nil, js(`1`), js(`1e0`), nil},
		{
			name:    "changed nested field",
			primary: js(`{"a":{"b":1,"c":2}}`),
			shadow:  js(`{"a":{"c":2,"b":2}}`),
			want:    []Difference{{"$.a.b", "1", "2"}},
		},
		{
			name:    "strings rendered as JSON",
			primary: js(`{"s":"x\"<y>"}`),
			shadow:  js(`{"s":"y"}`),
			want:    []Difference{{"$.s", `"x\"<y>"`, `"y"`}},
		},
		{
			name:    "missing keys on either side",
			primary: js(`{"a":1,"b":{"x":[1]}}`),
			shadow:  js(`{"a":1,"c":3}`),
			want:    []Difference{{"$.b", `{"x":[1]}`, "(absent)"}, {"$.c", "(absent)", "3"}},
		},
		{
			name:    "type change",
			primary: js(`{"a":1,"b":null,"c":[]}`),
			shadow:  js(`{"a":"1","b":false,"c":{}}`),
			want:    []Difference{{"$.a", "1", `"1"`}, {"$.b", "null", "false"}, {"$.c", "[]", "{}"}},
		},
		{"whole document", nil, js(`true`), js(`false`), []Difference{{"$", "true", "false"}}},
		{
			name:    "odd keys are quoted in paths",
			primary: js(`{"odd key":{"it's":1},"a.b":2}`),
			shadow:  js(`{"odd key":{"it's":2},"a.b":3}`),
			want:    []Difference{{"$['a.b']", "2", "3"}, {`$['odd key']['it\'s']`, "1", "2"}},
		},
		{
			name:    "big integers compared exactly",
			primary: js(`{"id":12345678901234567890}`),
			shadow:  js(`{"id":12345678901234567891}`),
			want:    []Difference{{"$.id", "12345678901234567890", "12345678901234567891"}},
		},
		{
			name:    "arrays of different lengths",
			primary: js(`{"a":[1,2,3]}`),
			shadow:  js(`{"a":[1,5]}`),
			want:    []Difference{{"$.a", "array of length 3", "array of length 2"}, {"$.a[1]", "2", "5"}},
		},

		{
			name:    "ignore top-level key, present on one side only",
			ignore:  []string{"body:$.generated_at"},
			primary: js(`{"generated_at":"2024-01-01","a":1}`),
			shadow:  js(`{"a":1}`),
		},
		{
			name:    "ignore nested key",
			ignore:  []string{"body:$.meta.etag"},
			primary: js(`{"meta":{"etag":"x","v":1}}`),
			shadow:  js(`{"meta":{"etag":"y","v":2}}`),
			want:    []Difference{{"$.meta.v", "1", "2"}},
		},
		{
			name:    "ignore [*] over array elements",
			ignore:  []string{"body:$.items[*].etag"},
			primary: js(`{"items":[{"etag":"a","p":1},{"etag":"b","p":2},{"p":3}]}`),
			shadow:  js(`{"items":[{"etag":"c","p":1},{"etag":"d","p":9},{"etag":"e","p":3}]}`),
			want:    []Difference{{"$.items[1].p", "2", "9"}},
		},
		{
			name:    "ignore [*] over object keys",
			ignore:  []string{"body:$.prices[*].updated"},
			primary: js(`{"prices":{"eur":{"v":1,"updated":1},"usd":{"v":2,"updated":1}}}`),
			shadow:  js(`{"prices":{"eur":{"v":1,"updated":2},"usd":{"v":2}}}`),
		},
		{
			name:    "ignore .* over object keys",
			ignore:  []string{"body:$.*.ts"},
			primary: js(`{"a":{"ts":1},"b":{"ts":1,"x":1}}`),
			shadow:  js(`{"a":{"ts":2},"b":{"ts":3,"x":2}}`),
			want:    []Difference{{"$.b.x", "1", "2"}},
		},
		{
			name:    "ignore fixed index",
			ignore:  []string{"body:$.items[0].price"},
			primary: js(`{"items":[{"price":1},{"price":2}]}`),
			shadow:  js(`{"items":[{"price":5},{"price":6}]}`),
			want:    []Difference{{"$.items[1].price", "2", "6"}},
		},
		{
			name:    "ignored element does not count in the length",
			ignore:  []string{"body:$.a[2]"},
			primary: js(`{"a":[1,2,3]}`),
			shadow:  js(`{"a":[1,2]}`),
		},
		{
			name:    "ignore all elements",
			ignore:  []string{"body:$.a[*]"},
			primary: js(`{"a":[1,2,3]}`),
			shadow:  js(`{"a":[4]}`),
		},
		{
			name:    "ignore quoted key",
			ignore:  []string{"body:$['odd key'].x"},
			primary: js(`{"odd key":{"x":1,"y":1}}`),
			shadow:  js(`{"odd key":{"x":2,"y":1}}`),
		},
		{
			name:    "ignore whole body",
			ignore:  []string{"body:$"},
			primary: resp(200, "text/plain", "a"),
			shadow:  resp(201, "text/plain", "b"),
			want:    []Difference{{"status", "200", "201"}},
		},
		{
			name:    "ignored header other than Content-Type",
			ignore:  []string{"header:Date"},
			primary: js(`{}`),
			shadow:  js(`{}`),
		},

		{
			name:    "status differs",
			primary: resp(200, "application/json", `{}`),
			shadow:  resp(500, "application/json", `{}`),
			want:    []Difference{{"status", "200", "500"}},
		},
		{
			name:    "Content-Type normalised equal",
			primary: resp(200, "application/json; charset=utf-8", `{"a":1,"b":2}`),
			shadow:  resp(200, "Application/JSON;charset=UTF-8", `{"b":2,"a":1}`),
		},
		{
			name:    "Content-Type differs",
			primary: resp(200, "application/json", `{}`),
			shadow:  resp(200, "application/json; charset=latin1", `{}`),
			want:    []Difference{{"header:Content-Type", "application/json", "application/json; charset=latin1"}},
		},
		{
			name:    "Content-Type absent on one side",
			primary: resp(200, "text/plain", `x`),
			shadow:  resp(200, "", `x`),
			want:    []Difference{{"header:Content-Type", "text/plain", "(absent)"}},
		},
		{
			name:    "Content-Type ignored, both still JSON",
			ignore:  []string{"header:content-type"},
			primary: resp(200, "application/json", `{"a":1,"b":2}`),
			shadow:  resp(200, "application/problem+json", `{"b":2,"a":1}`),
		},
		{"text equal", nil, text("hello"), text("hello"), nil},
		{
			name:    "text differs",
			primary: text("hello world"),
			shadow:  text("hello there"),
			want: []Difference{{"body",
				`11 bytes, first difference at offset 6: "hello world"`,
				`11 bytes, first difference at offset 6: "hello there"`}},
		},
		{
			name:    "text prefix",
			primary: text("abc"),
			shadow:  text("abcd"),
			want: []Difference{{"body",
				`3 bytes, first difference at offset 3: "abc" (end of body)`,
				`4 bytes, first difference at offset 3: "abcd"`}},
		},
		{
			name:    "JSON on one side, text on the other: semantic, the type differs",
			primary: js(`{"a":1}`),
			shadow:  text(`{"a":1.0}`),
			want: []Difference{
				{"header:Content-Type", "application/json", "text/plain"},
			},
		},
		{
			name:    "invalid JSON: bytes",
			primary: js(`{"a":1`),
			shadow:  js(`{"a":1.0`),
			want: []Difference{{"body",
				`6 bytes, first difference at offset 6: "{\"a\":1" (end of body)`,
				`8 bytes, first difference at offset 6: "{\"a\":1.0"`}},
		},
		{
			name:    "trailing data: bytes",
			primary: js(`{} {}`),
			shadow:  js(`{}`),
			want: []Difference{{"body",
				`5 bytes, first difference at offset 2: "{} {}"`,
				`2 bytes, first difference at offset 2: "{}" (end of body)`}},
		},
		{
			name:    "truncated: one defensive difference",
			primary: Response{Status: 200, Body: []byte("abc"), Truncated: true},
			shadow:  Response{Status: 500, Body: []byte("x")},
			want:    []Difference{{"body", "truncated after 3 bytes", "1 bytes"}},
		},
		{
			name:    "order: status, header, body",
			primary: resp(200, "application/json", `{"z":1,"a":1}`),
			shadow:  resp(404, "application/vnd.x+json", `{"z":2,"a":2}`),
			want: []Difference{
				{"status", "200", "404"},
				{"header:Content-Type", "application/json", "application/vnd.x+json"},
				{"$.a", "1", "2"},
				{"$.z", "1", "2"},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := mustRules(t, tc.ignore...).Compare(tc.primary, tc.shadow)
			if !slices.Equal(got, tc.want) {
				t.Errorf("Compare =\n\t%q\nwant\n\t%q", got, tc.want)
			}
		})
	}
}

func TestCompareNilRules(t *testing.T) {
	var r *Rules
	if d := r.Compare(js(`{"a":1}`), js(`{"a":1.0}`)); d != nil {
		t.Errorf("nil Rules: Compare = %q, want none", d)
	}
}

// manyKeys returns a JSON object with n keys k000.. whose values are v.
func manyKeys(n, v int) string {
	parts := make([]string, n)
	for i := range n {
		parts[i] = fmt.Sprintf(`"k%03d":%d`, i, v)
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func TestCompareCap(t *testing.T) {
	more := Difference{Path: "...", Primary: "(more differences)"}
	for _, tc := range []struct {
		name     string
		keys     int
		wantLen  int
		wantMore bool
	}{
		{"19", 19, 19, false},
		{"exactly 20", 20, 20, false},
		{"21", 21, 21, true},
		{"200", 200, 21, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := (*Rules)(nil).Compare(js(manyKeys(tc.keys, 1)), js(manyKeys(tc.keys, 2)))
			if len(got) != tc.wantLen {
				t.Fatalf("len = %d, want %d: %q", len(got), tc.wantLen, got)
			}
			if last := got[len(got)-1]; (last == more) != tc.wantMore {
				t.Errorf("last = %q, want marker %v", last, tc.wantMore)
			}
			for i, d := range got[:min(len(got), maxDifferences)] {
				if want := fmt.Sprintf("$.k%03d", i); d.Path != want {
					t.Errorf("got[%d].Path = %s, want %s", i, d.Path, want)
				}
			}
		})
	}
	t.Run("status counts towards the cap", func(t *testing.T) {
		p, s := js(manyKeys(20, 1)), js(manyKeys(20, 2))
		s.Status = 500
		got := (*Rules)(nil).Compare(p, s)
		if len(got) != 21 || got[0].Path != "status" || got[20] != more {
			t.Errorf("Compare = %q, want status, 19 keys, marker", got)
		}
	})
}

func TestCompareDeterministic(t *testing.T) {
	p := js(`{"b":[1,{"y":1,"x":1}],"a":{"q":1,"p":1,"r":1},"c":1,"d":1,"e":1}`)
	s := js(`{"e":2,"d":2,"c":2,"a":{"r":2,"q":2,"p":2},"b":[2,{"x":2,"y":2}]}`)
	first := (*Rules)(nil).Compare(p, s)
	wantPaths := []string{"$.a.p", "$.a.q", "$.a.r", "$.b[0]", "$.b[1].x", "$.b[1].y", "$.c", "$.d", "$.e"}
	var paths []string
	for _, d := range first {
		paths = append(paths, d.Path)
	}
	if !slices.Equal(paths, wantPaths) {
		t.Fatalf("paths = %q, want %q", paths, wantPaths)
	}
	for range 50 {
		if got := (*Rules)(nil).Compare(p, s); !slices.Equal(got, first) {
			t.Fatalf("Compare changed between runs:\n%q\n%q", got, first)
		}
	}
}

func TestCompareNumericIndexOrder(t *testing.T) {
	a, b := make([]string, 12), make([]string, 12)
	for i := range a {
		a[i], b[i] = "1", "2"
	}
	got := (*Rules)(nil).Compare(js("["+strings.Join(a, ",")+"]"), js("["+strings.Join(b, ",")+"]"))
	if got[2].Path != "$[2]" || got[10].Path != "$[10]" {
		t.Errorf("paths not in index order: %q", got)
	}
}

func TestCompareClipsRenderings(t *testing.T) {
	long := strings.Repeat("é", 300)
	for _, tc := range []struct{ name, p, s string }{
		{"JSON string", `{"a":"` + long + `"}`, `{"a":1}`},
		{"JSON array", `{"a":[` + strings.Repeat(`"`+long+`",`, 50) + `1]}`, `{"a":{}}`},
		{"text", long + "x", long + "y"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ct := "application/json"
			if tc.name == "text" {
				ct = "text/plain"
			}
			for _, d := range (*Rules)(nil).Compare(resp(200, ct, tc.p), resp(200, ct, tc.s)) {
				for _, v := range []string{d.Primary, d.Shadow} {
					if len(v) > maxRender+len("…") || !isUTF8(v) {
						t.Errorf("rendering %d bytes or not UTF-8: %q", len(v), v)
					}
				}
			}
		})
	}
}

func isUTF8(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

// TestDifferencePathsAreIgnorable checks that every JSON path Compare
// reports, pasted into shadow.ignore, removes that difference.
func TestDifferencePathsAreIgnorable(t *testing.T) {
	p := js(`{"odd key":{"it's":1,"a\\b":[1,{"*":1}]},"a.b":2,"":3,"ok_key-1":4}`)
	s := js(`{"odd key":{"it's":2,"a\\b":[1,{"*":2}]},"a.b":3,"":4,"ok_key-1":5}`)
	diffs := (*Rules)(nil).Compare(p, s)
	if len(diffs) != 5 {
		t.Fatalf("Compare = %q, want 5 differences", diffs)
	}
	for _, d := range diffs {
		r := mustRules(t, "body:"+d.Path)
		for _, left := range r.Compare(p, s) {
			if left.Path == d.Path {
				t.Errorf("ignoring %s did not remove it", d.Path)
			}
		}
		if n := len(r.Compare(p, s)); n != len(diffs)-1 {
			t.Errorf("ignoring %s left %d differences, want %d", d.Path, n, len(diffs)-1)
		}
	}
}
