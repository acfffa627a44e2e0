// Package faults injects faults into the bundled demo applications
// (legacy-monolith and extracted-services) so that the proxy's resilience can
// be shown and tested: added latency, a share of requests failed with a 5xx
// JSON error, a share of connections reset (TCP RST), a readiness probe
// that reports the app unready, and JSON answers with the values of one key
// altered (so that shadow traffic comparison has a difference to find).
//
// Settings are given at start (RegisterFlags) and changed at run time through
// the admin endpoint AdminPath (GET, PUT, PATCH, DELETE with JSON), which Wrap
// serves itself and to which no fault ever applies. The health endpoints
// (/health/live, /health/ready) are exempt from latency, errors, resets and
// altered fields, so that active health checks see only what Unready says
// and each fault kind stays a separate lever.
//
// faults is used only by the bundled apps, never by the proxy, and it imports
// no other internal package.
package faults
