package proxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

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

// Bounds of the shadow queue. Each route has its own lane: at most
// shadowWorkers copies in flight and shadowQueueLen waiting, holding at
// most shadowLaneBytes; all lanes together hold at most shadowQueueBytes,
// beyond which only empty lanes take a copy.
// A copy that finds its lane or the whole queue full is dropped and
// counted, so a slow or dead shadow side can never hold more than this
// much memory, slow the real path, or starve the copies of other routes.
const (
	shadowWorkers     = 8
	shadowQueueLen    = 256
	shadowLaneBytes   = 16 << 20
	shadowQueueBytes  = 64 << 20
	shadowMaxTimeout  = 30 * time.Second
	shadowLogPerRoute = 20
)

// shadowLane is a route's shadow queue and counts since the process
// started; it survives reloads for as long as the route keeps its name.
type shadowLane struct {
	counts [len(shadowResults)]atomic.Uint64

	mu      sync.Mutex
	pending []*shadowTask // oldest first
	bytes   int64         // held by pending and running copies
	running int           // goroutines draining pending, at most shadowWorkers
}

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

// count records one result.
func (s *shadowRoute) count(result int) {
	s.counters[result].Inc()
	s.lane.counts[result].Add(1)
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

// shadower sends shadow copies and compares the answers, off the request
// path.
type shadower struct {
	held       atomic.Int64 // bytes held by all lanes' copies
	client     *http.Client
	log        *slog.Logger
	mismatches *shadow.Log

	mu     sync.Mutex
	lanes  map[string]*shadowLane // by route name
	closed bool                   // no goroutine starts once set

	ctx    context.Context // cancelled by close: copies in flight end at once
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newShadower(log *slog.Logger) *shadower {
	s := &shadower{
		client: &http.Client{
			Transport: &http.Transport{
				MaxIdleConnsPerHost: 64,
				IdleConnTimeout:     90 * time.Second,
				DisableCompression:  true,
			},
			// Compare the answers as they are: a redirect is an answer.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		log:        log.With("component", "shadow"),
		mismatches: shadow.NewLog(shadowLogPerRoute, 0),
		lanes:      map[string]*shadowLane{},
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

// close cancels the copies in flight and waits for the lanes' goroutines
// to end; queued copies are abandoned. A hung shadow side cannot hold up a
// shutdown.
func (s *shadower) close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	s.client.CloseIdleConnections()
}

// laneFor returns the persistent lane of a route name.
func (s *shadower) laneFor(name string) *shadowLane {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.lanes[name]
	if l == nil {
		l = &shadowLane{}
		s.lanes[name] = l
	}
	return l
}

// submit queues t in its route's lane without waiting, and starts a
// goroutine for the lane when fewer than shadowWorkers run. A copy that
// could never fit is skipped; one that finds its lane or the queue full is
// dropped. An empty lane always takes one copy, whatever the other lanes
// hold: hung lanes together cannot starve a route whose own side answers
// (so the queue holds at most shadowQueueBytes plus one copy per lane),
// and a route whose max_body exceeds its lane's share still compares.
func (s *shadower) submit(t *shadowTask) {
	if t.size > shadowQueueBytes {
		t.sr.count(shadowSkipped)
		return
	}
	l := t.sr.lane
	l.mu.Lock()
	full := len(l.pending) >= shadowQueueLen || l.bytes > 0 && l.bytes+t.size > shadowLaneBytes
	if held := s.held.Add(t.size); full || held > shadowQueueBytes && l.bytes > 0 {
		l.mu.Unlock()
		s.held.Add(-t.size)
		t.sr.count(shadowDropped)
		return
	}
	l.pending = append(l.pending, t)
	l.bytes += t.size
	start := l.running < shadowWorkers && s.tryAdd()
	if start {
		l.running++
	}
	l.mu.Unlock()
	if start {
		go s.drain(l)
	}
}

// tryAdd counts one more lane goroutine for close to wait for, unless the
// shadower is closed.
func (s *shadower) tryAdd() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	return true
}

// drain sends l's copies, oldest first, until the lane is empty or the
// shadower closes.
func (s *shadower) drain(l *shadowLane) {
	defer s.wg.Done()
	for {
		l.mu.Lock()
		if len(l.pending) == 0 || s.ctx.Err() != nil {
			l.running--
			l.mu.Unlock()
			return
		}
		t := l.pending[0]
		l.pending[0] = nil
		l.pending = l.pending[1:]
		if len(l.pending) == 0 {
			l.pending = nil // let the backing array go
		}
		l.mu.Unlock()

		t.sr.count(s.run(t))

		l.mu.Lock()
		l.bytes -= t.size
		l.mu.Unlock()
		s.held.Add(-t.size)
	}
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

// hopHeaders are not copied to a shadow request: they describe the
// client's connection, not the request.
var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authorization",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// shadowCapture collects what a copy needs while the real request runs:
// the request's headers and body and the answer the client got, each up to
// the route's max_body.
type shadowCapture struct {
	sr     *shadowRoute
	header http.Header
	body   *cappedBuffer // nil when the request has no body
}

// begin prepares the copy of r; r's body is teed from now on. The copy
// carries the headers the real request is forwarded with: the client's
// without hop-by-hop ones (those named in its Connection header too, as
// ReverseProxy removes them), and the forwarding headers set as the real
// path sets them (trusted says whose are believed), so that both sides see
// the same client address, host and scheme. The client's Accept-Encoding is
// kept, so that the copy asks for what the real request asked for; either
// answer may then be compressed, and the comparison decodes them
// (shadow.Rules.CompareEncoded).
func (s *shadowRoute) begin(r *http.Request, trusted trustedProxies) *shadowCapture {
	c := &shadowCapture{sr: s, header: r.Header.Clone()}
	dropConnectionListed(c.header)
	for _, h := range hopHeaders {
		c.header.Del(h)
	}
	for _, h := range []string{"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", HeaderShadow} {
		c.header.Del(h) // as ReverseProxy removes them before the rewrite
	}
	trusted.setForwarding(&httputil.ProxyRequest{In: r, Out: &http.Request{Header: c.header}})
	c.header.Set(HeaderRoute, s.route.Name)
	if hasBody(r) {
		c.body = &cappedBuffer{limit: s.cfg.MaxBody}
		r.Body = &teeBody{ReadCloser: r.Body, buf: c.body}
	}
	return c
}

// task turns the finished capture into a queued copy, or returns false
// when the answers cannot be compared: the request fell back, was
// answered by strangler itself (an upstream error, an open breaker, a full
// bulkhead), was upgraded, or its body or answer exceeded max_body; or the primary side
// answered a conditional request with 304 Not Modified or 412
// Precondition Failed, which depends on what the client had cached, not on
// the resource (the copy carries the same If-* headers, but its side's
// validators, ETag or Last-Modified, need not be the same).
func (c *shadowCapture) task(rec *recorder, served *forwarder, path, rawPath, query, requestID string) (*shadowTask, bool) {
	switch {
	case rec.served != served, // fell back: the side that should answer did not
		rec.ownReply, // strangler answered (breaker open, bulkhead full, timeout): no side did
		rec.code < 200, rec.code == http.StatusSwitchingProtocols,
		rec.code == http.StatusNotModified, rec.code == http.StatusPreconditionFailed,
		rec.tee.over, c.body != nil && !c.body.complete():
		return nil, false
	}
	t := &shadowTask{
		sr: c.sr, primarySide: served.side, requestID: requestID,
		method: rec.in.Method, path: path, rawPath: rawPath, query: query, header: c.header,
		primary: shadow.Response{Status: rec.code, Header: rec.hdr, Body: rec.tee.bytes()},
	}
	if c.body != nil {
		t.body = c.body.bytes()
	}
	t.size = int64(len(t.body)+len(t.primary.Body)+len(path)+len(query)) +
		headerBytes(t.header) + headerBytes(t.primary.Header)
	return t, true
}

// dropConnectionListed removes from h the headers its Connection header
// names, as ReverseProxy does to the real request, except the request id
// and the traceparent, which forwarder.rewrite puts back.
func dropConnectionListed(h http.Header) {
	for _, v := range h["Connection"] {
		for _, name := range strings.Split(v, ",") {
			name = textproto.TrimString(name)
			if k := http.CanonicalHeaderKey(name); name != "" && k != headerRequestID && k != headerTraceparent {
				h.Del(name)
			}
		}
	}
}

// headerBytes is about what h holds in memory: its names and values.
func headerBytes(h http.Header) int64 {
	var n int
	for k, vs := range h {
		n += len(k)
		for _, v := range vs {
			n += len(v)
		}
	}
	return int64(n)
}

// cappedBuffer keeps the first limit bytes written to it; past the limit it
// keeps nothing and says so. It is safe for concurrent use, because a
// request body is read by the transport's own goroutine.
type cappedBuffer struct {
	mu    sync.Mutex
	buf   []byte
	limit int64
	over  bool
	eof   bool
}

func (b *cappedBuffer) write(p []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.over {
		return
	}
	if int64(len(b.buf)+len(p)) > b.limit {
		b.over, b.buf = true, nil
		return
	}
	b.buf = append(b.buf, p...)
}

func (b *cappedBuffer) bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf
}

// complete reports whether the whole body was read and kept.
func (b *cappedBuffer) complete() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.eof && !b.over
}

// teeBody copies what is read from a request body into a cappedBuffer.
type teeBody struct {
	io.ReadCloser
	buf *cappedBuffer
}

func (t *teeBody) Read(p []byte) (int, error) {
	n, err := t.ReadCloser.Read(p)
	t.buf.write(p[:n])
	if err == io.EOF {
		t.buf.mu.Lock()
		t.buf.eof = true
		t.buf.mu.Unlock()
	}
	return n, err
}
