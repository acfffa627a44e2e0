package inventory

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// word returns the i-th of distinct letter-only words that pass the
// character rules, as a client sending random words would.
func word(i int) string {
	var b strings.Builder
	b.WriteString("word")
	for ; ; i /= 26 {
		b.WriteByte('a' + byte(i%26))
		if i < 26 {
			return b.String()
		}
	}
}

// exported returns the pattern label of every series inv exports.
func exported(t *testing.T, inv *Inventory) []string {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(inv)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	var patterns []string
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "pattern" {
					patterns = append(patterns, l.GetValue())
				}
			}
		}
	}
	return patterns
}

// TestFanOutCollapsesUnseenChildren: a parent that has seen MaxChildren
// distinct literal children shows every further one as "{id}", in Top and in
// the metric, while the children it already has stay literal and other
// parents are not affected.
func TestFanOutCollapsesUnseenChildren(t *testing.T) {
	const extra = 25
	inv := New(DefaultLimit)
	for i := range MaxChildren + extra {
		inv.Observe("/reset-password/"+word(i), "default")
	}
	inv.Observe("/reset-password/"+word(3), "default") // already seen: stays literal
	inv.Observe("/other/"+word(MaxChildren+1), "default")

	want := map[string]uint64{"/reset-password/{id}": extra, "/reset-password/" + word(3): 2, "/other/" + word(MaxChildren+1): 1}
	for i := range MaxChildren {
		if i != 3 {
			want["/reset-password/"+word(i)] = 1
		}
	}
	got := map[string]uint64{}
	for _, e := range inv.Top(0) {
		got[e.Pattern] = e.Requests
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Top(0) = %v\nwant %v", got, want)
	}
	labels := exported(t, inv)
	for i := MaxChildren; i < MaxChildren+extra; i++ {
		if slices.Contains(labels, "/reset-password/"+word(i)) {
			t.Fatalf("the metric exports the unseen child %q literally: %v", word(i), labels)
		}
	}
	if !slices.Contains(labels, "/reset-password/{id}") || len(labels) != len(want) {
		t.Fatalf("metric patterns %v, want the %d of Top", labels, len(want))
	}
}

// TestFanOutNested: the rule applies at every depth, on the parent pattern
// with earlier segments already collapsed.
func TestFanOutNested(t *testing.T) {
	inv := New(DefaultLimit)
	for i := range MaxChildren + 5 {
		inv.Observe("/u/"+word(i)+"/"+word(i), "default")
	}
	var got []string
	for _, e := range inv.Top(0) {
		got = append(got, e.Pattern)
	}
	// The unseen users collapse, and under "/u/{id}/" each of the 5 is a
	// new child: at most MaxChildren, so they stay.
	for i := MaxChildren; i < MaxChildren+5; i++ {
		if p := "/u/{id}/" + word(i); !slices.Contains(got, p) {
			t.Errorf("%q missing from %v", p, got)
		}
	}
	if len(got) != MaxChildren+5 {
		t.Errorf("%d patterns, want %d: %v", len(got), MaxChildren+5, got)
	}
}

// TestFanOutBookkeepingBounded floods the inventory with distinct parents:
// it remembers at most MaxParents of them, and a literal child of a parent
// it could not remember is shown as "{id}".
func TestFanOutBookkeepingBounded(t *testing.T) {
	inv := New(10)
	for i := range 1 << 17 { // 5 one-letter segments: 12,561 distinct parents
		b := []byte{}
		for shift := 16; shift >= 0; shift -= 4 {
			b = append(b, '/', 'a'+byte(i>>shift&15))
		}
		inv.Observe(string(b), "default")
	}
	inv.mu.Lock()
	n := len(inv.parents)
	inv.mu.Unlock()
	if n != MaxParents {
		t.Fatalf("remembers %d parents, want exactly the bound %d", n, MaxParents)
	}
	inv.Observe("/a/a/a/a/a/fresh", "default")
	for _, e := range inv.Top(0) {
		if strings.Contains(e.Pattern, "fresh") {
			t.Fatalf("child of an unremembered parent kept literally: %q", e.Pattern)
		}
	}
	if kept(t, inv) > 10 {
		t.Fatal("table over its limit")
	}
}

// TestFanOutKnownDoesNotAllocate: the fan-out rule keeps a known pattern
// free of allocations, also when the pattern is a collapsed one.
func TestFanOutKnownDoesNotAllocate(t *testing.T) {
	inv := New(DefaultLimit)
	for i := range MaxChildren + 1 {
		inv.Observe("/reset-password/"+word(i), "default")
	}
	paths := []string{"/reset-password/" + word(2), "/reset-password/" + word(40), "/reset-password/" + word(41)}
	i := 0
	if n := testing.AllocsPerRun(1000, func() { i++; inv.Observe(paths[i%3], "default") }); n != 0 {
		t.Fatalf("Observe allocates %v times per call, want 0", n)
	}
}
