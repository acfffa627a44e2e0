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
// name is the file name used in error messages. Unknown keys, wrong types,
// keys left empty and every semantic problem are reported together, each
// as "name:line: message", joined with errors.Join. An empty document is
// an error, and so is a second document.
func Load(name string, data []byte) (*Config, error) {
	docs, err := parseDocuments(data)
	if err != nil {
		return nil, syntaxError(name, data, err)
	}
	if len(docs) == 0 || len(docs[0].Content) == 0 {
		return nil, errEmpty(name)
	}
	root := docs[0]

	// A repeated key makes yaml.v3 drop the whole mapping holding it, which
	// would hide the mapping's other problems and report false ones (its
	// upstreams "unknown"). Each repeat is reported here, then cut out of
	// the text (its lines blanked, so line numbers hold) before decoding,
	// so that the rest of the file is still checked.
	//
	// With more than maxCutDuplicates repeats, they alone are reported
	// (at most maxRepeatMessages+1 messages per mapping) and nothing is
	// decoded: yaml.v3's decode words one message per pair of equal keys,
	// in time quadratic in the copies of one key, and a reload must not
	// stall on a key pasted thousands of times.
	//
	// Otherwise an entry is cut only when that is safe (see entryLines:
	// block style, range known from the structure, no anchors or aliases
	// in it, not inside a key), and the cut is checked:
	// the cut text must parse into the original tree less the repeated
	// entries and decode, and each entry decoded alone must parse into a
	// part of the original tree. If any of this fails, Load falls back to
	// the repeats plus yaml.v3's own errors on the original text (with
	// lines) and skips the semantic checks, which could be false with
	// mappings dropped. A syntax error only the cut created is never
	// reported, and the file is refused either way.
	var errs []error
	if len(docs) > 1 {
		errs = append(errs, extraDocument(name, docs[1]))
	}
	dups := duplicates(name, data, root)
	for _, d := range dups {
		if d.err != nil {
			errs = append(errs, d.err)
		}
	}
	if len(dups) > maxCutDuplicates {
		return nil, sortedByLine(errs)
	}
	repeats := repeatMessages(dups)
	fallback := func() error {
		return sortedByLine(append(slices.Clip(errs), decodeErrors(name, data, repeats)...))
	}
	decoded := data
	if len(dups) > 0 {
		cut, ok := withoutDuplicates(data, root, dups)
		if !ok {
			return nil, fallback()
		}
		decoded = cut
	}

	// Unknown keys and wrong types come back as one *yaml.TypeError after
	// the rest of the document has been decoded, so semantic checks can
	// still run and every problem is reported at once.
	var cfg Config
	dec := yaml.NewDecoder(bytes.NewReader(decoded))
	dec.KnownFields(true)
	var typeErr *yaml.TypeError
	if err := dec.Decode(&cfg); err != nil && !errors.As(err, &typeErr) {
		if len(dups) > 0 {
			return nil, fallback()
		}
		if errors.Is(err, io.EOF) {
			return nil, errEmpty(name)
		}
		return nil, yamlError(name, decoded, err)
	}
	if len(dups) > 0 {
		entryErrs, ok := duplicatesTypeErrors(name, data, root, dups, repeats)
		if !ok {
			return nil, fallback()
		}
		errs = append(errs, entryErrs...)
	}

	applyDefaults(&cfg)
	if typeErr != nil {
		// A count too large for a 32-bit int is reported by validate, in
		// the words it has on every platform.
		overflows := countOverflows(root)
		for _, msg := range typeErr.Errors {
			if !repeats[msg] && !overflows[msg] {
				errs = append(errs, lineError(name, msg))
			}
		}
	}
	errs = append(errs, emptyValues(name, root)...)
	// A document that is not a mapping (nor null, which is an empty
	// configuration) is one type error; "legacy: required" and the like
	// would only repeat it.
	if top := resolve(root.Content[0]); top.Kind == yaml.MappingNode || isNull(top) {
		at := newLines(name, root.Content[0])
		alignRoutes(&cfg, at)
		if err := validate(&cfg, at); err != nil {
			errs = append(errs, err)
		}
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

// yamlError turns the decoder's "yaml: line N: msg" errors for data into
// *LineErrors. A TypeError carries one message per problem; all are kept.
// Any other error is a syntax error (see syntaxError).
func yamlError(name string, data []byte, err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		errs := make([]error, 0, len(te.Errors))
		for _, msg := range te.Errors {
			errs = append(errs, lineError(name, msg))
		}
		return errors.Join(errs...)
	}
	return syntaxError(name, data, err)
}

// alignRoutes puts a nil route in cfg.Routes wherever yaml.v3 dropped an
// item it could not decode (a scalar or a list where a route belongs, whose
// type error is reported), so that cfg.Routes[i] is again the i-th item of
// routes in the file and later errors name the right line and number.
func alignRoutes(cfg *Config, at lines) {
	items := at.node("routes")
	if items == nil || items.Kind != yaml.SequenceNode || len(cfg.Routes) == len(items.Content) {
		return
	}
	aligned := make([]*RouteConfig, 0, len(items.Content))
	next := 0
	for _, it := range items.Content {
		if it = resolve(it); it.Kind != yaml.MappingNode && !isNull(it) {
			aligned = append(aligned, nil) // dropped by the decoder
			continue
		}
		if next == len(cfg.Routes) {
			return // not the shape expected: leave the routes as decoded
		}
		aligned = append(aligned, cfg.Routes[next])
		next++
	}
	if next == len(cfg.Routes) {
		cfg.Routes = aligned
	}
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
	return &LineError{File: name, Line: line, Msg: inWords(msg)}
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
