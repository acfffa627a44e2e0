package routing

import (
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// splitRoute compiles one route on /api/orders with the given weight and
// sticky key ("" for none).
func splitRoute(t testing.TB, weight float64, sticky string) *Route {
	t.Helper()
	r := fmt.Sprintf("{prefix: /api/orders, service: orders, weight: %v}", weight)
	if sticky != "" {
		r = fmt.Sprintf("{prefix: /api/orders, service: orders, weight: %v, sticky: %q}", weight, sticky)
	}
	return mustTable(t, routesYAML(r)).Routes[0]
}

// headerReq returns a request carrying key in header X-Customer-ID, or no
// such header when key is "". Pick reads only the headers, so the request
// is built by hand: httptest.NewRequest would dominate the run time.
func headerReq(key string) *http.Request {
	req := &http.Request{Method: "GET", Header: http.Header{}}
	if key != "" {
		req.Header.Set("X-Customer-ID", key)
	}
	return req
}

// cookieReq returns a request with key in cookie customer among others.
func cookieReq(key string) *http.Request {
	req := headerReq("")
	req.Header.Set("Cookie", "a=1; customer="+key+"; b=2")
	return req
}

// share returns the percentage of n requests that r sends to Extracted.
func share(r *Route, n int, req func(i int) *http.Request) float64 {
	hits := 0
	for i := range n {
		if r.Pick(req(i)) == Extracted {
			hits++
		}
	}
	return 100 * float64(hits) / float64(n)
}

// within reports whether got is within tol percentage points of want. The
// bounds used below are about ten standard deviations wide, so a correct
// split fails them with a probability far below one in a billion.
func within(got, want, tol float64) bool { return math.Abs(got-want) <= tol }

func TestPickExtremes(t *testing.T) {
	for _, tc := range []struct {
		weight float64
		sticky string
		want   Side
	}{
		{0, "", Legacy},
		{0, "header:X-Customer-ID", Legacy},
		{100, "", Extracted},
		{100, "header:X-Customer-ID", Extracted},
	} {
		t.Run(fmt.Sprintf("weight %v %s", tc.weight, tc.sticky), func(t *testing.T) {
			r := splitRoute(t, tc.weight, tc.sticky)
			for i := range 2000 {
				key := ""
				if i%2 == 0 {
					key = strconv.Itoa(i)
				}
				if got := r.Pick(headerReq(key)); got != tc.want {
					t.Fatalf("Pick(key %q) = %s, want %s", key, got, tc.want)
				}
			}
		})
	}
}

func TestPickShare(t *testing.T) {
	const n = 20000
	for _, tc := range []struct {
		name   string
		weight float64
		sticky string
		req    func(i int) *http.Request
	}{
		{"random 25", 25, "", func(int) *http.Request { return headerReq("") }},
		{"random 50", 50, "", func(int) *http.Request { return headerReq("") }},
		{"random 1", 1, "", func(int) *http.Request { return headerReq("") }},
		{"random 99.5", 99.5, "", func(int) *http.Request { return headerReq("") }},
		{"random 25, same key", 25, "", func(int) *http.Request { return headerReq("same") }},
		{"header 25", 25, "header:X-Customer-ID", func(i int) *http.Request { return headerReq("customer-" + strconv.Itoa(i)) }},
		{"header 5", 5, "header:x-customer-id", func(i int) *http.Request { return headerReq(strconv.Itoa(i)) }},
		{"cookie 25", 25, "cookie:customer", func(i int) *http.Request { return cookieReq(strconv.Itoa(i)) }},
		{"header 25, no key", 25, "header:X-Customer-ID", func(int) *http.Request { return headerReq("") }},
		{"cookie 25, no cookie", 25, "cookie:customer", func(int) *http.Request { return headerReq("") }},
		{"cookie 25, other cookies", 25, "cookie:customer", func(int) *http.Request {
			req := headerReq("")
			req.Header.Set("Cookie", "customers=1; xcustomer=2")
			return req
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := splitRoute(t, tc.weight, tc.sticky)
			if got := share(r, n, tc.req); !within(got, tc.weight, 3) {
				t.Errorf("share over %d requests = %.2f%%, want %v%% ± 3", n, got, tc.weight)
			}
		})
	}
}

func TestPickSticky(t *testing.T) {
	for _, tc := range []struct {
		name, sticky string
		req          func(key string) *http.Request
	}{
		{"header", "header:X-Customer-ID", headerReq},
		{"header named in lower case", "header:x-customer-id", headerReq},
		{"cookie among several", "cookie:customer", cookieReq},
		{"cookie quoted in a second line", "cookie:customer", func(key string) *http.Request {
			// The cookie in a second Cookie line, quoted.
			req := headerReq("")
			req.Header.Add("Cookie", "a=1")
			req.Header.Add("Cookie", `b=2; customer="`+key+`"`)
			return req
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := splitRoute(t, 25, tc.sticky)
			for i := range 2000 {
				key := "customer-" + strconv.Itoa(i)
				want := r.Pick(tc.req(key))
				if b := r.Bucket(key); (b < 2500) != (want == Extracted) {
					t.Fatalf("key %s: Pick = %s, but bucket %d at 25%%", key, want, b)
				}
				for range 5 {
					if got := r.Pick(tc.req(key)); got != want {
						t.Fatalf("key %s: Pick = %s, then %s", key, want, got)
					}
				}
			}
		})
	}
}

// TestPickMonotonic raises the weight step by step and checks that no key
// ever moves from the service back to legacy, and that each step moves the
// share it says.
func TestPickMonotonic(t *testing.T) {
	const keys = 5000
	extracted := make([]bool, keys)
	for w := 0; w <= 100; w += 10 {
		r := splitRoute(t, float64(w), "header:X-Customer-ID")
		n := 0
		for k := range keys {
			key := "c" + strconv.Itoa(k)
			got := r.Pick(headerReq(key)) == Extracted
			if extracted[k] && !got {
				t.Fatalf("weight %d: key %s went back to legacy", w, key)
			}
			extracted[k] = got
			if got {
				n++
			}
		}
		if pct := 100 * float64(n) / keys; !within(pct, float64(w), 3) {
			t.Errorf("weight %d: %.2f%% of keys extracted", w, pct)
		}
	}
}

// TestPickReplicas compiles the same file twice, as two proxies would, and
// checks that both put every key on the same side.
func TestPickReplicas(t *testing.T) {
	path := filepath.Join(t.TempDir(), "routes.yaml")
	if err := os.WriteFile(path, []byte(routesYAML(
		"{prefix: /api/orders, service: orders, weight: 37.5, sticky: 'header:X-Customer-ID'}",
		"{prefix: /api/items, service: items, weight: 62.25, sticky: 'cookie:customer'}",
	)), 0o644); err != nil {
		t.Fatal(err)
	}
	compile := func() *Table {
		cfg, err := LoadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		tbl, err := Compile(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return tbl
	}
	a, b := compile(), compile()
	for i := range 2 {
		for k := range 5000 {
			key := "c" + strconv.Itoa(k)
			req := headerReq(key)
			req.Header.Set("Cookie", "customer="+key)
			ra, rb := a.Routes[i], b.Routes[i]
			if ra.Bucket(key) != rb.Bucket(key) || ra.Pick(req) != rb.Pick(req) {
				t.Fatalf("route %s, key %s: replicas disagree", ra.Name, key)
			}
		}
	}
}

// TestPickPrefixesIndependent puts two routes on the same sticky key: each
// must hold its own share, and which keys one route moves must not predict
// which the other moves (with the same hash both would move the same
// quarter of keys, 25% together instead of 6.25%).
func TestPickPrefixesIndependent(t *testing.T) {
	tbl := mustTable(t, routesYAML(
		"{prefix: /api/orders, service: orders, weight: 25, sticky: 'header:X-Customer-ID'}",
		"{prefix: /api/items, service: items, weight: 25, sticky: 'header:X-Customer-ID'}",
	))
	orders, items := tbl.Routes[0], tbl.Routes[1]
	const n = 20000
	var o, i, both int
	for k := range n {
		req := headerReq("c" + strconv.Itoa(k))
		po, pi := orders.Pick(req) == Extracted, items.Pick(req) == Extracted
		if po {
			o++
		}
		if pi {
			i++
		}
		if po && pi {
			both++
		}
	}
	pct := func(x int) float64 { return 100 * float64(x) / n }
	if !within(pct(o), 25, 3) || !within(pct(i), 25, 3) {
		t.Errorf("shares: orders %.2f%%, items %.2f%%, want 25%% ± 3 each", pct(o), pct(i))
	}
	if !within(pct(both), 6.25, 2) {
		t.Errorf("%.2f%% of keys moved on both routes, want 6.25%% ± 2 (independent hashes)", pct(both))
	}
}

func TestCookieValue(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lines []string
		want  string
	}{
		{"among several", []string{"a=1; customer=42; b=2"}, "42"},
		{"only one", []string{"customer=42"}, "42"},
		{"first", []string{"customer=42;a=1"}, "42"},
		{"last, no space", []string{"a=1;customer=42"}, "42"},
		{"longer name first", []string{"customers=1; customer=2"}, "2"},
		{"name as a suffix", []string{"xcustomer=1"}, ""},
		{"quoted", []string{`customer="42"`}, "42"},
		{"empty value", []string{"customer=; b=2"}, ""},
		{"value with =", []string{"customer=a=b"}, "a=b"},
		{"second line", []string{"a=1", "b=2; customer=42"}, "42"},
		{"first of two", []string{"customer=1; customer=2"}, "1"},
		{"absent", []string{"a=1; b=2"}, ""},
		{"no header", nil, ""},
		{"empty header", []string{""}, ""},
		{"name without value", []string{"customer; a=1"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := cookieValue(tc.lines, "customer"); got != tc.want {
				t.Errorf("cookieValue(%q) = %q, want %q", tc.lines, got, tc.want)
			}
		})
	}
}

func TestSideString(t *testing.T) {
	if Legacy.String() != "legacy" || Extracted.String() != "extracted" {
		t.Errorf("Side strings = %q, %q", Legacy, Extracted)
	}
}

func BenchmarkPick(b *testing.B) {
	for _, bc := range []struct {
		name, sticky string
		req          *http.Request
	}{
		{"sticky header", "header:X-Customer-ID", headerReq("customer-4711")},
		{"sticky cookie", "cookie:customer", cookieReq("4711")},
		{"random", "", headerReq("")},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := splitRoute(b, 25, bc.sticky)
			b.ReportAllocs()
			for b.Loop() {
				r.Pick(bc.req)
			}
		})
	}
}
