package proxy

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/gorilla/mux"
)

// openAdminPaths answer without the admin token: the probes, which
// orchestrators call without credentials, and the dashboard page and its
// assets, which hold no data (the page asks for the token and sends it
// with every data request).
func openAdminPath(path string) bool {
	switch path {
	case "/", "/healthz", "/readyz":
		return true
	}
	return strings.HasPrefix(path, "/assets/")
}

// requireToken refuses, with 401 and a JSON error, every request for a
// guarded path that does not carry "Authorization: Bearer token". The
// comparison takes the same time whatever the guess.
func requireToken(token string) mux.MiddlewareFunc {
	want := sha256.Sum256([]byte(token))
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if openAdminPath(r.URL.Path) {
				next.ServeHTTP(w, r)
				return
			}
			got, ok := bearerToken(r.Header.Get("Authorization"))
			sum := sha256.Sum256([]byte(got))
			if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="strangler admin"`)
				writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "this admin endpoint needs the admin token: Authorization: Bearer TOKEN"})
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// bearerToken returns the token of an Authorization value in the Bearer
// scheme, whose name is case-insensitive (RFC 9110, section 11.1):
// "bearer TOKEN" is as good as "Bearer TOKEN".
func bearerToken(authorization string) (string, bool) {
	scheme, token, ok := strings.Cut(authorization, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimLeft(token, " "), true
}
