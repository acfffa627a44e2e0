package livestats

import (
	"math"
	"sync/atomic"
)

// The latency histogram has subBuckets buckets per power of two from
// minExp to maxExp seconds: each bucket spans a ratio of 2^(1/4), about
// 19%, so a quantile read from it is within that of the true value.
// Durations below 2^minExp (61 µs) fall into the first bucket and above
// 2^maxExp (64 s) into the last.
const (
	minExp     = -14
	maxExp     = 6
	subBits    = 2
	subBuckets = 1 << subBits
	numBuckets = (maxExp - minExp) * subBuckets
)

// bucketOf returns the histogram bucket of a duration in seconds. It reads
// the exponent and the top mantissa bits of the float: no logarithm.
func bucketOf(seconds float64) int {
	if !(seconds > 0) { // also NaN
		return 0
	}
	bits := math.Float64bits(seconds)
	exp := int(bits>>52&0x7ff) - 1023
	sub := int(bits >> (52 - subBits) & (subBuckets - 1))
	i := (exp-minExp)*subBuckets + sub
	return max(0, min(i, numBuckets-1))
}

// bucketBounds returns the lower and upper bound in seconds of bucket i.
func bucketBounds(i int) (lo, hi float64) {
	exp, sub := i/subBuckets+minExp, i%subBuckets
	base := math.Ldexp(1, exp)
	step := base / subBuckets
	return base + float64(sub)*step, base + float64(sub+1)*step
}

// histogram counts durations by bucket.
type histogram [numBuckets]atomic.Uint64

// quantile returns the q-quantile (0 < q <= 1) of the counts, interpolated
// linearly inside the bucket that holds it, and false when counts is empty.
func quantile(counts *[numBuckets]uint64, q float64) (float64, bool) {
	var total uint64
	for _, c := range counts {
		total += c
	}
	if total == 0 {
		return 0, false
	}
	rank := q * float64(total)
	var seen float64
	for i, c := range counts {
		if c == 0 {
			continue
		}
		if seen+float64(c) >= rank {
			lo, hi := bucketBounds(i)
			if i == 0 {
				lo = 0
			}
			return lo + (hi-lo)*(rank-seen)/float64(c), true
		}
		seen += float64(c)
	}
	_, hi := bucketBounds(numBuckets - 1)
	return hi, true
}
