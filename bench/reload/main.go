// Command reload checks that reloading routes.yaml once a second under load
// costs nothing visible: it drives the built strangler (in front of a
// loopback backend it starts) with a bounded closed-loop load, in
// alternating phases without and with a rewrite of routes.yaml every
// second (the split weight alternating), and compares errors and p99.
//
//	go run ./bench/reload                          # 3 pairs of 5 s phases
//	go run ./bench/reload -phases 2 -phase 10s -conns 32
//
// It exits 1 when a request failed, a reload failed or did not happen, or
// p99 with reloads is over 1.5x p99 without. Everything it starts is
// stopped before it exits. It uses bench/internal/benchkit only, never the
// proxy's packages.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/strangler-proxy/strangler/bench/internal/benchkit"
)

// p99Limit is the target: p99 with reloads at most this times p99 without.
const p99Limit = 1.5

func main() {
	fs := flag.NewFlagSet("reload", flag.ExitOnError)
	pairs := fs.Int("phases", 3, "pairs of phases (one without reloads, one with)")
	phase := fs.Duration("phase", 5*time.Second, "length of one phase")
	conns := fs.Int("conns", 32, "concurrent keep-alive client connections")
	_ = fs.Parse(os.Args[1:])
	if *pairs < 1 || *phase < time.Second || *conns < 1 {
		fmt.Fprintln(os.Stderr, "reload: -phases >= 1, -phase >= 1s, -conns >= 1")
		os.Exit(2)
	}
	limit := time.Duration(2**pairs)**phase + 2*time.Minute
	benchkit.Main("reload", limit, func(ctx context.Context) error {
		return run(ctx, *pairs, *phase, *conns)
	})
}
