package routing

// A key given twice in one mapping makes yaml.v3 drop the whole mapping.
// This file finds the repeats, reports each once, and cuts them out of the
// text (when that is certainly safe) so that Load can check the rest of
// the file; see Load for the whole procedure.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

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
