package faults

import (
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

func TestAlterJSON(t *testing.T) {
	cases := []struct {
		name, field, in, want string // want "" means unchanged
	}{
		{"nested keys", "amount_cents",
			`{"amount_cents":1,"a":{"amount_cents":5,"b":{"amount_cents":7,"c":0}}}`,
			`{"amount_cents":2,"a":{"amount_cents":6,"b":{"amount_cents":8,"c":0}}}`},
		{"array of objects", "sku",
			`{"items":[{"sku":"a","n":1},{"sku":"b"},{"n":2},[{"sku":"c"}]]}`,
			`{"items":[{"sku":"a (altered)","n":1},{"sku":"b (altered)"},{"n":2},[{"sku":"c (altered)"}]]}`},
		{"top-level array", "x", `[{"x":1},[],{},[{"x":2}],3,"x"]`, `[{"x":2},[],{},[{"x":3}],3,"x"]`},
		{"int", "n", `{"n":41}`, `{"n":42}`},
		{"negative int", "n", `{"n":-1}`, `{"n":0}`},
		{"minus zero", "n", `{"n":-0}`, `{"n":1}`},
		{"int beyond int64", "n", `{"n":99999999999999999999999}`, `{"n":100000000000000000000000}`},
		{"int beyond float64 precision", "n", `{"n":9007199254740993}`, `{"n":9007199254740994}`},
		{"float", "n", `{"n":1.5}`, `{"n":2.5}`},
		{"negative float", "n", `{"n":-0.25}`, `{"n":0.75}`},
		{"float stays float", "n", `{"n":1.0}`, `{"n":2.0}`},
		{"exponent stays float", "n", `{"n":1e2}`, `{"n":101.0}`},
		{"small exponent", "n", `{"n":2.5E-7}`, `{"n":1.00000025}`},
		{"float where 1 is lost", "n", `{"n":1e300}`, `{"n":1.0000000000000002e+300}`},
		{"float beyond float64", "n", `{"n":1e400}`, `{"n":1.7976931348623157e+308}`},
		{"true", "b", `{"b":true}`, `{"b":false}`},
		{"false", "b", `{"b":false}`, `{"b":true}`},
		{"null", "v", `{"v":null}`, `{"v":"altered"}`},
		{"object value, inner match not altered", "x", `{"x":{"x":1,"y":[{"x":2}]},"z":1}`, `{"x":"altered","z":1}`},
		{"array value", "x", `{"x":[1,{"x":2}]}`, `{"x":"altered"}`},
		{"empty object and array", "x", `[{"x":{}},{"x":[]}]`, `[{"x":"altered"},{"x":"altered"}]`},
		{"string with escapes", "x", `{"x":"a\"b\\\u00e9"}`, `{"x":"a\"b\\\u00e9 (altered)"}`},
		{"empty string", "x", `{"x":""}`, `{"x":" (altered)"}`},
		{"escaped key", "xy", `{"x\u0079":1,"x\\y":1}`, `{"x\u0079":2,"x\\y":1}`},
		{"key with quote", `a"b`, `{"a\"b":true}`, `{"a\"b":false}`},
		{"only exact names", "x", `{"xx":1,"X":1,"x":1,"y":"x"}`, `{"xx":1,"X":1,"x":2,"y":"x"}`},
		{"duplicate keys", "x", `{"x":1,"x":2}`, `{"x":2,"x":3}`},
		{"layout kept", "x",
			"\n{\n  \"x\" : 1 ,\n\t\"y\": [ 1 , {\"x\":\r\n true} ] }\n",
			"\n{\n  \"x\" : 2 ,\n\t\"y\": [ 1 , {\"x\":\r\n false} ] }\n"},
		{"no match", "x", `{"y":{"z":[1,2]}}`, ""},
		{"scalar body", "x", `"x"`, ""},
		{"invalid: truncated", "x", `{"x":1`, ""},
		{"invalid: two values", "x", `{"x":1}{"x":2}`, ""},
		{"invalid: trailing comma", "x", `{"x":1,}`, ""},
		{"invalid: empty", "x", ``, ""},
		{"invalid: text", "x", `x: 1`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, ok := alterJSON([]byte(tc.in), tc.field)
			if tc.want == "" {
				if ok {
					t.Fatalf("alterJSON(%s) = %s, want it unchanged", tc.in, out)
				}
				return
			}
			if !ok || string(out) != tc.want {
				t.Fatalf("alterJSON(%s) = %s, %v; want %s", tc.in, out, ok, tc.want)
			}
			if !json.Valid(out) {
				t.Fatalf("alterJSON(%s) = %s: not valid JSON", tc.in, out)
			}
		})
	}
}

