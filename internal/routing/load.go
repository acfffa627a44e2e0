package routing

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// LoadFile reads and loads the routes.yaml at path. See Load.
func LoadFile(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Load(path, data)
}

// Load decodes routes.yaml from data, applies defaults and validates it.
// name is the file name used in error messages. Unknown keys, wrong types
// and every semantic problem are reported together, each as "name:line:
// message", joined with errors.Join. An empty document is an error.
func Load(name string, data []byte) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlError(name, err)
	}
	if len(root.Content) == 0 {
		return nil, errEmpty(name)
	}

	// Unknown keys and wrong types come back as one *yaml.TypeError after
	// the rest of the document has been decoded, so semantic checks can
	// still run and every problem is reported at once.
	var cfg Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var typeErr *yaml.TypeError
	if err := dec.Decode(&cfg); err != nil && !errors.As(err, &typeErr) {
		if errors.Is(err, io.EOF) {
			return nil, errEmpty(name)
		}
		return nil, yamlError(name, err)
	}

	applyDefaults(&cfg)
	var errs []error
	if typeErr != nil {
		errs = append(errs, yamlError(name, typeErr))
	}
	if err := validate(&cfg, newLines(name, root.Content[0])); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, sortedByLine(errs)
	}
	return &cfg, nil
}

func errEmpty(name string) error {
	return &LineError{File: name, Line: 1, Msg: "empty configuration: need at least legacy and upstreams"}
}

// applyDefaults fills every optional field that was left out. It is the only
// place defaults are applied.
func applyDefaults(cfg *Config) {
	for _, u := range cfg.Upstreams {
		if u != nil && u.Timeout == 0 {
			u.Timeout = DefaultTimeout
		}
	}
	for _, r := range cfg.Routes {
		if r == nil {
			continue
		}
		if r.Weight == nil {
			full := 100.0
			r.Weight = &full
		}
		if r.Name == "" {
			r.Name = r.Prefix
		}
		if r.Fallback == nil {
			on := true
			r.Fallback = &on
		}
		for i, m := range r.Methods {
			r.Methods[i] = strings.ToUpper(m)
		}
		if sh := r.Shadow; sh != nil {
			if sh.Percent == nil {
				all := 100.0
				sh.Percent = &all
			}
			if len(sh.Methods) == 0 {
				sh.Methods = []string{"GET", "HEAD"}
			}
			for i, m := range sh.Methods {
				sh.Methods[i] = strings.ToUpper(m)
			}
			if sh.MaxBody == nil {
				size := DefaultShadowMaxBody
				sh.MaxBody = &size
			}
		}
	}
}

// yamlError turns the decoder's "yaml: line N: msg" errors into
// *LineErrors. A TypeError carries one message per problem; all are kept.
func yamlError(name string, err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		errs := make([]error, 0, len(te.Errors))
		for _, msg := range te.Errors {
			errs = append(errs, lineError(name, msg))
		}
		return errors.Join(errs...)
	}
	return lineError(name, strings.TrimPrefix(err.Error(), "yaml: "))
}

// lineError parses "line 4: field timout not found" into a *LineError.
func lineError(name, msg string) *LineError {
	var line int
	if n, _ := fmt.Sscanf(msg, "line %d:", &line); n == 1 {
		if _, rest, ok := strings.Cut(msg, ":"); ok {
			msg = strings.TrimSpace(rest)
		}
	}
	// "field x not found in type routing.UpstreamConfig" names a Go type
	// the user never sees.
	if i := strings.Index(msg, " not found in type "); i >= 0 {
		msg = msg[:i] + " not found: unknown key"
	}
	return &LineError{File: name, Line: line, Msg: msg}
}

// sortedByLine flattens joined errors and orders them by line, so that a
// reader can fix a file from top to bottom.
func sortedByLine(errs []error) error {
	var flat []error
	var walk func(error)
	walk = func(err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		flat = append(flat, err)
	}
	for _, e := range errs {
		walk(e)
	}
	lineOf := func(err error) int {
		var le *LineError
		if errors.As(err, &le) {
			return le.Line
		}
		return 0
	}
	sort.SliceStable(flat, func(i, j int) bool { return lineOf(flat[i]) < lineOf(flat[j]) })
	return errors.Join(flat...)
}
