// Command memory checks strangler's memory against the targets of the
// performance work, on loopback, with the built binary in front of a
// backend it starts itself:
//
//	go run ./bench/memory stream   # 1 GiB up and 1 GiB down: peak RSS under 64 MiB
//	go run ./bench/memory idle     # 10,000 idle keep-alive clients: RSS under 256 MiB
//
// Each prints its figures and exits 1 when the limit is exceeded or the
// check could not run, 0 otherwise. Everything it starts is stopped before
// it exits; each run is bounded in time. It uses bench/internal/benchkit
// only, never the proxy's packages.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/strangler-proxy/strangler/bench/internal/benchkit"
)

func main() {
	fs := flag.NewFlagSet("memory", flag.ExitOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: memory stream|idle [flags]\n")
		fs.PrintDefaults()
	}
	size := fs.Int64("bytes", 1<<30, "stream: bytes sent in each direction")
	conns := fs.Int("conns", 10000, "idle: client connections to open")
	if len(os.Args) < 2 {
		fs.Usage()
		os.Exit(2)
	}
	mode := os.Args[1]
	_ = fs.Parse(os.Args[2:])
	switch mode {
	case "stream":
		benchkit.Main("memory stream", 5*time.Minute, func(ctx context.Context) error { return stream(ctx, *size) })
	case "idle":
		benchkit.Main("memory idle", 3*time.Minute, func(ctx context.Context) error { return idle(ctx, *conns) })
	default:
		fs.Usage()
		os.Exit(2)
	}
}

// mib formats bytes as MiB.
func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/benchkit.MiB) }

// startRig starts strangler, with the given upstream timeout, in front of
// the benchmark backend, and reads its memory right after start-up.
func startRig(ctx context.Context, timeout string) (*benchkit.Rig, benchkit.Memory, error) {
	rig, err := benchkit.NewRig(ctx, benchkit.Routes{Timeout: timeout, Weight: 50})
	if err != nil {
		return nil, benchkit.Memory{}, err
	}
	before, err := benchkit.ReadMemory(rig.Strangler.Pid)
	if err != nil {
		rig.Close()
		return nil, benchkit.Memory{}, err
	}
	return rig, before, nil
}
