package cli

import (
	"context"
	"fmt"

	"github.com/wardsec/ward/dockerinv"
	"github.com/wardsec/ward/firewall"
)

// dockerInventory reads the host's containers and networks from the
// Docker Engine at host ("" for the default), logging the containers it
// leaves out and why. With quarantine, a container Ward cannot classify
// is quarantined (dockerinv.Client.Quarantine) instead of an error.
func dockerInventory(ctx context.Context, e *env, host string, quarantine bool) (*firewall.Inventory, error) {
	c, err := dockerinv.New(host)
	if err != nil {
		return nil, err
	}
	defer func() { _ = c.Close() }()
	c.Quarantine = quarantine
	c.OnSkip = func(s dockerinv.Skipped) { e.log.Info("container left out", "container", s.String()) }
	c.OnUnbound = func(s dockerinv.Skipped) {
		e.log.Warn("bridge ports unknown: the container's addresses are not bound to them (no anti-spoofing)", "container", s.String())
	}
	c.OnUnmanaged = func(u dockerinv.Unmanaged) {
		e.log.Warn("container reachable past every policy on networks Ward does not manage", "container", u.String())
	}
	c.OnUnknownPort = func(u dockerinv.UnknownPort) {
		// Each sync reports how many (fwrun); a new container's port is
		// one until the sync after its start.
		e.log.Debug("bridge port of no classified container: closed (bound to no address)", "port", u.String())
	}
	c.OnUserlandProxy = func(n dockerinv.ProxyNote) {
		if n.Proxy != nil {
			e.log.Info("published ports: docker-proxy's onward connections are admitted; their clients are judged at the input hook", "proxy", n.String())
			return
		}
		e.log.Warn("published ports: docker-proxy's onward connections are judged as the gateway's (fail closed): a container's ingress must admit the gateway for clients to reach it through the host", "proxy", n.String())
	}
	inv, err := c.Inventory(ctx)
	if err != nil {
		return nil, fmt.Errorf("docker inventory: %w", err)
	}
	return inv, nil
}

// watchDocker turns the Docker Engine's container and network events into
// triggers until ctx ends. A container's start carries its time, from
// which the unclassified window is measured; its die is told to gone
// first, with its time, from which the stale window is.
func watchDocker(ctx context.Context, e *env, host string, gone *deaths, send func(trigger)) error {
	c, err := dockerinv.New(host)
	if err != nil {
		return err
	}
	defer func() { _ = c.Close() }()
	return c.Watch(ctx, func(ev dockerinv.Event) {
		switch ev.Kind {
		case dockerinv.StreamError:
			e.log.Warn("docker events", "err", ev.Err, "retry in", ev.Retry)
		case dockerinv.Start:
			send(trigger{reason: "docker " + ev.String(), at: ev.Time})
		case dockerinv.Die:
			// The container's addresses are free from now on (a
			// destroy follows a die: it frees nothing more).
			gone.add(ev.Time)
			send(trigger{reason: "docker " + ev.String()})
		case dockerinv.Resync:
			send(trigger{reason: ev.String()})
		default:
			send(trigger{reason: "docker " + ev.String()})
		}
	})
}
