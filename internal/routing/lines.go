package routing

import (
	"bytes"
	"fmt"

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
