package h1client

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// BenchmarkRoundTrip compares one keep-alive GET of a 1 KiB answer through
// Transport with the same GET through net/http's Transport, against the
// same loopback server:
//
//	go test -run '^$' -bench RoundTrip -benchmem ./internal/h1client/
func BenchmarkRoundTrip(b *testing.B) {
	payload := strings.Repeat("x", 1024)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, payload)
	}))
	defer srv.Close()
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	std := &http.Transport{DialContext: dialer.DialContext, MaxIdleConnsPerHost: 16, DisableCompression: true}
	defer std.CloseIdleConnections()
	h1 := &Transport{Fallback: std, Dial: dialer.DialContext, MaxIdlePerHost: 16,
		IdleTimeout: time.Minute, ResponseHeaderTimeout: 5 * time.Second}
	defer h1.Close()

	for _, tc := range []struct {
		name string
		rt   http.RoundTripper
	}{{"h1client", h1}, {"net-http", std}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 4096)
			for b.Loop() {
				req, err := http.NewRequest(http.MethodGet, srv.URL+"/", nil)
				if err != nil {
					b.Fatal(err)
				}
				resp, err := tc.rt.RoundTrip(req)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.CopyBuffer(io.Discard, resp.Body, buf); err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
			}
		})
	}
}
