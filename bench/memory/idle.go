package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/strangler-proxy/strangler/bench/internal/benchkit"
)

// idleLimit is the target for strangler's RSS with the idle connections
// open.
const idleLimit = 256 * benchkit.MiB

// dialers is how many connections are opened at once.
const dialers = 64

// idle opens n client connections to strangler, sends one request on each
// and keeps them open, then checks strangler's RSS against idleLimit.
func idle(ctx context.Context, n int) error {
	if err := raiseFileLimit(uint64(n) + 1024); err != nil {
		return err
	}
	rig, before, err := startRig(ctx, "5s")
	if err != nil {
		return err
	}
	defer rig.Close()
	pid := rig.Strangler.Pid
	fmt.Printf("strangler started: RSS %s\n", mib(before.RSS))

	start := time.Now()
	conns, err := openIdle(ctx, rig.Strangler.URL, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	if err != nil {
		return err
	}
	fmt.Printf("%d connections opened, one request each, in %.1fs; all kept open\n", len(conns), time.Since(start).Seconds())
	fds, err := benchkit.OpenFiles(pid)
	if err != nil {
		return err
	}
	if fds < n {
		return fmt.Errorf("strangler has %d open files, fewer than the %d client connections: it closed some", fds, n)
	}
	m, err := benchkit.ReadMemory(pid)
	if err != nil {
		return err
	}
	fmt.Printf("strangler with %d idle connections (%d open files): RSS %s = %.2f of the %s limit; peak (VmHWM) %s; %.1f KiB per connection\n",
		n, fds, mib(m.RSS), float64(m.RSS)/idleLimit, mib(idleLimit), mib(m.Peak), float64(m.RSS-before.RSS)/1024/float64(n))
	if m.RSS >= idleLimit {
		return fmt.Errorf("RSS %s is over the %s limit", mib(m.RSS), mib(idleLimit))
	}
	fmt.Println("memory idle: PASS")
	return nil
}

// openIdle opens n connections to base, dialers at a time, each with one
// complete keep-alive request and response. It returns the open ones, also
// on error, for the caller to close.
func openIdle(ctx context.Context, base string, n int) ([]net.Conn, error) {
	addr := strings.TrimPrefix(base, "http://")
	out := make([]net.Conn, n)
	errs := make(chan error, dialers)
	next := make(chan int)
	var wg sync.WaitGroup
	for range dialers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				c, err := oneRequest(ctx, addr)
				if err != nil {
					errs <- fmt.Errorf("connection %d: %w", i, err)
					return
				}
				out[i] = c
			}
		}()
	}
	var err error
feed:
	for i := range n {
		select {
		case next <- i:
		case err = <-errs:
			break feed
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errs:
		default:
		}
	}
	open := out[:0]
	for _, c := range out {
		if c != nil {
			open = append(open, c)
		}
	}
	return open, err
}

// oneRequest dials addr, sends GET / and reads the whole answer, leaving
// the connection open and idle.
func oneRequest(ctx context.Context, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: bench\r\n\r\n"); err != nil {
		c.Close()
		return nil, fmt.Errorf("write: %w", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("read: %w", err)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || resp.Close {
		c.Close()
		return nil, fmt.Errorf("answer: status %d, close %v, body %v", resp.StatusCode, resp.Close, err)
	}
	_ = c.SetDeadline(time.Time{})
	return c, nil
}

// raiseFileLimit raises this process's open-file limit (and so its
// children's) to at least want, within the hard limit.
func raiseFileLimit(want uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("open-file limit: %w", err)
	}
	if lim.Cur >= want {
		return nil
	}
	if lim.Max < want {
		return fmt.Errorf("open-file hard limit %d is below the %d needed: raise it (ulimit -Hn) or use -conns", lim.Max, want)
	}
	lim.Cur = want
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("raise open-file limit to %d: %w", want, err)
	}
	return nil
}
