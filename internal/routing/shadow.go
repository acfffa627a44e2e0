package routing

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/strangler-proxy/strangler/internal/shadow"
)

// DefaultShadowMaxBody is the largest answer compared when a route's shadow
// sets no max_body: 1 MiB.
const DefaultShadowMaxBody ByteSize = 1 << 20

// ShadowConfig copies a route's requests to the side that did not answer
// them and compares the two answers: requests served by legacy go to the
// service as well, and requests served by the service go to legacy, so the
// comparison goes on while the weight rises. The client never waits for
// the copy.
type ShadowConfig struct {
	// Percent is the share of eligible requests copied, from 0 to 100.
	// Optional; absent means 100.
	Percent *float64 `yaml:"percent"`

	// Methods lists the methods that are copied. Optional; left out
	// (empty) means GET and HEAD: writes are never copied unless listed
	// here, because the copy would write twice. Load refuses methods: []
	// written in the file, which would read as "no method".
	Methods []string `yaml:"methods"`

	// Headers lists the response headers compared, by name
	// (case-insensitive), each as the ordered list of its values.
	// Optional; left out (empty) means [Content-Type]; Load refuses
	// headers: [] written in the file, which would read as "no header"
	// (an ignore entry "header:Content-Type" says that). Each entry must be a
	// valid header name, appear once, and not be Content-Encoding (bodies
	// are compared decoded); a bad entry is reported at its own line. An
	// ignore entry "header:Name" takes Name out of this list.
	Headers HeaderNames `yaml:"headers"`

	// Ignore lists differences that are noise: "body:$.generated_at",
	// "body:$.items[*].etag", "header:Date". Optional; empty means none.
	// A bad entry is reported at its own line.
	Ignore IgnoreEntries `yaml:"ignore"`

	// MaxBody is the largest request or response body compared, such as
	// 512KiB or 1MiB, as received and once decoded (gzip, deflate); larger
	// ones are counted as skipped. Optional; absent
	// means 1MiB; zero is rejected.
	MaxBody *ByteSize `yaml:"max_body"`
}

// HeaderNames is shadow.headers: a list of response header names. It is
// checked as it is decoded (with shadow.CheckHeaders), so that each bad
// entry is reported at its own line, like every other type error.
type HeaderNames []string

// UnmarshalYAML reads a list of header names and reports every bad entry
// (not a list, not a name, not a valid header name, a duplicate ignoring
// case, Content-Encoding) as "line N: ..." at the entry's line.
func (h *HeaderNames) UnmarshalYAML(n *yaml.Node) error {
	names, err := checkList(n, "headers", "a list of header names, such as [Content-Type, Cache-Control]",
		"a header name such as Content-Type", shadow.CheckHeaders, func(e error) (int, bool) {
			var he *shadow.HeaderError
			if !errors.As(e, &he) {
				return 0, false
			}
			return he.Index, true
		})
	*h = names
	return err
}

// IgnoreEntries is shadow.ignore: a list of differences to ignore. It is
// checked as it is decoded (with shadow.ParseRules), so that each bad entry
// is reported at its own line, as shadow.headers entries are.
type IgnoreEntries []string

// UnmarshalYAML reads a list of ignore entries and reports every bad one
// (not a list, not a string, not an entry shadow.ParseRules accepts) as
// "line N: ..." at the entry's line.
func (ig *IgnoreEntries) UnmarshalYAML(n *yaml.Node) error {
	entries, err := checkList(n, "ignore", `a list of entries, such as [header:Date, "body:$.generated_at"]`,
		`an entry such as header:Date or "body:$.generated_at"`, func(entries []string) error {
			_, err := shadow.ParseRules(entries)
			return err
		}, func(e error) (int, bool) {
			var re *shadow.RuleError
			if !errors.As(e, &re) {
				return 0, false
			}
			return re.Index, true
		})
	*ig = entries
	return err
}

