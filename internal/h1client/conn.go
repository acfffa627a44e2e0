package h1client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"sync/atomic"
	"time"
)

// bufferSize is the size of a connection's read and write buffers, as in
// net/http's Transport.
const bufferSize = 4 << 10

// maxInterim bounds the 1xx informational answers read before the final
// one, as net/http's Transport does.
const maxInterim = 5

// aLongTimeAgo is a deadline in the past: setting it wakes a blocked read
// or write at once.
var aLongTimeAgo = time.Unix(1, 0)

// conn is one keep-alive connection to an upstream host. Only one
// exchange uses it at a time.
type conn struct {
	t         *Transport
	host      string
	nc        net.Conn
	br        *bufio.Reader
	bw        *bufio.Writer
	idleSince time.Time // when it last went back to the pool
	reused    bool      // it has carried an exchange before
}

func newConn(t *Transport, host string, nc net.Conn) *conn {
	return &conn{
		t:    t,
		host: host,
		nc:   nc,
		br:   bufio.NewReaderSize(nc, bufferSize),
		bw:   bufio.NewWriterSize(nc, bufferSize),
	}
}

// staleError is a failure before any byte of an answer arrived: on a
// pooled connection, the upstream most likely closed it while it was idle.
type staleError struct{ err error }

func (e *staleError) Error() string {
	return "connection closed before an answer: " + e.err.Error()
}

func (e *staleError) Unwrap() error { return e.err }

// exchange writes req and reads the answer's head. While the exchange
// lasts, the end of ctx aborts it by putting the connection's deadline in
// the past. On error the caller closes the connection.
func (c *conn) exchange(ctx context.Context, req *http.Request, headerTimeout time.Duration) (*http.Response, error) {
	stop := context.AfterFunc(ctx, c.abort)
	resp, err := c.roundTrip(ctx, req, headerTimeout)
	if err != nil {
		stop()
		return nil, err
	}
	if resp.Body == http.NoBody {
		c.release(stop, !resp.Close)
		return resp, nil
	}
	resp.Body = &body{rc: resp.Body, c: c, ctx: ctx, stop: stop, reuse: !resp.Close}
	return resp, nil
}

// roundTrip writes req and reads the head of the final answer, passing
// 1xx informational answers to the request's httptrace.ClientTrace.
func (c *conn) roundTrip(ctx context.Context, req *http.Request, headerTimeout time.Duration) (*http.Response, error) {
	if err := req.Write(c.bw); err != nil {
		return nil, &staleError{fmt.Errorf("write request: %w", err)}
	}
	if err := c.bw.Flush(); err != nil {
		return nil, &staleError{fmt.Errorf("write request: %w", err)}
	}
	if headerTimeout > 0 {
		if err := c.nc.SetReadDeadline(time.Now().Add(headerTimeout)); err != nil {
			return nil, fmt.Errorf("set read deadline: %w", err)
		}
		// An abort that ran before this deadline was set has been
		// overwritten by it, and has ended ctx: look.
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
	}
	if _, err := c.br.Peek(1); err != nil {
		if isTimeout(err) {
			return nil, fmt.Errorf("timeout awaiting response headers: %w", err)
		}
		return nil, &staleError{fmt.Errorf("read answer: %w", err)}
	}
	resp, err := c.readFinal(ctx, req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusRequestTimeout && c.reused {
		// Some servers say 408 on a keep-alive connection they close for
		// idleness; the answer was there before the request was sent.
		return nil, &staleError{errors.New("408 Request Timeout on a pooled connection")}
	}
	if headerTimeout > 0 {
		if err := c.nc.SetReadDeadline(time.Time{}); err != nil {
			return nil, fmt.Errorf("clear read deadline: %w", err)
		}
		// Checked after clearing: an abort that ran before the clear has
		// ended ctx, and one that runs after it sets the deadline again.
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
	}
	return resp, nil
}

// readFinal reads answers until one that is not 1xx informational.
func (c *conn) readFinal(ctx context.Context, req *http.Request) (*http.Response, error) {
	for n := 0; ; n++ {
		resp, err := http.ReadResponse(c.br, req)
		if err != nil {
			return nil, fmt.Errorf("read answer: %w", err)
		}
		code := resp.StatusCode
		switch {
		case code >= 200 || code < 100:
			return resp, nil
		case code == http.StatusSwitchingProtocols:
			return nil, errors.New("101 Switching Protocols to a request that asked for no upgrade")
		case n >= maxInterim:
			return nil, errors.New("too many 1xx informational answers")
		}
		if trace := httptrace.ContextClientTrace(ctx); trace != nil && trace.Got1xxResponse != nil {
			if err := trace.Got1xxResponse(code, textproto.MIMEHeader(resp.Header)); err != nil {
				return nil, fmt.Errorf("1xx answer refused: %w", err)
			}
		}
	}
}

// release ends an exchange: the connection goes back to the pool when the
// answer allows it, nothing unread is left on it and ctx did not abort it;
// otherwise it is closed.
func (c *conn) release(stop func() bool, reusable bool) {
	live := stop() // false once the abort has run or is running
	if reusable && live && c.br.Buffered() == 0 {
		c.t.putIdle(c)
		return
	}
	c.close()
}

// abort wakes whatever read or write the exchange is blocked in.
func (c *conn) abort() { _ = c.nc.SetDeadline(aLongTimeAgo) }

func (c *conn) close() { _ = c.nc.Close() }

// body is an answer's body on a pooled connection. Reading it to its end
// returns the connection to the pool; closing it early closes the
// connection rather than draining what the upstream still sends.
type body struct {
	rc    io.ReadCloser
	c     *conn
	ctx   context.Context
	stop  func() bool
	reuse bool
	done  atomic.Bool
}

// Read reads from the answer's body.
func (b *body) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err != nil {
		if err != io.EOF && b.ctx.Err() != nil {
			err = context.Cause(b.ctx)
		}
		b.finish(err == io.EOF)
	}
	return n, err
}

// Close ends the body. Before its end, the connection is closed.
func (b *body) Close() error {
	b.finish(false)
	return nil
}

func (b *body) finish(complete bool) {
	if !b.done.CompareAndSwap(false, true) {
		return
	}
	b.c.release(b.stop, complete && b.reuse)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
