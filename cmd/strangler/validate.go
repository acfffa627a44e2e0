package main

import (
	"fmt"
	"io"

	"github.com/strangler-proxy/strangler/internal/routing"
)

func runValidate(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("validate", "validate FILE\n\nChecks a routes.yaml without starting anything. Exits 0 when the file is\nvalid, 1 with one line per problem (file:line: message) when it is not.", stdout)
	if code := parseFlags(fs, args, stderr); code >= 0 {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "strangler validate: want exactly one FILE")
		return exitUsage
	}
	path := fs.Arg(0)
	cfg, err := routing.LoadFile(path)
	if err == nil {
		_, err = routing.Compile(cfg)
	}
	if err != nil {
		for _, e := range unjoin(err) {
			fmt.Fprintln(stderr, e)
		}
		return exitError
	}
	fmt.Fprintf(stdout, "%s: valid: %d upstreams, %d routes, legacy %q\n", path, len(cfg.Upstreams), len(cfg.Routes), cfg.Legacy)
	return exitOK
}

// unjoin flattens errors.Join trees into their leaves.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unjoin(e)...)
		}
		return out
	}
	return []error{err}
}
