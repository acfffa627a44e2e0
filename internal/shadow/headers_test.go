package shadow

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// mustHeaderRules builds rules comparing headers, ignoring ignore.
func mustHeaderRules(t testing.TB, headers []string, ignore ...string) *Rules {
	t.Helper()
	r, err := NewRules(headers, ignore)
	if err != nil {
		t.Fatalf("NewRules(%q, %q): %v", headers, ignore, err)
	}
	return r
}

// withHeader is a JSON answer {} with extra header lines.
func withHeader(h http.Header) Response {
	r := js(`{}`)
	for k, vs := range h {
		r.Header[k] = vs
	}
	return r
}

// TestCompareChosenHeaders checks shadow.headers: the chosen headers are
// compared, in order, as ordered lists of values, with the header named
// and both values shown; ignore header:NAME takes a header out of the set;
// headers not chosen are never compared.
func TestCompareChosenHeaders(t *testing.T) {
	for _, tc := range []struct {
		name            string
		headers, ignore []string
		primary, shadow http.Header
		want            []Difference
	}{
		{
			name:    "default: Content-Type only",
			primary: http.Header{"Cache-Control": {"no-store"}, "Date": {"Mon"}},
			shadow:  http.Header{"Cache-Control": {"max-age=60"}, "Date": {"Tue"}},
		},
		{
			name:    "a chosen header differs",
			headers: []string{"Content-Type", "cache-control"},
			primary: http.Header{"Cache-Control": {"no-store"}},
			shadow:  http.Header{"Cache-Control": {"max-age=60"}},
			want:    []Difference{{"header:Cache-Control", "no-store", "max-age=60"}},
		},
		{
			name:    "absent on one side, in configured order",
			headers: []string{"X-Total-Count", "Cache-Control"},
			primary: http.Header{"Cache-Control": {"no-store"}, "X-Total-Count": {"3"}},
			shadow:  http.Header{},
			want:    []Difference{{"header:X-Total-Count", "3", "(absent)"}, {"header:Cache-Control", "no-store", "(absent)"}},
		},
		{
			name:    "multi-valued: order matters",
			headers: []string{"Vary"},
			primary: http.Header{"Vary": {"Accept", "Accept-Language"}},
			shadow:  http.Header{"Vary": {"Accept-Language", "Accept"}},
			want:    []Difference{{"header:Vary", `["Accept", "Accept-Language"]`, `["Accept-Language", "Accept"]`}},
		},
		{
			name:    "multi-valued: one value more",
			headers: []string{"Link"},
			primary: http.Header{"Link": {"</a>"}},
			shadow:  http.Header{"Link": {"</a>", "</b>"}},
			want:    []Difference{{"header:Link", "</a>", `["</a>", "</b>"]`}},
		},
		{
			name:    "multi-valued: equal lists",
			headers: []string{"Vary"},
			primary: http.Header{"Vary": {"Accept", "Origin"}},
			shadow:  http.Header{"Vary": {"Accept", "Origin"}},
		},
		{
			name:    "an empty value is not an absent header",
			headers: []string{"X-Empty"},
			primary: http.Header{"X-Empty": {""}},
			shadow:  http.Header{},
			want:    []Difference{{"header:X-Empty", `[""]`, "(absent)"}},
		},
		{
			name:    "ignore removes a chosen header",
			headers: []string{"Cache-Control", "Date"},
			ignore:  []string{"header:date", "header:X-Not-Chosen"},
			primary: http.Header{"Cache-Control": {"no-store"}, "Date": {"Mon"}},
			shadow:  http.Header{"Cache-Control": {"no-store"}, "Date": {"Tue"}},
		},
		{
			name:    "Content-Type not chosen",
			headers: []string{"Cache-Control"},
			primary: http.Header{"Content-Type": {"text/plain"}},
			shadow:  http.Header{"Content-Type": {"text/html"}},
		},
		{
			name:    "secret values are redacted in the difference",
			headers: []string{"X-Auth-Token", "Set-Cookie", "Location"},
			primary: http.Header{"X-Auth-Token": {"s3cr3t-a"}, "Set-Cookie": {"a=s3cr3t", "b=1"}, "Location": {"/cb?code=s3cr3t&page=1"}},
			shadow:  http.Header{"X-Auth-Token": {"s3cr3t-b"}, "Location": {"/cb?code=other&page=2"}},
			want: []Difference{
				{"header:X-Auth-Token", Redacted, Redacted},
				{"header:Set-Cookie", `["[redacted]", "[redacted]"]`, "(absent)"},
				{"header:Location", "/cb?code=[redacted]&page=1", "/cb?code=[redacted]&page=2"},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := mustHeaderRules(t, tc.headers, tc.ignore...)
			got := r.Compare(withHeader(tc.primary), withHeader(tc.shadow))
			if !slices.Equal(got, tc.want) {
				t.Errorf("differences = %q, want %q", got, tc.want)
			}
			if tc.want == nil && got != nil {
				t.Errorf("differences = %#v, want nil", got)
			}
		})
	}
}

// TestComparedHeaders checks the set a route compares.
func TestComparedHeaders(t *testing.T) {
	for _, tc := range []struct {
		headers, ignore, want []string
	}{
		{nil, nil, []string{"Content-Type"}},
		{[]string{}, []string{"header:content-type"}, []string{}},
		{[]string{"etag", "X-TOTAL-count", "Date"}, []string{"header:Date", "header:Server"}, []string{"Etag", "X-Total-Count"}},
	} {
		if got := mustHeaderRules(t, tc.headers, tc.ignore...).ComparedHeaders(); !slices.Equal(got, tc.want) {
			t.Errorf("NewRules(%q, %q).ComparedHeaders() = %q, want %q", tc.headers, tc.ignore, got, tc.want)
		}
	}
	var nilRules *Rules
	if got := nilRules.ComparedHeaders(); !slices.Equal(got, DefaultHeaders) {
		t.Errorf("nil rules compare %q, want %q", got, DefaultHeaders)
	}
}

// TestCheckHeaders checks shadow.headers validation: one *HeaderError per
// bad entry, naming it and its index.
func TestCheckHeaders(t *testing.T) {
	if err := CheckHeaders([]string{"Content-Type", "ETag", "X-Total-Count"}); err != nil {
		t.Errorf("good names: %v", err)
	}
	err := CheckHeaders([]string{"Content-Type", "", "Bad Name", "content-type", "ETag", "etag", "Content-Encoding", "x:y"})
	var got []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var he *HeaderError
		if !errors.As(e, &he) || !errors.Is(e, ErrInvalidHeader) {
			t.Fatalf("%v is not a *HeaderError wrapping ErrInvalidHeader", e)
		}
		got = append(got, e.Error())
	}
	want := []string{
		`headers[1] "": not a valid header name`,
		`headers[2] "Bad Name": not a valid header name`,
		`headers[3] "content-type": duplicate of headers[0] "Content-Type"`,
		`headers[5] "etag": duplicate of headers[4] "ETag"`,
		`headers[6] "Content-Encoding": not comparable: bodies are compared decoded`,
		`headers[7] "x:y": not a valid header name`,
	}
	if len(got) != len(want) {
		t.Fatalf("errors:\n%s\nwant %d", strings.Join(got, "\n"), len(want))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("error %d = %q, want %q...", i, got[i], want[i])
		}
	}
	if _, err := NewRules([]string{"A", "a"}, []string{"nope"}); !errors.Is(err, ErrInvalidHeader) || !errors.Is(err, ErrInvalidRule) {
		t.Errorf("NewRules with a bad header and a bad rule: %v, want both", err)
	}
}
