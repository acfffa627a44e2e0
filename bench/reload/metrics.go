package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// reloads reads strangler_config_reloads_total from the admin listener:
// successful and failed reloads so far.
func reloads(ctx context.Context, admin string) (ok, fail float64, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, admin+"/metrics", nil)
	if err != nil {
		return 0, 0, fmt.Errorf("metrics: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, fmt.Errorf("metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, 0, fmt.Errorf("metrics: status %d", resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		name, value, found := strings.Cut(line, " ")
		if !found || !strings.HasPrefix(name, "strangler_config_reloads_total{") {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return 0, 0, fmt.Errorf("metrics: %q: %w", line, err)
		}
		switch {
		case strings.Contains(name, `result="success"`):
			ok = v
		case strings.Contains(name, `result="failure"`):
			fail = v
		}
	}
	if err := sc.Err(); err != nil {
		return 0, 0, fmt.Errorf("metrics: %w", err)
	}
	return ok, fail, nil
}

// waitReloads polls the reload counters for at most 5 s until want
// reloads succeeded, and returns the last counts.
func waitReloads(ctx context.Context, admin string, want float64) (ok, fail float64, err error) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		ok, fail, err = reloads(ctx, admin)
		if err != nil || ok >= want || time.Now().After(deadline) {
			return ok, fail, err
		}
		select {
		case <-ctx.Done():
			return ok, fail, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
