// Package shoptest holds helpers for the bundled apps' tests: JSON requests
// against httptest servers and comparison of JSON shapes across sides. It
// imports no internal package other than shopapi.
package shoptest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strangler-proxy/strangler/internal/shopapi"
)

// Serve starts h on an httptest server on 127.0.0.1 and returns its URL.
func Serve(t testing.TB, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// Response is what Do got back.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Decode unmarshals the body into v, failing the test on error.
func (r Response) Decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// Code returns the contract error code of the body, or "".
func (r Response) Code() string {
	var e shopapi.ErrorBody
	_ = json.Unmarshal(r.Body, &e)
	return e.Error.Code
}

// Do sends method url with body (a string, []byte, or a value to encode as
// JSON; nil for none) and customer as X-Customer-ID when not empty. It fails
// the test on a transport error.
func Do(t testing.TB, method, url, customer string, body any) Response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if customer != "" {
		req.Header.Set(shopapi.HeaderCustomerID, customer)
	}
	c := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return Response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// Shape describes the structure of a JSON document: object keys (sorted)
// with the shape of each value, the shape of an array's first element, and
// the kind of each scalar. Two answers with the same Shape differ only in
// values.
func Shape(t testing.TB, body []byte) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("shape of %s: %v", body, err)
	}
	return shape(v)
}

func shape(v any) string {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + ":" + shape(x[k])
		}
		return "{" + strings.Join(parts, ",") + "}"
	case []any:
		if len(x) == 0 {
			return "[]"
		}
		return "[" + shape(x[0]) + "]"
	case nil:
		return "null"
	default:
		return fmt.Sprintf("%T", x)
	}
}

// SameContract fails the test unless a and b have the same status, the
// same JSON shape, and for errors the same error code.
func SameContract(t testing.TB, what string, a, b Response) {
	t.Helper()
	if a.Status != b.Status {
		t.Errorf("%s: status %d vs %d\n%s\n%s", what, a.Status, b.Status, a.Body, b.Body)
		return
	}
	if sa, sb := Shape(t, a.Body), Shape(t, b.Body); sa != sb {
		t.Errorf("%s: shape differs\n%s\n%s", what, sa, sb)
	}
	if a.Code() != b.Code() {
		t.Errorf("%s: error code %q vs %q", what, a.Code(), b.Code())
	}
}
