package faults

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// maxAdminBody bounds the JSON accepted by the admin endpoint.
const maxAdminBody = 64 << 10

// Admin returns the handler of the run-time control endpoint (Wrap serves it
// at AdminPath):
//
//	GET     the settings in force
//	PUT     replace all settings with the JSON body (absent fields become zero)
//	PATCH   change only the fields present in the JSON body
//	DELETE  clear every fault
//
// Every method answers 200 with the settings in force, or a JSON error:
// 400 for a bad body or invalid settings, 405 for other methods. Unknown
// JSON fields are rejected.
//
// A request that came through a proxy, one carrying X-Forwarded-For or
// Forwarded (strangler always sets X-Forwarded-For on what it forwards), is
// refused with 403 whatever its method: the endpoint is for whoever runs
// the app, called directly, never for clients of the shop in front of it.
func (f *Faults) Admin() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if proxied(r) {
			writeError(w, http.StatusForbidden, "forbidden",
				AdminPath+" answers direct calls only, not requests forwarded by a proxy")
			return
		}
		switch r.Method {
		case http.MethodGet, http.MethodHead:
		case http.MethodPut, http.MethodPatch:
			var s Settings
			if r.Method == http.MethodPatch {
				s = f.Settings()
			}
			if err := decodeSettings(w, r, &s); err != nil {
				writeError(w, http.StatusBadRequest, "bad_request", err.Error())
				return
			}
			if err := f.Set(s); err != nil {
				writeError(w, http.StatusBadRequest, "bad_request", err.Error())
				return
			}
		case http.MethodDelete:
			_ = f.Set(Settings{}) // the zero value is always valid
		default:
			w.Header().Set("Allow", "GET, HEAD, PUT, PATCH, DELETE")
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed",
				fmt.Sprintf("method %s not allowed on %s", r.Method, AdminPath))
			return
		}
		writeJSON(w, http.StatusOK, f.Settings())
	})
}

// decodeSettings reads one JSON object into s, rejecting unknown fields and
// trailing data.
func decodeSettings(w http.ResponseWriter, r *http.Request, s *Settings) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxAdminBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(s); err != nil {
		return fmt.Errorf("decode fault settings: %w", err)
	}
	if dec.More() {
		return fmt.Errorf("decode fault settings: unexpected data after the JSON object")
	}
	return nil
}

// proxied reports whether r arrived through a proxy: it carries a
// forwarding header.
func proxied(r *http.Request) bool {
	_, xff := r.Header["X-Forwarded-For"]
	_, fwd := r.Header["Forwarded"]
	return xff || fwd
}
