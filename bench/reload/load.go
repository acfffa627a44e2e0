package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
)

// samples are the latencies and errors of some requests.
type samples struct {
	lat      []time.Duration
	errors   int
	firstErr error
}

func (s *samples) merge(o samples) {
	s.lat = append(s.lat, o.lat...)
	s.errors += o.errors
	if s.firstErr == nil {
		s.firstErr = o.firstErr
	}
}

// quantile returns the q-quantile (0..1) of the latencies, 0 when none.
func (s samples) quantile(q float64) time.Duration {
	if len(s.lat) == 0 {
		return 0
	}
	l := slices.Clone(s.lat)
	slices.Sort(l)
	return l[min(len(l)-1, int(q*float64(len(l))))]
}

func (s samples) p99() time.Duration { return s.quantile(0.99) }

// phaseResult is what one phase of load measured.
type phaseResult struct {
	samples
	elapsed  time.Duration
	writeErr error
}

// load runs conns closed-loop clients against base for d, each on its own
// keep-alive connection, with a different X-Customer-ID per request so
// the sticky split sends requests both ways. When tick is non-nil it is
// called once a second meanwhile.
func load(ctx context.Context, base string, conns int, d time.Duration, tick func() error) phaseResult {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	parts := make([]samples, conns)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			parts[w] = worker(ctx, client, base, w)
		}()
	}
	var res phaseResult
	if tick != nil {
		t := time.NewTicker(time.Second)
	ticks:
		for {
			select {
			case <-ctx.Done():
				break ticks
			case <-t.C:
				if err := tick(); err != nil && res.writeErr == nil {
					res.writeErr = err
				}
			}
		}
		t.Stop()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	for _, p := range parts {
		res.merge(p)
	}
	return res
}

// worker sends requests until ctx ends. A request cut off by the end of
// the phase is not counted.
func worker(ctx context.Context, client *http.Client, base string, w int) samples {
	var s samples
	for i := 0; ctx.Err() == nil; i++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/", nil)
		if err != nil {
			s.fail(err)
			return s
		}
		req.Header.Set("X-Customer-ID", strconv.Itoa(w*1_000_000+i))
		t0 := time.Now()
		resp, err := client.Do(req)
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err == nil && resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
		}
		if ctx.Err() != nil {
			break
		}
		if err != nil {
			s.fail(err)
			continue
		}
		s.lat = append(s.lat, time.Since(t0))
	}
	return s
}

func (s *samples) fail(err error) {
	s.errors++
	if s.firstErr == nil {
		s.firstErr = err
	}
}
