package main

import (
	"io"
	"net"
	"net/http"
)

// serveReverseProxy serves with net/http's Server and httputil.ReverseProxy
// over the same exchange: the nethttp mode plus what ReverseProxy does for
// correctness (hop-by-hop headers, X-Forwarded-*, header copies, trailers,
// flushing), as strangler's request path uses it.
func serveReverseProxy(ln net.Listener, f *forwarder) error {
	return serveLayer(ln, f, exchangeTransport{f})
}

// exchangeTransport is the forwarder as an http.RoundTripper: the
// connection goes back to the pool when the body is closed after its end.
type exchangeTransport struct{ f *forwarder }

func (t exchangeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, done, err := t.f.exchange(req)
	if err != nil {
		return nil, err
	}
	resp.Body = &pooledBody{ReadCloser: resp.Body, done: done}
	return resp, nil
}

type pooledBody struct {
	io.ReadCloser
	done func(readAll bool)
	eof  bool
}

func (b *pooledBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.eof = true
	}
	return n, err
}

func (b *pooledBody) Close() error {
	err := b.ReadCloser.Close()
	if b.done != nil {
		b.done(b.eof)
		b.done = nil
	}
	return err
}

// bufferPool lends ReverseProxy the same pooled buffers the nethttp mode
// copies through.
type bufferPool struct{}

func (bufferPool) Get() []byte { return copyBuffers.Get().(*[copyBufferSize]byte)[:] }

func (bufferPool) Put(b []byte) {
	if len(b) == copyBufferSize {
		copyBuffers.Put((*[copyBufferSize]byte)(b))
	}
}
