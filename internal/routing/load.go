package routing

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
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
		return nil, fmt.Errorf("%s:1: empty configuration: need at least legacy and upstreams", name)
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
			return nil, fmt.Errorf("%s:1: empty configuration: need at least legacy and upstreams", name)
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
		return nil, errors.Join(errs...)
	}
	return &cfg, nil
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
		for i, m := range r.Methods {
			r.Methods[i] = strings.ToUpper(m)
		}
	}
}

// yamlError rewrites the decoder's "yaml: line N: msg" errors into
// "name:N: msg" so that every message names the file and the line the same
// way. A TypeError carries one message per problem; all are kept.
func yamlError(name string, err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		errs := make([]error, 0, len(te.Errors))
		for _, msg := range te.Errors {
			errs = append(errs, errors.New(fileLine(name, msg)))
		}
		return errors.Join(errs...)
	}
	return errors.New(fileLine(name, strings.TrimPrefix(err.Error(), "yaml: ")))
}

// fileLine turns "line 4: field timout not found" into
// "name:4: field timout not found".
func fileLine(name, msg string) string {
	var line int
	var rest string
	if n, _ := fmt.Sscanf(msg, "line %d:", &line); n == 1 {
		if i := strings.Index(msg, ":"); i >= 0 {
			rest = strings.TrimSpace(msg[i+1:])
		}
		return fmt.Sprintf("%s:%d: %s", name, line, rest)
	}
	return fmt.Sprintf("%s: %s", name, msg)
}
