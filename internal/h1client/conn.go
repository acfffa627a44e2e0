package h1client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
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

// defaultMaxHeaderBytes is the default of Transport.MaxResponseHeaderBytes,
// net/http's Transport's default too.
const defaultMaxHeaderBytes = 10 << 20

// noLimit is headLimit's budget while a body, not a head, is read.
const noLimit = math.MaxInt64

// aLongTimeAgo is a deadline in the past: setting it wakes a blocked read
// or write at once.
var aLongTimeAgo = time.Unix(1, 0)

// conn is one keep-alive connection to an upstream host. Only one
// exchange uses it at a time.
type conn struct {
	t         *Transport
	host      string
	nc        net.Conn
	lim       headLimit // between nc and br: bounds the bytes of an answer's heads
	br        *bufio.Reader
	bw        *bufio.Writer
	idleSince time.Time // when it last went back to the pool
	reused    bool      // it has carried an exchange before
	idle      idleCheck // looks at the socket before the connection is reused
}

func newConn(t *Transport, host string, nc net.Conn) *conn {
	c := &conn{
		t:    t,
		host: host,
		nc:   nc,
		lim:  headLimit{r: nc, n: noLimit},
		bw:   bufio.NewWriterSize(nc, bufferSize),
	}
	c.br = bufio.NewReaderSize(&c.lim, bufferSize)
	c.idle.init(nc)
	return c
}

// headLimit passes reads to r while its budget n lasts, and fails them
// once it is spent. The budget is armed before an answer's heads are read
// and lifted for its body, so that an upstream cannot make the transport
// buffer a head of unbounded size (textproto has no limit of its own).
// bufio reads ahead, so the budget counts the body bytes that arrive with
// the head too, as net/http's does.
type headLimit struct {
	r io.Reader
	n int64
}

var errHeadLimit = errors.New("head read limit exhausted")

func (l *headLimit) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, errHeadLimit
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
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
	// One budget for every head of this answer, 1xx and final together.
	c.lim.n = c.t.maxHeaderBytes()
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
		if c.lim.n <= 0 {
			return nil, fmt.Errorf("answer's headers exceed %d bytes", c.t.maxHeaderBytes())
		}
		return nil, err
	}
	c.lim.n = noLimit // the body is bounded by nothing here
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

// readFinal reads answers until one that is not 1xx informational. Their
// number has no bound of its own, as in net/http's Transport: the head
// budget armed by roundTrip covers all of them and the final head together
// (and ResponseHeaderTimeout the time they take).
func (c *conn) readFinal(ctx context.Context, req *http.Request) (*http.Response, error) {
	for {
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
		}
		if trace := httptrace.ContextClientTrace(ctx); trace != nil && trace.Got1xxResponse != nil {
			if err := trace.Got1xxResponse(code, textproto.MIMEHeader(resp.Header)); err != nil {
				return nil, fmt.Errorf("1xx answer refused: %w", err)
			}
		}
	}
}

// release ends an exchange: the connection goes back to the pool when the
// answer allows it, nothing unread is left in its buffer, ctx did not abort
// it and it can be checked for unsolicited bytes before its next use (see
// Transport.get); otherwise it is closed.
func (c *conn) release(stop func() bool, reusable bool) {
	live := stop() // false once the abort has run or is running
	if reusable && live && c.br.Buffered() == 0 && c.idle.possible() {
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
