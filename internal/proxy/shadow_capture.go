package proxy

import (
	"io"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"strings"
	"sync"

	"github.com/strangler-proxy/strangler/internal/shadow"
)

// hopHeaders are not copied to a shadow request: they describe the
// client's connection, not the request.
var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authorization",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// shadowCapture collects what a copy needs while the real request runs:
// the request's headers and body and the answer the client got, each up to
// the route's max_body.
type shadowCapture struct {
	sr     *shadowRoute
	header http.Header
	body   *cappedBuffer // nil when the request has no body
}

// begin prepares the copy of r; r's body is teed from now on. The copy
// carries the headers the real request is forwarded with: the client's
// without hop-by-hop ones (those named in its Connection header too, as
// ReverseProxy removes them), and the forwarding headers set as the real
// path sets them (trusted says whose are believed), so that both sides see
// the same client address, host and scheme. The client's Accept-Encoding is
// kept, so that the copy asks for what the real request asked for; either
// answer may then be compressed, and the comparison decodes them
// (shadow.Rules.CompareEncoded).
func (s *shadowRoute) begin(r *http.Request, trusted trustedProxies) *shadowCapture {
	c := &shadowCapture{sr: s, header: r.Header.Clone()}
	dropConnectionListed(c.header)
	for _, h := range hopHeaders {
		c.header.Del(h)
	}
	for _, h := range []string{"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", HeaderShadow} {
		c.header.Del(h) // as ReverseProxy removes them before the rewrite
	}
	trusted.setForwarding(&httputil.ProxyRequest{In: r, Out: &http.Request{Header: c.header}})
	c.header.Set(HeaderRoute, s.route.Name)
	if hasBody(r) {
		c.body = &cappedBuffer{limit: s.cfg.MaxBody}
		r.Body = &teeBody{ReadCloser: r.Body, buf: c.body}
	}
	return c
}

// task turns the finished capture into a queued copy, or returns false
// when the answers cannot be compared: the request fell back, was
// answered by strangler itself (an upstream error, an open breaker, a full
// bulkhead), was upgraded, or its body or answer exceeded max_body; or the primary side
// answered a conditional request with 304 Not Modified or 412
// Precondition Failed, which depends on what the client had cached, not on
// the resource (the copy carries the same If-* headers, but its side's
// validators, ETag or Last-Modified, need not be the same).
func (c *shadowCapture) task(rec *recorder, served *forwarder, path, rawPath, query, requestID string) (*shadowTask, bool) {
	switch {
	case rec.served != served, // fell back: the side that should answer did not
		rec.ownReply, // strangler answered (breaker open, bulkhead full, timeout): no side did
		rec.code < 200, rec.code == http.StatusSwitchingProtocols,
		rec.code == http.StatusNotModified, rec.code == http.StatusPreconditionFailed,
		rec.tee.over, c.body != nil && !c.body.complete():
		return nil, false
	}
	t := &shadowTask{
		sr: c.sr, primarySide: served.side, requestID: requestID,
		method: rec.in.Method, path: path, rawPath: rawPath, query: query, header: c.header,
		primary: shadow.Response{Status: rec.code, Header: rec.hdr, Body: rec.tee.bytes()},
	}
	if c.body != nil {
		t.body = c.body.bytes()
	}
	t.size = int64(len(t.body)+len(t.primary.Body)+len(path)+len(query)) +
		headerBytes(t.header) + headerBytes(t.primary.Header)
	return t, true
}

// dropConnectionListed removes from h the headers its Connection header
// names, as ReverseProxy does to the real request, except the request id
// and the traceparent, which forwarder.rewrite puts back.
func dropConnectionListed(h http.Header) {
	for _, v := range h["Connection"] {
		for _, name := range strings.Split(v, ",") {
			name = textproto.TrimString(name)
			if k := http.CanonicalHeaderKey(name); name != "" && k != headerRequestID && k != headerTraceparent {
				h.Del(name)
			}
		}
	}
}

// headerBytes is about what h holds in memory: its names and values.
func headerBytes(h http.Header) int64 {
	var n int
	for k, vs := range h {
		n += len(k)
		for _, v := range vs {
			n += len(v)
		}
	}
	return int64(n)
}

// cappedBuffer keeps the first limit bytes written to it; past the limit it
// keeps nothing and says so. It is safe for concurrent use, because a
// request body is read by the transport's own goroutine.
type cappedBuffer struct {
	mu    sync.Mutex
	buf   []byte
	limit int64
	over  bool
	eof   bool
}

func (b *cappedBuffer) write(p []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.over {
		return
	}
	if int64(len(b.buf)+len(p)) > b.limit {
		b.over, b.buf = true, nil
		return
	}
	b.buf = append(b.buf, p...)
}

func (b *cappedBuffer) bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf
}

// complete reports whether the whole body was read and kept.
func (b *cappedBuffer) complete() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.eof && !b.over
}

// teeBody copies what is read from a request body into a cappedBuffer.
type teeBody struct {
	io.ReadCloser
	buf *cappedBuffer
}

func (t *teeBody) Read(p []byte) (int, error) {
	n, err := t.ReadCloser.Read(p)
	t.buf.write(p[:n])
	if err == io.EOF {
		t.buf.mu.Lock()
		t.buf.eof = true
		t.buf.mu.Unlock()
	}
	return n, err
}
