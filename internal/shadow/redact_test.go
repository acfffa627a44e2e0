package shadow

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	for _, tc := range []struct {
		name   string
		secret bool
	}{
		{"Authorization", true},
		{"Proxy-Authorization", true},
		{"Cookie", true},
		{"Set-Cookie", true},
		{"X-Auth-User", true},
		{"X-Csrf-Token", true},
		{"X-Client-Secret", true},
		{"X-Db-Password", true},
		{"X-Api-Key", true},
		{"Apikey", true},
		{"X_Api_Key", true},
		{"X-Session-Id", true},
		{"Www-Authenticate", true},
		{"X-Amz-Credential", true},
		{"Content-Type", false},
		{"Accept", false},
		{"X-Request-Id", false},
		{"Cache-Control", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Redact(http.Header{tc.name: {"v1", "v2"}})
			want := []string{"v1", "v2"}
			if tc.secret {
				want = []string{Redacted, Redacted}
			}
			if !reflect.DeepEqual(got[tc.name], want) {
				t.Errorf("Redact(%s) = %q, want %q", tc.name, got[tc.name], want)
			}
		})
	}
}

func TestRedactCopies(t *testing.T) {
	if Redact(nil) != nil {
		t.Error("Redact(nil) != nil")
	}
	in := http.Header{"Accept": {"a"}, "authorization": {"Bearer x"}}
	out := Redact(in)
	out["Accept"][0] = "changed"
	//lint:ignore SA1008 the non-canonical key is what this test is about
	if in.Get("Accept") != "a" || in["authorization"][0] != "Bearer x" {
		t.Errorf("Redact modified or aliases its input: %v", in)
	}
	//lint:ignore SA1008 the non-canonical key is what this test is about
	if out["authorization"][0] != Redacted {
		t.Errorf("non-canonical authorization not redacted: %v", out)
	}
}

