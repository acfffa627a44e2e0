package inventory

import (
	"fmt"
	"hash/maphash"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

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

// patterns returns the requests of each kept pattern, by pattern.
func patterns(inv *Inventory) map[string]uint64 {
	got := map[string]uint64{}
	for _, e := range topTotal(inv, 0) {
		got[e.Pattern] = e.Requests
	}
	return got
}

// freshLen returns the number of parents whose new children inv counts in
// the current window.
func freshLen(inv *Inventory) int {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	return len(inv.fresh)
}

// diff fails t unless got and want hold the same patterns and counts.
func diff(t *testing.T, got, want map[string]uint64) {
	t.Helper()
	if maps.Equal(got, want) {
		return
	}
	for _, p := range slices.Sorted(maps.Keys(got)) {
		if got[p] != want[p] {
			t.Errorf("%q counted %d, want %d", p, got[p], want[p])
		}
	}
	for _, p := range slices.Sorted(maps.Keys(want)) {
		if _, ok := got[p]; !ok {
			t.Errorf("%q missing, want %d", p, want[p])
		}
	}
}

// TestFanOutRuleConstants: the documented figures of the fan-out rule
// (doc.go, README) are the ones built.
func TestFanOutRuleConstants(t *testing.T) {
	if freshChildren != 16 || literalMin != 2 || maxFreshParents != 4096 || RecentWindow != 10*time.Minute {
		t.Fatalf("freshChildren %d, literalMin %d, maxFreshParents %d, RecentWindow %v; the documentation says 16, 2, 4096, 10m",
			freshChildren, literalMin, maxFreshParents, RecentWindow)
	}
}

// TestFanOutOneOffWordsCollapse: under one parent, the first 16 new words
// of the window are shown as they are from their first request; every
// later one-off word is "{id}", in Top and in the metric; a collapsed word
// requested a second time is shown as it is.
func TestFanOutOneOffWordsCollapse(t *testing.T) {
	const words = 100
	inv := New(DefaultLimit)
	for i := range words {
		inv.Observe("/reset-password/"+word(i), "default")
	}
	inv.Observe("/reset-password/"+word(3), "default")  // kept: counted again
	inv.Observe("/reset-password/"+word(50), "default") // collapsed once: literal now
	// "reset-password" is new too: the first of the children of "/".
	want := map[string]uint64{"/reset-password/{id}": words - freshChildren, "/reset-password/" + word(50): 1}
	for i := range freshChildren {
		want["/reset-password/"+word(i)] = 1
	}
	want["/reset-password/"+word(3)] = 2
	diff(t, patterns(inv), want)
	for _, l := range exported(t, inv) {
		if _, ok := want[l]; !ok {
			t.Fatalf("the metric exports %q, not in Top", l)
		}
	}
	// The parent is crowded for the rest of the window: a new word needs
	// its two requests.
	inv.Observe("/reset-password/"+word(words), "default")
	inv.Observe("/reset-password/"+word(words), "default")
	want["/reset-password/{id}"]++
	want["/reset-password/"+word(words)] = 1
	diff(t, patterns(inv), want)
}

// TestFanOutScannerFirst is the review's poisoning case: a scanner sends 100
// junk top-level words once each, then the application's 20 real sections
// are requested three times each. The scanner's first 16 words are shown
// (the budget of new children of "/"), the other 84 are "/{id}"; every
// real section, arriving after the budget is spent, is "/{id}/list" at its
// first request and shown as it is, nested part included, from its second.
func TestFanOutScannerFirst(t *testing.T) {
	const junk, sections, rounds = 100, 20, 3
	inv := New(DefaultLimit)
	for i := range junk {
		inv.Observe("/"+word(i), "default")
	}
	for range rounds {
		for s := range sections {
			inv.Observe("/section-"+word(s)+"/list", "default")
		}
	}
	want := map[string]uint64{"/{id}": junk - freshChildren, "/{id}/list": sections}
	for i := range freshChildren {
		want["/"+word(i)] = 1
	}
	for s := range sections {
		want["/section-"+word(s)+"/list"] = rounds - 1
	}
	diff(t, patterns(inv), want)
}

// TestFanOutManySections: an application with 40 top-level sections gets
// them all literal (the first from its first request, the others, which
// come after the scanner has spent the budget of "/", from their second),
// while a scanner floods the same level between every two requests.
func TestFanOutManySections(t *testing.T) {
	const sections, perGap, rounds = 40, 20, 5
	const junk = rounds * sections * perGap
	inv := New(DefaultLimit)
	for round := range rounds {
		for s := range sections {
			inv.Observe("/area-"+word(s), "default")
			for j := range perGap { // a scanner between every two requests
				inv.Observe("/"+word(100_000+(round*sections+s)*perGap+j), "default")
			}
		}
	}
	got := patterns(inv)
	for s := range sections {
		want := uint64(rounds - 1) // all but the first
		if s == 0 {
			want = rounds // the first request of all: the budget was whole
		}
		if n := got["/area-"+word(s)]; n != want {
			t.Errorf("section %d shown literally %d times, want %d", s, n, want)
		}
	}
	// The scanner's first 15 words took the rest of the budget. A later
	// one-off word is literal only when all its sketch counters were raised
	// by others: rare, not never (at most about 1 in 5,000).
	var literal uint64
	for j := range junk {
		n := got["/"+word(100_000+j)]
		if j < freshChildren-1 && n != 1 {
			t.Errorf("junk word %d counted %d times literally, want 1 (within the budget)", j, n)
		}
		if j >= freshChildren-1 {
			literal += n
		}
	}
	collapsed := uint64(sections - 1 + junk - (freshChildren - 1))
	if n := got["/{id}"]; n+literal != collapsed || literal > junk/100 {
		t.Errorf("/{id} counted %d and %d later junk words literal, want %d and about 0", n, literal, collapsed)
	}
}

// TestFanOutNested: the rule applies at every depth, on the parent pattern
// with earlier segments already collapsed. User names made of words are
// shown for the first 16 users of the window (the price of showing an
// application's routes from their first request), then collapse, and the
// word after them, shared by all users, stays.
func TestFanOutNested(t *testing.T) {
	const users = 100
	inv := New(DefaultLimit)
	for i := range users {
		inv.Observe("/u/"+word(i)+"/profile", "default")
	}
	want := map[string]uint64{"/u/{id}/profile": users - freshChildren}
	for i := range freshChildren {
		want["/u/"+word(i)+"/profile"] = 1
	}
	diff(t, patterns(inv), want)
}

// TestFanOutBudgetRenews: the budget of new children is per RecentWindow.
// Spent, it stays spent up to the window's last instant; in the next
// window a parent takes 16 new children from their first request again,
// while a word seen once in the window before is forgotten (it needs its
// two requests again) and a kept pattern stays literal whatever the time.
func TestFanOutBudgetRenews(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 30, 0, time.UTC)}
	inv := newAt(DefaultLimit, clock.now())
	for range 3 {
		inv.ObserveAt(clock.now(), "/cart", "default") // the first new child of "/"
	}
	for i := range 100 {
		inv.ObserveAt(clock.now(), "/"+word(i), "default")
	}
	clock.advance(RecentWindow - time.Nanosecond)
	inv.ObserveAt(clock.now(), "/"+word(100), "default")
	want := map[string]uint64{"/cart": 3, "/{id}": 100 - (freshChildren - 1) + 1}
	for i := range freshChildren - 1 {
		want["/"+word(i)] = 1
	}
	diff(t, patterns(inv), want)

	clock.advance(time.Nanosecond) // a new window
	inv.ObserveAt(clock.now(), "/cart", "default")
	for i := range freshChildren {
		inv.ObserveAt(clock.now(), "/"+word(200+i), "default")
		want["/"+word(200+i)] = 1
	}
	inv.ObserveAt(clock.now(), "/"+word(300), "default") // the 17th: collapsed
	inv.ObserveAt(clock.now(), "/"+word(50), "default")  // seen once a window ago: forgotten, collapsed
	inv.ObserveAt(clock.now(), "/"+word(50), "default")  // twice in this window: literal
	want["/cart"] = 4
	want["/{id}"] += 2
	want["/"+word(50)] = 1
	diff(t, patterns(inv), want)
}

