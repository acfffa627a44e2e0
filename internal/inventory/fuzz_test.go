package inventory

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzPattern checks that every pattern is valid UTF-8, starts with "/",
// has at most maxSegments segments plus the truncation marker, fits in
// maxPatternLen bytes and is its own pattern.
func FuzzPattern(f *testing.F) {
	for _, s := range []string{
		"/", "", "/api/customers/123/invoices", "/api/v1/users/550e8400-e29b-41d4-a716-446655440000",
		"/a/b/c/d/e/f/g/h/i/j/", "//x//", "/a/{...}", "/\xff/\u202e/caf\xc3", "no/slash", "/a/./../b",
		"/" + strings.Repeat("x", 40) + "/" + strings.Repeat("7", 5),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		p := pattern(path)
		if !utf8.ValidString(p) {
			t.Fatalf("Pattern(%q) = %q, not valid UTF-8", path, p)
		}
		if !strings.HasPrefix(p, "/") {
			t.Fatalf("Pattern(%q) = %q, does not start with /", path, p)
		}
		if len(p) > maxPatternLen {
			t.Fatalf("Pattern(%q) = %q, %d bytes > %d", path, p, len(p), maxPatternLen)
		}
		segs := strings.Split(strings.Trim(p, "/"), "/")
		if n := len(segs); n > maxSegments+1 || n == maxSegments+1 && segs[maxSegments] != "{...}" {
			t.Fatalf("Pattern(%q) = %q, %d segments", path, p, n)
		}
		for i, s := range segs {
			if s == "" && p != "/" || s == "{...}" && i != maxSegments {
				t.Fatalf("Pattern(%q) = %q, segment %d is %q", path, p, i, s)
			}
		}
		if again := pattern(p); again != p {
			t.Fatalf("Pattern(%q) = %q, but Pattern(%q) = %q", path, p, p, again)
		}
	})
}
