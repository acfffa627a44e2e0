package shopapi

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Id prefixes. An id is PREFIX-NNNNNN: six digits whose range names the
// side that issued, and owns, the record.
const (
	PrefixCustomer    = "cus"
	PrefixOrder       = "ord"
	PrefixPayment     = "pay"
	PrefixReservation = "res"
	PrefixShipment    = "shp"
)

// Owner is the side that issued an id and owns its record.
type Owner int

// Owners. The monolith issues numbers 100001 to 499999 (ord-1xxxxx …
// ord-4xxxxx); the extracted services issue 500001 to 999999 (ord-5xxxxx …),
// so ids never collide and any app can tell who owns a record from its id.
const (
	OwnerNone     Owner = iota // not a valid id
	OwnerMonolith              // 100001..499999
	OwnerService               // 500001..999999
)

const (
	monolithFirst = 100001
	serviceFirst  = 500001
	idLimit       = 1000000
)

// String names the owner for logs.
func (o Owner) String() string {
	switch o {
	case OwnerMonolith:
		return "monolith"
	case OwnerService:
		return "service"
	}
	return "none"
}

// ErrIDsExhausted means a Sequence has issued every id of its range.
var ErrIDsExhausted = errors.New("id range exhausted")

// OwnerOf returns the owner of id if it is a well-formed id with the given
// prefix, else OwnerNone.
func OwnerOf(prefix, id string) Owner {
	_, o := ParseID(prefix, id)
	return o
}

// ParseID returns the number and owner of a well-formed id with the given
// prefix, or 0 and OwnerNone.
func ParseID(prefix, id string) (int, Owner) {
	digits, ok := strings.CutPrefix(id, prefix+"-")
	if !ok || len(digits) != 6 {
		return 0, OwnerNone
	}
	n, err := strconv.Atoi(digits)
	switch {
	case err != nil: // a sign parses, but lands outside both ranges below
		return 0, OwnerNone
	case n >= monolithFirst && n < serviceFirst-1:
		return n, OwnerMonolith
	case n >= serviceFirst && n < idLimit:
		return n, OwnerService
	}
	return 0, OwnerNone
}

// FormatID formats number n as an id with prefix, such as ord-100001.
func FormatID(prefix string, n int) string { return fmt.Sprintf("%s-%06d", prefix, n) }

// FirstID returns the first id number of owner's range, and one past its last.
func FirstID(owner Owner) (first, limit int) {
	if owner == OwnerService {
		return serviceFirst, idLimit
	}
	return monolithFirst, serviceFirst - 1
}

// Sequence issues the ids of one prefix for one owner, in order. It is not
// safe for concurrent use: stores call it under their own lock.
type Sequence struct {
	prefix      string
	next, limit int
}

// NewSequence returns a sequence of prefix ids in the range of owner, which
// must be OwnerMonolith or OwnerService.
func NewSequence(prefix string, owner Owner) *Sequence {
	first, limit := FirstID(owner)
	return &Sequence{prefix: prefix, next: first, limit: limit}
}

// Next returns the next id, or ErrIDsExhausted.
func (s *Sequence) Next() (string, error) {
	if s.next >= s.limit {
		return "", fmt.Errorf("issue %s id: %w", s.prefix, ErrIDsExhausted)
	}
	id := FormatID(s.prefix, s.next)
	s.next++
	return id, nil
}
