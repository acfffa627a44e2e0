package routing

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// lines finds where a value sits in routes.yaml so that semantic errors can
// name the line. It walks the yaml.Node tree decoded next to the typed
// struct (Node.Decode would drop KnownFields, so the two decodes are kept
// apart).
type lines struct {
	file string
	root *yaml.Node
}

func newLines(file string, root *yaml.Node) lines { return lines{file: file, root: root} }

// line returns the line of the node reached by path, where each element is
// a mapping key (string) or a sequence index (int). When the path runs out
// of nodes it returns the line of the deepest node found, so an error about
// a missing field points at its parent.
func (l lines) line(path ...any) int {
	n := l.root
	for _, p := range path {
		next := child(n, p)
		if next == nil {
			break
		}
		n = next
	}
	return n.Line
}

// node returns the node at path itself, with aliases resolved, or nil when
// the file has nothing there (unlike line, which stops at the deepest node
// found).
func (l lines) node(path ...any) *yaml.Node {
	n := resolve(l.root)
	for _, p := range path {
		if n = resolve(child(n, p)); n == nil {
			return nil
		}
	}
	return n
}

// missing reports whether the file leaves the value at path out or writes
// it as an empty string: a required field is then truly missing. A value
// written as null or with the wrong type is reported already (as empty, or
// by the decoder), and a "required" message about it would be noise.
func (l lines) missing(path ...any) bool {
	n := l.node(path...)
	return n == nil || n.Kind == yaml.ScalarNode && !isNull(n) && n.Value == ""
}

// written reports whether the file gives the value at path as a non-empty
// scalar (rather than leaving it out, null, empty or of the wrong type).
func (l lines) written(path ...any) bool {
	n := l.node(path...)
	return n != nil && n.Kind == yaml.ScalarNode && !isNull(n) && n.Value != ""
}

// keys returns the keys of the mapping at path as written, whether or not
// their values decoded; nil when there is no mapping there.
func (l lines) keys(path ...any) map[string]bool {
	n := l.node(path...)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	keys := make(map[string]bool, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		keys[n.Content[i].Value] = true
	}
	return keys
}

// resolve returns the node an alias stands for, or n itself.
func resolve(n *yaml.Node) *yaml.Node {
	if n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		return n.Alias
	}
	return n
}

// isNull reports whether n is a null scalar: empty, ~ or null.
func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// errorf returns a *LineError for the node at path.
func (l lines) errorf(path []any, format string, args ...any) error {
	return &LineError{File: l.file, Line: l.line(path...), Msg: fmt.Sprintf(format, args...)}
}

// LineError is one problem in a routes.yaml, at a line.
type LineError struct {
	File string // the file name as given to Load
	Line int    // 1-based line number; 0 when unknown
	Msg  string // what is wrong, lower case
}

// Error returns "file:line: message".
func (e *LineError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// child returns the value under key (string) in a mapping, or the item at an
// index (int) in a sequence, or nil. For a mapping key that names an entry
// in a map of objects (such as an upstream name) the value node is returned;
// its line is the line just after the key, or the key's own line for inline
// values, either of which points the reader at the right place.
func child(n *yaml.Node, p any) *yaml.Node {
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	switch key := p.(type) {
	case string:
		if n.Kind != yaml.MappingNode {
			return nil
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				if v := n.Content[i+1]; v.Kind == yaml.MappingNode || v.Kind == yaml.SequenceNode {
					// Point at the key: a block mapping's own line is the line
					// of its first child.
					return keyed(n.Content[i], v)
				}
				return n.Content[i+1]
			}
		}
	case int:
		if n.Kind == yaml.SequenceNode && key >= 0 && key < len(n.Content) {
			return n.Content[key]
		}
	}
	return nil
}

// keyed returns a copy of the collection node v that reports the line of its
// key, so that errors about a whole collection name the line where it begins.
func keyed(k, v *yaml.Node) *yaml.Node {
	c := *v
	c.Line = k.Line
	return &c
}

// duplicate is a mapping key given again after its first occurrence.
type duplicate struct {
	// err is the message for the repeat; nil past maxRepeatMessages
	// repeats in one mapping (the last message listed counts the rest).
	err    error
	key    *yaml.Node   // the repeated key
	before []*yaml.Node // the earlier occurrences of the key, in order
	// from and to are the first and last line of the repeated entry (key
	// and value); both 0 when the entry is not safe to cut out by whole
	// lines (see entryLines).
	from, to int
	// keep are the lines of the keys above the entry, which a decode of the
	// entry alone needs to put it in place.
	keep []int
}

