package main

// The demo's --NAME-port flags: each moves a bundled app off the port its
// upstream's url has in routes.yaml. The proxy then serves a copy of the
// user's routes.yaml with those urls rewritten, kept in step with every
// save of the user's file.

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/strangler-proxy/strangler/internal/proxy"
	"github.com/strangler-proxy/strangler/internal/routing"
	"gopkg.in/yaml.v3"
)

// demoPorts are the --NAME-port flags of the demo: by app name, the port it
// listens on, 0 for the port of its upstream's url in routes.yaml.
type demoPorts map[string]int

// registerDemoPorts adds one --NAME-port flag per bundled app to fs.
func registerDemoPorts(fs *flag.FlagSet) demoPorts {
	ports := demoPorts{}
	for _, name := range demoApps {
		fs.Func(name+"-port", fmt.Sprintf("port of the %s app on 127.0.0.1, overriding the url of upstream %q in routes.yaml (default: that url's port)", name, name),
			func(v string) error {
				p, err := strconv.Atoi(v)
				if err != nil {
					return fmt.Errorf("not a port number: %w", err)
				}
				ports[name] = p
				return nil
			})
	}
	return ports
}

// check refuses a port out of range, naming its flag.
func (p demoPorts) check() error {
	for _, name := range demoApps {
		if port := p[name]; port < 0 || port > 65535 {
			return fmt.Errorf("--%s-port %d: want 1 to 65535 (0: the port in routes.yaml)", name, port)
		}
	}
	return nil
}

// given reports whether a port flag was given.
func (p demoPorts) given() bool {
	for _, port := range p {
		if port != 0 {
			return true
		}
	}
	return false
}

// startPortCopy points o.config at a copy of the user's routes.yaml (the
// o.config it is given) with the port flags applied, in a new temporary
// directory, and o.configName at the user's file, which status, errors and
// logs name. The copy is written again every time the user's file changes,
// so edits still apply within a second, and it keeps the file's lines, so
// errors name the same lines. A flagged upstream whose url the copy could
// not move to the flag's port (see checkDemoPorts) is a *portFlagError at
// start; on a later save the previous copy is kept and the save is
// refused as a file that does not load is (proxy.Reloader.Refuse): logged,
// counted and shown on /api/status and the dashboard. stop ends the
// watching and removes the directory.
func startPortCopy(ctx context.Context, o *proxyOptions, ports demoPorts, log *slog.Logger) (stop func(), err error) {
	userConfig := o.config
	dir, err := os.MkdirTemp("", "strangler-demo-")
	if err != nil {
		return nil, fmt.Errorf("port flags: %w", err)
	}
	copied := filepath.Join(dir, filepath.Base(userConfig))
	if err := writeDemoConfig(userConfig, copied, ports); err != nil {
		os.RemoveAll(dir)
		if _, ok := errors.AsType[*portFlagError](err); ok {
			return nil, err
		}
		return nil, fmt.Errorf("%w\n(run the demo from the repository root, or pass --config)", err)
	}
	o.config, o.configName = copied, userConfig
	var reloader atomic.Pointer[proxy.Reloader]
	o.onReloader = reloader.Store
	wctx, cancel := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		refused := false // the last save was refused with Refuse
		err := routing.Watch(wctx, userConfig, o.debounce, log, func() {
			err := writeDemoConfig(userConfig, copied, ports)
			r := reloader.Load()
			if err == nil && refused && r != nil {
				// The copy may not have changed (a save back to what
				// it holds), so its watcher may not fire: Resume
				// reloads it regardless.
				refused = false
				_ = r.Resume() // a failure is logged and shown by r
			}
			if err != nil {
				if _, ok := errors.AsType[*portFlagError](err); ok {
					if r != nil {
						r.Refuse(err)
						refused = true
						return
					}
					log.Error("demo: this save of routes.yaml is not applied; the proxy keeps the previous version", "error", err)
					return
				}
				log.Error("demo: copying routes.yaml with the port flags applied", "error", err)
			}
		})
		if err != nil {
			log.Error("demo: cannot watch routes.yaml", "config", userConfig, "error", err)
		}
	}()
	log.Info("demo: port flags applied; the proxy serves a copy of routes.yaml, rewritten on every save",
		"config", userConfig, "copy", copied)
	return func() {
		cancel()
		<-watched
		os.RemoveAll(dir)
	}, nil
}

// writeDemoConfig writes the routes.yaml at from to the path to, with the
// url of every upstream named in ports moved to that port, replacing to
// atomically (the proxy watching it never reads half a file). A file that
// does not parse is copied as it is, and one that does not load is copied
// too, for the proxy to report. When the copy loads but a flagged
// upstream's address is not on the flag's port (checkDemoPorts), it returns
// a *portFlagError and leaves to as it was: served, that copy would send
// the upstream's traffic to the file's port, where the app does not listen
// (and something else may).
func writeDemoConfig(from, to string, ports demoPorts) error {
	user, err := os.ReadFile(from)
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	data := withPorts(user, ports)
	if err := checkDemoPorts(from, user, data, ports); err != nil {
		return err
	}
	if old, err := os.ReadFile(to); err == nil && bytes.Equal(old, data) {
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(to), ".routes-*.yaml")
	if err != nil {
		return fmt.Errorf("write config copy: %w", err)
	}
	_, werr := tmp.Write(data)
	if err := errors.Join(werr, tmp.Close()); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write config copy: %w", err)
	}
	if err := os.Rename(tmp.Name(), to); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write config copy: %w", err)
	}
	return nil
}