func TestIsJSON(t *testing.T) {
	cases := []struct {
		ct, ce string
		want   bool
	}{
		{"application/json", "", true},
		{"Application/JSON; charset=utf-8", "", true},
		{" application/problem+json ", "", true},
		{"application/vnd.api+JSON", "identity", true},
		{"application/json", "gzip", false},
		{"text/plain", "", false},
		{"text/html; charset=utf-8", "", false},
		{"application/jsonx", "", false},
		{"+json", "", false},
		{"/+json", "", false},
		{"", "", false},
	}
	for _, tc := range cases {
		h := http.Header{}
		h.Set("Content-Type", tc.ct)
		if tc.ce != "" {
			h.Set("Content-Encoding", tc.ce)
		}
		if got := isJSON(h); got != tc.want {
			t.Errorf("isJSON(%q, %q) = %v, want %v", tc.ct, tc.ce, got, tc.want)
		}
	}
}

// jsonApp answers each path with a fixed response, for the alter_field tests.
func jsonApp() http.Handler {
	const body = `{"id":"o-1","amount_cents":1250,"lines":[{"amount_cents":1000}]}`
	mux := http.NewServeMux()
	mux.HandleFunc("/json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = io.WriteString(w, body)
	})
	mux.HandleFunc("/json-chunks", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json; charset=utf-8")
		w.WriteHeader(http.StatusCreated)
		for _, part := range []string{body[:5], body[5:20], body[20:]} {
			_, _ = io.WriteString(w, part)
		}
	})
	mux.HandleFunc("/encoder", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_ = json.NewEncoder(w).Encode(map[string]any{"amount_cents": 7})
	})
	mux.HandleFunc("/text", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, body)
	})
	mux.HandleFunc("/sniffed", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, body) // no Content-Type: net/http sniffs text/plain
	})
	mux.HandleFunc("/invalid", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "22")
		_, _ = io.WriteString(w, `{"amount_cents":1250,}`)
	})
	mux.HandleFunc("/empty", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("/health/live", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, body)
	})
	return mux
}

// checkAltered checks the answers of jsonApp behind f with AlterField
// amount_cents in force.
func checkAltered(t *testing.T, url string) {
	t.Helper()
	const (
		orig    = `{"id":"o-1","amount_cents":1250,"lines":[{"amount_cents":1000}]}`
		altered = `{"id":"o-1","amount_cents":1251,"lines":[{"amount_cents":1001}]}`
	)
	cases := []struct {
		path     string
		wantCode int
		wantBody string
	}{
		{"/json", 200, altered},
		{"/json-chunks", 201, altered},
		{"/encoder", 404, "{\"amount_cents\":8}\n"},
		{"/text", 200, orig},
		{"/sniffed", 200, orig},
		{"/invalid", 200, `{"amount_cents":1250,}`},
		{"/empty", 204, ""},
		{"/health/live", 200, orig},
	}
	for _, tc := range cases {
		res, err := http.Get(url + tc.path)
		if err != nil {
			t.Fatalf("GET %s: %v", tc.path, err)
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil || res.StatusCode != tc.wantCode || string(b) != tc.wantBody {
			t.Errorf("GET %s = %d %q, %v; want %d %q", tc.path, res.StatusCode, b, err, tc.wantCode, tc.wantBody)
		}
		if tc.wantCode != http.StatusNoContent {
			if cl := res.Header.Get("Content-Length"); cl != strconv.Itoa(len(b)) {
				t.Errorf("GET %s: Content-Length %q for a body of %d bytes", tc.path, cl, len(b))
			}
		}
	}
}

func TestAlterField(t *testing.T) {
	t.Run("options", func(t *testing.T) {
		srv := httptest.NewServer(mustNew(t, Settings{AlterField: "amount_cents"}).Wrap(jsonApp()))
		t.Cleanup(srv.Close)
		checkAltered(t, srv.URL)
	})
	t.Run("runtime", func(t *testing.T) {
		srv := httptest.NewServer(mustNew(t, Settings{}).Wrap(jsonApp()))
		t.Cleanup(srv.Close)
		if _, body, _ := do(t, http.MethodGet, srv.URL+"/json", ""); !strings.Contains(body, `"amount_cents":1250`) {
			t.Fatalf("GET /json before the fault = %s", body)
		}
		code, body, err := do(t, http.MethodPatch, srv.URL+AdminPath, `{"alter_field":"amount_cents"}`)
		if err != nil || code != 200 || !strings.Contains(body, `"alter_field":"amount_cents"`) {
			t.Fatalf("PATCH = %d %s, %v", code, body, err)
		}
		checkAltered(t, srv.URL)
		code, body, err = do(t, http.MethodDelete, srv.URL+AdminPath, "")
		if err != nil || code != 200 || !strings.Contains(body, `"alter_field":""`) {
			t.Fatalf("DELETE = %d %s, %v", code, body, err)
		}
		if _, body, _ := do(t, http.MethodGet, srv.URL+"/json", ""); !strings.Contains(body, `"amount_cents":1250,`) {
			t.Fatalf("GET /json after DELETE = %s, want it unaltered", body)
		}
	})
}

func TestAlterFieldSparesAdminAndInjectedErrors(t *testing.T) {
	srv := newServer(t, mustNew(t, Settings{AlterField: "alter_field"}))
	if code, body, err := do(t, http.MethodGet, srv.URL+AdminPath, ""); err != nil || code != 200 ||
		!strings.Contains(body, `"alter_field":"alter_field"}`) {
		t.Fatalf("GET %s = %d %s, %v; want it unaltered", AdminPath, code, body, err)
	}
	srv = newServer(t, mustNew(t, Settings{AlterField: "code", ErrorRate: 1}))
	if code, body, err := do(t, http.MethodGet, srv.URL+"/api/x", ""); err != nil || code != 500 ||
		!strings.Contains(body, `"code":"fault_injected"`) {
		t.Fatalf("GET = %d %s, %v; want the injected error unaltered", code, body, err)
	}
}

// TestAlterFieldUnsetAddsNothing checks that without alter_field the app
// writes to the server's ResponseWriter itself, without allocation.
func TestAlterFieldUnsetAddsNothing(t *testing.T) {
	rec := httptest.NewRecorder()
	var got http.ResponseWriter
	h := mustNew(t, Settings{}).Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = w }))
	req := httptest.NewRequest(http.MethodGet, "/api/x", nil)
	h.ServeHTTP(rec, req)
	if got != rec {
		t.Fatalf("the app got %T, want the server's writer", got)
	}
	if n := testing.AllocsPerRun(100, func() { h.ServeHTTP(rec, req) }); n != 0 {
		t.Fatalf("%v allocations per request without faults, want 0", n)
	}
}