// keyID is what yaml.v3 compares to find a repeated key: the node kind and
// its Value, so an alias key is known by its anchor name ("*lg" twice is a
// repeat, "*lg" next to the key it stands for is not) and "a" and 'a' are
// the same key.
type keyID struct {
	kind  yaml.Kind
	value string
}

// maxRepeatMessages bounds the repeats listed one by one per mapping; the
// last message listed counts the others. A key given thousands of times
// thus makes a few messages, not thousands.
const maxRepeatMessages = 10

// duplicates walks every mapping under root, keys that are mappings
// included (yaml.v3 checks those too), and returns one duplicate per
// repeated key, each naming its line and the line of the first
// occurrence, in document order. Its work is linear in the size of the
// tree: each key is looked up once, and messages are capped per mapping.
// data is the text root was decoded from, used to find the lines of each
// repeated entry.
func duplicates(file string, data []byte, root *yaml.Node) []duplicate {
	var out []duplicate
	var text [][]byte
	if plainLineBreaks(data) {
		text = bytes.SplitAfter(data, []byte("\n"))
	}
	// inKey is set under a key: an entry there is never cut out.
	var walk func(n *yaml.Node, path []any, keep []int, inKey bool)
	walk = func(n *yaml.Node, path []any, keep []int, inKey bool) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path, keep, inKey)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, append(slices.Clip(path), i), append(slices.Clip(keep), c.Line), inKey)
			}
		case yaml.MappingNode:
			seen := map[keyID][]*yaml.Node{}
			var mine []int // indexes in out of this mapping's repeats
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				id := keyID{k.Kind, k.Value}
				if before := seen[id]; len(before) > 0 {
					d := duplicate{
						err:    &LineError{File: file, Line: k.Line, Msg: fmt.Sprintf("%s defined twice (first at line %d)", describeKey(path, keyName(k)), before[0].Line)},
						key:    k,
						before: before,
					}
					if !inKey {
						d.from, d.to = entryLines(text, n, i)
					}
					if d.from > 0 {
						d.keep = keep
					}
					mine = append(mine, len(out))
					out = append(out, d)
				}
				seen[id] = append(seen[id], k)
				if k.Kind == yaml.MappingNode || k.Kind == yaml.SequenceNode {
					walk(k, path, keep, true)
				}
				walk(v, append(slices.Clip(path), k.Value), append(slices.Clip(keep), k.Line), inKey)
			}
			capRepeats(out, mine)
		}
	}
	walk(root, nil, nil, false)
	return out
}

// capRepeats keeps the messages of the first maxRepeatMessages+1 repeats
// of one mapping (at indexes mine in dups) and drops the others, counting
// them in the last message kept.
func capRepeats(dups []duplicate, mine []int) {
	if len(mine) <= maxRepeatMessages+1 {
		return
	}
	rest := len(mine) - maxRepeatMessages - 1
	more := fmt.Sprintf("; %d more repeats in this mapping are not listed", rest)
	if rest == 1 {
		more = "; 1 more repeat in this mapping is not listed"
	}
	le := dups[mine[maxRepeatMessages]].err.(*LineError)
	le.Msg += more
	for _, i := range mine[maxRepeatMessages+1:] {
		dups[i].err = nil
	}
}

// repeatMessages returns the "already defined" messages yaml.v3 gives for
// the repeats in dups, word for word, so that exactly these (and no other
// message) can be left out for being reported by Load. yaml.v3 (decode.go,
// decoder.mapping) words one message per pair of equal keys: their number
// grows with the square of the copies of one key, so Load asks for them
// only when the repeats are few.
func repeatMessages(dups []duplicate) map[string]bool {
	repeats := map[string]bool{}
	for _, d := range dups {
		for _, b := range d.before {
			repeats[fmt.Sprintf("line %d: mapping key %#v already defined at line %d", d.key.Line, d.key.Value, b.Line)] = true
		}
	}
	return repeats
}

