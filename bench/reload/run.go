package main

import (
	"context"
	"fmt"
	"time"

	"github.com/strangler-proxy/strangler/bench/internal/benchkit"
)

// run starts the rig and alternates phases without and with reloads,
// pairs times, then reports and judges.
func run(ctx context.Context, pairs int, phase time.Duration, conns int) error {
	routes := benchkit.Routes{Timeout: "5s", Weight: 50}
	rig, err := benchkit.NewRig(ctx, routes)
	if err != nil {
		return err
	}
	defer rig.Close()
	routes.Backend = rig.Backend.URL
	okBefore, failBefore, err := reloads(ctx, rig.Strangler.AdminURL)
	if err != nil {
		return err
	}
	sys0, err := benchkit.ReadSyscalls(rig.Strangler.Pid)
	if err != nil {
		return err
	}
	var quiet, busy result
	writes := 0
	for i := range pairs {
		quiet.add(load(ctx, rig.Strangler.URL, conns, phase, nil))
		before := writes
		busy.add(load(ctx, rig.Strangler.URL, conns, phase, func() error {
			// Every rewrite changes the file (75, 25, 75, ... across
			// phases too), so every one must become a reload.
			writes++
			routes.Weight = 25 + 50*(writes%2)
			return routes.Write(rig.Config)
		}))
		n := writes - before
		if err := ctx.Err(); err != nil {
			return err
		}
		fmt.Printf("pair %d/%d: without reloads p99 %.2fms, with reloads p99 %.2fms (%d rewrites)\n",
			i+1, pairs, ms(quiet.last.p99()), ms(busy.last.p99()), n)
	}
	sys1, err := benchkit.ReadSyscalls(rig.Strangler.Pid)
	if err != nil {
		return err
	}
	if busy.writeErr != nil {
		return busy.writeErr
	}
	// The last rewrite needs the watcher's debounce to be applied; wait
	// (bounded) until every rewrite has been seen as a reload.
	ok, fail, err := waitReloads(ctx, rig.Strangler.AdminURL, okBefore+float64(writes))
	if err != nil {
		return err
	}
	ok -= okBefore
	fail -= failBefore

	ratio := busy.all.p99().Seconds() / quiet.all.p99().Seconds()
	fmt.Printf("%-16s %9s %8s %8s %8s %7s\n", "", "requests", "req/s", "p50 ms", "p99 ms", "errors")
	for _, r := range []struct {
		name string
		res  *result
	}{{"without reloads", &quiet}, {"with reloads", &busy}} {
		s := r.res.all
		fmt.Printf("%-16s %9d %8.0f %8.2f %8.2f %7d\n", r.name, len(s.lat), float64(len(s.lat))/r.res.elapsed.Seconds(),
			ms(s.quantile(0.50)), ms(s.p99()), s.errors)
	}
	if n := float64(len(quiet.all.lat) + len(busy.all.lat)); n > 0 {
		fmt.Printf("strangler's system calls per request: %.2f reads, %.2f writes (from /proc/PID/io)\n",
			float64(sys1.Reads-sys0.Reads)/n, float64(sys1.Writes-sys0.Writes)/n)
	}
	fmt.Printf("routes.yaml rewritten %d times; reloads: %.0f succeeded, %.0f failed\n", writes, ok, fail)
	fmt.Printf("p99 with reloads / without: %.2f (target <= %.1f)\n", ratio, p99Limit)
	switch {
	case quiet.all.errors+busy.all.errors > 0:
		return fmt.Errorf("%d requests failed (first: %v)", quiet.all.errors+busy.all.errors, firstErr(quiet.all, busy.all))
	case fail > 0 || ok < float64(writes):
		return fmt.Errorf("%d rewrites gave %.0f successful and %.0f failed reloads; strangler's log:\n%s", writes, ok, fail, rig.Strangler.Log())
	case ratio > p99Limit:
		return fmt.Errorf("p99 with reloads is %.2fx p99 without, over %.1fx", ratio, p99Limit)
	}
	fmt.Println("reload: PASS")
	return nil
}

// result accumulates the phases of one kind.
type result struct {
	all, last samples
	elapsed   time.Duration
	writeErr  error
}

func (r *result) add(p phaseResult) {
	r.last = p.samples
	r.all.merge(p.samples)
	r.elapsed += p.elapsed
	if r.writeErr == nil {
		r.writeErr = p.writeErr
	}
}

func firstErr(s ...samples) error {
	for _, x := range s {
		if x.firstErr != nil {
			return x.firstErr
		}
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
