package shadow

import "testing"

func TestNumEqual(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"1", "1", true},
		{"1", "1.0", true},
		{"1", "1e0", true},
		{"1", "1E+0", true},
		{"1.0", "1e0", true},
		{"0.1", "1e-1", true},
		{"100", "1e2", true},
		{"100", "10E1", true},
		{"1.50", "15e-1", true},
		{"0", "-0", true},
		{"0", "0.000e5", true},
		{"-0.0", "0e-7", true},
		{"-1", "-1.0", true},
		{"123.456", "123456e-3", true},
		{"0.001", "1e-3", true},
		{"1", "2", false},
		{"1", "-1", false},
		{"1", "10", false},
		{"1", "0.1", false},
		{"12345678901234567890", "12345678901234567891", false},    // float64 says equal
		{"0.1", "0.10000000000000001", false},                      // float64 says equal
		{"1e400", "10e399", true},                                  // beyond float64
		{"1e999999999", "1e999999998", false},                      // no huge allocation
		{"1e99999999999999999999", "1e99999999999999999999", true}, // same literal
		{"1e99999999999999999999", "10e99999999999999999998", false},
		{"abc", "abd", false},
	} {
		if got := numEqual(tc.a, tc.b); got != tc.want {
			t.Errorf("numEqual(%s, %s) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
		if got := numEqual(tc.b, tc.a); got != tc.want {
			t.Errorf("numEqual(%s, %s) = %v, want %v", tc.b, tc.a, got, tc.want)
		}
	}
}
