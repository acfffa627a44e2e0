package shopapi

import (
	"context"
	"net/http"
)

// propagated lists the incoming headers passed on to calls to other apps.
var propagated = []string{HeaderRequestID, "Traceparent", "Tracestate"}

type propagateKey struct{}

// Propagate stores the X-Request-ID, traceparent and tracestate headers of
// each request in its context, where Client finds them and passes them on.
func Propagate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var h http.Header
		for _, k := range propagated {
			if v := r.Header.Get(k); v != "" {
				if h == nil {
					h = make(http.Header, len(propagated))
				}
				h.Set(k, v)
			}
		}
		if h != nil {
			r = r.WithContext(context.WithValue(r.Context(), propagateKey{}, h))
		}
		next.ServeHTTP(w, r)
	})
}

// propagatedHeaders returns the headers Propagate stored in ctx, or nil.
func propagatedHeaders(ctx context.Context) http.Header {
	h, _ := ctx.Value(propagateKey{}).(http.Header)
	return h
}
