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

// requireToken returns the admin router's middleware that refuses, with
// 401 and a JSON error, every request for a guarded path (all but the
// probes and the dashboard page) that does not carry
// "Authorization: Bearer T", where T is what token returns for that
// request: a token read from a file may change while strangler runs. An
// empty token refuses every guarded request. The comparison takes the
// same time whatever the guess.
func requireToken(token func() string) mux.MiddlewareFunc {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if openAdminPath(r.URL.Path) {
				next.ServeHTTP(w, r)
				return
			}
			want := token()
			got, ok := bearerToken(r.Header.Get("Authorization"))
			gotSum, wantSum := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
			if !ok || want == "" || subtle.ConstantTimeCompare(gotSum[:], wantSum[:]) != 1 {
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
