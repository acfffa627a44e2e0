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
		for _, msg := range typeErr.Errors {
			if !repeats[msg] {
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

// decodeErrors returns yaml.v3's errors for the original text, with the
// messages about the repeats Load reports itself (and only those) left
// out.
func decodeErrors(name string, data []byte, repeats map[string]bool) []error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(&Config{})
	var te *yaml.TypeError
	switch {
	case err == nil || errors.Is(err, io.EOF):
		return nil
	case !errors.As(err, &te):
		return []error{yamlError(name, data, err)}
	}
	var errs []error
	for _, msg := range te.Errors {
		if !repeats[msg] {
			errs = append(errs, lineError(name, msg))
		}
	}
	return errs
}

// maxCutDuplicates bounds the work of cutting repeats out (each is decoded
// alone) and of yaml.v3's decode; a file with more repeats is refused for
// them alone.
const maxCutDuplicates = 64

// withoutDuplicates returns data with the lines of every repeated entry
// blanked (their line breaks kept), so that the rest decodes with the lines
// it has in the file. ok is false when an entry cannot be cut safely or
// the cut text does not parse into the original tree less those entries.
func withoutDuplicates(data []byte, root *yaml.Node, dups []duplicate) (cut []byte, ok bool) {
	gone := map[*yaml.Node]bool{}
	for _, d := range dups {
		if d.from == 0 {
			return nil, false
		}
		gone[d.key] = true
	}
	cut = keepLines(data, func(line int) bool {
		return !slices.ContainsFunc(dups, func(d duplicate) bool { return d.from <= line && line <= d.to })
	})
	var got yaml.Node
	if yaml.Unmarshal(cut, &got) != nil || !sameTree(&got, root, gone, false) {
		return nil, false
	}
	return cut, true
}

// duplicatesTypeErrors checks the unknown keys and types inside the
// repeated entries, which withoutDuplicates cuts out: each entry is decoded
// alone, with the keys above it (and without the repeats inside it), and
// the problems on its own lines are returned. ok is false when an entry
// alone does not parse into a part of the original tree, or fails to
// decode other than with type errors.
func duplicatesTypeErrors(name string, data []byte, root *yaml.Node, dups []duplicate, repeats map[string]bool) (errs []error, ok bool) {
	for _, d := range dups {
		gone := map[*yaml.Node]bool{}
		for _, o := range dups {
			if o.from > d.from && o.to <= d.to {
				gone[o.key] = true
			}
		}
		alone := keepLines(data, func(line int) bool {
			if slices.Contains(d.keep, line) {
				return true
			}
			return d.from <= line && line <= d.to &&
				!slices.ContainsFunc(dups, func(o duplicate) bool { return gone[o.key] && o.from <= line && line <= o.to })
		})
		var got yaml.Node
		if yaml.Unmarshal(alone, &got) != nil || !sameTree(&got, root, gone, true) {
			return nil, false
		}
		dec := yaml.NewDecoder(bytes.NewReader(alone))
		dec.KnownFields(true)
		var te *yaml.TypeError
		if err := dec.Decode(&Config{}); err == nil {
			continue
		} else if !errors.As(err, &te) {
			return nil, false
		}
		for _, msg := range te.Errors {
			if le := lineError(name, msg); !repeats[msg] && d.from <= le.Line && le.Line <= d.to {
				errs = append(errs, le)
			}
		}
	}
	return errs, true
}

// sameTree reports whether got, parsed from a text with lines cut, is want
// with the entries whose keys are in gone left out: node for node, with the
// same lines and columns. With part, got may also lack any other entries
// and items of want (it was parsed from a few lines only).
func sameTree(got, want *yaml.Node, gone map[*yaml.Node]bool, part bool) bool {
	if got.Kind != want.Kind || got.Style != want.Style || got.Tag != want.Tag || got.Value != want.Value || got.Anchor != want.Anchor {
		return false
	}
	// A collection sits where its first child does, which a part may lack.
	if (!part || len(want.Content) == 0) && (got.Line != want.Line || got.Column != want.Column) {
		return false
	}
	step := 1
	if want.Kind == yaml.MappingNode {
		step = 2
	}
	var kept []*yaml.Node
	for i := 0; i+step <= len(want.Content); i += step {
		if !gone[want.Content[i]] {
			kept = append(kept, want.Content[i:i+step]...)
		}
	}
	if !part && len(got.Content) != len(kept) || len(got.Content)%step != 0 {
		return false
	}
	j := 0
	for i := 0; i < len(got.Content); i += step {
		// got's children are kept's, in order, some skipped when part
		// (never a document's one child).
		for part && want.Kind != yaml.DocumentNode && j < len(kept) && (kept[j].Line != got.Content[i].Line || kept[j].Column != got.Content[i].Column) {
			j += step
		}
		if j >= len(kept) {
			return false
		}
		for s := range step {
			if !sameTree(got.Content[i+s], kept[j+s], gone, part) {
				return false
			}
		}
		j += step
	}
	return true
}

// keepLines returns data with the lines (1-based) keep rejects emptied, their
// line breaks kept.
func keepLines(data []byte, keep func(line int) bool) []byte {
	out := make([]byte, 0, len(data))
	for i, l := range bytes.SplitAfter(data, []byte("\n")) {
		switch {
		case keep(i + 1):
			out = append(out, l...)
		case bytes.HasSuffix(l, []byte("\r\n")):
			out = append(out, '\r', '\n')
		case bytes.HasSuffix(l, []byte("\n")):
			out = append(out, '\n')
		}
	}
	return out
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