// entryLines returns the first and last line of the entry at n.Content[i]
// when cutting those whole lines out of text leaves the rest of the
// document as it was, or 0, 0 when that is not certain. An entry is cut
// only when:
//   - its mapping is block style (never a flow mapping);
//   - its key is the first thing on its line;
//   - neither key nor value holds an anchor or an alias (a cut anchor
//     would break the aliases to it; a cut entry using an alias cannot be
//     decoded alone);
//   - its range is known from the structure: it ends on the line before
//     the next key of its mapping or, for the last entry, on the line
//     before the next line, after the value's last node, that is indented
//     at or below the key (blank and comment lines do not count), or at
//     the end of the text.
//
// Load checks the cut text again and falls back when in doubt.
func entryLines(text [][]byte, n *yaml.Node, i int) (from, to int) {
	k, v := n.Content[i], n.Content[i+1]
	if text == nil || n.Style&yaml.FlowStyle != 0 || hasAnchors(k) || hasAnchors(v) ||
		k.Line < 1 || k.Line > len(text) || !onlySpaces(text[k.Line-1], k.Column-1) {
		return 0, 0
	}
	if i+2 < len(n.Content) {
		to = n.Content[i+2].Line - 1
	} else {
		indent := k.Column - 1
		to = len(text)
		for l := max(k.Line, lastLine(v)) + 1; l <= len(text); l++ {
			line := strings.TrimRight(string(text[l-1]), "\r\n")
			rest := strings.TrimLeft(line, " ")
			if strings.TrimSpace(rest) == "" || rest[0] == '#' {
				continue
			}
			if len(line)-len(rest) <= indent {
				to = l - 1
				break
			}
		}
	}
	if to < k.Line {
		return 0, 0
	}
	return k.Line, to
}

// onlySpaces reports whether the first n characters of line are spaces.
func onlySpaces(line []byte, n int) bool {
	return n >= 0 && n <= len(line) && len(bytes.TrimLeft(line[:n], " ")) == 0
}

// hasAnchors reports whether n or any node under it defines an anchor or
// is an alias.
func hasAnchors(n *yaml.Node) bool {
	if n.Anchor != "" || n.Kind == yaml.AliasNode {
		return true
	}
	return slices.ContainsFunc(n.Content, hasAnchors)
}

// plainLineBreaks reports whether data's lines, split at "\n", are the
// lines yaml.v3 numbers: no lone "\r", no NEL, LS or PS (which it counts as
// line breaks too), no UTF-16.
func plainLineBreaks(data []byte) bool {
	if bytes.HasPrefix(data, []byte{0xfe, 0xff}) || bytes.HasPrefix(data, []byte{0xff, 0xfe}) {
		return false
	}
	for _, br := range []string{"\u0085", "\u2028", "\u2029"} {
		if bytes.Contains(data, []byte(br)) {
			return false
		}
	}
	return bytes.Count(data, []byte("\r")) == bytes.Count(data, []byte("\r\n"))
}

// keyName is how a message names a key: its value, an alias as written.
func keyName(k *yaml.Node) string {
	switch k.Kind {
	case yaml.AliasNode:
		return "*" + k.Value
	case yaml.MappingNode:
		return "{...}"
	case yaml.SequenceNode:
		return "[...]"
	}
	return k.Value
}

// describeKey names a key for a message, after where it sits: upstream
// "orders", route 2: key "weight", key "legacy".
func describeKey(path []any, key string) string {
	switch {
	case len(path) == 1 && path[0] == "upstreams":
		return fmt.Sprintf("upstream %q", key)
	case len(path) >= 2 && path[0] == "upstreams":
		return fmt.Sprintf("upstream %q: key %q", path[1], key)
	case len(path) >= 2 && path[0] == "routes":
		if i, ok := path[1].(int); ok {
			return fmt.Sprintf("route %d: key %q", i+1, key)
		}
	}
	return fmt.Sprintf("key %q", key)
}

// lastLine returns the last line n or any node under it occupies, counting
// the lines of a multi-line scalar.
func lastLine(n *yaml.Node) int {
	last := n.Line
	if n.Kind == yaml.ScalarNode && (n.Style&(yaml.LiteralStyle|yaml.FoldedStyle)) != 0 {
		last += strings.Count(strings.TrimRight(n.Value, "\n"), "\n") + 1
	}
	for _, c := range n.Content {
		last = max(last, lastLine(c))
	}
	return last
}
