package appmain

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// patience bounds every wait of these tests.
const patience = 10 * time.Second

// started serves a handler that blocks until its request ends with serve,
// grace and a fake signal source, and sends one request. It returns a
// cancel that ends serve's context, the channel serve's result arrives on,
// the channel the fake source hands its signal channel to once serve
// listens for second signals, and the channel the request's error
// arrives on.
func started(t *testing.T, grace time.Duration, release <-chan struct{}) (cancel func(), result <-chan error, signals <-chan chan<- os.Signal, reqErr <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	inFlight := make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(inFlight)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	sigs := make(chan chan<- os.Signal, 1)
	notify := func(c chan<- os.Signal) func() {
		sigs <- c
		return func() {}
	}
	res := make(chan error, 1)
	go func() { res <- serve(ctx, srv, ln, slog.New(slog.DiscardHandler), grace, notify) }()
	reqs := make(chan error, 1)
	go func() {
		res, err := http.Get("http://" + ln.Addr().String() + "/slow")
		if err == nil {
			res.Body.Close()
		}
		reqs <- err
	}()
	select {
	case <-inFlight:
	case <-time.After(patience):
		t.Fatal("the request never reached the handler")
	}
	return cancel, res, sigs, reqs
}

func wait[T any](t *testing.T, what string, c <-chan T) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(patience):
		t.Fatalf("no %s within %s", what, patience)
		var zero T
		return zero
	}
}

// TestServeSecondSignal checks that a signal during the grace period
// closes the connections still open at once, and serve returns nil.
func TestServeSecondSignal(t *testing.T) {
	cancel, result, signals, reqErr := started(t, time.Hour, nil)
	cancel()
	wait(t, "listening for a second signal", signals) <- os.Interrupt
	if err := wait(t, "return after the second signal", result); err != nil {
		t.Fatalf("serve after a second signal = %v, want nil", err)
	}
	if err := wait(t, "end of the request", reqErr); err == nil {
		t.Fatal("the request in flight got an answer; want its connection closed")
	}
}

// TestServeGraceOver checks that a request outliving the grace period is
// cut and serve returns nil.
func TestServeGraceOver(t *testing.T) {
	cancel, result, _, reqErr := started(t, 50*time.Millisecond, nil)
	cancel()
	if err := wait(t, "return after the grace period", result); err != nil {
		t.Fatalf("serve after the grace period = %v, want nil", err)
	}
	if err := wait(t, "end of the request", reqErr); err == nil {
		t.Fatal("the request in flight got an answer; want its connection closed")
	}
}

// TestServeDrains checks that a request in flight when the context ends
// is answered within the grace period.
func TestServeDrains(t *testing.T) {
	release := make(chan struct{})
	cancel, result, signals, reqErr := started(t, time.Hour, release)
	cancel()
	wait(t, "listening for a second signal", signals)
	close(release)
	if err := wait(t, "end of the request", reqErr); err != nil {
		t.Fatalf("request in flight at shutdown: %v, want an answer", err)
	}
	if err := wait(t, "return", result); err != nil {
		t.Fatalf("serve = %v, want nil", err)
	}
}

func TestParseFlags(t *testing.T) {
	newFS := func() (*flag.FlagSet, *string) {
		fs := flag.NewFlagSet("app", flag.ContinueOnError)
		return fs, fs.String("addr", "127.0.0.1:1", "listen address")
	}
	for _, args := range [][]string{
		{"extra-arg", "--addr", "127.0.0.1:2"},
		{"--addr", "127.0.0.1:2", "extra"},
		{"--no-such-flag"},
		{"--addr"},
	} {
		var out bytes.Buffer
		fs, _ := newFS()
		err := ParseFlags(fs, args, &out)
		if _, ok := errors.AsType[*UsageError](err); !ok || out.Len() != 0 {
			t.Errorf("ParseFlags(%q) = %v (%T), printed %q; want a *UsageError and nothing printed", args, err, err, out.String())
		}
	}
	var out bytes.Buffer
	fs, _ := newFS()
	if err := ParseFlags(fs, []string{"-h"}, &out); !errors.Is(err, flag.ErrHelp) || !strings.Contains(out.String(), "-addr") {
		t.Errorf("ParseFlags(-h) = %v, printed %q; want flag.ErrHelp and the usage", err, out.String())
	}
	fs, addr := newFS()
	if err := ParseFlags(fs, []string{"--addr", "127.0.0.1:2"}, io.Discard); err != nil || *addr != "127.0.0.1:2" {
		t.Errorf("ParseFlags(--addr) = %v, addr %q", err, *addr)
	}
}

func TestURLVar(t *testing.T) {
	for _, tc := range []struct {
		value   string
		emptyOK bool
		ok      bool
	}{
		{"http://127.0.0.1:8401", false, true},
		{"https://shop.example", false, true},
		{"", true, true},
		{"", false, false},
		{"localhost:8401", true, false},
		{"ftp://127.0.0.1", true, false},
		{"http://", true, false},
	} {
		fs := flag.NewFlagSet("app", flag.ContinueOnError)
		var u string
		URLVar(fs, &u, "monolith-url", "http://127.0.0.1:1", "", tc.emptyOK)
		err := ParseFlags(fs, []string{"--monolith-url", tc.value}, io.Discard)
		if ok := err == nil; ok != tc.ok || (ok && u != tc.value) {
			t.Errorf("--monolith-url %q (empty ok: %v): %v, value %q", tc.value, tc.emptyOK, err, u)
		}
	}
}

func TestReport(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code int
		says []string
	}{
		{nil, 0, nil},
		{&UsageError{errors.New(`unexpected argument "x"`)}, 2, []string{`orders: unexpected argument "x"`, `Run "orders -h" for usage.`}},
		{errors.New("--addr 127.0.0.1:1: bind: address already in use"), 1, []string{"orders: --addr"}},
	} {
		var stderr bytes.Buffer
		if code := report("orders", tc.err, &stderr); code != tc.code {
			t.Errorf("report(%v) = %d, want %d", tc.err, code, tc.code)
		}
		for _, s := range tc.says {
			if !strings.Contains(stderr.String(), s) {
				t.Errorf("report(%v) wrote %q, want it to say %q", tc.err, stderr.String(), s)
			}
		}
	}
}
