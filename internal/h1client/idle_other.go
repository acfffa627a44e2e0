//go:build !(linux || darwin || dragonfly || freebsd || netbsd || openbsd || solaris)

package h1client

import "net"

// idleCheck, on systems where idle_unix.go's non-blocking peek is not
// available, cannot tell whether an idle connection has received bytes
// that answer no request. Without that check a reused connection could
// hand such bytes to the next request as its answer, so connections are
// not reused there: every exchange dials. strangler runs on Linux; this
// keeps other builds correct, not fast.
type idleCheck struct{}

func (*idleCheck) init(net.Conn) {}

func (*idleCheck) possible() bool { return false }

func (*idleCheck) clean() bool { return false }
