package faults

import (
	"strings"
	"testing"
	"time"
)

func TestApply(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want Settings
	}{
		{"latency=200ms", Settings{Latency: Duration(200 * time.Millisecond)}},
		{"error_rate=1,error_status=503", Settings{ErrorRate: 1, ErrorStatus: 503}},
		{"unready", Settings{Unready: true}},
		{"unready=false,reset_rate=0.5", Settings{ResetRate: 0.5}},
		{"alter_field=amount_cents", Settings{AlterField: "amount_cents"}},
	} {
		var s Settings
		if err := s.Apply(tc.spec); err != nil || s != tc.want {
			t.Errorf("Apply(%q) = %+v, %v; want %+v", tc.spec, s, err, tc.want)
		}
	}

	s := Settings{Latency: Duration(time.Second), Unready: true}
	if err := s.Apply("error_rate=0.25"); err != nil || s != (Settings{Latency: Duration(time.Second), Unready: true, ErrorRate: 0.25}) {
		t.Errorf("Apply on set settings = %+v, %v; want the others kept", s, err)
	}

	for _, tc := range []struct{ spec, want string }{
		{"", `fault "": unknown, want one of alter_field, error_rate, error_status, latency, reset_rate, unready`},
		{"latency", "fault latency=true"},
		{"error_rate=2", "error_rate 2: must be between 0 and 1"},
		{"error_status=404", "error_status 404"},
		{"latncy=1s", `fault "latncy": unknown`},
		{"latency=1s,", `fault "": unknown`},
	} {
		before := Settings{ErrorRate: 0.5}
		s := before
		err := s.Apply(tc.spec)
		if err == nil || !strings.Contains(err.Error(), tc.want) || s != before {
			t.Errorf("Apply(%q) = %v, settings %+v; want an error saying %q and the settings unchanged", tc.spec, err, s, tc.want)
		}
	}
}
