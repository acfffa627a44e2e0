package monolith_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/strangler-proxy/strangler/internal/shopapi/shoptest"
	monolith "github.com/strangler-proxy/strangler/legacy-monolith"
)

// email of customer under seed 1.
const email = "dennis.lamport.100003@example.com"

func form(v url.Values) string { return v.Encode() }

func post(t *testing.T, u, body, cookie string) shoptest.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return send(t, req, cookie)
}

func get(t *testing.T, u, cookie string) shoptest.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return send(t, req, cookie)
}

// send does one request without following redirects.
func send(t *testing.T, req *http.Request, cookie string) shoptest.Response {
	t.Helper()
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: monolith.SessionCookie, Value: cookie})
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return shoptest.Response{Status: res.StatusCode, Header: res.Header, Body: b}
}

func sessionOf(res shoptest.Response) string {
	for _, c := range (&http.Response{Header: res.Header}).Cookies() {
		if c.Name == monolith.SessionCookie {
			return c.Value
		}
	}
	return ""
}

func TestPages(t *testing.T) {
	m := start(t, monolith.Options{Seed: 1})

	home := get(t, m+"/", "")
	if home.Status != 200 || !strings.Contains(string(home.Body), "Enamel Mug") ||
		!strings.HasPrefix(home.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %s", home.Status, home.Body)
	}
	if res := get(t, m+"/account", ""); res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/login" {
		t.Fatalf("GET /account logged out = %d %s", res.Status, res.Header.Get("Location"))
	}
	if res := post(t, m+"/login", form(url.Values{"email": {email}, "password": {"wrong"}}), ""); res.Status != http.StatusUnauthorized || sessionOf(res) != "" {
		t.Fatalf("bad login = %d, cookie %q", res.Status, sessionOf(res))
	}

	login := post(t, m+"/login", form(url.Values{"email": {email}, "password": {"demo"}}), "")
	sess := sessionOf(login)
	if login.Status != http.StatusSeeOther || login.Header.Get("Location") != "/account" || sess == "" {
		t.Fatalf("login = %d to %q, cookie %q", login.Status, login.Header.Get("Location"), sess)
	}
	acct := get(t, m+"/account", sess)
	if acct.Status != 200 || !strings.Contains(string(acct.Body), "ord-100044") || !strings.Contains(string(acct.Body), "Dennis Lamport") {
		t.Fatalf("GET /account = %d %s", acct.Status, acct.Body)
	}

	out := get(t, m+"/logout", sess)
	if out.Status != http.StatusSeeOther || out.Header.Get("Location") != "/" {
		t.Fatalf("logout = %d %q", out.Status, out.Header.Get("Location"))
	}
	if res := get(t, m+"/account", sess); res.Status != http.StatusSeeOther {
		t.Fatalf("GET /account after logout = %d, want a redirect to /login", res.Status)
	}
}
