// Package shadow owns the comparison half of shadow traffic: deciding
// whether the answer the client got (the primary) and the answer the other
// side of the route gave to a copy of the same request (the shadow) agree.
//
// It owns:
//   - the per-route ignore rules parsed from routes.yaml's shadow.ignore
//     (rules.go, path.go);
//   - comparing two captured answers: status, Content-Type, JSON bodies
//     semantically and other bodies byte for byte (compare.go, json.go,
//     number.go);
//   - header redaction and the JSON-ready rendering of a mismatch
//     (redact.go, mismatch.go);
//   - the bounded, concurrency-safe log of recent mismatches per route
//     served at /api/shadow/{route} (log.go).
//
// The package does no I/O: the proxy sends the shadow request, captures both
// answers (bounding the bodies it reads) and calls Rules.Compare.
//
// shadow must not import internal/routing, internal/proxy or
// internal/resilience; routing parses the YAML and calls ParseRules, proxy
// calls Compare and Log.
package shadow