// treePath returns the i-th path of a tree whose every parent has 16
// children ("/worda/wordb/wordc/wordd/leaf"), so that each new path has at
// least one new parent and all its segments are within their parents'
// budgets.
func treePath(i int) string {
	return fmt.Sprintf("/%s/%s/%s/%s/leaf", word(i>>12&15), word(i>>8&15), word(i>>4&15), word(i&15))
}

// TestFanOutCrowdedParents: the parents whose new children are counted are
// at most maxFreshParents per window; a parent beyond them counts as
// crowded (a new child needs its two requests, nested part included) until
// the window ends, while a parent already counted keeps the rest of its
// budget.
func TestFanOutCrowdedParents(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 30, 0, time.UTC)}
	inv := newAt(MaxLimit, clock.now())
	inv.ObserveAt(clock.now(), "/api", "default")
	i := 0
	for ; freshLen(inv) < maxFreshParents; i++ {
		if i == 1<<14 {
			t.Fatalf("%d parents counted after %d new paths, want %d", freshLen(inv), i, maxFreshParents)
		}
		inv.ObserveAt(clock.now(), treePath(i), "default")
	}
	got := patterns(inv)
	for k := range i - 1 { // the last one may have met the bound half way
		if got[treePath(k)] != 1 {
			t.Fatalf("new path %q, before the bound, counted %d times literally, want 1", treePath(k), got[treePath(k)])
		}
	}
	for j := range 100 { // more new parents: not counted
		inv.ObserveAt(clock.now(), treePath(i+j), "default")
		if n := freshLen(inv); n > maxFreshParents {
			t.Fatalf("%d parents counted, bound %d", n, maxFreshParents)
		}
	}
	sibling := strings.TrimSuffix(treePath(0), "leaf") + "other"
	inv.ObserveAt(clock.now(), sibling, "default")             // its parent is counted: budget left
	inv.ObserveAt(clock.now(), "/api/reports/list", "default") // "/api/" is not counted: crowded
	got = patterns(inv)
	if got[sibling] != 1 || got["/api/{id}/{id}"] != 1 {
		t.Fatalf("after the bound: %q counted %d times literally, /api/{id}/{id} %d times; want 1 and 1",
			sibling, got[sibling], got["/api/{id}/{id}"])
	}
	// Its second request: "reports" is literal, and so is "list", counted
	// at the first request under "/api/reports/" too (see fanOut).
	inv.ObserveAt(clock.now(), "/api/reports/list", "default")
	if n := patterns(inv)["/api/reports/list"]; n != 1 {
		t.Fatalf("/api/reports/list at its second request counted %d times literally, want 1", n)
	}

	clock.advance(RecentWindow)
	inv.ObserveAt(clock.now(), "/api/summary", "default")
	if n := patterns(inv)["/api/summary"]; n != 1 {
		t.Fatalf("a window later, /api/summary at its first request counted %d times literally, want 1", n)
	}
	if n := freshLen(inv); n != 1 {
		t.Fatalf("a window later, %d parents counted, want 1 (\"/api/\")", n)
	}
}

