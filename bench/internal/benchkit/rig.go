package benchkit

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// Rig is one check's set-up: a temp dir with the built binary and
// routes.yaml, a backend, and strangler in front of it.
type Rig struct {
	// Config is the routes.yaml strangler serves and watches.
	Config string
	// Backend is the origin both upstreams point at.
	Backend *Backend
	// Strangler is the proxy under test.
	Strangler *Strangler

	dir string
}

// NewRig builds strangler, starts a backend and strangler with routes
// (its Backend is filled in), and waits until the proxy answers. Close
// undoes all of it, also after an error half way.
func NewRig(ctx context.Context, routes Routes, extraEnv ...string) (rig *Rig, err error) {
	dir, err := os.MkdirTemp("", "strangler-check-")
	if err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	rig = &Rig{dir: dir, Config: filepath.Join(dir, "routes.yaml")}
	defer func() {
		if err != nil {
			rig.Close()
			rig = nil
		}
	}()
	bin, err := Build(ctx, dir)
	if err != nil {
		return rig, err
	}
	if rig.Backend, err = StartBackend(); err != nil {
		return rig, err
	}
	routes.Backend = rig.Backend.URL
	if err = routes.Write(rig.Config); err != nil {
		return rig, err
	}
	rig.Strangler, err = Start(ctx, bin, rig.Config, "/", extraEnv...)
	return rig, err
}

// Close stops strangler and the backend and removes the temp dir.
func (r *Rig) Close() {
	if r.Strangler != nil {
		r.Strangler.Stop()
	}
	if r.Backend != nil {
		r.Backend.Close()
	}
	_ = os.RemoveAll(r.dir)
}
