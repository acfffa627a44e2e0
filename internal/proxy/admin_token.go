package proxy

import (
	"context"
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
// same time whatever the guess. A request it lets through carries, in its
// context, the same check against the token of the moment, which a
// long-lived answer (the dashboard's event stream) asks again as it goes:
// see stillAuthorized.
func requireToken(token func() string) mux.MiddlewareFunc {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if openAdminPath(r.URL.Path) {
				next.ServeHTTP(w, r)
				return
			}
			got, ok := bearerToken(r.Header.Get("Authorization"))
			authorized := func() bool { return ok && tokenMatches(got, token()) }
			if !authorized() {
				w.Header().Set("WWW-Authenticate", `Bearer realm="strangler admin"`)
				writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "this admin endpoint needs the admin token: Authorization: Bearer TOKEN"})
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), authorizedKey{}, authorized)))
		})
	}
}

// tokenMatches reports whether got is want, a non-empty token, in a time
// that does not depend on how much of got is right.
func tokenMatches(got, want string) bool {
	gotSum, wantSum := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return want != "" && subtle.ConstantTimeCompare(gotSum[:], wantSum[:]) == 1
}

// authorizedKey is the context key under which requireToken leaves its
// check of the request's token against the current one.
type authorizedKey struct{}

// stillAuthorized reports whether the token the request of ctx was
// admitted with is still the admin token: false once the token has been
// rotated (its file changed) since the request began. A request that
// needed no token (no token is configured, or an open path) is always
// still authorized.
func stillAuthorized(ctx context.Context) bool {
	check, ok := ctx.Value(authorizedKey{}).(func() bool)
	return !ok || check()
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
