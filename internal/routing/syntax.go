package routing

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/strangler-proxy/strangler/internal/resilience"
)

// parseDocuments parses data into its first YAML document and, when there
// is one, the first later document that holds anything (Load refuses it;
// what follows it is not read). Empty later documents are skipped. An
// error is yaml.v3's own.
func parseDocuments(data []byte) ([]*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*yaml.Node
	for len(docs) < 2 {
		var n yaml.Node
		err := dec.Decode(&n)
		switch {
		case errors.Is(err, io.EOF):
			return docs, nil
		case err != nil:
			return docs, err
		}
		if len(docs) == 0 || !emptyDocument(&n) {
			docs = append(docs, &n)
		}
	}
	return docs, nil
}

// emptyDocument reports whether doc holds nothing: a bare "---" (perhaps
// followed by comments) at the end of a file is harmless.
func emptyDocument(doc *yaml.Node) bool {
	return len(doc.Content) == 0 || isNull(doc.Content[0])
}

// extraDocument is the error for a second document in routes.yaml, which
// yaml.v3 would silently ignore: a file pasted twice, or a "---" left in
// the middle, must not pass validation with half its content unread.
func extraDocument(file string, doc *yaml.Node) error {
	return &LineError{File: file, Line: doc.Line, Msg: "a second YAML document starts here and would be ignored: remove this --- (merging what follows into the first document) or delete the rest"}
}

// syntaxError turns a parse error of data into a *LineError at the line
// where the problem is. yaml.v3 names the line where the enclosing block
// starts (a badly indented line 48 is reported at line 5, "routes:"), and
// no line at all for bad bytes or an unknown alias. So:
//   - for a character yaml.v3 refuses (invalid UTF-8, a control
//     character), the line is that of the first such character in data;
//   - otherwise it is the first line at which data stops parsing with the
//     same error: the shortest prefix of whole lines that fails alike
//     (found by bisection; a prefix cut inside a block may parse, or fail
//     otherwise, which only moves the search on).
//
// The message stays yaml.v3's. A line that cannot be counted as yaml.v3
// counts it (lone CR, NEL, LS, PS, UTF-16) keeps yaml.v3's line.
func syntaxError(file string, data []byte, err error) *LineError {
	le := lineError(file, strings.TrimPrefix(err.Error(), "yaml: "))
	if !plainLineBreaks(data) {
		return le
	}
	if readerProblem(le.Msg) {
		if line, what, ok := badChar(data); ok {
			le.Line, le.Msg = line, le.Msg+" ("+what+")"
		}
		return le
	}
	if line := failingLine(data, err.Error()); line > le.Line {
		le.Line = line
	}
	return le
}

// readerProblem reports whether msg is one of yaml.v3's reader errors, about
// the bytes of the file rather than its structure (readerc.go).
func readerProblem(msg string) bool {
	for _, s := range []string{"UTF-8", "UTF-16", "Unicode character", "control characters"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// badChar finds the first byte of data yaml.v3's reader refuses: one that is
// not valid UTF-8, or a character outside YAML's printable set (control
// characters other than tab, CR and LF; DEL; C1 controls except NEL;
// surrogates; U+FFFE and U+FFFF). It returns the line and a description
// with the column.
func badChar(data []byte) (line int, what string, ok bool) {
	line, col := 1, 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			return line, fmt.Sprintf("byte 0x%02x at column %d is not UTF-8; save the file as UTF-8", data[i], col), true
		case !yamlPrintable(r):
			return line, fmt.Sprintf("character %U at column %d", r, col), true
		case r == '\n':
			line, col = line+1, 0
		}
		i += size
		col++
	}
	return 0, "", false
}

// yamlPrintable reports whether yaml.v3 accepts r in a document (YAML 1.1
// c-printable, as readerc.go checks it).
func yamlPrintable(r rune) bool {
	switch {
	case r == '\t', r == '\n', r == '\r', r == 0x85:
		return true
	case r >= 0x20 && r <= 0x7e, r >= 0xa0 && r <= 0xd7ff, r >= 0xe000 && r <= 0xfffd, r >= 0x10000 && r <= 0x10ffff:
		return true
	}
	return false
}

// failingLine returns the smallest n such that data's first n lines fail to
// parse with exactly the error want, by bisection between no lines (which
// parse) and all of them (which fail with want).
func failingLine(data []byte, want string) int {
	var ends []int // ends[i]: the offset just past line i+1
	for i, b := range data {
		if b == '\n' {
			ends = append(ends, i+1)
		}
	}
	if len(ends) == 0 || ends[len(ends)-1] != len(data) {
		ends = append(ends, len(data))
	}
	fails := func(n int) bool {
		_, err := parseDocuments(data[:ends[n-1]])
		return err != nil && err.Error() == want
	}
	lo, hi := 0, len(ends)
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if fails(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi
}

// typeWords names the Go types yaml.v3's "cannot unmarshal ... into T"
// messages mention in the words of routes.yaml.
var typeWords = map[string]string{
	typeName[Config]():                      "a mapping with legacy:, upstreams: and routes:",
	typeName[map[string]*UpstreamConfig]():  "a mapping of upstream names to upstreams",
	typeName[UpstreamConfig]():              "an upstream (a mapping with url: ...)",
	typeName[[]*RouteConfig]():              "a list of routes",
	typeName[RouteConfig]():                 "a route (a mapping with prefix:, service: ...)",
	typeName[ShadowConfig]():                "shadow settings (a mapping; shadow: {} for the defaults)",
	typeName[resilience.HealthSettings]():   "health settings (a mapping)",
	typeName[resilience.BreakerSettings]():  "breaker settings (a mapping)",
	typeName[resilience.BulkheadSettings](): "bulkhead settings (a mapping)",
	typeName[resilience.RetrySettings]():    "retry settings (a mapping)",
	typeName[time.Duration]():               "a duration such as 5s",
	typeName[ByteSize]():                    "a size such as 1MiB",
	typeName[[]string]():                    "a list of strings",
	"string":                                "a string",
	"float64":                               "a number",
	"int":                                   "a whole number",
	"bool":                                  "true or false",
}

func typeName[T any]() string { return reflect.TypeFor[T]().String() }

// inWords rewrites the Go type at the end of a yaml.v3 "cannot unmarshal
// !!int `5` into routing.UpstreamConfig" message in the words of
// routes.yaml.
func inWords(msg string) string {
	const into = " into "
	i := strings.LastIndex(msg, into)
	if !strings.HasPrefix(msg, "cannot unmarshal ") || i < 0 {
		return msg
	}
	if words, ok := typeWords[msg[i+len(into):]]; ok {
		return msg[:i+len(into)] + words
	}
	return msg
}
