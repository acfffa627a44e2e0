package shopapi

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// TestWriteErrLogsUnderErrorKey checks that the server-side failures
// WriteErr logs carry their cause under "error", the key strangler's own
// logs use, so that one query finds the failures of the proxy and the
// bundled applications alike.
func TestWriteErrLogsUnderErrorKey(t *testing.T) {
	var mu sync.Mutex
	var out bytes.Buffer
	log := slog.New(slog.NewJSONHandler(lockedWriter{&mu, &out}, nil))
	failures := map[string]error{
		"/upstream": &UpstreamError{Service: "orders", Err: errors.New("connection refused")},
		"/internal": errors.New("disk full"),
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		WriteErr(w, r, log, failures[r.URL.Path])
	}))
	defer srv.Close()
	for path := range failures {
		res, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}

	mu.Lock()
	defer mu.Unlock()
	var n int
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("log line %s: %v", sc.Bytes(), err)
		}
		n++
		want := failures[rec["path"].(string)]
		if got, ok := rec["error"].(string); !ok || got != want.Error() {
			t.Errorf("record %s: error = %v, want %q", sc.Bytes(), rec["error"], want.Error())
		}
		if _, ok := rec["err"]; ok {
			t.Errorf("record %s has an \"err\" key", sc.Bytes())
		}
	}
	if n != len(failures) {
		t.Fatalf("%d log records, want %d:\n%s", n, len(failures), out.String())
	}
}

// lockedWriter serialises writes to w, shared by the server's handlers.
type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
