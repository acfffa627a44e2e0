package resilience

import (
	"strings"
	"testing"
	"time"
)

func TestWithDefaults(t *testing.T) {
	got := Settings{Targets: []string{"http://127.0.0.1:1"}, Retry: RetrySettings{Methods: []string{"put", " DELETE", "PUT"}}}.WithDefaults()
	want := Settings{
		Targets: []string{"http://127.0.0.1:1"},
		Timeout: 30 * time.Second,
		Health:  HealthSettings{HealthyAfter: 2, UnhealthyAfter: 3},
		Breaker: BreakerSettings{
			ConsecutiveFailures: 5, FailureRatio: 0.5, MinRequests: 20,
			Window: 10 * time.Second, OpenFor: 15 * time.Second, HalfOpenRequests: 3,
		},
		Bulkhead: BulkheadSettings{MaxWait: 100 * time.Millisecond},
		Retry: RetrySettings{
			Attempts: 2, Backoff: 50 * time.Millisecond, MaxBackoff: time.Second, Budget: 0.2,
			Methods: []string{"DELETE", "PUT"},
		},
	}
	if !got.Equal(want) {
		t.Fatalf("WithDefaults() =\n%+v\nwant\n%+v", got, want)
	}
	if err := got.Validate(); err != nil {
		t.Fatalf("Validate(defaults) = %v", err)
	}

	h := Settings{Health: HealthSettings{Path: "/health", Interval: 300 * time.Millisecond}}.WithDefaults().Health
	if h.Timeout != 300*time.Millisecond {
		t.Errorf("health timeout with short interval = %s, want the interval", h.Timeout)
	}
	h = Settings{Health: HealthSettings{Path: "/health"}}.WithDefaults().Health
	if h.Interval != 5*time.Second || h.Timeout != time.Second {
		t.Errorf("health defaults = %s/%s, want 5s/1s", h.Interval, h.Timeout)
	}
	if r := (Settings{Retry: RetrySettings{Backoff: 3 * time.Second}}).WithDefaults().Retry; r.MaxBackoff != 3*time.Second {
		t.Errorf("max_backoff with long backoff = %s, want 3s", r.MaxBackoff)
	}
}

func TestValidate(t *testing.T) {
	ok := []string{"http://127.0.0.1:9101"}
	for _, tc := range []struct {
		name    string
		s       Settings
		wantErr []string
	}{
		{"no targets", Settings{}, []string{"targets: at least one"}},
		{"bad scheme", Settings{Targets: []string{"ftp://x"}}, []string{"targets[0]", "scheme"}},
		{"no host", Settings{Targets: []string{"http://"}}, []string{"host is required"}},
		{"query", Settings{Targets: []string{"http://x/?a=b"}}, []string{"query"}},
		{"duplicate", Settings{Targets: []string{"http://x", "http://x"}}, []string{"targets[1]: duplicate"}},
		{"negative timeout", Settings{Targets: ok, Timeout: -1}, []string{"timeout: -1ns must be positive"}},
		{"health path", Settings{Targets: ok, Health: HealthSettings{Path: "health"}}, []string{"must start with /"}},
		{"health timeout > interval", Settings{Targets: ok, Health: HealthSettings{Path: "/h", Interval: time.Second, Timeout: 2 * time.Second}},
			[]string{"health.timeout: 2s must not exceed"}},
		{"health interval without path", Settings{Targets: ok, Health: HealthSettings{Interval: time.Second}}, []string{"need a path"}},
		{"ratio", Settings{Targets: ok, Breaker: BreakerSettings{FailureRatio: 1.5}}, []string{"breaker.failure_ratio"}},
		{"negative counts", Settings{Targets: ok, Breaker: BreakerSettings{ConsecutiveFailures: -1}, Health: HealthSettings{HealthyAfter: -2}},
			[]string{"breaker.consecutive_failures", "health.healthy_after"}},
		{"bulkhead", Settings{Targets: ok, Bulkhead: BulkheadSettings{MaxConcurrent: -1, MaxWaiting: 3}},
			[]string{"bulkhead.max_concurrent", "bulkhead.max_waiting: needs max_concurrent"}},
		{"retry", Settings{Targets: ok, Retry: RetrySettings{Attempts: 11, Budget: 2, Methods: []string{"GE T"}, Backoff: time.Second, MaxBackoff: time.Millisecond}},
			[]string{"retry.attempts", "retry.budget", "retry.methods[0]", "retry.max_backoff"}},
		{"all at once", Settings{Timeout: -1, Retry: RetrySettings{Attempts: -1}},
			[]string{"targets:", "timeout:", "retry.attempts"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.s.Validate()
			if err == nil {
				t.Fatalf("Validate() = nil, want errors %q", tc.wantErr)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %v\nwant substring %q", err, w)
				}
			}
		})
	}
}

func TestSettingsEqual(t *testing.T) {
	a := Settings{Targets: []string{"http://a"}, Retry: RetrySettings{Methods: []string{"PUT"}}}.WithDefaults()
	b := Settings{Targets: []string{"http://a"}, Timeout: 30 * time.Second, Retry: RetrySettings{Methods: []string{"put"}}}.WithDefaults()
	if !a.Equal(b) {
		t.Fatal("explicit defaults should equal omitted ones")
	}
	c := b
	c.Retry.Methods = []string{"PUT", "DELETE"}
	d := b
	d.Targets = []string{"http://b"}
	for _, o := range []Settings{c, d, {}} {
		if a.Equal(o) {
			t.Errorf("%+v should differ from %+v", a, o)
		}
	}
}
