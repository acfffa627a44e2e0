// Command strangler is a reverse proxy for strangler-fig migrations: it sits
// in front of a legacy application and moves URL path prefixes, step by
// step, to newly extracted services as routes.yaml says.
//
// Usage:
//
//	strangler serve    [--config FILE] [--listen ADDR] [--admin ADDR]
//	strangler validate FILE
//	strangler demo     [--listen ADDR] [--admin ADDR]
//	strangler version
//
// The command imports the bundled shop (legacy-monolith and
// extracted-services) for the demo only, and must not import test-only
// packages (faultstest, shoptest, stacktest) or anything under bench/.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the command ran and failed
	exitUsage = 2 // the command line was wrong
)

const usage = `strangler moves traffic from a legacy application to extracted services,
one URL path prefix at a time, as routes.yaml says.

Usage:
  strangler <command> [flags]

Commands:
  serve      run the proxy in front of the legacy application
  validate   check a routes.yaml and print every problem with its line
  demo       run the bundled shop, its extracted services and the proxy
  version    print the version

Run "strangler <command> --help" for the flags of a command.
`

// run executes one command line and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], stdout, stderr)
	case "validate":
		return runValidate(args[1:], stdout, stderr)
	case "demo":
		return runDemo(ctx, args[1:], stdout, stderr)
	case "version":
		return runVersion(args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "strangler: unknown command %q\n\n%s", args[0], usage)
		return exitUsage
	}
}
