package faults

import (
	"bytes"
	"encoding/json"
	"math"
	"math/big"
	"net/http"
	"strconv"
	"strings"
)

// alterWriter holds back a JSON response of the wrapped handler so that
// finish can alter the values of field in it. Any other response goes
// straight through: the choice is made when the status is written, from the
// headers set by then, as net/http fixes them then too.
type alterWriter struct {
	w      http.ResponseWriter
	field  string
	status int          // final status once written; 0 before
	hold   bool         // the response is JSON: buf collects the body
	buf    bytes.Buffer // the held-back body
}

func (a *alterWriter) Header() http.Header { return a.w.Header() }

func (a *alterWriter) WriteHeader(code int) {
	if a.status != 0 {
		if !a.hold {
			a.w.WriteHeader(code) // let net/http report the superfluous call
		}
		return
	}
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		a.w.WriteHeader(code) // informational: goes out now, the final status follows
		return
	}
	a.status = code
	a.hold = isJSON(a.w.Header())
	if !a.hold {
		a.w.WriteHeader(code)
	}
}

func (a *alterWriter) Write(p []byte) (int, error) {
	if a.status == 0 {
		a.WriteHeader(http.StatusOK)
	}
	if a.hold {
		return a.buf.Write(p)
	}
	return a.w.Write(p)
}

// Flush flushes a response that goes straight through; a held-back one is
// sent whole by finish.
func (a *alterWriter) Flush() {
	if a.status == 0 {
		a.WriteHeader(http.StatusOK)
	}
	if !a.hold {
		_ = http.NewResponseController(a.w).Flush() // as http.Flusher: no error to report
	}
}

// Unwrap lets http.ResponseController reach the connection's deadlines.
func (a *alterWriter) Unwrap() http.ResponseWriter { return a.w }

// finish sends a held-back response, altered if its body is JSON that holds
// the field, with Content-Length set to the new length. It is called after
// the handler returned, and not if it panicked.
func (a *alterWriter) finish() {
	if !a.hold {
		return
	}
	body := a.buf.Bytes()
	if out, ok := alterJSON(body, a.field); ok {
		body = out
		a.w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	}
	a.w.WriteHeader(a.status)
	_, _ = a.w.Write(body) // a write error only means the client left
}

// isJSON reports whether h describes an uncompressed JSON body: media type
// application/json or any type with the +json suffix, parameters ignored.
func isJSON(h http.Header) bool {
	if ce := h.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		return false
	}
	mt, _, _ := strings.Cut(h.Get("Content-Type"), ";")
	mt = strings.TrimSpace(mt)
	if strings.EqualFold(mt, "application/json") {
		return true
	}
	const suffix = "+json"
	n := len(mt) - len(suffix)
	return n > 0 && strings.IndexByte(mt[:n], '/') > 0 && strings.EqualFold(mt[n:], suffix)
}

// alterJSON returns body with the value of every object key named field, at
// any depth, replaced as appendAltered says; everything else, whitespace
// included, is kept byte for byte. ok is false, and body is to be sent as
// it is, when body is not valid JSON or no key matched.
func alterJSON(body []byte, field string) (out []byte, ok bool) {
	if !json.Valid(body) {
		return nil, false
	}
	a := alterer{src: body, field: field}
	a.value(skipSpace(body, 0))
	if !a.hit {
		return nil, false
	}
	return append(a.out, body[a.done:]...), true
}

// alterer walks JSON that json.Valid accepted, so it checks no syntax.
type alterer struct {
	src   []byte
	field string
	out   []byte // src[:done] with the altered values spliced in
	done  int    // src before it is in out
	hit   bool   // some value was altered
	skip  bool   // walking a value that is replaced whole
}

// value walks the value starting at src[i] and returns the index after it.
func (a *alterer) value(i int) int {
	switch a.src[i] {
	case '{':
		i = skipSpace(a.src, i+1)
		if a.src[i] == '}' {
			return i + 1
		}
		for {
			keyEnd := skipString(a.src, i)
			match := !a.skip && a.isField(a.src[i:keyEnd])
			i = skipSpace(a.src, keyEnd) // at ':'
			i = skipSpace(a.src, i+1)    // at the value
			a.skip = a.skip || match     // a value replaced whole is not altered inside
			end := a.value(i)
			if match {
				a.skip = false
				a.out = append(a.out, a.src[a.done:i]...)
				a.out = appendAltered(a.out, a.src[i:end])
				a.done = end
				a.hit = true
			}
			i = skipSpace(a.src, end) // at ',' or '}'
			if a.src[i] == '}' {
				return i + 1
			}
			i = skipSpace(a.src, i+1) // at the next key
		}
	case '[':
		i = skipSpace(a.src, i+1)
		if a.src[i] == ']' {
			return i + 1
		}
		for {
			i = skipSpace(a.src, a.value(i)) // at ',' or ']'
			if a.src[i] == ']' {
				return i + 1
			}
			i = skipSpace(a.src, i+1)
		}
	case '"':
		return skipString(a.src, i)
	case 't', 'n':
		return i + 4
	case 'f':
		return i + 5
	default: // a number
		for i < len(a.src) && strings.IndexByte("+-.0123456789eE", a.src[i]) >= 0 {
			i++
		}
		return i
	}
}

// isField reports whether the quoted key names the field, escapes decoded.
func (a *alterer) isField(quoted []byte) bool {
	raw := quoted[1 : len(quoted)-1]
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw) == a.field
	}
	var key string
	return json.Unmarshal(quoted, &key) == nil && key == a.field
}

// skipSpace returns the index of the first non-space byte from i on.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] ('"').
func skipString(b []byte, i int) int {
	for i++; b[i] != '"'; i++ {
		if b[i] == '\\' {
			i++ // the escaped byte cannot end the string
		}
	}
	return i + 1
}

// appendAltered appends the altered form of the valid JSON value v to out.
func appendAltered(out, v []byte) []byte {
	switch v[0] {
	case '"':
		out = append(out, v[:len(v)-1]...)
		return append(out, ` (altered)"`...)
	case 't':
		return append(out, "false"...)
	case 'f':
		return append(out, "true"...)
	case 'n', '{', '[':
		return append(out, `"altered"`...)
	default:
		return appendIncremented(out, string(v))
	}
}

// appendIncremented appends the JSON number n plus 1. An integer (no
// fraction, no exponent) stays an integer, exactly, of any size. Any other
// number is added to as a float64 and keeps a fraction or exponent; where 1
// is lost at its magnitude it becomes the next float64 up, and beyond the
// float64 range the nearest finite one toward zero, so that it still changes.
func appendIncremented(out []byte, n string) []byte {
	if !strings.ContainsAny(n, ".eE") {
		i, _ := new(big.Int).SetString(n, 10) // valid JSON: always parses
		return i.Add(i, big.NewInt(1)).Append(out, 10)
	}
	f, _ := strconv.ParseFloat(n, 64) // valid JSON; ±Inf when out of range
	g := f + 1
	if g == f {
		g = math.Nextafter(f, math.Inf(1))
	}
	if math.IsInf(g, 0) {
		g = math.Nextafter(f, 0)
	}
	start := len(out)
	format := byte('f') // as encoding/json writes floats
	if abs := math.Abs(g); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	out = strconv.AppendFloat(out, g, format, -1, 64)
	if !bytes.ContainsAny(out[start:], ".e") {
		out = append(out, ".0"...)
	}
	return out
}
