package shadow

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzCompare checks that Compare never panics, that an answer always
// matches itself, that matching is symmetric, and that the output stays
// bounded.
func FuzzCompare(f *testing.F) {
	f.Add("application/json", []byte(`{"a":[1,{"b":2}],"generated_at":1}`), "application/json", []byte(`{"a":[1.0,{"b":3}]}`))
	f.Add("application/json", []byte(`[1e999999999, -0, "x"]`), "application/problem+json", []byte(`[1e999999998, 0, "y", null]`))
	f.Add("text/plain", []byte("hello"), "application/json", []byte(`"hello"`))
	f.Add("application/json; charset=UTF-8", []byte(`{"items":{"k":{"etag":1}}}`), "bad/;;", []byte{0xff, 0})
	r := mustRules(f, "body:$.generated_at", "body:$.items[*].etag", "body:$.a[0]", "body:$['odd key']")
	f.Fuzz(func(t *testing.T, ct1 string, b1 []byte, ct2 string, b2 []byte) {
		a, b := resp(200, ct1, ""), resp(200, ct2, "")
		a.Body, b.Body = b1, b2
		if d := r.Compare(a, a); len(d) != 0 {
			t.Fatalf("Compare(a, a) = %q", d)
		}
		ab, ba := r.Compare(a, b), r.Compare(b, a)
		if (len(ab) == 0) != (len(ba) == 0) {
			t.Fatalf("asymmetric: Compare(a, b) = %q, Compare(b, a) = %q", ab, ba)
		}
		if len(ab) > maxDifferences+1 {
			t.Fatalf("%d differences", len(ab))
		}
		for _, d := range ab {
			for _, v := range []string{d.Path, d.Primary, d.Shadow} {
				if len(v) > maxRender+len("…") && !strings.HasPrefix(v, "$") {
					t.Fatalf("rendering of %d bytes: %q", len(v), v)
				}
			}
			if strings.HasPrefix(d.Path, "$") && utf8.ValidString(d.Path) {
				if _, err := parsePath(d.Path); err != nil {
					t.Fatalf("reported path %q does not parse: %v", d.Path, err)
				}
			}
		}
	})
}

// FuzzParseRules checks that ParseRules never panics and that an error
// always names the entry.
func FuzzParseRules(f *testing.F) {
	for _, s := range []string{"body:$.a[*].b", "body:$['x\\'y'][0]", "header:Date", "foo:", "body:$.a[", "body:$.*"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, entry string) {
		_, err := ParseRules([]string{entry})
		if err != nil && !strings.Contains(err.Error(), "ignore[0]") {
			t.Fatalf("error %q does not name the entry", err)
		}
	})
}
