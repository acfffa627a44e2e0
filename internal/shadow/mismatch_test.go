package shadow

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestNewResponseInfo(t *testing.T) {
	euro := "€" // 3 bytes
	for _, tc := range []struct {
		name      string
		body      string
		truncated bool
		want      string
	}{
		{"short", "hello", false, "hello"},
		{"exactly the limit", strings.Repeat("a", MaxBodyInfo), false, strings.Repeat("a", MaxBodyInfo)},
		{"over the limit", strings.Repeat("a", MaxBodyInfo+1), false, strings.Repeat("a", MaxBodyInfo) + truncatedMark},
		{"cut inside a rune", strings.Repeat("a", MaxBodyInfo-1) + euro, false, strings.Repeat("a", MaxBodyInfo-1) + truncatedMark},
		{"already truncated", "abc", true, "abc" + truncatedMark},
		{"invalid UTF-8", "a\xffb", false, "a\uFFFDb"},
		{"binary over the limit", strings.Repeat("\x80", MaxBodyInfo+10), false, "\uFFFD" + truncatedMark},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := NewResponseInfo(Response{Status: 201, Body: []byte(tc.body), Truncated: tc.truncated})
			if got.Body != tc.want {
				t.Errorf("Body = %q (%d bytes), want %q (%d bytes)", clip(got.Body), len(got.Body), clip(tc.want), len(tc.want))
			}
			if !utf8.ValidString(got.Body) || got.Status != 201 {
				t.Errorf("Body valid UTF-8 = %v, Status = %d", utf8.ValidString(got.Body), got.Status)
			}
		})
	}
}

func TestNewResponseInfoRedactsAndMarshals(t *testing.T) {
	info := NewResponseInfo(Response{
		Status: 200,
		Header: http.Header{"Set-Cookie": {"sid=1"}, "Content-Type": {"text/plain"}},
		Body:   []byte("ok"),
	})
	b, err := json.Marshal(Mismatch{Primary: info, Differences: []Difference{{"status", "200", "500"}}})
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{`"Set-Cookie":["[redacted]"]`, `"body":"ok"`, `"path":"status"`, `"primary_side":""`} {
		if !strings.Contains(s, want) {
			t.Errorf("JSON %s lacks %s", s, want)
		}
	}
	if strings.Contains(s, "sid=1") || strings.Contains(s, `"query"`) {
		t.Errorf("JSON %s leaks the cookie or shows an empty query", s)
	}
}
