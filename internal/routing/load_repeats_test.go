package routing

import (
	"fmt"
	"strings"
	"testing"
)

// repeatedKeyYAML is a routes.yaml whose upstream "orders" gives
// "timeout: 5s" n times (lines 5 to 4+n), followed by a route whose weight
// has the wrong type (line 9+n).
func repeatedKeyYAML(n int) string {
	var b strings.Builder
	b.WriteString("legacy: monolith\nupstreams:\n  monolith: {url: \"http://l\"}\n  orders:\n")
	for range n {
		b.WriteString("    timeout: 5s\n")
	}
	b.WriteString("    url: http://o\nroutes:\n  - prefix: /a\n    service: orders\n    weight: lots\n")
	return b.String()
}

// TestLoadRepeatsCapped checks that the repeats of one mapping are listed
// up to maxRepeatMessages, then summed up in one more message, so that a
// key given thousands of times costs linear work: few messages, and no
// decode by yaml.v3 (which words one message per pair of equal keys, so
// n²/2 of them), whose type error at the route is therefore not reported.
func TestLoadRepeatsCapped(t *testing.T) {
	const n = 3000
	_, err := Load("inline.yaml", []byte(repeatedKeyYAML(n)))
	msgs := leafErrors(err)
	if len(msgs) != maxRepeatMessages+1 {
		t.Fatalf("Load: %d messages, want %d (capped):\n%.2000v", len(msgs), maxRepeatMessages+1, err)
	}
	for i, m := range msgs[:maxRepeatMessages] {
		want := fmt.Sprintf(`inline.yaml:%d: upstream "orders": key "timeout" defined twice (first at line 5)`, 6+i)
		if m.Error() != want {
			t.Errorf("message %d = %q, want %q", i, m, want)
		}
	}
	last := msgs[maxRepeatMessages].Error()
	wantLast := fmt.Sprintf(`inline.yaml:%d: upstream "orders": key "timeout" defined twice (first at line 5); %d more repeats in this mapping are not listed`,
		6+maxRepeatMessages, n-1-maxRepeatMessages-1)
	if last != wantLast {
		t.Errorf("last message = %q, want %q", last, wantLast)
	}
	if strings.Contains(err.Error(), "already defined") || strings.Contains(err.Error(), "lots") {
		t.Errorf("Load reported yaml.v3's decode errors; with %d repeats it must refuse the file before decoding:\n%.2000v", n-1, err)
	}
}

// TestLoadRepeatsCappedStillChecked checks the cap below the number of
// repeats that are cut out: the repeats are capped, and the rest of the
// file is still checked (the type error at the route).
func TestLoadRepeatsCappedStillChecked(t *testing.T) {
	const n = maxRepeatMessages + 3 // n-1 repeats: two past the cap
	_, err := Load("inline.yaml", []byte(repeatedKeyYAML(n)))
	msgs := leafErrors(err)
	if len(msgs) != maxRepeatMessages+2 {
		t.Fatalf("Load: %d messages, want %d:\n%v", len(msgs), maxRepeatMessages+2, err)
	}
	if m := msgs[maxRepeatMessages].Error(); !strings.HasSuffix(m, "; 1 more repeat in this mapping is not listed") {
		t.Errorf("message %d = %q, want the count of the repeats not listed", maxRepeatMessages, m)
	}
	if m := msgs[maxRepeatMessages+1].Error(); !strings.HasPrefix(m, fmt.Sprintf("inline.yaml:%d: ", 9+n)) || !strings.Contains(m, "`lots`") {
		t.Errorf("last message = %q, want the type error at line %d", m, 9+n)
	}
}

// TestLoadRepeatsInComplexKey checks that repeats inside a mapping used as
// a key, which yaml.v3 checks too, are found before yaml.v3 decodes: many
// of them are capped like any others.
func TestLoadRepeatsInComplexKey(t *testing.T) {
	const n = 3000
	var b strings.Builder
	b.WriteString("legacy: monolith\nupstreams:\n  monolith: {url: \"http://l\"}\n? {")
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("a: 1")
	}
	b.WriteString("}\n: x\n")
	_, err := Load("inline.yaml", []byte(b.String()))
	msgs := leafErrors(err)
	if len(msgs) != maxRepeatMessages+1 {
		t.Fatalf("Load: %d messages, want %d (capped):\n%.2000v", len(msgs), maxRepeatMessages+1, err)
	}
	if m := msgs[0].Error(); m != `inline.yaml:4: key "a" defined twice (first at line 4)` {
		t.Errorf("message 0 = %q, want the repeat at line 4", m)
	}
}
