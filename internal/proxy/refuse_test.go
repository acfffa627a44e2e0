package proxy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestRefusalAccessLogRecord proves the access log record of a request
// strangler refuses itself carries the path as the client sent it (escapes
// kept, query dropped, cut at maxLoggedPath) and the size of the JSON error
// body the client got.
func TestRefusalAccessLogRecord(t *testing.T) {
	hs, out, access := newAccessLogHarness(t, "monolith")
	hs.apply(t, `legacy: monolith
upstreams:
  monolith: {url: "{{.monolith}}"}
routes: []
`)
	addr := hs.front.Listener.Addr().String()
	long := "/api/" + strings.Repeat("%41", DefaultMaxURIBytes/3+1)
	cases := []struct {
		name, method, target string
		status               int
		path                 string // logged
		noBody               bool
	}{
		{"escaped dot segment", "GET", "/x/..%3B/y%20z?token=secret", http.StatusBadRequest, "/x/..%3B/y%20z", false},
		{"HEAD, no body", "HEAD", "/x/..%3B/y%20z", http.StatusBadRequest, "/x/..%3B/y%20z", true},
		{"target too long", "GET", long + "?q=1", http.StatusRequestURITooLong, long[:maxLoggedPath-2], false}, // no half %41 at the end
	}
	sent := make([]int, len(cases))
	for i, c := range cases {
		res, body := refusedExchange(t, addr, c.method, c.target)
		if res.StatusCode != c.status {
			t.Fatalf("%s: status %d, want %d; body %s", c.name, res.StatusCode, c.status, body)
		}
		if !c.noBody {
			checkErrorReply(t, res, body, c.status)
		}
		sent[i] = len(body)
	}
	eventually(t, "one access log record per refusal", func() error {
		if n := bytes.Count(out.Bytes(), []byte("\n")); n < len(cases) {
			return fmt.Errorf("%d records", n)
		}
		return nil
	})
	access.Close()

	type record struct {
		Method string `json:"method"`
		Path   string `json:"path"`
		Status int    `json:"status"`
		Bytes  int    `json:"bytes"`
	}
	var records []record
	sc := bufio.NewScanner(bytes.NewReader(out.Bytes()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("access log line %s: %v", sc.Bytes(), err)
		}
		records = append(records, r)
	}
	if len(records) != len(cases) {
		t.Fatalf("access log has %d records, want %d:\n%s", len(records), len(cases), out.Bytes())
	}
	for i, c := range cases {
		want := record{Method: c.method, Path: c.path, Status: c.status, Bytes: sent[i]}
		if c.noBody && sent[i] != 0 {
			t.Errorf("%s: the client got a %d-byte body, want none", c.name, sent[i])
		}
		if !c.noBody && sent[i] < 50 {
			t.Errorf("%s: the client got a %d-byte body, want the JSON error", c.name, sent[i])
		}
		if records[i] != want {
			t.Errorf("%s: record = %+v, want %+v", c.name, records[i], want)
		}
	}
}

// refusedExchange sends method and target exactly as given on a new
// connection to addr and reads the response as an answer to method, so
// that a HEAD answer is read without a body.
func refusedExchange(t *testing.T, addr, method, target string) (*http.Response, []byte) {
	t.Helper()
	conn := dialRaw(t, addr)
	defer conn.Close()
	if _, err := fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", method, target, addr); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%s %s: read response: %v", method, target, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, target, err)
	}
	return res, body
}

// TestTruncateKeepsCharactersAndEscapes checks that a logged path cut to
// its bound ends neither inside a UTF-8 sequence nor inside a %XX escape.
func TestTruncateKeepsCharactersAndEscapes(t *testing.T) {
	for _, tc := range []struct {
		s    string
		n    int
		want string
	}{
		{"/abc", 10, "/abc"},
		{"/abcdef", 4, "/abc"},
		{"/ab\u00e9", 4, "/ab"},  // é is 2 bytes: not cut in half
		{"/a\u20acb", 4, "/a"},   // € is 3 bytes
		{"/a%41b", 3, "/a"},      // "%" alone
		{"/a%41b", 4, "/a"},      // "%4"
		{"/a%41b", 5, "/a%41"},   // the whole escape
		{"/a%41%42", 6, "/a%41"}, // "%41%"
		{"\u00e9\u00e9", 1, ""},  // nothing fits
	} {
		got := truncate(tc.s, tc.n)
		if got != tc.want || !utf8.ValidString(got) {
			t.Errorf("truncate(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
		}
	}
}