// TestFanOutBookkeepingBounded floods the inventory with junk that becomes
// literal (each distinct path twice in a row, at several depths) and with
// junk that does not: the bookkeeping stays within its bound (the sketch
// has a fixed size; the prefixes are those of the kept patterns, at most
// Limit*maxSegments; the parents counted for new children, at most
// maxFreshParents), never fails closed (a real route requested twice
// after the flood is shown as it is), and the table stays within its limit.
func TestFanOutBookkeepingBounded(t *testing.T) {
	const limit = 50
	inv := New(limit)
	sketch := inv.sketch
	for i := range 1 << 14 {
		p := "/" + word(i) + "/" + word(i>>3) + "/" + word(i>>6)
		inv.Observe(p, "default")
		inv.Observe(p, "default")
		inv.Observe("/"+word(1<<20+i), "default")
		if i%1021 == 0 {
			checkPrefixes(t, inv)
		}
		if n := freshLen(inv); n > maxFreshParents {
			t.Fatalf("%d parents counted for new children, bound %d", n, maxFreshParents)
		}
	}
	inv.mu.Lock()
	n, same := len(inv.prefixes), inv.sketch == sketch
	inv.mu.Unlock()
	if n > limit*maxSegments || !same {
		t.Fatalf("%d prefixes (bound %d), sketch replaced: %v", n, limit*maxSegments, !same)
	}
	for range 3 { // twice between two halvings of the sketch
		inv.Observe("/fresh/route", "default")
	}
	if got := patterns(inv); got["/fresh/route"] == 0 {
		t.Fatalf("a real route requested twice after the flood is not literal: %v", got)
	}
	if kept(t, inv) > limit {
		t.Fatal("table over its limit")
	}
	checkPrefixes(t, inv)
}

