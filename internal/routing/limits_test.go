package routing

import (
	"strings"
	"testing"
)

// maxBodyYAML is a routes.yaml with one route, /api/uploads to svc, whose
// max_body line is the given one ("" for none).
func maxBodyYAML(line string) string {
	s := "legacy: monolith\nupstreams:\n  monolith: {url: \"http://legacy\"}\n  svc: {url: \"http://svc\"}\n" +
		"routes:\n  - prefix: /api/uploads\n    service: svc\n"
	if line != "" {
		s += "    " + line + "\n"
	}
	return s
}

// TestRouteMaxBody checks the route's max_body: absent means unlimited
// (nil), sizes take the units shadow.max_body takes, and zero, negative or
// malformed sizes are refused with the line of the value.
func TestRouteMaxBody(t *testing.T) {
	for _, tc := range []struct {
		line string
		want ByteSize // 0: none set
	}{
		{"", 0},
		{"max_body: 10MiB", 10 << 20},
		{"max_body: 512", 512},
		{"max_body: 1KB", 1000},
	} {
		cfg, err := Load("routes.yaml", []byte(maxBodyYAML(tc.line)))
		if err != nil {
			t.Fatalf("%q: %v", tc.line, err)
		}
		got := cfg.Routes[0].MaxBody
		switch {
		case tc.want == 0 && got != nil:
			t.Errorf("%q: MaxBody = %v, want none (unlimited)", tc.line, *got)
		case tc.want != 0 && (got == nil || *got != tc.want):
			t.Errorf("%q: MaxBody = %v, want %v", tc.line, got, tc.want)
		}
	}
	for _, tc := range []struct{ line, want string }{
		{"max_body: 0", "routes.yaml:8: route \"/api/uploads\": max_body must be at least 1B"},
		{"max_body: 0MiB", "routes.yaml:8: route \"/api/uploads\": max_body must be at least 1B"},
		{"max_body: -1", "routes.yaml:8: \"-1\" is not a size"},
		{"max_body: 10 parsecs", "routes.yaml:8: \"10 parsecs\" is not a size"},
		{"max_body: [1]", "routes.yaml:8: "},
	} {
		_, err := Load("routes.yaml", []byte(maxBodyYAML(tc.line)))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one containing %q", tc.line, err, tc.want)
		}
		if err != nil && strings.Count(err.Error(), "routes.yaml:") != 1 {
			t.Errorf("%q: want exactly one message, got:\n%v", tc.line, err)
		}
	}
}
