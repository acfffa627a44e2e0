package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// forwarder exchanges requests with the backend over a LIFO pool of
// keep-alive connections, as strangler's upstream client does.
type forwarder struct {
	backend string

	mu   sync.Mutex
	idle []*backendConn
}

type backendConn struct {
	net.Conn
	br *bufio.Reader
	bw *bufio.Writer
}

func (f *forwarder) get() (*backendConn, error) {
	f.mu.Lock()
	if n := len(f.idle); n > 0 {
		c := f.idle[n-1]
		f.idle = f.idle[:n-1]
		f.mu.Unlock()
		return c, nil
	}
	f.mu.Unlock()
	c, err := net.Dial("tcp", f.backend)
	if err != nil {
		return nil, fmt.Errorf("dial backend: %w", err)
	}
	return &backendConn{Conn: c, br: bufio.NewReader(c), bw: bufio.NewWriter(c)}, nil
}

func (f *forwarder) put(c *backendConn) {
	f.mu.Lock()
	f.idle = append(f.idle, c)
	f.mu.Unlock()
}

func (f *forwarder) closeIdle() {
	f.mu.Lock()
	idle := f.idle
	f.idle = nil
	f.mu.Unlock()
	for _, c := range idle {
		c.Close()
	}
}

// exchange sends req to the backend and returns its answer. The caller
// closes the body and then calls done, telling whether the body was read to
// its end: only then, and if the backend keeps it open, does the connection
// go back to the pool.
func (f *forwarder) exchange(req *http.Request) (resp *http.Response, done func(readAll bool), err error) {
	c, err := f.get()
	if err != nil {
		return nil, nil, err
	}
	if err := req.Write(c.bw); err != nil {
		c.Close()
		return nil, nil, fmt.Errorf("write request: %w", err)
	}
	if err := c.bw.Flush(); err != nil {
		c.Close()
		return nil, nil, fmt.Errorf("write request: %w", err)
	}
	resp, err = http.ReadResponse(c.br, req)
	if err != nil {
		c.Close()
		return nil, nil, fmt.Errorf("read answer: %w", err)
	}
	return resp, func(readAll bool) {
		if readAll && !resp.Close {
			f.put(c)
		} else {
			c.Close()
		}
	}, nil
}

// serveLoop gives each client connection a goroutine that reads requests
// and writes answers in turn. With watch, a second goroutine reads the
// client while the backend works, and is stopped with a read deadline in
// the past once the answer is in, which is what net/http's server does for
// every request without a body.
//
// With watchAfter above zero, the background read starts only once the
// backend has taken that long: a timer per request instead of a goroutine.
func serveLoop(ln net.Listener, f *forwarder, watch bool, watchAfter time.Duration) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			return fmt.Errorf("accept: %w", err)
		}
		go serveConn(c, f, watch, watchAfter)
	}
}

func serveConn(c net.Conn, f *forwarder, watch bool, watchAfter time.Duration) {
	defer c.Close()
	br := bufio.NewReader(c)
	bw := bufio.NewWriter(c)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		var stopWatching func()
		switch {
		case watch && watchAfter > 0:
			stopWatching = watchClientAfter(c, watchAfter)
		case watch:
			stopWatching = watchClient(c)
		}
		resp, done, err := f.exchange(req)
		if stopWatching != nil {
			stopWatching()
		}
		if err != nil {
			return
		}
		err = resp.Write(bw)
		resp.Body.Close()
		done(err == nil)
		if err != nil || bw.Flush() != nil {
			return
		}
	}
}

// watchClient starts a one-byte read of c in the background; the returned
// function ends it and waits for it, leaving c without a deadline. Unlike
// net/http's, it drops a byte it reads: fine for clients that wait for each
// answer before sending the next request, as wrk does, not for pipelining.
func watchClient(c net.Conn) func() {
	ended := make(chan struct{})
	go func() {
		var b [1]byte
		c.Read(b[:])
		close(ended)
	}()
	return func() {
		c.SetReadDeadline(time.Unix(1, 0))
		<-ended
		c.SetReadDeadline(time.Time{})
	}
}

// watchClientAfter arms a timer that starts watchClient after d; the
// returned function disarms it or ends the watch it started.
func watchClientAfter(c net.Conn, d time.Duration) func() {
	var mu sync.Mutex
	var stop func()
	stopped := false
	t := time.AfterFunc(d, func() {
		mu.Lock()
		defer mu.Unlock()
		if !stopped {
			stop = watchClient(c)
		}
	})
	return func() {
		t.Stop()
		mu.Lock()
		stopped = true
		s := stop
		mu.Unlock()
		if s != nil {
			s()
		}
	}
}

// copyBuffers holds the buffers answers are copied through, as strangler's
// forwarder pools its own.
var copyBuffers = sync.Pool{New: func() any { return new([copyBufferSize]byte) }}

const copyBufferSize = 32 << 10

// serveNetHTTP serves with net/http's Server: its connection handling,
// background read and response writer, around the same exchange.
func serveNetHTTP(ln net.Listener, f *forwarder) error {
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		out := r.Clone(r.Context())
		out.RequestURI = ""
		resp, done, err := f.exchange(out)
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		buf := copyBuffers.Get().(*[copyBufferSize]byte)
		// Hide the writer's ReadFrom, which would send the first 512
		// bytes in a write of their own.
		_, err = io.CopyBuffer(struct{ io.Writer }{w}, resp.Body, buf[:])
		copyBuffers.Put(buf)
		resp.Body.Close()
		done(err == nil)
	})}
	return srv.Serve(ln)
}
