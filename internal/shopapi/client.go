package shopapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Timeouts of Client.
const (
	// ClientTimeout bounds one call, response body included.
	ClientTimeout = 5 * time.Second
	// DialTimeout bounds connecting to the other app.
	DialTimeout = 2 * time.Second
)

// maxResponse bounds a response body read from another app.
const maxResponse = 4 << 20

// Client calls another app's shop API: the anti-corruption layer's only way
// to read or change records the caller does not own. It passes on the
// propagated headers (see Propagate), never follows redirects, and turns
// every failure into an *Error (a 4xx contract error, passed on as is) or an
// *UpstreamError (anything else, answered 502 by WriteErr).
type Client struct {
	service string
	base    *url.URL
	hc      *http.Client
}

// NewClient returns a client of the app named service (a logical name used
// in errors and logs, such as "monolith") at baseURL, an http or https URL.
func NewClient(service, baseURL string) (*Client, error) {
	u, err := parseBaseURL(baseURL)
	if err != nil {
		return nil, fmt.Errorf("%s url: %w", service, err)
	}
	tr := &http.Transport{
		Proxy:                 nil, // the apps talk to each other directly, whatever the environment says
		DialContext:           (&net.Dialer{Timeout: DialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   DialTimeout,
		ResponseHeaderTimeout: ClientTimeout,
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       90 * time.Second,
	}
	return &Client{service: service, base: u, hc: &http.Client{
		Transport: tr,
		Timeout:   ClientTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}, nil
}

// CheckBaseURL reports whether raw can be the base URL of another app, as
// NewClient wants it: http or https with a host.
func CheckBaseURL(raw string) error {
	_, err := parseBaseURL(raw)
	return err
}

func parseBaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q: want http://host:port or https://host:port", raw)
	}
	return u, nil
}

// Service returns the logical name of the app the client calls.
func (c *Client) Service() string { return c.service }

// Get calls GET path (which may hold a query) and decodes the answer into out.
func (c *Client) Get(ctx context.Context, path string, h http.Header, out any) error {
	return c.Do(ctx, http.MethodGet, path, h, nil, out)
}

// Do sends method path with in as a JSON body (nil sends none) and the extra
// headers h (may be nil), and decodes a 2xx answer into out (nil discards).
func (c *Client) Do(ctx context.Context, method, path string, h http.Header, in, out any) error {
	ref, err := url.Parse(path)
	if err != nil {
		return fmt.Errorf("parse path %q: %w", path, err)
	}
	u := *c.base
	u.Path = strings.TrimSuffix(u.Path, "/") + ref.Path
	u.RawPath = ""
	u.RawQuery = ref.RawQuery

	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode %s %s body: %w", method, ref.Path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return fmt.Errorf("build %s %s: %w", method, ref.Path, err)
	}
	for k, vs := range propagatedHeaders(ctx) {
		req.Header[k] = vs
	}
	for k, vs := range h {
		req.Header[http.CanonicalHeaderKey(k)] = vs
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}

	res, err := c.hc.Do(req)
	if err != nil {
		return c.upstream(method, ref.Path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxResponse))
	if err != nil {
		return c.upstream(method, ref.Path, fmt.Errorf("read answer: %w", err))
	}
	switch {
	case res.StatusCode >= 200 && res.StatusCode < 300:
		if out == nil {
			return nil
		}
		if err := json.Unmarshal(b, out); err != nil {
			return c.upstream(method, ref.Path, fmt.Errorf("decode answer: %w", err))
		}
		return nil
	case res.StatusCode >= 400 && res.StatusCode < 500:
		var eb ErrorBody
		if json.Unmarshal(b, &eb) == nil && eb.Error.Code != "" {
			return &Error{Status: res.StatusCode, Code: eb.Error.Code, Message: eb.Error.Message}
		}
	}
	return c.upstream(method, ref.Path, fmt.Errorf("unexpected status %d", res.StatusCode))
}

// upstream wraps err as an *UpstreamError. url.Error text holds the address;
// it stays in the wrapped error for logs and never reaches a client.
func (c *Client) upstream(method, path string, err error) error {
	return &UpstreamError{Service: c.service, Err: fmt.Errorf("%s %s: %w", method, path, err)}
}

// IsNotFound reports whether err is a contract 404 from the other side.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

// OrderOfRecord reads the payment (PrefixPayment) or shipment
// (PrefixShipment) id through c, the client of the side that owns it, and
// returns the id of the order it belongs to. A nil c means no known side
// owns such ids: *Error 404, as if the record did not exist.
func OrderOfRecord(ctx context.Context, c *Client, prefix, id string) (string, error) {
	kind, path := recordKind(prefix)
	if c == nil {
		return "", NotFound404(kind, id)
	}
	var rec struct {
		OrderID string `json:"order_id"`
	}
	if err := c.Get(ctx, path+url.PathEscape(id), nil, &rec); err != nil {
		return "", err
	}
	return rec.OrderID, nil
}

// recordKind names the records of an id prefix an order update refers to,
// and gives the path they are read at.
func recordKind(prefix string) (kind, path string) {
	if prefix == PrefixShipment {
		return "shipment", "/api/shipments/"
	}
	return "payment", "/api/payments/"
}
