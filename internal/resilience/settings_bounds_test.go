package resilience

import (
	"strconv"
	"testing"
)

// TestValidateCountBounds checks that a count is refused outside
// 1..MaxCount (2147483647, the bound routes.yaml documents) with a message
// naming that range, whichever end it misses.
func TestValidateCountBounds(t *testing.T) {
	validate := func(n int) error {
		return Settings{Targets: []string{"http://127.0.0.1:9101"}, Health: HealthSettings{HealthyAfter: n}}.Validate()
	}
	if err := validate(MaxCount); err != nil {
		t.Errorf("healthy_after %d: %v", MaxCount, err)
	}
	tooMany := int64(MaxCount) + 1
	ns := []int{-1}
	if strconv.IntSize == 64 {
		ns = append(ns, int(tooMany)) // an int holds it on 64 bits only
	}
	for _, n := range ns {
		want := "health.healthy_after: " + strconv.Itoa(n) + " must be between 1 and 2147483647"
		if err := validate(n); err == nil || err.Error() != want {
			t.Errorf("healthy_after %d: %v, want %q", n, err, want)
		}
	}
}

// TestValidateTargetEmptyQuery checks that a target with an empty query
// or fragment ("http://x?", "http://x#"), which url.Parse reads as none,
// is refused like any query or fragment.
func TestValidateTargetEmptyQuery(t *testing.T) {
	for _, target := range []string{"http://127.0.0.1:9101?", "http://127.0.0.1:9101/#", "http://127.0.0.1:9101/#top"} {
		err := Settings{Targets: []string{target}}.Validate()
		want := "targets[0]: " + strconv.Quote(target) + ": user info, query and fragment are not allowed"
		if err == nil || err.Error() != want {
			t.Errorf("target %q: %v, want %q", target, err, want)
		}
	}
}