// withPorts returns routes.yaml's text with the port of upstreams.NAME.url
// replaced for every NAME in ports with a non-zero port. Only the url's
// text changes, so every line keeps its number. Text that does not parse,
// and upstreams without a url, are left alone.
func withPorts(data []byte, ports demoPorts) []byte {
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil || len(root.Content) == 0 {
		return data
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	for name, port := range ports {
		if port == 0 {
			continue
		}
		n := mappingValue(mappingValue(mappingValue(root.Content[0], "upstreams"), name), "url")
		if n == nil || n.Kind != yaml.ScalarNode || n.Line < 1 || n.Line > len(lines) {
			continue
		}
		u, err := url.Parse(n.Value)
		if err != nil || u.Host == "" {
			continue
		}
		u.Host = net.JoinHostPort(u.Hostname(), strconv.Itoa(port))
		line, start := lines[n.Line-1], n.Column-1
		if start < 0 || start >= len(line) {
			continue
		}
		end := start
		switch q := line[start]; q {
		case '"', '\'':
			i := bytes.IndexByte(line[start+1:], q)
			if i < 0 {
				continue
			}
			end = start + 1 + i + 1
		default:
			for end < len(line) && !bytes.ContainsRune([]byte(" \t\r\n,}]#"), rune(line[end])) {
				end++
			}
		}
		if string(line[start:end]) != n.Value && strings.Trim(string(line[start:end]), `"'`) != n.Value {
			continue // not where the parser said: leave the line alone
		}
		lines[n.Line-1] = slices.Concat(line[:start], []byte(strconv.Quote(u.String())), line[end:])
	}
	return bytes.Join(lines, nil)
}

// portFlagError is a --NAME-port flag the demo cannot apply: runDemo exits
// with exitUsage, as for the other flag errors.
type portFlagError struct{ err error }

func (e *portFlagError) Error() string { return e.err.Error() }
func (e *portFlagError) Unwrap() error { return e.err }

// checkDemoPorts loads copied, routes.yaml's text with the port flags applied
// by withPorts, and checks that every upstream named in ports with a
// non-zero port has its address on that port. withPorts rewrites only a
// url: written as a one-line plain or quoted scalar; a url given by an
// alias, a block scalar, several lines or a merge key, and an upstream
// with targets: instead of url:, keep the file's port, and the proxy would
// send that upstream's traffic where the flag says the port is taken. Each
// such upstream is named with the form that could not be rewritten, in one
// *portFlagError. A copied text that does not load gives nil: the loader
// reports it, with the file's lines. name is the user's file, for
// messages; user is its text.
func checkDemoPorts(name string, user, copied []byte, ports demoPorts) error {
	cfg, err := routing.Load(name, copied)
	if err != nil {
		return nil
	}
	var errs []error
	for _, app := range demoApps {
		port := ports[app]
		if port == 0 {
			continue
		}
		u := cfg.Upstreams[app]
		if u == nil {
			continue // the demo reports the missing upstream
		}
		if pu, err := url.Parse(u.URL); u.URL != "" && err == nil && pu.Port() == strconv.Itoa(port) {
			continue
		}
		errs = append(errs, fmt.Errorf("--%[1]s-port %[2]d: cannot move upstream %[1]q of %[3]s to port %[2]d: %[4]s; "+
			"the flag rewrites only a url: written on one line (plain or quoted): write it so, or change the port in the file and drop the flag",
			app, port, name, unrewritableForm(user, app, u)))
	}
	if len(errs) == 0 {
		return nil
	}
	return &portFlagError{errors.Join(errs...)}
}

// unrewritableForm says why withPorts could not move the url of upstream
// name in routes.yaml's text data; u is that upstream as loaded.
func unrewritableForm(data []byte, name string, u *routing.UpstreamConfig) string {
	if u.URL == "" {
		return "it uses targets: instead of url:"
	}
	if pu, err := url.Parse(u.URL); err != nil || pu.Host == "" {
		return fmt.Sprintf("its url %q has no host:port to rewrite", u.URL)
	}
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil || len(root.Content) == 0 {
		return "its url could not be found in the file"
	}
	n := root.Content[0]
	for _, key := range []string{"upstreams", name, "url"} {
		if n.Kind == yaml.AliasNode {
			return fmt.Sprintf("its url comes through the alias *%s", n.Value)
		}
		if n = mappingValue(n, key); n == nil {
			return "its url: is not written under it (a merge key <<?)"
		}
	}
	switch {
	case n.Kind == yaml.AliasNode:
		return fmt.Sprintf("its url is the alias *%s", n.Value)
	case n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		return "its url is a block scalar (| or >)"
	default:
		return "its url spans several lines"
	}
}

// mappingValue returns the value under key in the mapping n, or nil.
func mappingValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// loopbackHost returns host:port of a URL that points at this machine; the
// demo starts its apps only on loopback.
func loopbackHost(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("parse url: %w", err)
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", errors.New("the demo runs its apps on this machine only: use a 127.0.0.1 URL")
	}
	if u.Port() == "" {
		return "", errors.New("the demo needs an explicit port in the url")
	}
	return u.Host, nil
}
