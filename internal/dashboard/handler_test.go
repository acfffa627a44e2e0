package dashboard

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

// serve starts the dashboard handler on a loopback test server.
func serve(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(Handler())
	t.Cleanup(srv.Close)
	return srv
}

// get sends one request with the given header name, value pairs and
// returns the response with its body read.
func get(t *testing.T, method, url string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return res, string(b)
}

// assetLink matches the page's references to its assets.
var assetLink = regexp.MustCompile(`(?:src|href)="(assets/([^"?]+)\?v=([0-9a-f]+))"`)

func TestPage(t *testing.T) {
	srv := serve(t)
	res, body := get(t, http.MethodGet, srv.URL+"/")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /: %d", res.StatusCode)
	}
	wantHeaders(t, "GET /", res, map[string]string{
		"Content-Type":           "text/html; charset=utf-8",
		"Cache-Control":          "no-cache",
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "no-referrer",
	})
	for _, hook := range []string{`id="headline-share"`, `id="config-generation"`, `id="config-error"`, `id="config-error-text"`, `id="routes-body"`, `id="inventory-body"`} {
		if !strings.Contains(body, hook) {
			t.Errorf("the page has no %s", hook)
		}
	}
	links := assetLink.FindAllStringSubmatch(body, -1)
	names := map[string]bool{}
	for _, l := range links {
		names[l[2]] = true
	}
	for _, want := range []string{"live.js", "app.js", "style.css", "favicon.svg"} {
		if !names[want] {
			t.Errorf("the page does not link assets/%s with a version: %v", want, links)
		}
	}
}

func TestContentSecurityPolicyForbidsOtherOrigins(t *testing.T) {
	srv := serve(t)
	for _, target := range []string{"/", "/assets/app.js", "/nope"} {
		res, _ := get(t, http.MethodGet, srv.URL+target)
		csp := res.Header.Get("Content-Security-Policy")
		directives := map[string]string{}
		for d := range strings.SplitSeq(csp, ";") {
			name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
			directives[name] = value
		}
		for name, want := range map[string]string{
			"default-src": "'none'", "script-src": "'self'", "style-src": "'self'", "img-src": "'self'",
			"connect-src": "'self'", "frame-ancestors": "'none'", "base-uri": "'none'",
		} {
			if directives[name] != want {
				t.Errorf("GET %s: Content-Security-Policy %s is %q, want %q (policy %q)", target, name, directives[name], want, csp)
			}
		}
		if strings.Contains(csp, "http") || strings.Contains(csp, "*") || strings.Contains(csp, "unsafe") {
			t.Errorf("GET %s: Content-Security-Policy %q allows another origin or inline code", target, csp)
		}
	}
}

func TestAssets(t *testing.T) {
	srv := serve(t)
	_, page := get(t, http.MethodGet, srv.URL+"/")
	types := map[string]string{
		".js":  "text/javascript; charset=utf-8",
		".css": "text/css; charset=utf-8",
		".svg": "image/svg+xml",
	}
	for _, l := range assetLink.FindAllStringSubmatch(page, -1) {
		link, name, version := l[1], l[2], l[3]
		t.Run(name, func(t *testing.T) {
			res, body := get(t, http.MethodGet, srv.URL+"/"+link)
			if res.StatusCode != http.StatusOK || body == "" {
				t.Fatalf("GET /%s: %d, %d bytes", link, res.StatusCode, len(body))
			}
			wantHeaders(t, "GET /"+link, res, map[string]string{
				"Content-Type":  types[path.Ext(name)],
				"Cache-Control": "public, max-age=31536000, immutable",
				"ETag":          `"` + version + `"`,
			})

			// Without the current version the asset is revalidated, and a
			// matching ETag gets 304 without a body.
			res, _ = get(t, http.MethodGet, srv.URL+"/assets/"+name+"?v=old")
			wantHeaders(t, "GET /assets/"+name+"?v=old", res, map[string]string{"Cache-Control": "no-cache"})
			res, body = get(t, http.MethodGet, srv.URL+"/assets/"+name, "If-None-Match", `"`+version+`"`)
			if res.StatusCode != http.StatusNotModified || body != "" {
				t.Fatalf("GET /assets/%s with its ETag: %d %q, want 304 and no body", name, res.StatusCode, body)
			}
		})
	}
}

// TestNothingRemote checks that no embedded file makes the browser fetch
// anything from another origin: no absolute or protocol-relative URL in
// src, href, url() or fetches, and no @import.
func TestNothingRemote(t *testing.T) {
	remote := regexp.MustCompile(`(?i)((src|href|action)\s*=\s*["']?|url\(\s*["']?|(fetch|EventSource)\(\s*["'\x60])(https?:)?//|@import`)
	err := fs.WalkDir(assets, "assets", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(assets, name)
		if err != nil {
			return err
		}
		if m := remote.Find(b); m != nil {
			t.Errorf("%s refers to another origin: %q", name, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestMethodsAndUnknownPaths(t *testing.T) {
	srv := serve(t)
	res, body := get(t, http.MethodHead, srv.URL+"/")
	if res.StatusCode != http.StatusOK || body != "" || res.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Errorf("HEAD /: %d %q %q, want 200, the page's type and no body", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		res, _ := get(t, method, srv.URL+"/")
		if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s /: %d, Allow %q, want 405 with Allow: GET, HEAD", method, res.StatusCode, res.Header.Get("Allow"))
		}
	}
	for _, target := range []string{"/index.html", "/assets/", "/assets/index.html", "/assets/nope.js", "/assets/../assets/app.js", "/api/dashboard", "/x/"} {
		res, _ := get(t, http.MethodGet, srv.URL+target)
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", target, res.StatusCode)
		}
	}
}

func TestLoadRejectsBrokenAssets(t *testing.T) {
	for _, tc := range []struct {
		name    string
		files   fstest.MapFS
		wantErr string
	}{
		{"page links a missing asset", fstest.MapFS{
			"assets/index.html": {Data: []byte(`<script src="{{asset "app.js"}}"></script>`)},
		}, `no asset "app.js"`},
		{"asset of unknown type", fstest.MapFS{
			"assets/index.html": {Data: []byte(`<p>`)},
			"assets/data.bin":   {Data: []byte{0}},
		}, "data.bin: no content type"},
		{"no page", fstest.MapFS{
			"assets/app.js": {Data: []byte(`'use strict';`)},
		}, "parse page"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(tc.files)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("load: %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

func wantHeaders(t *testing.T, what string, res *http.Response, want map[string]string) {
	t.Helper()
	for name, value := range want {
		if got := res.Header.Get(name); got != value {
			t.Errorf("%s: %s is %q, want %q", what, name, got, value)
		}
	}
}
