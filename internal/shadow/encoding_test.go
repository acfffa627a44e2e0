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
	"testing"
)

// compress encodes s with a real compressor: "gzip", "deflate" (zlib, as
// RFC 9110 says) or "raw-deflate" (what some servers send as deflate).
func compress(t testing.TB, enc, s string, level int) []byte {
	t.Helper()
	var b bytes.Buffer
	var w io.WriteCloser
	var err error
	switch enc {
	case "gzip":
		w, err = gzip.NewWriterLevel(&b, level)
	case "deflate":
		w, err = zlib.NewWriterLevel(&b, level)
	case "raw-deflate":
		w, err = flate.NewWriter(&b, level)
	default:
		t.Fatalf("unknown encoding %q", enc)
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(w, s); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// encoded is a JSON answer whose body is encoded with enc and labelled
// with Content-Encoding label.
func encoded(t testing.TB, enc, label, body string, level int) Response {
	r := js("")
	r.Body = compress(t, enc, body, level)
	r.Header.Set("Content-Encoding", label)
	return r
}

// TestCompareEncodedDecodes checks that gzip and deflate bodies are
// compared decoded: JSON semantics and ignore rules apply, the two sides
// may compress differently (or not at all), and Content-Encoding is not a
// difference. Compare on the raw bytes reports a bogus "body" difference
// for every one of these.
func TestCompareEncodedDecodes(t *testing.T) {
	const (
		legacy  = `{"id":1,"price":10,"generated_at":"t1","items":[{"sku":"a"}]}`
		service = `{"items":[{"sku":"a"}],"generated_at":"t2","price":1e1,"id":1.0}`
		changed = `{"items":[{"sku":"a"}],"generated_at":"t2","price":11,"id":1}`
	)
	r := mustRules(t, "body:$.generated_at")
	plain := js(service)
	for _, tc := range []struct {
		name            string
		primary, shadow Response
		want            []Difference
	}{
		{"gzip against gzip, other level", encoded(t, "gzip", "gzip", legacy, gzip.BestSpeed), encoded(t, "gzip", "gzip", service, gzip.BestCompression), nil},
		{"gzip against plain", encoded(t, "gzip", "gzip", legacy, gzip.DefaultCompression), plain, nil},
		{"plain against x-gzip", js(legacy), encoded(t, "gzip", "x-gzip", service, gzip.DefaultCompression), nil},
		{"zlib deflate against gzip", encoded(t, "deflate", "deflate", legacy, 5), encoded(t, "gzip", "GZIP", service, 5), nil},
		{"raw deflate against plain", encoded(t, "raw-deflate", "deflate", legacy, 5), plain, nil},
		{"identity is no encoding", func() Response { x := js(legacy); x.Header.Set("Content-Encoding", "identity"); return x }(), plain, nil},
		{
			name:    "a changed field in gzip is named",
			primary: encoded(t, "gzip", "gzip", legacy, gzip.DefaultCompression),
			shadow:  encoded(t, "gzip", "gzip", changed, gzip.BestCompression),
			want:    []Difference{{"$.price", "10", "11"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if raw := r.Compare(tc.primary, tc.shadow); len(tc.want) == 0 && len(raw) == 0 && tc.primary.Header.Get("Content-Encoding") != "identity" {
				t.Fatalf("Compare on the raw bytes found no difference: the case does not test decoding")
			}
			got, err := r.CompareEncoded(tc.primary, tc.shadow, 1<<20)
			if err != nil {
				t.Fatalf("CompareEncoded: %v", err)
			}
			if !slices.Equal(got.Differences, tc.want) {
				t.Errorf("differences = %q, want %q", got.Differences, tc.want)
			}
			// The bodies kept for display are the decoded ones.
			if !isJSON(t, got.Primary.Body) || !isJSON(t, got.Shadow.Body) {
				t.Errorf("decoded bodies %q and %q are not the JSON documents", got.Primary.Body, got.Shadow.Body)
			}
			if got.Primary.Header.Get("Content-Encoding") != tc.primary.Header.Get("Content-Encoding") {
				t.Errorf("the primary's headers were changed: %v", got.Primary.Header)
			}
		})
	}

	t.Run("two codings applied in turn", func(t *testing.T) {
		twice := js("")
		twice.Body = compress(t, "gzip", string(compress(t, "deflate", legacy, 9)), 1)
		twice.Header.Set("Content-Encoding", "deflate, gzip")
		got, err := r.CompareEncoded(twice, plain, 1<<20)
		if err != nil || got.Differences != nil {
			t.Errorf("deflate then gzip: %q, %v; want a match", got.Differences, err)
		}
	})
	t.Run("empty body of a HEAD is not decoded", func(t *testing.T) {
		a, b := js(""), js("")
		a.Header.Set("Content-Encoding", "gzip")
		b.Header.Set("Content-Encoding", "br")
		got, err := r.CompareEncoded(a, b, 1<<20)
		if err != nil || got.Differences != nil {
			t.Errorf("empty bodies: %q, %v; want a match", got.Differences, err)
		}
	})
}

func isJSON(t *testing.T, b []byte) bool {
	t.Helper()
	_, ok := parseJSON(b)
	return ok
}

// TestCompareEncodedSkips checks what cannot be compared, and so counts as
// skipped rather than as a bogus mismatch: an encoding the standard library
// cannot decode on either side, and a body that decodes past max_body (a
// small gzip of a large body, as a decompression bomb would be).
func TestCompareEncodedSkips(t *testing.T) {
	r := mustRules(t)
	br := js("\x8b\x02\x80{}\x03") // what a brotli body looks like to us: bytes
	br.Header.Set("Content-Encoding", "br")
	zstd := js("(\xb5/\xfd...")
	zstd.Header.Set("Content-Encoding", "gzip, zstd")
	big := strings.Repeat(" ", 4096) + `{"a":1}`
	for _, tc := range []struct {
		name            string
		primary, shadow Response
		side            string
		reason          error
	}{
		{"br on the primary", br, js(`{}`), "primary", ErrUnsupportedEncoding},
		{"br on the shadow", js(`{}`), br, "shadow", ErrUnsupportedEncoding},
		{"br on both sides", br, br, "primary", ErrUnsupportedEncoding},
		{"zstd after gzip", js(`{}`), zstd, "shadow", ErrUnsupportedEncoding},
		{"decodes past max_body", encoded(t, "gzip", "gzip", big, 9), js(`{"a":1}`), "primary", ErrDecodedTooLarge},
		{"deflate past max_body", js(`{"a":1}`), encoded(t, "deflate", "deflate", big, 9), "shadow", ErrDecodedTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := r.CompareEncoded(tc.primary, tc.shadow, 1024)
			var se *SkipError
			if !errors.As(err, &se) || se.Side != tc.side || !errors.Is(err, ErrNotComparable) || !errors.Is(err, tc.reason) {
				t.Fatalf("CompareEncoded = %q, %v; want a skip of the %s answer for %v", got.Differences, err, tc.side, tc.reason)
			}
			if !strings.Contains(err.Error(), tc.side+" answer: ") {
				t.Errorf("error %q does not name the side", err)
			}
			if got.Differences != nil {
				t.Errorf("a skipped comparison reports differences %q", got.Differences)
			}
		})
	}
	if len(encoded(t, "gzip", "gzip", big, 9).Body) > 1024 {
		t.Fatal("the compressed body is not below max_body: the case tests nothing")
	}
	t.Run("a different status is a mismatch all the same", func(t *testing.T) {
		failed := resp(500, "application/json", `{}`)
		got, err := r.CompareEncoded(br, failed, 1024)
		if err != nil || len(got.Differences) != 1 || got.Differences[0].Path != "status" {
			t.Errorf("br against a 500: %q, %v; want one status difference and no skip", got.Differences, err)
		}
	})
	t.Run("bodies not compared are not decoded", func(t *testing.T) {
		got, err := mustRules(t, "body:$").CompareEncoded(br, js(`{"x":1}`), 1024)
		if err != nil || got.Differences != nil {
			t.Errorf(`with body:$ ignored, br: %q, %v; want a match`, got.Differences, err)
		}
	})
}

// TestCompareEncodedCorrupt checks a body that does not decode: a mismatch
// with a "body" difference saying so when one side fails (the client got a
// broken body, or the shadow side sends one); when both fail, identical
// bytes are no difference and different ones are.
func TestCompareEncodedCorrupt(t *testing.T) {
	r := mustRules(t)
	good := encoded(t, "gzip", "gzip", `{"a":1}`, 9)
	cut := encoded(t, "gzip", "gzip", `{"a":1}`, 9)
	cut.Body = cut.Body[:len(cut.Body)-6] // the CRC and size are gone
	notGzip := js(`{"a":1,"b":"0123456789"}`)
	notGzip.Header.Set("Content-Encoding", "gzip")
	notGzip.Status = 500

	got, err := r.CompareEncoded(good, cut, 1<<20)
	if err != nil || len(got.Differences) != 1 {
		t.Fatalf("a cut gzip on the shadow side: %q, %v; want one body difference", got.Differences, err)
	}
	d := got.Differences[0]
	if d.Path != "body" || d.Primary != fmt.Sprintf("7 bytes decoded from %d bytes of gzip", len(good.Body)) ||
		d.Shadow != fmt.Sprintf("does not decode (%d bytes received): gzip: unexpected EOF", len(cut.Body)) {
		t.Errorf("difference = %+v, want the decoded size against the decoding error", d)
	}
	if string(got.Primary.Body) != `{"a":1}` || !bytes.Equal(got.Shadow.Body, cut.Body) {
		t.Errorf("display bodies = %q, %q; want the decoded primary and the shadow as received", got.Primary.Body, got.Shadow.Body)
	}

	got, err = r.CompareEncoded(notGzip, js(`{"a":1,"b":"0123456789"}`), 1<<20)
	want := []Difference{{"status", "500", "200"}, {"body", "does not decode (24 bytes received): gzip: gzip: invalid header", "24 bytes, not encoded"}}
	if err != nil || !slices.Equal(got.Differences, want) {
		t.Errorf("plain bytes labelled gzip: %q, %v; want %q", got.Differences, err, want)
	}

	if got, err := r.CompareEncoded(cut, cut, 1<<20); err != nil || got.Differences != nil {
		t.Errorf("the same cut gzip on both sides: %q, %v; want a match", got.Differences, err)
	}
	other := encoded(t, "gzip", "gzip", `{"a":2}`, 9)
	other.Body = other.Body[:len(other.Body)-6]
	if got, err := r.CompareEncoded(cut, other, 1<<20); err != nil || len(got.Differences) != 1 || got.Differences[0].Path != "body" {
		t.Errorf("two different cut gzips: %q, %v; want a body difference", got.Differences, err)
	}
}

// TestCompareEncodingNotCompared checks that Content-Encoding is not a
// compared header, even when named by a hand-built header map.
func TestCompareEncodingNotCompared(t *testing.T) {
	a := encoded(t, "gzip", "gzip", `"x"`, 1)
	b := js(`"x"`)
	b.Header = http.Header{"content-type": {"application/json"}}
	if got, err := mustRules(t).CompareEncoded(a, b, 64); err != nil || got.Differences != nil {
		t.Errorf("gzip against plain, same document: %q, %v", got.Differences, err)
	}
}