// TestRedactQuery checks that secret query values are redacted, keeping the
// names, the other values, the order and the separators byte for byte.
func TestRedactQuery(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"page=2&sort=asc", "page=2&sort=asc"},
		{"access_token=s3cr3t", "access_token=[redacted]"},
		{"page=2&access_token=s3cr3t&q=a%20b", "page=2&access_token=[redacted]&q=a%20b"},
		{"ACCESS_TOKEN=s3cr3t", "ACCESS_TOKEN=[redacted]"},
		{"access%5Ftoken=s3cr3t", "access%5Ftoken=[redacted]"},
		{"code=s3cr3t&state=xyz", "code=[redacted]&state=[redacted]"},
		{"token=a&refresh_token=b&id_token=c&api_key=d&apikey=e&key=f", "token=[redacted]&refresh_token=[redacted]&id_token=[redacted]&api_key=[redacted]&apikey=[redacted]&key=[redacted]"},
		{"password=a&passwd=b&secret=c&client_secret=d&signature=e&sig=f&auth=g&session=h", "password=[redacted]&passwd=[redacted]&secret=[redacted]&client_secret=[redacted]&signature=[redacted]&sig=[redacted]&auth=[redacted]&session=[redacted]"},
		{"X-Amz-Signature=a&X-Amz-Credential=b&X-Amz-Date=c", "X-Amz-Signature=[redacted]&X-Amz-Credential=[redacted]&X-Amz-Date=c"},
		{"csrfToken=a&user_password=b&Session-Id=c&mykey=d", "csrfToken=[redacted]&user_password=[redacted]&Session-Id=[redacted]&mykey=[redacted]"},
		{"a=1;token=s3cr3t;b=2", "a=1;token=[redacted];b=2"},
		{"token&x=1", "token&x=1"},
		{"token=&x=1", "token=[redacted]&x=1"},
		{"token=a=b", "token=[redacted]"},
		{"&&token=x&", "&&token=[redacted]&"},
		{"%zz=1&token=%zz", "%zz=1&token=[redacted]"},
		{"author=me&codec=h264&signal=1", "author=[redacted]&codec=h264&signal=1"}, // "auth", as in headers: a false alarm
		// Names that do not percent-decode are decoded leniently: the valid
		// escapes are decoded, a stray '%' is kept, then trimmed.
		{"p%61ss%=x&page=2", "p%61ss%=[redacted]&page=2"},
		{"p%61ssword%zz=x", "p%61ssword%zz=[redacted]"},
		{"%=1&c%6Fde%%=abc&stat%65=%%1", "%=1&c%6Fde%%=[redacted]&stat%65=[redacted]"},
		{"code%5B%5D=abc&token[]=x&q=%", "code%5B%5D=[redacted]&token[]=[redacted]&q=%"},
		{"access+token=x&+code+=y", "access+token=[redacted]&+code+=[redacted]"},
		{"p%=1&pa%2=2", "p%=1&pa%2=2"},
	} {
		if got := RedactQuery(tc.in); got != tc.want {
			t.Errorf("RedactQuery(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestRedactURLHeaders checks that URL-valued headers keep their value with
// the secret parameters of the query and fragment redacted.
func TestRedactURLHeaders(t *testing.T) {
	in := http.Header{
		"Referer":  {"https://app.example/cb?code=s3cr3t&state=1"},
		"Location": {"https://app.example/#access_token=s3cr3t&token_type=bearer&expires_in=3600", "/plain#section"},
		"Link":     {"</next?token=kept>"},
	}
	got := Redact(in)
	want := http.Header{
		"Referer":  {"https://app.example/cb?code=[redacted]&state=[redacted]"},
		"Location": {"https://app.example/#access_token=[redacted]&token_type=[redacted]&expires_in=3600", "/plain#section"},
		"Link":     {"</next?token=kept>"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Redact = %q, want %q", got, want)
	}
}

// TestNewRequestInfoRedacts checks that a kept request never holds a secret
// from its query string or its headers.
func TestNewRequestInfoRedacts(t *testing.T) {
	h := http.Header{"Authorization": {"Bearer s3cr3t"}, "Accept": {"*/*"}}
	ri := NewRequestInfo("GET", "/api/items", "access_token=s3cr3t&page=2", h, nil)
	if ri.Query != "access_token=[redacted]&page=2" || ri.Header.Get("Authorization") != Redacted || ri.Header.Get("Accept") != "*/*" ||
		ri.Method != "GET" || ri.Path != "/api/items" {
		t.Errorf("NewRequestInfo = %+v", ri)
	}
	if h.Get("Authorization") != "Bearer s3cr3t" {
		t.Errorf("NewRequestInfo changed its input: %v", h)
	}
}

// TestRedactURL checks that RedactURL redacts the secret parameters of the
// query, of the fragment and of a query inside the fragment, and the
// userinfo, keeping everything else byte for byte.
func TestRedactURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"/plain", "/plain"},
		{"/plain#section", "/plain#section"},
		{"https://app.example/cb?code=abc&state=1", "https://app.example/cb?code=[redacted]&state=[redacted]"},
		{"https://app.example/#access_token=abc&expires_in=3600", "https://app.example/#access_token=[redacted]&expires_in=3600"},
		// A query inside the fragment (hash-routed single-page apps).
		{"https://app.example/#/callback?code=abc&state=1", "https://app.example/#/callback?code=[redacted]&state=[redacted]"},
		{"https://app.example/?page=2#/cb?state=1&id_token=e.y.j;x=%zz", "https://app.example/?page=2#/cb?state=[redacted]&id_token=[redacted];x=%zz"},
		{"/app#!/login?redirect=%2Fhome&password=hunter2", "/app#!/login?redirect=%2Fhome&password=[redacted]"},
		{"/app#/cb?", "/app#/cb?"},
		{"/app#/cb?code=a?b&x=1", "/app#/cb?code=[redacted]&x=1"},
		{"/app#token=a?code=b", "/app#token=[redacted]?code=[redacted]"},
		// Userinfo: user name and password are both replaced.
		{"https://alice:hunter2@app.example/x", "https://[redacted]:[redacted]@app.example/x"},
		{"https://alice:hunter2@app.example:8443", "https://[redacted]:[redacted]@app.example:8443"},
		{"https://ghp_s3cr3t@github.com/o/r.git", "https://[redacted]@github.com/o/r.git"},
		{"https://a:p@ss@app.example/x?token=t#y", "https://[redacted]:[redacted]@app.example/x?token=[redacted]#y"},
		{"//alice:hunter2@app.example/x", "//[redacted]:[redacted]@app.example/x"},
		{"git+ssh://git:pw@host/r", "git+ssh://[redacted]:[redacted]@host/r"},
		{"https://app.example/x@y:z", "https://app.example/x@y:z"},
		{"https://app.example?q=a:b@c", "https://app.example?q=a:b@c"},
		{"https://app.example#a:b@c", "https://app.example#a:b@c"},
		{"/path/alice:pw@host", "/path/alice:pw@host"},
		{"mailto:alice@example.com", "mailto:alice@example.com"},
		{"1http://a:b@c/", "1http://a:b@c/"},
		{"https://@app.example/", "https://[redacted]@app.example/"},
	} {
		if got := RedactURL(tc.in); got != tc.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestRedactURLHeadersFragmentAndUserinfo checks the review's cases through
// Redact: a hash-routed callback's code and a password in the userinfo of
// a Referer or Location are not kept.
func TestRedactURLHeadersFragmentAndUserinfo(t *testing.T) {
	got := Redact(http.Header{
		"Referer":          {"https://app.example/#/callback?code=abc&state=1"},
		"Location":         {"https://alice:hunter2@app.example/x"},
		"Content-Location": {"/r?p%61ss%=x&page=2"},
	})
	want := http.Header{
		"Referer":          {"https://app.example/#/callback?code=[redacted]&state=[redacted]"},
		"Location":         {"https://[redacted]:[redacted]@app.example/x"},
		"Content-Location": {"/r?p%61ss%=[redacted]&page=2"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Redact = %q, want %q", got, want)
	}
	for _, vs := range got {
		for _, v := range vs {
			for _, secret := range []string{"abc", "hunter2", "alice"} {
				if strings.Contains(v, secret) {
					t.Errorf("%q still holds %q", v, secret)
				}
			}
		}
	}
}
