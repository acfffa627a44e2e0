package routing

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
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

	// A repeated key makes yaml.v3 drop the whole mapping holding it, which
	// would hide the mapping's other problems and report false ones (its
	// upstreams "unknown"). Each repeat is reported here, then cut out of
	// the text (its lines blanked, so line numbers hold) before decoding.
	var errs []error
	dups := duplicates(name, &root)
	for _, d := range dups {
		errs = append(errs, d.err)
	}
	decoded := data
	if len(dups) > 0 {
		decoded = withoutDuplicates(data, dups)
		errs = append(errs, duplicatesTypeErrors(name, data, dups)...)
	}

	// Unknown keys and wrong types come back as one *yaml.TypeError after
	// the rest of the document has been decoded, so semantic checks can
	// still run and every problem is reported at once.
	var cfg Config
	dec := yaml.NewDecoder(bytes.NewReader(decoded))
	dec.KnownFields(true)
	var typeErr *yaml.TypeError
	if err := dec.Decode(&cfg); err != nil && !errors.As(err, &typeErr) {
		if errors.Is(err, io.EOF) {
			return nil, errEmpty(name)
		}
		return nil, yamlError(name, err)
	}

	applyDefaults(&cfg)
	if typeErr != nil {
		if te := withoutRepeatMessages(typeErr); len(te.Errors) > 0 {
			errs = append(errs, yamlError(name, te))
		}
	}
	if err := validate(&cfg, newLines(name, root.Content[0])); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, sortedByLine(errs)
	}
	return &cfg, nil
}

// withoutDuplicates returns data with the lines of every repeated entry
// blanked (their line breaks kept), so that the rest decodes with the lines
// it has in the file.
func withoutDuplicates(data []byte, dups []duplicate) []byte {
	out := keepLines(data, func(line int) bool {
		for _, d := range dups {
			if d.from > 0 && d.from <= line && line <= d.to {
				return false
			}
		}
		return true
	})
	lines := bytes.SplitAfter(out, []byte("\n"))
	for _, d := range dups {
		if d.flowLine == 0 || d.flowLine > len(lines) {
			continue
		}
		line := lines[d.flowLine-1]
		end := d.colEnd
		if end < 0 {
			end = flowScalarEnd(line, -end-1)
		}
		if d.col < 0 || end > len(line) || d.col >= end {
			continue
		}
		for i := d.col; i < end; i++ {
			line[i] = ' ' // "{a: 1, a: 2}" becomes "{a: 1,     }", a valid mapping
		}
	}
	return out
}

// flowScalarEnd returns the offset just past the scalar that starts at
// offset start of line, in a flow collection.
func flowScalarEnd(line []byte, start int) int {
	if start < 0 || start >= len(line) {
		return -1
	}
	switch q := line[start]; q {
	case '"', '\'':
		for i := start + 1; i < len(line); i++ {
			switch {
			case q == '"' && line[i] == '\\':
				i++
			case line[i] == q && q == '\'' && i+1 < len(line) && line[i+1] == '\'':
				i++
			case line[i] == q:
				return i + 1
			}
		}
		return -1
	}
	i := start
	for i < len(line) && !bytes.ContainsRune([]byte(",}]\r\n"), rune(line[i])) {
		i++
	}
	return i
}

// duplicatesTypeErrors checks the unknown keys and types inside the
// repeated entries, which withoutDuplicates cuts out: each entry is decoded
// alone, with the keys above it, and the problems on its own lines are
// returned.
func duplicatesTypeErrors(name string, data []byte, dups []duplicate) []error {
	var errs []error
	for _, d := range dups {
		if d.from == 0 {
			continue
		}
		alone := keepLines(data, func(line int) bool {
			return d.from <= line && line <= d.to || slices.Contains(d.keep, line)
		})
		dec := yaml.NewDecoder(bytes.NewReader(alone))
		dec.KnownFields(true)
		var te *yaml.TypeError
		if err := dec.Decode(&Config{}); !errors.As(err, &te) {
			continue
		}
		for _, msg := range withoutRepeatMessages(te).Errors {
			if le := lineError(name, msg); d.from <= le.Line && le.Line <= d.to {
				errs = append(errs, le)
			}
		}
	}
	return errs
}

// keepLines returns data with the lines (1-based) keep rejects emptied, their
// line breaks kept.
func keepLines(data []byte, keep func(line int) bool) []byte {
	out := make([]byte, 0, len(data))
	for i, l := range bytes.SplitAfter(data, []byte("\n")) {
		if keep(i + 1) {
			out = append(out, l...)
		} else if bytes.HasSuffix(l, []byte("\n")) {
			out = append(out, '\n')
		}
	}
	return out
}

// withoutRepeatMessages drops yaml.v3's own "already defined" messages,
// which duplicates reports in its own words.
func withoutRepeatMessages(te *yaml.TypeError) *yaml.TypeError {
	msgs := slices.DeleteFunc(slices.Clone(te.Errors), func(m string) bool {
		return strings.Contains(m, "already defined at line")
	})
	return &yaml.TypeError{Errors: msgs}
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
