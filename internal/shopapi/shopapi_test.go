package shopapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

func TestOwnerOf(t *testing.T) {
	for _, tc := range []struct {
		id   string
		want Owner
	}{
		{"ord-100001", OwnerMonolith},
		{"ord-499999", OwnerMonolith},
		{"ord-500000", OwnerNone},
		{"ord-500001", OwnerService},
		{"ord-999999", OwnerService},
		{"ord-100000", OwnerNone},
		{"ord-+10001", OwnerNone},
		{"ord-1000001", OwnerNone},
		{"pay-100001", OwnerNone}, // wrong prefix
		{"ord-abcdef", OwnerNone},
		{"", OwnerNone},
	} {
		if got := OwnerOf(PrefixOrder, tc.id); got != tc.want {
			t.Errorf("OwnerOf(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
}

func TestSequencesNeverCollide(t *testing.T) {
	m, s := NewSequence(PrefixOrder, OwnerMonolith), NewSequence(PrefixOrder, OwnerService)
	for range 3 {
		a, _ := m.Next()
		b, _ := s.Next()
		if OwnerOf(PrefixOrder, a) != OwnerMonolith || OwnerOf(PrefixOrder, b) != OwnerService {
			t.Fatalf("ids %s, %s not in their owners' ranges", a, b)
		}
	}
	last := &Sequence{prefix: PrefixOrder, next: 499999, limit: 500000}
	if id, err := last.Next(); err != nil || id != "ord-499999" {
		t.Fatalf("last id = %q, %v", id, err)
	}
	if _, err := last.Next(); !errors.Is(err, ErrIDsExhausted) {
		t.Fatalf("past the range: %v, want ErrIDsExhausted", err)
	}
}

func TestCatalogDeterministic(t *testing.T) {
	if !reflect.DeepEqual(Catalog(7), Catalog(7)) {
		t.Fatal("same seed, different catalogs")
	}
	if reflect.DeepEqual(Catalog(7), Catalog(8)) {
		t.Fatal("different seeds, same catalog")
	}
}

func TestCheckTransition(t *testing.T) {
	for _, tc := range []struct {
		cur      string
		u        OrderUpdate
		wantCode string
	}{
		{StatusPending, OrderUpdate{Status: StatusPaid, PaymentID: "pay-100001"}, ""},
		{StatusPaid, OrderUpdate{Status: StatusShipped, ShipmentID: "shp-100001"}, ""},
		{StatusPaid, OrderUpdate{Status: StatusPaid, PaymentID: "pay-500001"}, CodeInvalidTransition},
		{StatusPending, OrderUpdate{Status: StatusShipped, ShipmentID: "shp-100001"}, CodeInvalidTransition},
		{StatusPending, OrderUpdate{Status: StatusPaid}, CodeBadRequest},
		{StatusPending, OrderUpdate{Status: StatusPaid, PaymentID: "x"}, CodeBadRequest},
		{StatusPending, OrderUpdate{Status: StatusPending}, CodeBadRequest},
	} {
		err := CheckTransition(tc.cur, tc.u)
		var e *Error
		switch {
		case tc.wantCode == "" && err != nil:
			t.Errorf("%s + %+v: %v", tc.cur, tc.u, err)
		case tc.wantCode != "" && (!errors.As(err, &e) || e.Code != tc.wantCode):
			t.Errorf("%s + %+v: %v, want code %s", tc.cur, tc.u, err, tc.wantCode)
		}
	}
}

// TestClient checks the anti-corruption client against an httptest
// backend: decoding, 4xx pass-through, 5xx and transport errors as
// upstream errors, and header propagation.
func TestClient(t *testing.T) {
	var got http.Header
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		switch r.URL.Path {
		case "/ok":
			WriteJSON(w, http.StatusOK, Health{Status: "ready", Service: r.URL.Query().Get("q")})
		case "/missing":
			WriteError(w, http.StatusNotFound, CodeNotFound, "order ord-100001 not found")
		case "/teapot":
			w.WriteHeader(http.StatusTeapot)
		default:
			WriteError(w, http.StatusInternalServerError, CodeInternal, "boom")
		}
	}))
	defer backend.Close()
	c, err := NewClient("monolith", backend.URL)
	if err != nil {
		t.Fatal(err)
	}

	in := httptest.NewRequest(http.MethodGet, "/", nil)
	in.Header.Set(HeaderRequestID, "req-1")
	in.Header.Set("Traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	var ctx context.Context
	Propagate(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { ctx = r.Context() })).ServeHTTP(nil, in)

	var h Health
	if err := c.Get(ctx, "/ok?q=x", http.Header{HeaderCustomerID: {"cus-100001"}}, &h); err != nil || h.Service != "x" {
		t.Fatalf("Get /ok = %+v, %v", h, err)
	}
	for _, k := range []string{HeaderRequestID, "Traceparent", HeaderCustomerID} {
		if got.Get(k) == "" || got.Get(k) != map[string]string{HeaderRequestID: "req-1",
			"Traceparent": in.Header.Get("Traceparent"), HeaderCustomerID: "cus-100001"}[k] {
			t.Errorf("backend got %s = %q", k, got.Get(k))
		}
	}

	err = c.Get(context.Background(), "/missing", nil, nil)
	var ce *Error
	if !errors.As(err, &ce) || ce.Status != 404 || ce.Code != CodeNotFound || !IsNotFound(err) {
		t.Fatalf("Get /missing = %v, want contract 404", err)
	}
	for _, p := range []string{"/boom", "/teapot"} {
		var ue *UpstreamError
		if err := c.Get(context.Background(), p, nil, nil); !errors.As(err, &ue) {
			t.Fatalf("Get %s = %v, want *UpstreamError", p, err)
		}
	}

	backend.Close()
	err = c.Get(context.Background(), "/ok", nil, nil)
	rec := httptest.NewRecorder()
	WriteErr(rec, httptest.NewRequest(http.MethodGet, "/api/orders", nil), discard(), err)
	if rec.Code != http.StatusBadGateway || strings.Contains(rec.Body.String(), "127.0.0.1") ||
		!strings.Contains(rec.Body.String(), `"code":"upstream_unavailable"`) {
		t.Fatalf("WriteErr(%v) = %d %s; want 502 without an address", err, rec.Code, rec.Body)
	}
}

func TestNewClientRejectsBadURL(t *testing.T) {
	for _, u := range []string{"", "127.0.0.1:8401", "ftp://x", "http://"} {
		if _, err := NewClient("x", u); err == nil {
			t.Errorf("NewClient(%q) accepted", u)
		}
	}
}
