package routing

import (
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
	err error
	// from and to are the first and last line of the repeated entry (key
	// and value); both 0 when the entry cannot be cut out by whole lines
	// (a flow mapping such as "{a: 1, a: 2}").
	from, to int
	// keep are the lines of the keys above the entry, which a decode of the
	// entry alone needs to put it in place.
	keep []int
	// In a flow mapping on one line ("{url: a, url: b}"), the entry is the
	// bytes [col, colEnd) of line flowLine instead; flowLine is 0 when the
	// entry cannot be cut out at all (it spans lines, or its value is a
	// collection).
	flowLine, col, colEnd int
}

// duplicates walks every mapping under root and returns one duplicate per
// repeated key, each naming its line and the line of the first occurrence,
// in document order.
func duplicates(file string, root *yaml.Node) []duplicate {
	var out []duplicate
	var walk func(n *yaml.Node, path []any, keep []int)
	walk = func(n *yaml.Node, path []any, keep []int) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path, keep)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, append(slices.Clip(path), i), append(slices.Clip(keep), c.Line))
			}
		case yaml.MappingNode:
			first := map[string]int{}
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				if at, seen := first[k.Value]; seen && k.Kind == yaml.ScalarNode {
					d := duplicate{
						err: &LineError{File: file, Line: k.Line, Msg: fmt.Sprintf("%s defined twice (first at line %d)", describeKey(path, k.Value), at)},
					}
					switch {
					case n.Style&yaml.FlowStyle == 0:
						d.from, d.keep = k.Line, keep
						if i+2 < len(n.Content) {
							d.to = n.Content[i+2].Line - 1
						} else {
							d.to = lastLine(v)
						}
						d.to = max(d.to, k.Line)
					case v.Kind == yaml.ScalarNode && v.Line == k.Line:
						d.flowLine, d.col = k.Line, k.Column-1
						if i+2 < len(n.Content) && n.Content[i+2].Line == k.Line {
							d.colEnd = n.Content[i+2].Column - 1
						} else {
							d.colEnd = -v.Column // the end of the value, found in the text
						}
					}
					out = append(out, d)
				} else if !seen {
					first[k.Value] = k.Line
				}
				walk(v, append(slices.Clip(path), k.Value), append(slices.Clip(keep), k.Line))
			}
		}
	}
	walk(root, nil, nil)
	return out
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
