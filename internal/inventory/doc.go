// Package inventory owns the legacy traffic inventory: the path patterns the
// legacy upstream still serves, ranked by traffic, so a team can see what to
// extract next. It turns a request path into a pattern with ids collapsed,
// counts requests per pattern in a table that never holds more than a fixed
// number of patterns, and exports that table as a Prometheus metric whose
// cardinality is bounded by the same number.
//
// # Patterns
//
// The pattern of a cleaned request path (pattern.go) is built segment by
// segment, splitting on "/". A segment is kept literally only when it looks
// like a word of a route; otherwise it becomes "{id}", so that no value a
// client sends (an e-mail address, a token, a password in a reset link)
// reaches a dashboard or a metric label:
//
//   - A literal segment holds only ASCII letters, digits, "-" and "_",
//     optionally followed by one "." and a common file extension ("html",
//     "php", "jsp", "do", "aspx", "js", "css", "json", "pdf", ...: see
//     knownExtension), and is at most 24 bytes long. Every other segment
//     is "{id}": one with "@", "=", "%", "~", "+", any other punctuation, a
//     "." elsewhere, spaces, control characters, invalid UTF-8 or
//     non-ASCII text (so no look-alike or right-to-left characters reach a
//     dashboard), "{" or "}" (so a client cannot forge "{...}"; "/a/{...}"
//     is "/a/{id}"), or more than 24 bytes (UUIDs, tokens).
//   - A segment that passes those rules is still an id when it is all
//     digits ("123"), holds 3 or more digits ("ord-100001", "sku-1001"), is a
//     hex string of 12 or more characters holding a digit
//     ("deadbeefcafe1"), or mixes cases with more than 3 capitals or two
//     capitals in a row ("xKfQmZpL"). "v1", "oauth2", "getUserById", "HTML"
//     and "orders.php" stay.
//   - Empty segments are dropped; a trailing slash is kept ("/api/" stays
//     "/api/") and "/" stays "/". A path not starting with "/" is read as if
//     it did.
//   - At most 8 segments are kept; a deeper path ends in "/{...}" after the
//     eighth. A pattern is therefore at most 206 bytes, always valid UTF-8
//     and always starts with "/".
//
// Those rules are AppendPattern's. An Inventory adds the fan-out rule
// (fanout.go), which needs the traffic seen so far. A literal segment is a child of its parent
// pattern (the pattern up to it, ids already collapsed) and stays literal
// when a kept pattern has it under that parent, when it is one of the first
// 16 new children of that parent in the current RecentWindow, or when it
// was seen at least twice under that parent recently; otherwise it becomes
// "{id}". So an application's routes are shown as they are from their first
// request, and a scanner's one-off words, or ids made of words, are shown
// for the first 16 under a parent each window, then collapse, while a real
// route arriving after them is shown from its second request. The price:
// under a parent that gets fewer than 16 new children a window, word-like
// ids (user names, a reset word) stay literal. At most 4,096 parents have
// their new children counted per window; a parent beyond them is crowded
// until the window ends, so a new child there needs its two requests.
//
// "Seen recently" is a count-min sketch of (parent, segment) hashes: 4
// rows of 65,536 one-byte counters, 256 KiB per Inventory whatever the
// traffic. It never undercounts; a one-off word passes only when its four
// counters were all raised by others. Every counter is halved after 8,192
// counts and once per RecentWindow, so at most about 8,192 children load
// it at a time and a flood of one-off words lets through about 1 in 5,000
// at worst, each a single request the table bounds like any other. The
// prefixes of kept patterns are counted in a map of at most Limit*8
// hashes, updated when a pattern enters or leaves the table, so a kept
// route's segments never depend on the sketch. Once a segment has
// collapsed, later segments are also counted under their literal parent,
// so a new "/orders/list" is whole at its second request. Only the final
// form enters the table, the dashboard and the metric.
//
// The character rules are idempotent: AppendPattern of a pattern is that
// pattern.
//
// # Bound and ranking
//
// Inventory (inventory.go) keeps at most Limit patterns, whatever the
// traffic, with the Space-Saving algorithm (Metwally, Agrawal and El Abbadi,
// "Efficient Computation of Frequent and Top-k Elements in Data Streams",
// 2005): a pattern already in the table has its count incremented; a new
// pattern, when the table is full, replaces the pattern with the smallest
// count and inherits that count plus one. Counts are therefore estimates
// that never undercount: a pattern's true count lies between Requests -
// Overcount and Requests. Every pattern that took more than 1/Limit of the
// requests is guaranteed to be in the table, so the heavy hitters survive a
// client that sends any number of distinct paths.
//
// Each kept pattern also has its requests per minute over the last
// RecentWindow (10 minutes) in a ring of ten counters (recent.go), minutes
// counted from a monotonic clock reading taken at New (a time without one
// that goes back counts in the newest minute), so that TopRecent can rank
// by what legacy serves now: a route fully moved stops feeding its
// patterns, which sink once the window has passed. The Prometheus counter
// counts everything since the pattern entered the table; rate() gives
// recent traffic there.
//
// The smallest count is found with a min-heap indexed by a map from pattern
// to heap position: a request for a kept pattern is a map lookup and a
// sift-down, an eviction is O(log Limit). Neither allocates except for the
// new pattern's string on eviction or insertion.
//
// # Metric
//
// Inventory is a prometheus.Collector (metrics.go) exporting
// strangler_legacy_inventory_requests_total{pattern}, one series per pattern
// currently kept. An evicted pattern's series disappears. Its value is the
// exact count since the pattern (re)entered the table (Requests -
// Overcount), not the estimate: a pattern that comes back inherits the
// smallest count in the table, which may be far above the value it had
// when it was evicted, and those inherited requests never happened. The
// exact count starts again from the pattern's first request back, which
// Prometheus reads as a counter reset.
//
// inventory imports no other internal package. The proxy calls ObserveAt
// for each request served by the legacy upstream, with the time it read for
// its metrics; its dashboard (/api/dashboard and /api/dashboard/events on
// the admin listener) shows TopRecent, and the admin listener's /metrics
// serves the metric.
package inventory