// TestAlterFieldHoldsOnlyJSON checks that only a JSON answer is held back:
// any other goes out as it is written, flushes included.
func TestAlterFieldHoldsOnlyJSON(t *testing.T) {
	for _, ct := range []string{"application/json", "text/event-stream"} {
		rec := httptest.NewRecorder()
		var seen int
		h := mustNew(t, Settings{AlterField: "x"}).Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", ct)
			_, _ = io.WriteString(w, `{"x":1}`)
			if err := http.NewResponseController(w).Flush(); err != nil {
				t.Errorf("%s: Flush: %v", ct, err)
			}
			seen = rec.Body.Len()
		}))
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/x", nil))
		held := ct == "application/json"
		if (seen == 0) != held || rec.Flushed == held {
			t.Errorf("%s: %d bytes out before the handler returned, flushed %v; want held back %v", ct, seen, rec.Flushed, held)
		}
		want := map[bool]string{true: `{"x":2}`, false: `{"x":1}`}[held]
		if rec.Body.String() != want {
			t.Errorf("%s: body %s, want %s", ct, rec.Body, want)
		}
	}
}

func TestAlterFieldFlag(t *testing.T) {
	for _, args := range [][]string{{"--fault-alter-field=amount_cents"}, {"--fault-alter-field", "amount_cents"}} {
		var s Settings
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		s.RegisterFlags(fs)
		if err := fs.Parse(args); err != nil || s != (Settings{AlterField: "amount_cents"}) {
			t.Fatalf("%v: parsed %+v, %v", args, s, err)
		}
	}
}

func TestAlterFieldRejectsInvalidUTF8(t *testing.T) {
	if _, err := New(Settings{AlterField: "a\xffb"}, nil, nil); err == nil || !strings.Contains(err.Error(), "alter_field") {
		t.Fatalf("New error = %v, want it to name alter_field", err)
	}
}

// FuzzAlterJSON checks that alterJSON never fails on any input, touches only
// valid JSON, and always gives valid JSON back.
func FuzzAlterJSON(f *testing.F) {
	for _, s := range []string{`{"x":1}`, `[{"x":{"x":[1.5e3,"a\"",null]}}]`, `{"x\u0078":true}`, `{"x":1`, ` "x" `, `-0.0e+1`} {
		f.Add([]byte(s), "x")
	}
	f.Fuzz(func(t *testing.T, body []byte, field string) {
		out, ok := alterJSON(body, field)
		if ok && (!json.Valid(body) || !json.Valid(out)) {
			t.Fatalf("alterJSON(%q, %q) = %q", body, field, out)
		}
	})
}
