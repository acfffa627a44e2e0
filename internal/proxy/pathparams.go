package proxy

import "strings"

// dotSegmentWithParams reports whether the decoded path p holds a segment
// that is a dot segment once its path parameters are cut off: "..;",
// "..;jsessionid=x", ".;x". Tomcat, Jetty and Spring strip everything from
// a segment's first ";" and then resolve "." and "..", so that
// /api/orders/..;/admin, which the router sees inside /api/orders, is
// /api/admin to a Java service behind it. Such a path is refused with 400
// bad_path, as a path with a backslash is: no real client sends one, and
// cleaning it into something else would guess at a server's rules. An
// encoded ";" (%3B) counts too, since p is decoded. Without a ";" in p it
// costs one byte scan.
func dotSegmentWithParams(p string) bool {
	i := strings.IndexByte(p, ';')
	for i >= 0 {
		// The segment holding this ";" starts after the "/" before it.
		start := strings.LastIndexByte(p[:i], '/') + 1
		if seg := p[start:i]; seg == "." || seg == ".." {
			return true
		}
		// On to the first ";" of the next segment.
		next := strings.IndexByte(p[i:], '/')
		if next < 0 {
			return false
		}
		p = p[i+next:]
		i = strings.IndexByte(p, ';')
	}
	return false
}
