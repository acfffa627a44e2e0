package proxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strangler-proxy/strangler/internal/livestats"
	"github.com/strangler-proxy/strangler/internal/routing"
	"github.com/strangler-proxy/strangler/internal/shadow"
)

// HeaderShadow marks a request as a shadow copy, so that the receiving
// side can tell it from real traffic (and, say, not send e-mails for it).
const HeaderShadow = "X-Strangler-Shadow"

// Shadow results, indexes into shadowResults.
const (
	shadowMatch = iota
	shadowMismatch
	shadowError
	shadowDropped
	shadowSkipped
)

// shadowResults are the values of strangler_shadow_requests_total's result
// label.
var shadowResults = [...]string{"match", "mismatch", "error", "dropped", "skipped"}

// Every result has a kind in a lane's livestats.Tally: this does not
// compile when there are more results than kinds.
var _ [livestats.Kinds - len(shadowResults)]struct{}

// shadowRoute is one route's shadow setting, prepared at build time.
type shadowRoute struct {
	route    *routing.Route
	cfg      *routing.Shadow
	counters [len(shadowResults)]prometheus.Counter
	lane     *shadowLane
	// targets of the side a copy goes to: to the service when legacy
	// answered, to legacy when the service answered.
	service, legacy *shadowTargets
}

// count records one result: in the metric, since the start, and in the
// dashboard's last minute.
func (s *shadowRoute) count(result int) {
	s.counters[result].Inc()
	s.lane.counts[result].Add(1)
	s.lane.recent.Add(s.lane.now(), result)
}

// shadowTargets round-robins over an upstream's instances. Copies bypass
// the upstream's breaker, bulkhead and health state: they must not count
// toward the real path.
type shadowTargets struct {
	urls    []*url.URL
	timeout time.Duration
	next    atomic.Uint64
}

func (t *shadowTargets) pick() *url.URL {
	return t.urls[int(t.next.Add(1)%uint64(len(t.urls)))]
}

// shadowTask is one copy waiting to be sent.
type shadowTask struct {
	sr          *shadowRoute
	primarySide routing.Side
	requestID   string
	method      string
	path        string // cleaned request path, before any rewrite
	rawPath     string // path as the client encoded it, when forwarded so; else ""
	query       string
	header      http.Header
	body        []byte
	primary     shadow.Response
	size        int64 // bytes held, for the queue's byte bounds
}

// run sends one copy and compares the answers, and returns the result.
func (s *shadower) run(t *shadowTask) int {
	targets, path := t.sr.service, t.sr.route.RewritePath(t.path)
	if t.primarySide == routing.Extracted {
		targets, path = t.sr.legacy, t.path
	}
	base := targets.pick()
	u := *base
	u.Path = base.Path + path
	u.RawPath = ""
	if t.rawPath != "" && path == t.path {
		// Sent as the real request is: with the client's encoding
		// (a %3B stays %3B), unless the route rewrote the path.
		u.RawPath = base.EscapedPath() + t.rawPath
	}
	u.RawQuery = t.query

	ctx, cancel := context.WithTimeout(s.ctx, targets.timeout)
	defer cancel()
	var body io.Reader
	if t.body != nil {
		body = bytes.NewReader(t.body)
	}
	req, err := http.NewRequestWithContext(ctx, t.method, u.String(), body)
	if err != nil {
		return shadowError
	}
	req.Header = t.header
	req.Header.Set(HeaderShadow, "true")
	res, err := s.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL may carry secrets in its query
		}
		s.log.Debug("shadow copy failed", "route", t.sr.route.Name, "request_id", t.requestID, "error", err)
		return shadowError
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, t.sr.cfg.MaxBody+1))
	if err != nil {
		return shadowError
	}
	if int64(len(b)) > t.sr.cfg.MaxBody {
		return shadowSkipped // too large to compare
	}
	got := shadow.Response{Status: res.StatusCode, Header: res.Header, Body: b}
	// Both answers as they came over the wire: the copy carries the
	// client's Accept-Encoding (so that it is the same request), and
	// either side may compress. CompareEncoded decodes gzip and deflate
	// within max_body and refuses what it cannot decode.
	cmp, err := t.sr.cfg.Rules.CompareEncoded(t.primary, got, t.sr.cfg.MaxBody)
	if err != nil {
		s.log.Debug("shadow comparison skipped", "route", t.sr.route.Name, "request_id", t.requestID, "reason", err)
		return shadowSkipped
	}
	if len(cmp.Differences) == 0 {
		return shadowMatch
	}
	s.mismatches.Add(t.sr.route.Name, shadow.Mismatch{
		Time:        time.Now(),
		RequestID:   t.requestID,
		Request:     shadow.NewRequestInfo(t.method, t.path, t.query, withoutShadowMark(t.header), t.body),
		PrimarySide: t.primarySide.String(),
		Primary:     shadow.NewResponseInfo(cmp.Primary),
		Shadow:      shadow.NewResponseInfo(cmp.Shadow),
		Differences: cmp.Differences,
	})
	return shadowMismatch
}

func withoutShadowMark(h http.Header) http.Header {
	h = h.Clone()
	h.Del(HeaderShadow)
	return h
}
