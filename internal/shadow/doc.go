// Package shadow owns the comparison half of shadow traffic: deciding
// whether the answer the client got (the primary) and the answer the other
// side of the route gave to a copy of the same request (the shadow) agree.
//
// It owns:
//   - the per-route comparison settings parsed from routes.yaml's
//     shadow.headers and shadow.ignore (rules.go, path.go);
//   - decoding gzip and deflate bodies, bounded by max_body, before they
//     are compared, and refusing (skipping) encodings the standard library
//     cannot decode (encoding.go);
//   - comparing two captured answers: status, the chosen headers
//     (Content-Type by default), JSON bodies semantically (when either
//     side says JSON and both parse) and other bodies byte for byte
//     (compare.go, json.go, number.go);
//   - redaction of secrets, in headers, query strings and kept request
//     bodies, by one rule in one place, and the JSON-ready rendering of a
//     mismatch, bounded in size (redact.go, mismatch.go);
//   - the bounded, concurrency-safe log of recent mismatches per route
//     served at /api/shadow/{route} (log.go).
//
// The package does no I/O: the proxy sends the shadow request, captures both
// answers (bounding the bodies it reads) and calls Rules.CompareEncoded.
//
// shadow must not import internal/routing, internal/proxy or
// internal/resilience; routing parses the YAML and calls ParseRules, proxy
// calls Compare and Log.
package shadow
