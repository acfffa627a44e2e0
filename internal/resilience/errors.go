package resilience

import (
	"errors"
	"net"
)

// ErrNotSent is matched (with errors.Is) by every error that proves the
// upstream never received the request: ErrBreakerOpen, ErrBulkheadFull,
// ErrNoHealthyTarget and failed connection attempts. The proxy may then
// send the request elsewhere (for example to legacy) whatever its method.
var ErrNotSent = errors.New("request not sent upstream")

var (
	// ErrBreakerOpen is returned when the upstream's circuit breaker is open,
	// or half-open with all of its probe requests already in flight.
	ErrBreakerOpen error = &notSentError{msg: "circuit breaker open"}

	// ErrBulkheadFull is returned when the upstream already has
	// max_concurrent requests in flight and either the wait queue is full or
	// no slot freed up within max_wait.
	ErrBulkheadFull error = &notSentError{msg: "bulkhead full"}

	// ErrNoHealthyTarget is returned when every target of the upstream is
	// marked unhealthy.
	ErrNoHealthyTarget error = &notSentError{msg: "no healthy target"}
)

// errRegistryClosed is returned by Registry.Acquire after Registry.Close.
var errRegistryClosed = errors.New("resilience registry closed")

// notSentError is a sentinel that also matches ErrNotSent.
type notSentError struct{ msg string }

func (e *notSentError) Error() string { return e.msg }

// Is reports whether target is ErrNotSent; identity with the sentinel itself
// is handled by errors.Is.
func (e *notSentError) Is(target error) bool { return target == ErrNotSent }

// connectError wraps a failed dial. The request was never written, so it
// matches ErrNotSent; errors.As still reaches the underlying *net.OpError.
// Its text contains the target address: log it, never show it to clients.
type connectError struct{ err error }

func (e *connectError) Error() string        { return "connect: " + e.err.Error() }
func (e *connectError) Unwrap() error        { return e.err }
func (e *connectError) Is(target error) bool { return target == ErrNotSent }

// isDialError reports whether err comes from establishing the connection,
// before any byte of the request was written.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// isTimeout reports whether err is a timeout (response header timeout, dial
// timeout, ...).
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
