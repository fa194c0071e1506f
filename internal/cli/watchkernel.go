package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/wardsec/ward/watch/webhook"
	"net/http"
	"os"
	"path/filepath"
	"strings"

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
	f.IntVar(&k.nflog, "nflog", 0, "read the drops `ward fw --log-group N` logs to nflog group N (root)")
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
func (k *watchHostFlags) model(ctx context.Context, e *env, paths []string) (*manifest.Set, error) {
	f := &fwFlags{inventory: k.inventory, docker: k.docker, dockerHost: k.dockerHost}
	inv, err := f.loadInventory(ctx, e)
	if err != nil {
		return nil, err
	}
	var policies *manifest.Set
	if len(paths) > 0 {
		if policies, err = e.load(paths); err != nil {
			return nil, err
		}
	}
	set, err := inv.Set(policies)
	if err != nil {
		return nil, fail(ExitError, err)
	}
	return set, nil
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
