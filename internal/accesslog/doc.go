// Package accesslog writes strangler's access log: one JSON record per
// request (or per sampled request), written by a goroutine of its own so
// that the request path never waits for the disk. When the writer falls
// behind, records are dropped and counted, never queued without bound.
//
// It owns the record's shape (record.go), the asynchronous writer
// (logger.go) and its buffer, which survives a failed write (sink.go), and
// the log file, reopened for log rotation (file.go). It
// must not import the proxy, routing or resilience packages: the proxy
// fills a Record, this package writes it.
package accesslog
