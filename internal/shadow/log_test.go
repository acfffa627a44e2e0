package shadow

import (
	"fmt"
	"slices"
	"sync"
	"testing"
)

// ids returns the RequestIDs of ms in order.
func ids(ms []Mismatch) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.RequestID)
	}
	return out
}

func addN(l *Log, route string, from, to int) {
	for i := from; i < to; i++ {
		l.Add(route, Mismatch{RequestID: fmt.Sprint(i)})
	}
}

func TestLogPerRoute(t *testing.T) {
	for _, tc := range []struct {
		name string
		adds int
		want []string
	}{
		{"empty", 0, nil},
		{"partly full", 2, []string{"1", "0"}},
		{"full", 3, []string{"2", "1", "0"}},
		{"wrapped", 4, []string{"3", "2", "1"}},
		{"wrapped many times", 11, []string{"10", "9", "8"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := NewLog(3, 0)
			addN(l, "orders", 0, tc.adds)
			if got := ids(l.Recent("orders")); !slices.Equal(got, tc.want) {
				t.Errorf("Recent = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestLogRecentIsACopy(t *testing.T) {
	l := NewLog(2, 2)
	addN(l, "a", 0, 2)
	got := l.Recent("a")
	got[0].RequestID = "changed"
	if r := ids(l.Recent("a")); r[0] != "1" {
		t.Errorf("Recent aliases the log: %q", r)
	}
}

func TestLogMaxRoutes(t *testing.T) {
	l := NewLog(2, 2)
	addN(l, "a", 0, 1)
	addN(l, "b", 1, 2)
	addN(l, "a", 2, 3) // a is now the most recently updated
	addN(l, "c", 3, 4) // evicts b
	if got := l.Routes(); !slices.Equal(got, []string{"a", "c"}) {
		t.Fatalf("Routes = %q, want [a c]", got)
	}
	if got := l.Recent("b"); got != nil {
		t.Errorf("evicted route still has %q", ids(got))
	}
	if got := ids(l.Recent("a")); !slices.Equal(got, []string{"2", "0"}) {
		t.Errorf("Recent(a) = %q", got)
	}
	addN(l, "b", 4, 5) // evicts a, updated before c
	if got := l.Routes(); !slices.Equal(got, []string{"b", "c"}) {
		t.Errorf("Routes = %q, want [b c]", got)
	}
}

func TestLogDefaults(t *testing.T) {
	for _, tc := range []struct{ perRoute, maxRoutes, wantPer, wantMax int }{
		{0, 0, DefaultPerRoute, DefaultMaxRoutes},
		{-1, -5, DefaultPerRoute, DefaultMaxRoutes},
		{5, 7, 5, 7},
	} {
		l := NewLog(tc.perRoute, tc.maxRoutes)
		if l.perRoute != tc.wantPer || l.maxRoutes != tc.wantMax {
			t.Errorf("NewLog(%d, %d) = %d, %d; want %d, %d", tc.perRoute, tc.maxRoutes, l.perRoute, l.maxRoutes, tc.wantPer, tc.wantMax)
		}
	}
	l := NewLog(0, 0)
	addN(l, "a", 0, 25)
	if n := len(l.Recent("a")); n != DefaultPerRoute {
		t.Errorf("default perRoute kept %d", n)
	}
}

func TestLogNil(t *testing.T) {
	var l *Log
	l.Add("a", Mismatch{})
	if l.Recent("a") != nil || l.Routes() != nil {
		t.Error("nil Log returned data")
	}
}

func TestLogConcurrent(t *testing.T) {
	const routes, perG, goroutines = 8, 200, 16
	l := NewLog(5, routes/2)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range perG {
				route := fmt.Sprint("r", (g+i)%routes)
				l.Add(route, Mismatch{RequestID: fmt.Sprint(g, "-", i)})
				_ = l.Recent(route)
				_ = l.Routes()
			}
		})
	}
	wg.Wait()
	names := l.Routes()
	if len(names) != routes/2 {
		t.Errorf("Routes = %q, want %d routes", names, routes/2)
	}
	for _, r := range names {
		// Routes are evicted and come back, so only the bound is certain.
		if n := len(l.Recent(r)); n < 1 || n > 5 {
			t.Errorf("Recent(%s) has %d entries, want 1 to 5", r, n)
		}
	}
}
