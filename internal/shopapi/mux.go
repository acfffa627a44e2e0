package shopapi

import (
	"net/http"
	"slices"
	"strings"
)

// Methods maps an HTTP method to its handler on one path.
type Methods map[string]http.HandlerFunc

// Handle registers on mux one "METHOD path" pattern per entry of m, plus a
// fallback for path that answers any other method with a JSON 405 and an
// Allow header. GET also serves HEAD, as http.ServeMux does.
func Handle(mux *http.ServeMux, path string, m Methods) {
	allow := make([]string, 0, len(m)+1)
	for method, h := range m {
		mux.HandleFunc(method+" "+path, h)
		allow = append(allow, method)
		if method == http.MethodGet {
			allow = append(allow, http.MethodHead)
		}
	}
	slices.Sort(allow)
	allowed := strings.Join(allow, ", ")
	mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allowed)
		WriteError(w, http.StatusMethodNotAllowed, CodeMethodNotAllowed, "method "+r.Method+" not allowed")
	})
}

// NotFound answers 404 not_found in JSON. Register it at "/" so unknown
// paths answer in the contract's shape on every side.
func NotFound(w http.ResponseWriter, r *http.Request) {
	WriteError(w, http.StatusNotFound, CodeNotFound, "no endpoint "+r.URL.Path)
}

// HandleHealth registers /health/live and /health/ready for service. Both
// answer 200 while the process serves; the fault layer turns ready into 503
// on demand. Readiness does not depend on other apps, so that one app's
// outage does not take its callers out of rotation too.
func HandleHealth(mux *http.ServeMux, service string) {
	Handle(mux, "/health/live", Methods{http.MethodGet: func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, Health{Status: "live", Service: service})
	}})
	Handle(mux, "/health/ready", Methods{http.MethodGet: func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, Health{Status: "ready", Service: service})
	}})
}
