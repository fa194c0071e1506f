package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/wardsec/ward/watch"
	"github.com/wardsec/ward/watch/identity"
	"github.com/wardsec/ward/watch/webhook"
	"golang.org/x/term"
	"io"
	"io/fs"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/watch/event"
	"github.com/wardsec/ward/watch/kernel"
)

// watchHostFlags are ward watch's inputs on a host: the kernel's
// connection tracking and ward fw's logged drops, and the containers
// (identities) as ward fw reads them.
type watchHostFlags struct {
	conntrack  bool
	updates    bool
	nflog      int
	netns      string
	inventory  string
	docker     bool
	dockerHost string
}

func (k *watchHostFlags) register(f *pflag.FlagSet) {
	f.BoolVar(&k.conntrack, "conntrack", false, "read the connections the kernel's connection tracking sees (root; keeps tracking on with a table of its own while it runs)")
	f.BoolVar(&k.updates, "conntrack-updates", false, "with --conntrack, also read connection state changes")
	f.IntVar(&k.nflog, "nflog", 0, "read the drops 'ward fw --log-group N' logs to nflog group N (root)")
	f.StringVar(&k.netns, "netns", "", "read --conntrack and --nflog in this network namespace (a name under /run/netns or a path)")
	f.StringVar(&k.inventory, "inventory", "", "the host's containers, as ward fw reads them (identities; --manifests then gives the policies)")
	f.BoolVar(&k.docker, "docker", false, "read the host's containers from the Docker Engine (identities; --manifests then gives the policies)")
	f.StringVar(&k.dockerHost, "docker-host", "", "Docker Engine address (default: $DOCKER_HOST or unix:///var/run/docker.sock)")
}

// live reports whether a source runs until interrupted.
func (k *watchHostFlags) live() bool { return k.conntrack || k.nflog != 0 }

// containers reports whether identities come from a host's containers.
func (k *watchHostFlags) containers() bool { return k.docker || k.inventory != "" }

// sources opens the namespace and returns the kernel sources; done
// closes the namespace file.
func (k *watchHostFlags) sources() (srcs []event.Source, done func(), err error) {
	done = func() {}
	if !k.live() {
		if k.netns != "" {
			return nil, done, errors.New("--netns applies to --conntrack and --nflog")
		}
		return nil, done, nil
	}
	if k.nflog < 0 || k.nflog > 65535 {
		return nil, done, fmt.Errorf("--nflog %d: want a group 1-65535", k.nflog)
	}
	fd := 0
	if k.netns != "" {
		path := k.netns
		if !strings.ContainsRune(path, '/') {
			path = filepath.Join("/run/netns", path)
		}
		f, err := os.Open(path) // #nosec G304 -- a namespace the operator names
		if err != nil {
			return nil, done, fmt.Errorf("--netns: %w", err)
		}
		done = func() { _ = f.Close() }
		fd = int(f.Fd()) // #nosec G115 -- a file descriptor fits an int
	}
	node, _ := os.Hostname()
	if k.conntrack {
		srcs = append(srcs, &kernel.Conntrack{NetNS: fd, Node: node, Updates: k.updates})
	}
	if k.nflog != 0 {
		srcs = append(srcs, &kernel.NFLog{NetNS: fd, Node: node, Group: uint16(k.nflog)}) // #nosec G115 -- checked above
	}
	return srcs, done, nil
}

// model returns the policies of paths applied to the host's containers,
// as ward fw models them: workloads with the containers' addresses, which
// give the identities.
//
// subnets are the host's networks: an address there that no container
// holds is an unknown container, not the internet.
func (k *watchHostFlags) model(ctx context.Context, e *env, paths []string) (set *manifest.Set, subnets []netip.Prefix, err error) {
	f := &fwFlags{inventory: k.inventory, docker: k.docker, dockerHost: k.dockerHost}
	inv, err := f.loadInventory(ctx, e)
	if err != nil {
		return nil, nil, err
	}
	var policies *manifest.Set
	if len(paths) > 0 {
		if policies, err = e.load(paths); err != nil {
			return nil, nil, err
		}
	}
	if set, err = inv.Set(policies); err != nil {
		return nil, nil, fail(ExitError, err)
	}
	for _, n := range inv.Networks {
		subnets = append(subnets, n.Subnets...)
	}
	return set, subnets, nil
}

