// Package benchkit runs the pieces the checks under bench/ share: it builds
// the strangler binary, starts it as a child process on loopback with a
// routes.yaml it writes, starts a loopback backend, reads a process's
// memory from /proc, and stops everything it started. It is used only by
// the programs under bench/ and, outside its tests, must not import the
// proxy's own packages (internal/...): the checks treat strangler as a
// black box, exactly as a user runs it. Its tests use the routes.yaml
// loader to prove that the config it writes is one strangler accepts.
package benchkit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// Strangler is a running strangler child process.
type Strangler struct {
	// URL is the proxy listener, http://127.0.0.1:PORT.
	URL string
	// AdminURL is the admin listener, http://127.0.0.1:PORT.
	AdminURL string
	// Pid is the process id, for /proc.
	Pid int

	cmd    *exec.Cmd
	stderr *lockedBuffer
	done   chan struct{}
	once   sync.Once
}

// Build compiles ./cmd/strangler of the module that holds the working
// directory into dir and returns the binary's path.
func Build(ctx context.Context, dir string) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "strangler")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, "./cmd/strangler")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/strangler: %w\n%s", err, out)
	}
	return bin, nil
}

// moduleRoot walks up from the working directory to the directory that
// holds go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("working directory: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory: run from the repository")
		}
		dir = parent
	}
}

// Start runs bin serve with config on free loopback ports and waits (at
// most 15 s) until the proxy answers path with 200. extraEnv is added to
// the environment (GOMAXPROCS, for example).
func Start(ctx context.Context, bin, config, path string, extraEnv ...string) (*Strangler, error) {
	listen, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	admin, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	s := &Strangler{URL: "http://" + listen, AdminURL: "http://" + admin, stderr: &lockedBuffer{}, done: make(chan struct{})}
	s.cmd = exec.Command(bin, "serve", "--config", config, "--listen", listen, "--admin", admin, "--log-level", "warn")
	s.cmd.Env = append(os.Environ(), extraEnv...)
	s.cmd.Stderr = s.stderr
	s.cmd.Stdout = s.stderr
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	s.Pid = s.cmd.Process.Pid
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	if err := s.waitReady(ctx, path); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// waitReady polls the proxy until path answers 200, the process exits, or
// 15 s pass.
func (s *Strangler) waitReady(ctx context.Context, path string) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := client.Get(s.URL + path)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.done:
			return fmt.Errorf("strangler exited during startup:\n%s", s.stderr.String())
		case <-ctx.Done():
			return fmt.Errorf("strangler not ready on %s%s: %w\n%s", s.URL, path, ctx.Err(), s.stderr.String())
		case <-tick.C:
		}
	}
}

// Stop sends SIGTERM to the process group, waits up to 10 s, then kills
// it. It is safe to call more than once.
func (s *Strangler) Stop() {
	s.once.Do(func() {
		_ = syscall.Kill(-s.Pid, syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-s.Pid, syscall.SIGKILL)
			<-s.done
		}
	})
}

// Log returns what the process wrote to stderr and stdout so far.
func (s *Strangler) Log() string { return s.stderr.String() }

// FreeAddr returns a loopback address with a port that was free a moment
// ago.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// lockedBuffer collects a child's output; the child writes while the
// parent may read.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
