package faults

import (
	"flag"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestAdmin(t *testing.T) {
	srv := newServer(t, mustNew(t, Settings{}))
	u := srv.URL + AdminPath
	steps := []struct {
		method, body string
		wantCode     int
		wantBody     string
	}{
		{"GET", "", 200, `{"latency":"0s","error_rate":0,"error_status":500,"reset_rate":0,"unready":false,"alter_field":""}`},
		{"PUT", `{"latency":"150ms","error_rate":0.25}`, 200, `{"latency":"150ms","error_rate":0.25,"error_status":500,"reset_rate":0,"unready":false,"alter_field":""}`},
		{"PATCH", `{"unready":true}`, 200, `"latency":"150ms","error_rate":0.25,"error_status":500,"reset_rate":0,"unready":true,"alter_field":""}`},
		{"PUT", `{"error_rate":2}`, 400, `error_rate 2: must be between 0 and 1`},
		{"PUT", `{"latency":150}`, 400, `"code":"bad_request"`},
		{"PUT", `{"latencyy":"1s"}`, 400, `unknown field`},
		{"PUT", `{"error_status":404}`, 400, `error_status 404`},
		{"GET", "", 200, `"unready":true`}, // failed writes changed nothing
		{"PATCH", `{"alter_field":"amount_cents"}`, 200, `"latency":"150ms","error_rate":0.25,"error_status":500,"reset_rate":0,"unready":true,"alter_field":"amount_cents"}`},
		{"PATCH", `{"alter_field":7}`, 400, `"code":"bad_request"`},
		{"POST", "{}", 405, `"code":"method_not_allowed"`},
		{"DELETE", "", 200, `{"latency":"0s","error_rate":0,"error_status":500,"reset_rate":0,"unready":false,"alter_field":""}`},
	}
	for _, st := range steps {
		code, body, err := do(t, st.method, u, st.body)
		if err != nil || code != st.wantCode || !strings.Contains(body, st.wantBody) {
			t.Fatalf("%s %s = %d %s, %v; want %d containing %s", st.method, st.body, code, body, err, st.wantCode, st.wantBody)
		}
	}
}

func TestRegisterFlags(t *testing.T) {
	var s Settings
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	s.RegisterFlags(fs)
	err := fs.Parse([]string{"--fault-latency=20ms", "--fault-error-rate=0.5", "--fault-error-status=503",
		"--fault-reset-rate=0.1", "--fault-unready", "--fault-alter-field=amount_cents"})
	if err != nil {
		t.Fatal(err)
	}
	want := Settings{Latency: Duration(20 * time.Millisecond), ErrorRate: 0.5, ErrorStatus: 503, ResetRate: 0.1, Unready: true, AlterField: "amount_cents"}
	if s != want {
		t.Fatalf("parsed %+v, want %+v", s, want)
	}
}

func TestNewRejectsInvalid(t *testing.T) {
	_, err := New(Settings{Latency: -1, ErrorRate: -0.1, ResetRate: 1.5}, nil, nil)
	for _, want := range []string{"latency", "error_rate", "reset_rate"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New error = %v, want it to name %s", err, want)
		}
	}
}

func TestUnknownMethodAllowHeader(t *testing.T) {
	srv := newServer(t, mustNew(t, Settings{}))
	res, err := http.Post(srv.URL+AdminPath, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.Header.Get("Allow") == "" {
		t.Fatal("405 without Allow header")
	}
}
