package shadow

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
)

// ErrNotComparable is wrapped by every error CompareEncoded returns: the
// two answers cannot be compared, and the comparison counts as skipped.
var ErrNotComparable = errors.New("answers not comparable")

// ErrUnsupportedEncoding is wrapped when a body's Content-Encoding is not
// one the standard library decodes (gzip, x-gzip, deflate, identity): br
// and zstd, for instance.
var ErrUnsupportedEncoding = errors.New("unsupported content encoding")

// ErrDecodedTooLarge is wrapped when a body decodes to more than the
// route's max_body.
var ErrDecodedTooLarge = errors.New("decoded body larger than max_body")

// SkipError says why CompareEncoded could not compare two answers.
type SkipError struct {
	Side string // "primary" or "shadow": the answer that cannot be compared
	Err  error  // wraps ErrUnsupportedEncoding or ErrDecodedTooLarge
}

// Error names the side and the reason.
func (e *SkipError) Error() string { return e.Side + " answer: " + e.Err.Error() }

// Unwrap returns ErrNotComparable and the reason.
func (e *SkipError) Unwrap() []error { return []error{ErrNotComparable, e.Err} }

// Comparison is what CompareEncoded found.
type Comparison struct {
	// Differences are the differences between the decoded answers, in
	// Compare's order and form; none (nil) means the answers match.
	Differences []Difference
	// Primary and Shadow are the answers with their bodies decoded, for a
	// Mismatch: headers as received (Content-Encoding included), the body
	// as received when it was not encoded or did not decode.
	Primary, Shadow Response
}

// CompareEncoded is Compare for answers as they came over the wire: each
// body whose Content-Encoding is gzip (or x-gzip) or deflate (zlib, or raw
// deflate as some servers send it), possibly several applied in turn, is
// decoded first, with the standard library, to at most maxBody bytes.
// Content-Encoding itself is never compared: the two sides may compress
// differently and still answer the same. An empty body (HEAD, 204, 304) is
// not decoded.
//
// The bodies are not compared when one uses an encoding the standard
// library cannot decode (br, zstd, ...), or decodes to more than maxBody
// bytes: a comparison of encoded bytes would report a bogus mismatch. The
// status and headers still are: if they differ, that is the result;
// otherwise the error (a *SkipError wrapping ErrNotComparable) says why
// nothing was compared, and the caller counts that as skipped. With "body:$" in the rules the bodies are
// not compared, so they are not decoded either.
//
// A body that does not decode (corrupt or cut gzip) is a difference: when
// one side fails, a "body" difference shows the decoding error against the
// other side's size; when both fail, their raw bytes are compared (equal
// bytes under the same encoding are no difference). Status and headers are
// compared as usual in every case.
func (r *Rules) CompareEncoded(primary, shadow Response, maxBody int64) (Comparison, error) {
	if r == nil {
		r = &noRules
	}
	out := Comparison{Primary: primary, Shadow: shadow}
	if r.ignoreBody || primary.Truncated || shadow.Truncated {
		out.Differences = r.Compare(primary, shadow)
		return out, nil
	}
	bp, errP := decodeBody(primary.Header, primary.Body, maxBody)
	bs, errS := decodeBody(shadow.Header, shadow.Body, maxBody)
	for _, side := range []struct {
		name string
		err  error
	}{{"primary", errP}, {"shadow", errS}} {
		if errors.Is(side.err, ErrUnsupportedEncoding) || errors.Is(side.err, ErrDecodedTooLarge) {
			// The bodies cannot be compared, but a different status or
			// header is a mismatch all the same.
			var c collector
			r.compareHead(&c, primary, shadow)
			if out.Differences = c.result(); len(out.Differences) > 0 {
				return out, nil
			}
			return out, &SkipError{Side: side.name, Err: side.err}
		}
	}
	if errP == nil {
		out.Primary.Body = bp
	}
	if errS == nil {
		out.Shadow.Body = bs
	}
	if errP == nil && errS == nil {
		out.Differences = r.Compare(out.Primary, out.Shadow)
		return out, nil
	}
	var c collector
	r.compareHead(&c, primary, shadow)
	if errP == nil || errS == nil || !bytes.Equal(primary.Body, shadow.Body) ||
		!slices.Equal(encodings(primary.Header), encodings(shadow.Header)) {
		c.add("body", describeDecoded(primary, bp, errP), describeDecoded(shadow, bs, errS))
	}
	out.Differences = c.result()
	return out, nil
}

