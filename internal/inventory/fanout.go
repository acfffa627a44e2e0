package inventory

import "hash/maphash"

// The fan-out rule's bookkeeping: a count-min sketch of the literal child
// segments seen outside the table (see admitted). It has sketchRows rows of
// sketchWidth one-byte counters, 256 KiB per Inventory whatever the traffic.
const (
	sketchRows  = 4
	sketchWidth = 1 << 16
	// sketchPeriod is how many counts the sketch takes before every counter
	// is halved, so that it holds at most about sketchWidth/8 distinct
	// children at a time and a child seen once rarely (about 1 in 5,000
	// under a sustained flood of distinct words) looks as if it had been
	// seen twice. The sketch is also halved once per RecentWindow.
	sketchPeriod = sketchWidth / 8
	// literalMin is how many times a child not in the table must have been
	// seen under its parent, recently, to stay literal once the parent is
	// crowded.
	literalMin = 2
	// freshChildren is how many new children a parent takes literally from
	// their first request in each RecentWindow; past that the parent is
	// crowded (a scanner, or ids made of words) and a new child needs
	// literalMin requests.
	freshChildren = 16
	// maxFreshParents bounds the parents whose new children are counted
	// per RecentWindow (about 64 KiB); a parent beyond it counts as
	// crowded until the window ends.
	maxFreshParents = 4096
)

// fanOut appends p to dst with the fan-out rule applied, counting the
// literal children it meets in the sketch. m is the current minute. The
// caller holds inv.mu. The result is never longer than maxPatternLen: it
// has the segments of p, each at most maxSegLen bytes, some replaced by
// "{id}", which is shorter than that.
//
// Once a segment has collapsed, each literal child after it is counted
// twice: under its collapsed parent, which decides, and under its literal
// parent, so that when the collapsed segment becomes literal (at its
// second request) its children already have a count there: a new route
// "/orders/list" is shown as it is from its second request, not its third.
func (inv *Inventory) fanOut(dst, p []byte, m int64) []byte {
	if m-inv.sketchMinute >= recentMinutes {
		windows := (m - inv.sketchMinute) / recentMinutes
		inv.halve(uint(min(windows, 8)))
		inv.sketchMinute += windows * recentMinutes
		clear(inv.fresh)
	}
	collapsed := false
	for i := 0; i < len(p); {
		if p[i] == '/' {
			dst = append(dst, '/')
			i++
			continue
		}
		end := i + 1
		for end < len(p) && p[end] != '/' {
			end++
		}
		seg := p[i:end]
		n := len(dst)
		dst = append(dst, seg...)
		if seg[0] != '{' { // placeholders stay
			if key := maphash.Bytes(inv.seed, p[:end]); collapsed && inv.prefixes[key] == 0 {
				// Counted only: this parent is in no pattern, so it
				// takes none of the fresh parents' room.
				inv.seen(key)
			}
			if !inv.admitted(maphash.Bytes(inv.seed, dst), maphash.Bytes(inv.seed, dst[:n])) {
				dst = append(dst[:n], idSegment...)
				collapsed = true
			}
		}
		i = end
	}
	return dst
}

// admitted reports whether the child whose prefix hashes to key, under the
// parent whose prefix hashes to parent, stays literal: when a kept pattern
// has that prefix; when the child is one of the first freshChildren new
// children of its parent in this RecentWindow (so an application's own
// routes read as they are from their first request); or when the sketch,
// after counting this request, says the child was seen at least literalMin
// times since the counters were last halved. The count-min sketch never
// undercounts, so a child requested twice between two halvings is always
// admitted; junk seen once is admitted only when every one of its
// counters was already raised by others, which the halving keeps rare.
func (inv *Inventory) admitted(key, parent uint64) bool {
	if inv.prefixes[key] > 0 || inv.seen(key) >= literalMin {
		return true
	}
	// Seen for the first time (since the last halving).
	n, ok := inv.fresh[parent]
	if !ok && len(inv.fresh) >= maxFreshParents {
		return false
	}
	if n < freshChildren {
		inv.fresh[parent] = n + 1
		return true
	}
	return false
}

// seen counts the child whose prefix hashes to key in the sketch and
// returns its estimated count since the last halving, this request
// included.
func (inv *Inventory) seen(key uint64) uint64 {
	// Conservative update: raise only the counters below the new
	// estimate. Each row takes 16 bits of the key.
	var at [sketchRows]int
	est := uint64(0xff)
	for r := range sketchRows {
		at[r] = r*sketchWidth + int(uint16(key>>(16*r)))
		est = min(est, inv.sketch[at[r]/8]>>(at[r]%8*8)&0xff)
	}
	if est < 0xff {
		est++
		for _, j := range at {
			w, shift := &inv.sketch[j/8], uint(j%8*8)
			if *w>>shift&0xff < est {
				*w = *w&^(0xff<<shift) | est<<shift
			}
		}
	}
	if inv.sketchCounts++; inv.sketchCounts >= sketchPeriod {
		inv.halve(1)
	}
	return est
}

// halve divides every sketch counter by 2 to the power k (k at most 8).
func (inv *Inventory) halve(k uint) {
	mask := uint64(0x0101010101010101) * uint64(0xff>>k)
	for i := range inv.sketch {
		inv.sketch[i] = inv.sketch[i] >> k & mask
	}
	inv.sketchCounts = 0
}

// keep adds (or, when add is false, removes) pattern's literal prefixes to
// the prefixes of kept patterns. The caller holds inv.mu.
func (inv *Inventory) keep(pattern string, add bool) {
	for i := 0; i < len(pattern); {
		if pattern[i] == '/' {
			i++
			continue
		}
		end := i + 1
		for end < len(pattern) && pattern[end] != '/' {
			end++
		}
		if pattern[i] != '{' {
			key := maphash.String(inv.seed, pattern[:end])
			if add {
				inv.prefixes[key]++
			} else if inv.prefixes[key]--; inv.prefixes[key] == 0 {
				delete(inv.prefixes, key)
			}
		}
		i = end
	}
}
