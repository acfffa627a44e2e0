//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd || solaris

package h1client

import (
	"net"
	"syscall"
)

// idleCheck looks, before a pooled connection is reused, whether anything
// has arrived on it since its last answer ended: one recvfrom with MSG_PEEK
// and MSG_DONTWAIT on its descriptor, which neither blocks nor consumes.
// Everything it needs is made once per connection, so that the check
// allocates nothing per request.
type idleCheck struct {
	rc    syscall.RawConn       // nil when the connection has no descriptor
	peek  func(fd uintptr) bool // rc.Read's callback: k.peekFD, bound once
	quiet bool                  // what peekFD saw: nothing to read, no EOF
	buf   [1]byte
}

// init prepares the check for nc. A connection that does not expose its
// descriptor (a net.Conn wrapper that does not implement syscall.Conn)
// cannot be checked, and is then not kept for reuse.
func (k *idleCheck) init(nc net.Conn) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	k.rc = rc
	k.peek = k.peekFD
}

// possible reports whether the connection can be checked, and so reused.
func (k *idleCheck) possible() bool { return k.rc != nil }

// clean reports whether nothing waits on the socket: no byte, no end of
// file, no error. Only then may the connection carry another exchange.
func (k *idleCheck) clean() bool {
	if k.rc == nil {
		return false
	}
	k.quiet = false
	if err := k.rc.Read(k.peek); err != nil {
		return false
	}
	return k.quiet
}

// peekFD is the RawConn.Read callback. It returns true whatever it saw, so
// that Read never waits for the socket to become readable.
func (k *idleCheck) peekFD(fd uintptr) bool {
	for {
		n, _, err := syscall.Recvfrom(int(fd), k.buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		if err == syscall.EINTR {
			continue
		}
		// Data (n > 0), an end of file (n == 0) or any error but "would
		// block" makes the connection unusable.
		k.quiet = n < 0 && (err == syscall.EAGAIN || err == syscall.EWOULDBLOCK)
		return true
	}
}
