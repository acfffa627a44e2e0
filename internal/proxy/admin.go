package proxy

import (
	"encoding/json"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/strangler-proxy/strangler/internal/dashboard"
)

// AdminOptions configure the admin listener's handler.
type AdminOptions struct {
	// Handler is the proxy whose table is reported. Required.
	Handler *Handler
	// Reloader supplies the last reload result; nil omits it.
	Reloader *Reloader
	// Gatherer is served at /metrics; nil serves prometheus.DefaultGatherer.
	Gatherer prometheus.Gatherer
	// Stop, when closed, ends the dashboard's event streams, so that the
	// admin server can shut down; close it from the server's
	// RegisterOnShutdown. Nil streams until each client leaves.
	Stop <-chan struct{}
	// Token, when not nil, returns the bearer token /metrics and every
	// /api/ path require (Authorization: Bearer TOKEN), asked on each
	// such request, since a token read from a file may change while
	// strangler runs; an empty token refuses them all. An event stream
	// (/api/dashboard/events) ends at its next event once its token is no
	// longer the one Token returns. The probes /healthz and /readyz and
	// the dashboard page itself, which holds no data, stay open.
	Token func() string
	// LocalHostsOnly refuses, with 403, requests whose Host is neither an
	// IP address nor localhost (or a name under .localhost). Set it when
	// the listener is bound to loopback: a web page the operator opens
	// could otherwise point a name of its own at 127.0.0.1 (DNS
	// rebinding) and read the status and the shadow mismatches from the
	// operator's browser. A listener on another interface is reached by
	// name (a Prometheus scraping strangler:9090), so it is not checked.
	LocalHostsOnly bool
}

// NewAdmin returns the handler of the admin listener: the dashboard at /,
// /metrics, /healthz, /readyz, /api/status, /api/shadow/{route},
// /api/dashboard and /api/dashboard/events. Serve it on its own listener
// (loopback by default); the proxy listener never routes to it. Every
// endpoint only reads: there is nothing on it that changes the proxy.
func NewAdmin(o AdminOptions) http.Handler {
	if o.Gatherer == nil {
		o.Gatherer = prometheus.DefaultGatherer
	}
	r := mux.NewRouter().SkipClean(true) // /api/shadow//api/orders names the route "/api/orders"
	if o.LocalHostsOnly {
		r.Use(requireLocalHost)
	}
	if o.Token != nil {
		r.Use(requireToken(o.Token))
	}
	r.Handle("/metrics", promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{})).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeText(w, http.StatusOK, "ok\n")
	}).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		switch {
		case o.Handler.ShuttingDown():
			writeText(w, http.StatusServiceUnavailable, "shutting down\n")
			return
		case !o.Handler.Ready():
			writeText(w, http.StatusServiceUnavailable, "no routing table loaded\n")
			return
		}
		writeText(w, http.StatusOK, "ready\n")
	}).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/api/status", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, o.Handler.Status(o.Reloader))
	}).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/api/dashboard", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, o.Handler.Dashboard(o.Reloader, time.Now()))
	}).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/api/dashboard/events", func(w http.ResponseWriter, req *http.Request) {
		o.Handler.serveDashboardEvents(w, req, o.Reloader, o.Stop)
	}).Methods(http.MethodGet)
	// Route names may hold slashes (a name defaults to the prefix), so the
	// rest of the path is the name; the leading slash is optional.
	r.HandleFunc("/api/shadow/{route:.+}", func(w http.ResponseWriter, req *http.Request) {
		name := mux.Vars(req)["route"]
		rep, ok := o.Handler.ShadowReport(name)
		if !ok {
			rep, ok = o.Handler.ShadowReport("/" + name)
		}
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no live route of that name has a shadow"})
			return
		}
		writeJSON(w, http.StatusOK, rep)
	}).Methods(http.MethodGet, http.MethodHead)
	page := dashboard.Handler()
	r.Handle("/", page)
	r.PathPrefix(dashboard.AssetPrefix).Handler(page)
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "not found"})
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "method not allowed"})
	})
	return r
}

// requireLocalHost refuses requests whose Host is a name other than
// localhost: see AdminOptions.LocalHostsOnly.
func requireLocalHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isLocalHost(r.Host) {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "host not allowed: reach the admin listener by IP address or localhost"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// isLocalHost reports whether host (a Host header, with or without a
// port) is an IP address, localhost, or a name under .localhost, which
// resolvers keep on the loopback interface (RFC 6761).
func isLocalHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	return host == "localhost" || strings.HasSuffix(host, ".localhost")
}

func writeText(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(body))
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
