// Package faults injects faults into the bundled demo applications
// (legacy-monolith and extracted-services) so that the proxy's resilience can
// be shown and tested: added latency, a share of requests failed with a 5xx
// JSON error, a share of connections reset (TCP RST), and a readiness probe
// that reports the app unready.
//
// Settings are given at start (RegisterFlags) and changed at run time through
// the admin endpoint AdminPath (GET, PUT, PATCH, DELETE with JSON), which Wrap
// serves itself and to which no fault ever applies. The health endpoints
// (/health/live, /health/ready) are exempt from latency, errors and resets, so
// that active health checks see only what Unready says and each fault kind
// stays a separate lever.
//
// faults is used only by the bundled apps, never by the proxy, and it imports
// no other internal package.
package faults