// webhookSender starts the --webhook sender (nil without the flag). The
// secret comes from a file and the Authorization header from the
// environment: neither may sit in the command line, which ps shows.
func webhookSender(url, secretFile string, onError func(error)) (*webhook.Sender, error) {
	if url == "" {
		if secretFile != "" {
			return nil, errors.New("--webhook-secret needs --webhook")
		}
		return nil, nil
	}
	cfg := webhook.Config{URL: url, OnError: onError}
	if secretFile != "" {
		b, err := os.ReadFile(secretFile) // #nosec G304 -- a file the operator names
		if err != nil {
			return nil, fmt.Errorf("--webhook-secret: %w", err)
		}
		if cfg.Secret = bytes.TrimSpace(b); len(cfg.Secret) == 0 {
			return nil, fmt.Errorf("--webhook-secret %s: empty", secretFile)
		}
	}
	if a := os.Getenv("WARD_WEBHOOK_AUTHORIZATION"); a != "" {
		cfg.Header = http.Header{"Authorization": {a}}
	}
	return webhook.New(cfg)
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd())) // #nosec G115 -- a file descriptor fits an int
}

// follow reads the host's containers (and the policies) again while
// ward watch runs, until ctx ends: with --docker after the Docker
// Engine's container and network events, with --inventory when the file
// or a policy file changes. Each change is handed to the pipeline from
// the time it happened; a failed read keeps the previous identities, with
// a warning.
func (k *watchHostFlags) follow(ctx context.Context, e *env, policies []string, cluster []netip.Prefix, p *watch.Pipeline) {
	triggers := make(chan trigger, 64)
	send := func(t trigger) {
		select {
		case triggers <- t:
		default: // a reload is pending anyway
		}
	}
	if k.docker {
		go func() { _ = watchDocker(ctx, e, k.dockerHost, &deaths{}, send) }()
	} else {
		go watchFiles(ctx, append([]string{k.inventory}, policies...), time.Second, send)
	}
	const debounce = 300 * time.Millisecond
	for {
		var t trigger
		select {
		case <-ctx.Done():
			return
		case t = <-triggers:
		}
		at := t.at
		if at.IsZero() {
			at = time.Now()
		}
		// Let a burst of events settle into one reload.
		timer := time.NewTimer(debounce)
	drain:
		for {
			select {
			case <-ctx.Done():
				timer.Stop()
				return
			case t2 := <-triggers:
				if !t2.at.IsZero() && t2.at.Before(at) {
					at = t2.at
				}
			case <-timer.C:
				break drain
			}
		}
		set, subnets, err := k.model(ctx, e, policies)
		if err != nil {
			e.log.Warn("ward watch: inventory not read again; identities unchanged", "trigger", t.reason, "err", err)
			continue
		}
		eng, err := e.compile(set)
		if err != nil {
			e.log.Warn("ward watch: inventory not compiled; identities unchanged", "trigger", t.reason, "err", err)
			continue
		}
		p.Reload(at, identity.FromManifests(set, append(slices.Clone(cluster), subnets...)...), eng)
		e.log.Info("ward watch: identities read again", "trigger", t.reason, "workloads", len(set.Workloads))
	}
}

// watchFiles sends a trigger when the regular files under paths change
// (name, size or modification time), once two looks every apart agree,
// so that a file written in steps is read whole. It stops with ctx.
func watchFiles(ctx context.Context, paths []string, every time.Duration, send func(trigger)) {
	sig := func() string {
		var b strings.Builder
		for _, root := range paths {
			_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					fmt.Fprintf(&b, "%s: %v\n", p, err)
					return nil
				}
				if d.Type().IsRegular() {
					if fi, err := d.Info(); err == nil {
						fmt.Fprintf(&b, "%s %d %d\n", p, fi.Size(), fi.ModTime().UnixNano())
					}
				}
				return nil
			})
		}
		return b.String()
	}
	last := sig()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := sig()
		if now == last {
			continue
		}
		// Changed: wait until it stays the same for one look.
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			again := sig()
			if again == now {
				break
			}
			now = again
		}
		last = now
		send(trigger{reason: "a file changed"})
	}
}
