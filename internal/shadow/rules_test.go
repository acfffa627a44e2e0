package shadow

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseRules(t *testing.T) {
	for _, tc := range []struct {
		entry string
		want  []segment // nil with wantHeader set, or for "body:$"
	}{
		{"body:$.generated_at", []segment{{kind: segKey, key: "generated_at"}}},
		{"body:$.items[*].etag", []segment{{kind: segKey, key: "items"}, {kind: segWild}, {kind: segKey, key: "etag"}}},
		{"body:$.items[0].price", []segment{{kind: segKey, key: "items"}, {kind: segIndex}, {kind: segKey, key: "price"}}},
		{"body:$[12]", []segment{{kind: segIndex, index: 12}}},
		{"body:$['odd key'].x", []segment{{kind: segKey, key: "odd key"}, {kind: segKey, key: "x"}}},
		{`body:$["it's"]['a\'b\\']`, []segment{{kind: segKey, key: "it's"}, {kind: segKey, key: `a'b\`}}},
		{"body:$['*']", []segment{{kind: segKey, key: "*"}}},
		{"body:$.*.ts", []segment{{kind: segWild}, {kind: segKey, key: "ts"}}},
		{"body:$.prix.été", []segment{{kind: segKey, key: "prix"}, {kind: segKey, key: "été"}}},
	} {
		t.Run(tc.entry, func(t *testing.T) {
			r := mustRules(t, tc.entry)
			if len(r.paths) != 1 || !reflect.DeepEqual(r.paths[0], tc.want) {
				t.Errorf("paths = %+v, want [%+v]", r.paths, tc.want)
			}
		})
	}
	t.Run("header and whole body", func(t *testing.T) {
		r := mustRules(t, "header:date", "header:X-Request-Id", "body:$")
		if !r.ignoresHeader("Date") || !r.ignoresHeader("X-Request-Id") || r.ignoresHeader("Content-Type") {
			t.Errorf("headers = %v", r.headers)
		}
		if !r.ignoreBody || len(r.paths) != 0 {
			t.Errorf("ignoreBody = %v, paths = %v; want true, none", r.ignoreBody, r.paths)
		}
	})
	t.Run("empty", func(t *testing.T) {
		if r := mustRules(t); r.ignoreBody || r.paths != nil || r.headers != nil {
			t.Errorf("ParseRules(nil) = %+v, want empty", r)
		}
	})
}

func TestParseRulesErrors(t *testing.T) {
	for _, tc := range []struct {
		entry   string
		wantErr string
	}{
		{"foo:x", `ignore[0] "foo:x": unknown kind "foo", want "body:$.path" or "header:Name"`},
		{"foo:", `unknown kind "foo"`},
		{"body", `ignore[0] "body": want "body:$.path" or "header:Name"`},
		{"Body:$.a", `unknown kind "Body"`},
		{"body:items", `ignore[0] "body:items": path "items" must start with "$"`},
		{"body:", `path "" must start with "$"`},
		{"body:$.items[0", `unterminated '['`},
		{"body:$.items[", `unterminated '['`},
		{"body:$['odd key'", `unterminated '['`},
		{"body:$['odd key].x", `unterminated '['`},
		{"body:$.items[*", `unterminated '['`},
		{"body:$.items[x]", `want [*], [index] or ['key']`},
		{"body:$.items[01]", `bad index "01"`},
		{"body:$.items[99999999999999999999]", `bad index`},
		{"body:$.items[*x]", `want ']'`},
		{"body:$..a", `empty key after '.'`},
		{"body:$.a.", `empty key after '.'`},
		{"body:$a", `unexpected 'a' at offset 1, want '.' or '['`},
		{"body:$.odd key", `' ' not allowed in a .key`},
		{"body:$.a]", `']' not allowed in a .key`},
		{"header:", `bad header name ""`},
		{"header:Bad Name", `bad header name "Bad Name"`},
	} {
		t.Run(tc.entry, func(t *testing.T) {
			_, err := ParseRules([]string{tc.entry})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("ParseRules(%q) error = %v, want substring %q", tc.entry, err, tc.wantErr)
			}
			if !errors.Is(err, ErrInvalidRule) {
				t.Errorf("error %v does not wrap ErrInvalidRule", err)
			}
		})
	}
}

func TestParseRulesJoinsAllErrors(t *testing.T) {
	_, err := ParseRules([]string{"header:Date", "foo:", "body:$.ok", "body:items"})
	var re *RuleError
	if !errors.As(err, &re) || re.Index != 1 || re.Entry != "foo:" {
		t.Fatalf("errors.As = %+v, want the entry at index 1", re)
	}
	msg := err.Error()
	for _, want := range []string{`ignore[1] "foo:"`, `ignore[3] "body:items"`} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %s", msg, want)
		}
	}
	if strings.Contains(msg, "ignore[0]") || strings.Contains(msg, "ignore[2]") {
		t.Errorf("error %q blames a good entry", msg)
	}
}