// checkList decodes n, the list of strings shadow.<field>, and checks it
// with check, whose per-entry errors (joined with errors.Join) index
// places in the list. It returns the entries, or nil and a
// *yaml.TypeError holding one "line N: ..." message per problem, at the
// line of the entry concerned, in line order: n not a list (list says what
// is wanted), an entry not a string (entry says what is wanted), or an
// entry check refuses.
func checkList(n *yaml.Node, field, list, entry string, check func([]string) error, index func(error) (int, bool)) ([]string, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: shadow.%s must be %s", n.Line, field, list)}}
	}
	entries := make([]string, len(n.Content))
	var msgs []string
	for i, c := range n.Content {
		if c.Kind != yaml.ScalarNode || c.ShortTag() == "!!null" {
			msgs = append(msgs, fmt.Sprintf("line %d: shadow.%s[%d]: want %s", c.Line, field, i, entry))
			continue
		}
		entries[i] = c.Value
	}
	// One level only: each part is a per-entry error, whose own Unwrap
	// must not be split.
	var parts []error
	if err := check(entries); err != nil {
		parts = []error{err}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			parts = j.Unwrap()
		}
	}
	for _, e := range parts {
		i, ok := index(e)
		if !ok || i < 0 || i >= len(n.Content) {
			continue
		}
		// An entry that is not a string has been reported above.
		if c := n.Content[i]; c.Kind == yaml.ScalarNode && c.ShortTag() != "!!null" {
			msgs = append(msgs, fmt.Sprintf("line %d: shadow.%v", c.Line, e))
		}
	}
	if len(msgs) > 0 {
		slices.SortStableFunc(msgs, func(a, b string) int { return cmp.Compare(msgLine(a), msgLine(b)) })
		return nil, &yaml.TypeError{Errors: msgs}
	}
	return entries, nil
}

// msgLine is N of a "line N: ..." message.
func msgLine(msg string) int {
	var n int
	_, _ = fmt.Sscanf(msg, "line %d:", &n)
	return n
}

// ByteSize is a size in bytes, written in routes.yaml as a plain number of
// bytes or with a unit: B, KiB, MiB, GiB (powers of 1024) or KB, MB, GB
// (powers of 1000).
type ByteSize int64

// UnmarshalYAML parses "1MiB", "512KiB", "1000000" and the like. A bad
// value is reported with its line, like every other type error.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	v, err := parseByteSize(n.Value)
	if err != nil || n.Kind != yaml.ScalarNode {
		// Reported here with its line; the default keeps validation from
		// reporting the same value a second time.
		*b = DefaultShadowMaxBody
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %q is not a size: write a number of bytes or use KiB, MiB, GiB, KB, MB or GB", n.Line, n.Value)}}
	}
	*b = v
	return nil
}

var byteUnits = []struct {
	suffix string
	factor int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000},
	{"B", 1},
}

func parseByteSize(s string) (ByteSize, error) {
	s = strings.TrimSpace(s)
	factor := int64(1)
	for _, u := range byteUnits {
		if strings.HasSuffix(s, u.suffix) {
			s, factor = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.factor
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/factor {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return ByteSize(n * factor), nil
}

// String writes the size with the largest binary unit that divides it.
func (b ByteSize) String() string {
	for _, u := range []struct {
		suffix string
		factor int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if int64(b) >= u.factor && int64(b)%u.factor == 0 {
			return strconv.FormatInt(int64(b)/u.factor, 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(b), 10) + "B"
}

// Shadow is the compiled shadow setting of a route.
type Shadow struct {
	// Percent is the share of eligible requests copied.
	Percent float64
	// Methods are the methods copied.
	Methods []string
	// Headers are the response headers named by shadow.headers, in
	// canonical form ([Content-Type] when none are named); Rules compare
	// them less those Ignore leaves out.
	Headers []string
	// Ignore are the ignore rules as written.
	Ignore []string
	// MaxBody is the largest body compared, in bytes.
	MaxBody int64
	// Rules compare two answers.
	Rules *shadow.Rules

	threshold uint64 // Percent in buckets
}

func compileShadow(sc *ShadowConfig) (*Shadow, error) {
	rules, err := shadow.NewRules(sc.Headers, sc.Ignore)
	if err != nil {
		return nil, fmt.Errorf("shadow: %w", err)
	}
	headers := slices.Clone(shadow.DefaultHeaders)
	if len(sc.Headers) > 0 {
		headers = make([]string, len(sc.Headers))
		for i, name := range sc.Headers {
			headers[i] = http.CanonicalHeaderKey(name)
		}
	}
	return &Shadow{
		Percent:   *sc.Percent,
		Methods:   slices.Clone(sc.Methods),
		Headers:   headers,
		Ignore:    slices.Clone(sc.Ignore),
		MaxBody:   int64(*sc.MaxBody),
		Rules:     rules,
		threshold: uint64(*sc.Percent*buckets/100 + 0.5),
	}, nil
}

// Wants reports whether r is to be copied: its method is listed, and it
// falls in Percent.
func (s *Shadow) Wants(r *http.Request) bool {
	if !slices.Contains(s.Methods, r.Method) {
		return false
	}
	return s.threshold >= buckets || rand.Uint64N(buckets) < s.threshold
}
