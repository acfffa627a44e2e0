package inventory

import (
	"strings"
	"testing"
)

func TestPattern(t *testing.T) {
	for _, tc := range []struct{ name, path, want string }{
		{"root", "/", "/"},
		{"empty", "", "/"},
		{"only slashes", "///", "/"},
		{"customer id", "/api/customers/123/invoices", "/api/customers/{id}/invoices"},
		{"order id with prefix", "/api/orders/ord-100001", "/api/orders/{id}"},
		{"sku", "/catalog/sku-1001", "/catalog/{id}"},
		{"uuid", "/api/v1/users/550e8400-e29b-41d4-a716-446655440000", "/api/v1/users/{id}"},
		{"uuid upper case", "/u/550E8400-E29B-41D4-A716-446655440000/x", "/u/{id}/x"},
		{"uuid without digits", "/u/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", "/u/{id}"},
		{"uuid without hyphens", "/u/550e8400e29b41d4a716446655440000", "/u/{id}"},
		{"invoice number", "/invoices/INV2024001.pdf", "/invoices/{id}"},
		{"one digit", "/page/7", "/page/{id}"},
		{"two digits", "/a/42/b", "/a/{id}/b"},
		{"two digits in a word", "/a/x42", "/a/x42"},
		{"versions stay", "/api/v1/x/v2", "/api/v1/x/v2"},
		{"oauth2 stays", "/oauth2/authorize", "/oauth2/authorize"},
		{"health stays", "/health", "/health"},
		{"hex with one digit", "/blob/deadbeefcafe1", "/blob/{id}"},
		{"short hex with one digit", "/blob/deadbeef1", "/blob/deadbeef1"},
		{"hex word without digit", "/blob/deadbeefcafedecade", "/blob/deadbeefcafedecade"},
		{"object id", "/docs/507f1f77bcf86cd799439011", "/docs/{id}"},
		{"24 bytes kept", "/" + strings.Repeat("a", 24), "/" + strings.Repeat("a", 24)},
		{"25 bytes collapsed", "/" + strings.Repeat("a", 25) + "/b", "/{id}/b"},
		{"password in a reset link", "/reset-password/hunterwhoisthebestpasswordxx", "/reset-password/{id}"},
		{"email", "/users/alice.smith@example.com/profile", "/users/{id}/profile"},
		{"at sign", "/users/alice@home", "/users/{id}"},
		{"dotted user name", "/users/alice.smith", "/users/{id}"},
		{"equals", "/t/a=b", "/t/{id}"},
		{"tilde", "/~alice", "/{id}"},
		{"plus", "/tags/c++", "/tags/{id}"},
		{"other pchar", "/a/b!c", "/a/{id}"},
		{"words kept", "/account/change-password/step_two", "/account/change-password/step_two"},
		{"known extension", "/orders.php", "/orders.php"},
		{"asp.net page", "/Account/Default.aspx", "/Account/Default.aspx"},
		{"unknown extension", "/a/b.exe", "/a/{id}"},
		{"two dots", "/a/b.tar.gz", "/a/{id}"},
		{"dot file", "/.env", "/{id}"},
		{"camel case kept", "/api/getUserById", "/api/getUserById"},
		{"upper case kept", "/API/HTML", "/API/HTML"},
		{"random mixed case", "/t/xKfQmZpL", "/t/{id}"},
		{"capitals in a row", "/t/aBCd", "/t/{id}"},
		{"trailing slash kept", "/api/orders/", "/api/orders/"},
		{"trailing slash after id", "/api/orders/123/", "/api/orders/{id}/"},
		{"empty segments dropped", "/a//b/", "/a/b/"},
		{"no leading slash", "a/b", "/a/b"},
		{"pchar collapsed", "/a-b_c.d~e!$&'()*+,;=:@", "/{id}"},
		{"dot segments collapsed", "/./..", "/{id}/{id}"},
		{"forged id", "/a/{id}", "/a/{id}"},
		{"forged truncation", "/a/{...}", "/a/{id}"},
		{"braces", "/a/x}y", "/a/{id}"},
		{"percent", "/a/100%25", "/a/{id}"},
		{"percent without digits", "/a/b%c", "/a/{id}"},
		{"space", "/search/red shoes", "/search/{id}"},
		{"control character", "/a/b\x01c", "/a/{id}"},
		{"delete character", "/a/b\x7f", "/a/{id}"},
		{"newline", "/a/b\nc/d", "/a/{id}/d"},
		{"non-ASCII", "/produits/café", "/produits/{id}"},
		{"right-to-left override", "/a/\u202eevil", "/a/{id}"},
		{"invalid UTF-8", "/a/\xff\xfe/b", "/a/{id}/b"},
		{"quote and backslash", "/a/\"b\\", "/a/{id}"},
		{"eight segments", "/1/2/3/4/5/6/7/8", "/{id}/{id}/{id}/{id}/{id}/{id}/{id}/{id}"},
		{"eight segments and a slash", "/a/b/c/d/e/f/g/h/", "/a/b/c/d/e/f/g/h/"},
		{"nine segments", "/a/b/c/d/e/f/g/h/i", "/a/b/c/d/e/f/g/h/{...}"},
		{"deep with slash", "/a/b/c/d/e/f/g/h/i/j/", "/a/b/c/d/e/f/g/h/{...}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := pattern(tc.path); got != tc.want {
				t.Errorf("Pattern(%q) = %q, want %q", tc.path, got, tc.want)
			}
			if got := string(AppendPattern([]byte("x"), tc.path)); got != "x"+tc.want {
				t.Errorf("AppendPattern(\"x\", %q) = %q, want %q", tc.path, got, "x"+tc.want)
			}
		})
	}
}

// TestPatternLongest builds the longest possible pattern and checks that it
// is exactly maxPatternLen bytes and fits the stack buffer Observe uses.
func TestPatternLongest(t *testing.T) {
	seg := "/" + strings.Repeat("z", maxSegLen)
	got := pattern(strings.Repeat(seg, maxSegments+3))
	want := strings.Repeat(seg, maxSegments) + truncated
	if got != want {
		t.Fatalf("Pattern = %q, want %q", got, want)
	}
	if len(got) != maxPatternLen || maxPatternLen != 206 {
		t.Fatalf("longest pattern is %d bytes, maxPatternLen %d, documented 206", len(got), maxPatternLen)
	}
}

// TestAppendPatternStaysOnTheStack checks that AppendPattern into a
// maxPatternLen buffer, as Observe calls it, does not allocate.
func TestAppendPatternStaysOnTheStack(t *testing.T) {
	for _, path := range []string{"/api/customers/invoices", "/api/orders/ord-100001/items", strings.Repeat("/segment", 20)} {
		if n := testing.AllocsPerRun(100, func() {
			var buf [maxPatternLen]byte
			_ = AppendPattern(buf[:0], path)
		}); n != 0 {
			t.Errorf("AppendPattern(%q) allocates %v times, want 0", path, n)
		}
	}
}