// checkPrefixes checks that inv.prefixes holds exactly the literal prefixes
// of the kept patterns, each counted once per pattern.
func checkPrefixes(t *testing.T, inv *Inventory) {
	t.Helper()
	inv.mu.Lock()
	defer inv.mu.Unlock()
	want := map[uint64]uint32{}
	for _, e := range inv.heap {
		segs := strings.Split(e.Pattern, "/")
		for j := 1; j < len(segs); j++ {
			if segs[j] != "" && segs[j][0] != '{' {
				want[maphash.String(inv.seed, strings.Join(segs[:j+1], "/"))]++
			}
		}
	}
	if !maps.Equal(inv.prefixes, want) {
		t.Fatalf("prefixes of kept patterns: %d entries, want %d", len(inv.prefixes), len(want))
	}
}

// TestFanOutKnownDoesNotAllocate: the fan-out rule keeps a known pattern
// free of allocations, a literal one ("/reset-password/done", kept from
// its first request) and a collapsed one reached through the sketch once
// the parent's budget is spent.
func TestFanOutKnownDoesNotAllocate(t *testing.T) {
	const runs = 1000
	inv := New(DefaultLimit)
	junk := make([]string, freshChildren+runs+1)
	for i := range junk {
		junk[i] = "/reset-password/" + word(i)
	}
	inv.Observe("/reset-password/done", "default")
	for _, p := range junk[:freshChildren] { // the 16th collapses
		inv.Observe(p, "default")
	}
	i := freshChildren
	if n := testing.AllocsPerRun(runs, func() {
		inv.Observe(junk[i], "default")
		inv.Observe("/reset-password/done", "default")
		i++
	}); n != 0 {
		t.Fatalf("Observe allocates %v times per call, want 0", n)
	}
	// AllocsPerRun runs once more to warm up. A one-off word is literal
	// when its four sketch counters were all raised by others: here about
	// 1 in 10^7 words.
	want := map[string]uint64{"/reset-password/done": runs + 2, "/reset-password/{id}": runs + 2}
	for _, p := range junk[:freshChildren-1] {
		want[p] = 1
	}
	diff(t, patterns(inv), want)
}

// TestFanOutCollapsedJunkTakesNoParentRoom checks that the children of a
// collapsed segment, which are counted under its literal parent too, do
// not take room among the fresh parents: two-segment junk under "/" past
// the fresh budget must not use up the parents a real route needs for
// its first request to read as it is.
func TestFanOutCollapsedJunkTakesNoParentRoom(t *testing.T) {
	inv := New(DefaultLimit)
	inv.Observe("/api", "default")
	for i := range maxFreshParents + 100 {
		inv.Observe("/"+word(i)+"/x", "default")
	}
	// "/" and the first freshChildren words' parents, plus the parents of
	// the few words the sketch lets through (about 1 in 5000): nowhere
	// near the maxFreshParents the junk used to fill.
	if n, most := freshLen(inv), freshChildren+1+32; n > most {
		t.Errorf("%d fresh parents after the junk, want at most %d", n, most)
	}
	inv.Observe("/api/reports", "default")
	if got := patterns(inv)["/api/reports"]; got != 1 {
		t.Errorf("/api/reports counted %d on its first request, want it literal; table %v", got, patterns(inv))
	}
}