// describeDecoded renders one side of a "body" difference where a body did
// not decode: the error, or the size of the body that did.
func describeDecoded(r Response, decoded []byte, err error) string {
	if err != nil {
		return fmt.Sprintf("does not decode (%d bytes received): %v", len(r.Body), err)
	}
	if enc := encodings(r.Header); len(enc) > 0 {
		return fmt.Sprintf("%d bytes decoded from %d bytes of %s", len(decoded), len(r.Body), strings.Join(enc, ", "))
	}
	return fmt.Sprintf("%d bytes, not encoded", len(decoded))
}

// encodings returns the content codings of h in the order they were
// applied, lower-cased, without "identity" and empty entries.
func encodings(h http.Header) []string {
	var out []string
	for _, v := range headerValues(h, "Content-Encoding") {
		for _, e := range strings.Split(v, ",") {
			e = strings.ToLower(strings.TrimSpace(e))
			if e != "" && e != "identity" {
				out = append(out, e)
			}
		}
	}
	return out
}

// decodeBody undoes the content codings of h on body, last applied first,
// each step bounded to maxBody bytes. Errors wrap ErrUnsupportedEncoding,
// ErrDecodedTooLarge, or say why the body does not decode.
func decodeBody(h http.Header, body []byte, maxBody int64) ([]byte, error) {
	encs := encodings(h)
	if len(encs) == 0 || len(body) == 0 {
		return body, nil
	}
	for _, e := range encs {
		if e != "gzip" && e != "x-gzip" && e != "deflate" {
			return nil, fmt.Errorf("%w %q: only gzip and deflate are decoded", ErrUnsupportedEncoding, e)
		}
	}
	for i := len(encs) - 1; i >= 0; i-- {
		var err error
		if encs[i] == "deflate" {
			body, err = inflate(body, maxBody)
		} else {
			body, err = readBounded(func(r io.Reader) (io.ReadCloser, error) { return gzip.NewReader(r) }, body, maxBody)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", encs[i], err)
		}
	}
	return body, nil
}

// inflate decodes HTTP's deflate: a zlib stream, as RFC 9110 says, or, failing
// that, the raw deflate stream some servers send instead.
func inflate(body []byte, maxBody int64) ([]byte, error) {
	out, err := readBounded(zlib.NewReader, body, maxBody)
	if err == nil || errors.Is(err, ErrDecodedTooLarge) {
		return out, err
	}
	raw, rawErr := readBounded(func(r io.Reader) (io.ReadCloser, error) { return flate.NewReader(r), nil }, body, maxBody)
	if rawErr == nil || errors.Is(rawErr, ErrDecodedTooLarge) {
		return raw, rawErr
	}
	return nil, err // the zlib error: the standard form
}

// readBounded decodes body with the reader newReader makes, keeping at
// most maxBody bytes: more is ErrDecodedTooLarge. The whole stream is read
// to its end, so checksums are verified.
func readBounded(newReader func(io.Reader) (io.ReadCloser, error), body []byte, maxBody int64) ([]byte, error) {
	zr, err := newReader(bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	out, err := io.ReadAll(io.LimitReader(zr, maxBody+1))
	if err != nil {
		return nil, err
	}
	if int64(len(out)) > maxBody {
		return nil, fmt.Errorf("%w (%d bytes)", ErrDecodedTooLarge, maxBody)
	}
	return out, nil
}
