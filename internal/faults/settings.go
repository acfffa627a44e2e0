package faults

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// DefaultErrorStatus is the status of injected errors when Settings sets none.
const DefaultErrorStatus = 500

// Settings says which faults an app injects. The zero value injects none.
type Settings struct {
	// Latency is waited before each request (health and admin endpoints
	// excepted) is handled or failed. Zero adds none; negative is invalid.
	// In JSON it is a Go duration string such as "150ms".
	Latency Duration `json:"latency"`

	// ErrorRate is the share of requests, from 0 to 1, answered with
	// ErrorStatus and a JSON error body instead of reaching the app. Zero
	// fails none; 1 fails all.
	ErrorRate float64 `json:"error_rate"`

	// ErrorStatus is the status code of injected errors, from 500 to 599.
	// Zero means DefaultErrorStatus (500).
	ErrorStatus int `json:"error_status"`

	// ResetRate is the share of requests, from 0 to 1, whose connection is
	// reset (TCP RST) without any response. It is drawn before ErrorRate.
	// Zero resets none; 1 resets all.
	ResetRate float64 `json:"reset_rate"`

	// Unready makes /health/ready answer 503 while the app keeps serving.
	Unready bool `json:"unready"`

	// AlterField names a JSON object key. While it is set, the value of every
	// key with this name, at any depth, in every JSON response of the app
	// (Content-Type application/json or *+json) is changed: strings get
	// " (altered)" appended, numbers get 1 added (integers stay integers),
	// booleans are negated, and null, objects and arrays become the string
	// "altered". Bodies that are not valid JSON, other responses, injected
	// errors and the health and admin endpoints are left alone. Empty alters
	// nothing; the name must be valid UTF-8.
	AlterField string `json:"alter_field"`
}

// Validate reports every invalid field at once.
func (s Settings) Validate() error {
	var errs []error
	if s.Latency < 0 {
		errs = append(errs, fmt.Errorf("latency %s: must not be negative", s.Latency))
	}
	if !(s.ErrorRate >= 0 && s.ErrorRate <= 1) { // also rejects NaN
		errs = append(errs, fmt.Errorf("error_rate %v: must be between 0 and 1", s.ErrorRate))
	}
	if !(s.ResetRate >= 0 && s.ResetRate <= 1) {
		errs = append(errs, fmt.Errorf("reset_rate %v: must be between 0 and 1", s.ResetRate))
	}
	if s.ErrorStatus != 0 && (s.ErrorStatus < 500 || s.ErrorStatus > 599) {
		errs = append(errs, fmt.Errorf("error_status %d: must be between 500 and 599", s.ErrorStatus))
	}
	if !utf8.ValidString(s.AlterField) {
		errs = append(errs, fmt.Errorf("alter_field %q: must be valid UTF-8", s.AlterField))
	}
	return errors.Join(errs...)
}

// withDefaults returns s with every zero field that has a default filled in.
// It is the only place defaults are applied.
func (s Settings) withDefaults() Settings {
	if s.ErrorStatus == 0 {
		s.ErrorStatus = DefaultErrorStatus
	}
	return s
}

// RegisterFlags registers the fault flags on fs, writing into s:
// --fault-latency, --fault-error-rate, --fault-error-status,
// --fault-reset-rate, --fault-unready and --fault-alter-field. The current
// values of s are the flag defaults.
func (s *Settings) RegisterFlags(fs *flag.FlagSet) {
	fs.DurationVar((*time.Duration)(&s.Latency), "fault-latency", time.Duration(s.Latency),
		"fault injection: latency added to each request, e.g. 200ms")
	fs.Float64Var(&s.ErrorRate, "fault-error-rate", s.ErrorRate,
		"fault injection: share of requests (0..1) failed with a 5xx JSON error")
	fs.IntVar(&s.ErrorStatus, "fault-error-status", s.ErrorStatus,
		"fault injection: status of injected errors, 500..599 (0 means 500)")
	fs.Float64Var(&s.ResetRate, "fault-reset-rate", s.ResetRate,
		"fault injection: share of requests (0..1) whose connection is reset")
	fs.BoolVar(&s.Unready, "fault-unready", s.Unready,
		"fault injection: report unready (503) on /health/ready")
	fs.StringVar(&s.AlterField, "fault-alter-field", s.AlterField,
		"fault injection: `NAME` of a JSON key whose values are altered in every JSON response")
}

// Apply changes s by spec, a compact list such as
// "latency=200ms,error_rate=0.5,unready": comma-separated key=value pairs
// whose keys are the JSON names of the fields and whose values are written
// as for the --fault-* flags (a bare key sets a boolean to true). Fields
// not named keep their value. The result is validated; on error s is left
// as it was.
func (s *Settings) Apply(spec string) error {
	next := *s
	fs := flag.NewFlagSet("faults", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	next.RegisterFlags(fs)
	for _, kv := range strings.Split(spec, ",") {
		key, value, ok := strings.Cut(kv, "=")
		if !ok {
			value = "true"
		}
		name := "fault-" + strings.ReplaceAll(key, "_", "-")
		if key == "" || fs.Lookup(name) == nil {
			return fmt.Errorf("fault %q: unknown, want one of %s", key, specKeys(fs))
		}
		if err := fs.Set(name, value); err != nil {
			return fmt.Errorf("fault %s=%s: %w", key, value, err)
		}
	}
	if err := next.Validate(); err != nil {
		return fmt.Errorf("fault settings: %w", err)
	}
	*s = next
	return nil
}

// specKeys lists the keys Apply takes: the fault flags of fs, by their
// JSON names.
func specKeys(fs *flag.FlagSet) string {
	var keys []string
	fs.VisitAll(func(f *flag.Flag) {
		keys = append(keys, strings.ReplaceAll(strings.TrimPrefix(f.Name, "fault-"), "-", "_"))
	})
	return strings.Join(keys, ", ")
}

// Duration is a time.Duration that reads and writes JSON as a Go duration
// string ("150ms").
type Duration time.Duration

// String formats d like time.Duration.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a duration string such as "150ms" or "1s".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string such as \"150ms\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("parse duration: %w", err)
	}
	*d = Duration(v)
	return nil
}
