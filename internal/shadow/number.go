package shadow

import (
	"strconv"
	"strings"
)

// numEqual reports whether two JSON number literals denote the same
// decimal value exactly: 1, 1.0, 1e0 and 10e-1 are equal, and so are 0 and
// -0, while 12345678901234567890 and 12345678901234567891 are not.
//
// It compares the canonical (sign, significant digits, exponent) forms
// without converting to float64 (which rounds) or big.Rat (which would
// allocate a huge integer for 1e999999999). Literals that are not valid
// JSON numbers, or whose exponent does not fit in 40 bits, compare as
// strings.
func numEqual(a, b string) bool {
	if a == b {
		return true
	}
	da, ok1 := parseDecimal(a)
	db, ok2 := parseDecimal(b)
	if !ok1 || !ok2 {
		return false
	}
	if da.zero() || db.zero() {
		return da.zero() && db.zero()
	}
	if da.neg != db.neg || da.exp != db.exp || da.len() != db.len() {
		return false
	}
	for i := range da.len() {
		if da.at(i) != db.at(i) {
			return false
		}
	}
	return true
}

// decimal is a number as (-1)^neg × D × 10^exp, where D is the digit string
// intPart+frac with no leading or trailing zeros (empty for zero).
type decimal struct {
	neg     bool
	intPart string
	frac    string
	exp     int64
}

func (d decimal) zero() bool { return d.len() == 0 }

func (d decimal) len() int { return len(d.intPart) + len(d.frac) }

func (d decimal) at(i int) byte {
	if i < len(d.intPart) {
		return d.intPart[i]
	}
	return d.frac[i-len(d.intPart)]
}

// maxExp bounds exponents so that adjusting them cannot overflow int64.
const maxExp = 1 << 40

// parseDecimal splits a JSON number literal into its canonical form.
func parseDecimal(s string) (decimal, bool) {
	var d decimal
	if strings.HasPrefix(s, "-") {
		d.neg, s = true, s[1:]
	}
	mant, expStr := s, ""
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant, expStr = s[:i], s[i+1:]
	}
	var e int64
	if expStr != "" {
		var err error
		if e, err = strconv.ParseInt(expStr, 10, 64); err != nil || e > maxExp || e < -maxExp {
			return d, false
		}
	}
	intPart, frac, hasDot := strings.Cut(mant, ".")
	if intPart == "" || (hasDot && frac == "") || !allDigits(intPart) || !allDigits(frac) {
		return d, false
	}
	if int64(len(frac)) > maxExp {
		return d, false
	}
	d.exp = e - int64(len(frac))
	// Leading zeros do not change the value.
	intPart = strings.TrimLeft(intPart, "0")
	if intPart == "" {
		frac = strings.TrimLeft(frac, "0")
	}
	// Trailing zeros move into the exponent.
	if t := strings.TrimRight(frac, "0"); t != "" || intPart != "" {
		d.exp += int64(len(frac) - len(t))
		frac = t
		if frac == "" {
			t := strings.TrimRight(intPart, "0")
			d.exp += int64(len(intPart) - len(t))
			intPart = t
		}
	} else {
		frac = ""
	}
	d.intPart, d.frac = intPart, frac
	return d, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
