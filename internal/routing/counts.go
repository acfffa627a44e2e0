package routing

import (
	"fmt"
	"math"

	"gopkg.in/yaml.v3"

	"github.com/strangler-proxy/strangler/internal/resilience"
)

// countKeys are the counts of an upstream's settings, dotted from the
// upstream. Each is at most resilience.MaxCount (2147483647): the largest
// int on every platform, so that a file means the same on 32 and 64 bits.
var countKeys = []string{
	"health.healthy_after",
	"health.unhealthy_after",
	"breaker.consecutive_failures",
	"breaker.min_requests",
	"breaker.half_open_requests",
	"bulkhead.max_concurrent",
	"bulkhead.max_waiting",
}

// tooLargeCounts reports each count of the upstream at p (named name)
// written larger than resilience.MaxCount, at its line, and returns their
// keys. It reads the values from the file rather than from the decoded
// settings: on a 32-bit platform such a value does not fit the int it
// decodes into, so yaml.v3 refuses it with a type error that Load leaves
// out for this message (see countOverflows), and the decoded count is 0.
func tooLargeCounts(name string, p []any, at lines, fail failFunc) map[string]bool {
	tooLarge := map[string]bool{}
	for _, key := range countKeys {
		path := settingPath(p, key)
		if _, v, ok := bigCount(at.node(path...)); ok {
			fail(path, "upstream %q: %s: %d is too large; at most %d", name, key, v, resilience.MaxCount)
			tooLarge[key] = true
		}
	}
	return tooLarge
}

// bigCount reports whether n, a count's value as written, is a whole
// number larger than resilience.MaxCount, and returns it: an integer, or a
// float with nothing after the point (1e10), which yaml.v3 decodes into an
// int where it fits. A number beyond int64, or with a fraction, is left to
// the decoder, which refuses it on every platform.
func bigCount(n *yaml.Node) (*yaml.Node, int64, bool) {
	if n == nil || n.Kind != yaml.ScalarNode {
		return nil, 0, false
	}
	switch n.ShortTag() {
	case "!!int":
		var v int64
		if n.Decode(&v) != nil || v <= resilience.MaxCount {
			return nil, 0, false
		}
		return n, v, true
	case "!!float":
		var f float64
		if n.Decode(&f) != nil || f != math.Trunc(f) || f <= resilience.MaxCount || f >= math.MaxInt64 {
			return nil, 0, false
		}
		return n, int64(f), true
	}
	return nil, 0, false
}

// countOverflows returns, word for word, the type errors yaml.v3 gives for
// the counts in doc that tooLargeCounts reports, so that Load leaves them
// out: on a 32-bit platform each such count is also "cannot unmarshal
// !!int `3000000000` into int" (on 64 bits none is). The wording is
// yaml.v3's (decode.go, decoder.terror), as repeatMessages' is.
func countOverflows(doc *yaml.Node) map[string]bool {
	at := lines{root: doc}
	out := map[string]bool{}
	for name := range at.keys("upstreams") {
		for _, key := range countKeys {
			n, _, ok := bigCount(at.node(settingPath([]any{"upstreams", name}, key)...))
			if !ok {
				continue
			}
			value := n.Value
			if len(value) > 10 {
				value = value[:7] + "..."
			}
			out[fmt.Sprintf("line %d: cannot unmarshal %s `%s` into int", n.Line, n.ShortTag(), value)] = true
		}
	}
	return out
}
