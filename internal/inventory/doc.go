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
// segment, splitting on "/":
//
//   - A segment that looks like an id becomes "{id}": all digits ("123"); 3
//     or more digits anywhere ("ord-100001", "sku-1001", "INV2024001"); a hex
//     string of 12 or more characters holding a digit ("deadbeefcafe1"); any
//     segment of 32 bytes or more, which covers UUIDs (36 bytes, any case,
//     with or without a digit) and long tokens.
//   - A segment holding any byte other than ASCII letters, digits and the
//     characters "-._~!$&'()*+,;=:@" (what RFC 3986 allows in a path segment,
//     "%" excepted because the path is already decoded) also becomes
//     "{id}". That covers invalid UTF-8, control characters, spaces, all
//     non-ASCII text (so no look-alike or right-to-left characters reach a
//     dashboard) and "{" and "}", so a client cannot forge a pattern by
//     sending "{...}" itself: "/a/{...}" is "/a/{id}".
//   - Other segments are kept as they are: "v1", "v2", "oauth2", "health".
//   - Empty segments are dropped; a trailing slash is kept ("/api/" stays
//     "/api/") and "/" stays "/". A path not starting with "/" is read as if
//     it did.
//   - At most 8 segments are kept; a deeper path ends in "/{...}" after the
//     eighth. A kept segment is at most 31 bytes, so a pattern is at most
//     262 bytes, always valid UTF-8 and always starts with "/".
//
// Pattern(Pattern(p)) == Pattern(p) for every p.
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
// The smallest count is found with a min-heap indexed by a map from pattern
// to heap position: a request for a kept pattern is a map lookup and a
// sift-down, an eviction is O(log Limit). Neither allocates except for the
// new pattern's string on eviction or insertion.
//
// # Metric
//
// Inventory is a prometheus.Collector (metrics.go) exporting
// strangler_legacy_inventory_requests_total{pattern}, one series per pattern
// currently kept. An evicted pattern's series disappears. A series never
// goes down, even across an eviction: the smallest count in the table never
// decreases, so a pattern that comes back starts above the value it had when
// it was evicted.
//
// inventory imports no other internal package; the proxy calls Observe for
// each request served by the legacy upstream and the admin listener serves
// Top and the metric.
package inventory
