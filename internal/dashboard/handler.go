package dashboard

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// assets holds the page template and the files it links to.
//
//go:embed assets
var assets embed.FS

// AssetPrefix is the path under which Handler serves the page's script,
// stylesheet and icon. Mount Handler at "/" and at AssetPrefix.
const AssetPrefix = "/assets/"

// contentSecurityPolicy lets the page load only its own assets and talk
// only to its own origin: no remote script, style, image, font or
// connection, no inline script, no framing.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Cache-Control values. The page is revalidated on every load (it is small
// and names the current asset versions); an asset requested with its
// current version is immutable, any other request for it is revalidated.
const (
	cacheRevalidate = "no-cache"
	cacheImmutable  = "public, max-age=31536000, immutable"
)

// contentTypes maps the extensions of the embedded files to their types.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
}

// file is one embedded response.
type file struct {
	body        []byte
	contentType string
	version     string // hex prefix of the body's SHA-256; also the ETag
}

func newFile(name string, body []byte) (file, error) {
	ct, ok := contentTypes[path.Ext(name)]
	if !ok {
		return file{}, fmt.Errorf("embedded %s: no content type for its extension", name)
	}
	sum := sha256.Sum256(body)
	return file{body: body, contentType: ct, version: hex.EncodeToString(sum[:8])}, nil
}

// site is the page and its assets, read once from the embedded files.
type site struct {
	page   file
	assets map[string]file // by name under AssetPrefix
}

// Handler returns the dashboard's handler: the page at "/" and its assets
// under AssetPrefix; any other path is 404 and any method but GET and HEAD
// is 405. The page links to its assets and the JSON endpoints with relative
// URLs, so the admin listener may also be published under a path prefix.
func Handler() http.Handler {
	s, err := load(assets)
	if err != nil {
		// The embedded files are fixed at build time; the package's tests
		// load them, so this cannot happen in a tested build.
		panic(fmt.Sprintf("dashboard: %v", err))
	}
	return s
}

// load reads the assets directory of fsys and renders the page with the
// versioned URLs of its assets.
func load(fsys fs.FS) (*site, error) {
	s := &site{assets: map[string]file{}}
	entries, err := fs.ReadDir(fsys, "assets")
	if err != nil {
		return nil, fmt.Errorf("read assets: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() || e.Name() == "index.html" {
			continue
		}
		body, err := fs.ReadFile(fsys, "assets/"+e.Name())
		if err != nil {
			return nil, fmt.Errorf("read asset: %w", err)
		}
		if s.assets[e.Name()], err = newFile(e.Name(), body); err != nil {
			return nil, err
		}
	}
	page, err := s.render(fsys)
	if err != nil {
		return nil, err
	}
	s.page, err = newFile("index.html", page)
	return s, err
}

// render executes assets/index.html, whose {{asset "NAME"}} calls become
// the relative, versioned URL of that asset.
func (s *site) render(fsys fs.FS) ([]byte, error) {
	tmpl, err := template.New("index.html").Funcs(template.FuncMap{
		"asset": func(name string) (string, error) {
			f, ok := s.assets[name]
			if !ok {
				return "", fmt.Errorf("no asset %q", name)
			}
			return strings.TrimPrefix(AssetPrefix, "/") + name + "?v=" + f.version, nil
		},
	}).ParseFS(fsys, "assets/index.html")
	if err != nil {
		return nil, fmt.Errorf("parse page: %w", err)
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, nil); err != nil {
		return nil, fmt.Errorf("render page: %w", err)
	}
	return b.Bytes(), nil
}

func (s *site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	f, cache, ok := s.lookup(r)
	if !ok {
		http.NotFound(w, r)
		return
	}
	h.Set("Content-Type", f.contentType)
	h.Set("Cache-Control", cache)
	h.Set("ETag", `"`+f.version+`"`)
	// ServeContent answers If-None-Match with 304, HEAD without a body,
	// and ranges.
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
}

// lookup finds the file a request names and the Cache-Control to send.
func (s *site) lookup(r *http.Request) (file, string, bool) {
	if r.URL.Path == "/" {
		return s.page, cacheRevalidate, true
	}
	name, ok := strings.CutPrefix(r.URL.Path, AssetPrefix)
	if !ok {
		return file{}, "", false
	}
	f, ok := s.assets[name]
	if !ok {
		return file{}, "", false
	}
	if r.URL.Query().Get("v") == f.version {
		return f, cacheImmutable, true
	}
	return f, cacheRevalidate, true
}

var _ http.Handler = (*site)(nil)
