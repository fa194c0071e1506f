package dockerinv

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/portset"
)

// Client reads inventories and events from one Docker Engine. Its methods
// are safe for concurrent use; set OnSkip before using it.
type Client struct {
	api    *client.Client
	source string

	// OnSkip, when set, is called during Inventory for each running
	// container left out of the inventory, with the reason, so that the
	// caller can log it.
	OnSkip func(Skipped)

	// OnUnbound, when set, is called for each container of the inventory
	// whose bridge ports could not be found (a remote daemon, not root),
	// with the reason: its addresses are then not bound to its ports, and
	// it is not protected against spoofing (see firewall.Binding).
	OnUnbound func(Skipped)

	// OnUnmanaged, when set, is called during Inventory for each
	// container of the inventory that also has addresses on networks
	// Ward does not manage (macvlan, ipvlan, overlay, a bridge without
	// subnets): traffic to those addresses never crosses the host's
	// bridge hooks and no policy is enforced on it.
	OnUnmanaged func(Unmanaged)

	// OnUnknownPort, when set, is called for each port of a managed
	// network's bridge that no container of the inventory is bound to
	// (firewall.Inventory.UnknownPorts): its frames are dropped.
	OnUnknownPort func(UnknownPort)

	// Quarantine, when set, makes Inventory quarantine each container
	// whose own data is invalid (a ward.dev/ports label that does not
	// parse, a ward.dev/namespace that is not a label value, a
	// namespace/name or an address another container has too) instead
	// of failing: it is left out of the containers and listed in the
	// inventory's Quarantined, whose addresses the firewall drops. What
	// is not one container's fault (the daemon unreachable, an invalid
	// network) still fails. Unset, any problem fails Inventory, as an
	// invalid inventory file does.
	Quarantine bool

	// OnUserlandProxy, when set, is called during Inventory, when a
	// container publishes a port, with what was found of Docker's
	// userland proxy: whether its onward connections to the containers
	// are admitted (firewall.Inventory.UserlandProxy) or, and why not,
	// judged as the gateway's.
	OnUserlandProxy func(ProxyNote)

	// proc is the proc file system's mount point, pidfile the daemon's
	// (DefaultPidfile); tests replace them.
	proc, pidfile string

	// ports finds containers' bridge ports; tests replace it.
	ports func() (portFinder, error)

	// Backoff of Watch's reconnections and how it waits; tests shorten
	// them.
	minBackoff, maxBackoff time.Duration
	sleep                  func(context.Context, time.Duration) error
}

// Unmanaged is a container of the inventory with addresses on networks
// that Ward does not manage: Addrs are "network (driver) address".
type Unmanaged struct {
	ID, Name string
	Addrs    []string
}

func (u Unmanaged) String() string {
	return fmt.Sprintf("container %s (%s): no policy is enforced on its addresses on networks Ward does not manage: %s", u.Name, shortID(u.ID), strings.Join(u.Addrs, ", "))
}

// unmanaged lists the containers of inv (ids: their Docker IDs) with an
// address on a network that is not among inv's managed networks.
func unmanaged(inv *firewall.Inventory, ids map[*firewall.Container]string, ctrs []container.InspectResponse, nets []network.Summary) []Unmanaged {
	kept := make(map[string]bool, len(ids))
	for _, id := range ids {
		kept[id] = true
	}
	managed := map[string]bool{}
	for _, n := range inv.Networks {
		managed[n.Name] = true
	}
	driver := map[string]string{}
	for _, n := range nets {
		driver[n.ID] = n.Driver
	}
	var out []Unmanaged
	for i := range ctrs {
		d := &ctrs[i]
		if !kept[d.ID] || d.NetworkSettings == nil {
			continue
		}
		u := Unmanaged{ID: d.ID, Name: strings.TrimPrefix(d.Name, "/")}
		for _, name := range slices.Sorted(maps.Keys(d.NetworkSettings.Networks)) {
			ep := d.NetworkSettings.Networks[name]
			if ep == nil || managed[name] {
				continue
			}
			for _, a := range []netip.Addr{ep.IPAddress, ep.GlobalIPv6Address} {
				if a.IsValid() {
					u.Addrs = append(u.Addrs, fmt.Sprintf("%s (%s) %s", name, cmp.Or(driver[ep.NetworkID], "unknown driver"), a.Unmap()))
				}
			}
		}
		if len(u.Addrs) > 0 {
			out = append(out, u)
		}
	}
	slices.SortFunc(out, func(a, b Unmanaged) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// Skipped is a running container that an inventory leaves out.
type Skipped struct {
	ID     string // the full container ID
	Name   string // the Docker container name, without the leading "/"
	Reason string
}

func (s Skipped) String() string {
	return fmt.Sprintf("container %s (%s) left out: %s", s.Name, shortID(s.ID), s.Reason)
}

// New returns a client of the Docker Engine at host, such as
// "unix:///var/run/docker.sock" or "tcp://10.0.0.1:2376". An empty host
// means $DOCKER_HOST, else unix:///var/run/docker.sock; the other DOCKER_*
// variables (TLS, API version) apply too. The API version is negotiated
// with the daemon on the first request (Engine API 1.40 or later). New
// does not connect.
func New(host string) (*Client, error) {
	c := &Client{
		minBackoff: 250 * time.Millisecond,
		maxBackoff: 30 * time.Second,
		sleep:      sleepCtx,
	}
	opts := []client.Opt{client.FromEnv, client.WithHTTPResponseHook(connectedHook)}
	if host != "" {
		opts = append(opts, client.WithHost(host))
	}
	api, err := client.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("dockerinv: %w", err)
	}
	c.api = api
	c.source = sourceName(api.DaemonHost())
	return c, nil
}

// Close releases the client's idle connections.
func (c *Client) Close() error { return c.api.Close() }

// Source is the name inventories and errors give the daemon:
// "docker:///var/run/docker.sock" for a unix socket, "docker+tcp://..."
// otherwise.
func (c *Client) Source() string { return c.source }

func sourceName(host string) string {
	if path, ok := strings.CutPrefix(host, "unix://"); ok {
		return "docker://" + path
	}
	return "docker+" + host
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// Inventory reads the running containers and the bridge networks of the
// daemon (see the package documentation for the mapping) and validates
// the result as an inventory file is (firewall.Inventory.Validate). Containers, then networks,
// are read, so every network a listed container was attached to is
// known; a container that stops in between is left out. Its File is
// Source(); its Line fields are 0.
func (c *Client) Inventory(ctx context.Context) (*firewall.Inventory, error) {
	list, err := c.api.ContainerList(ctx, client.ContainerListOptions{})
	if err != nil {
		return nil, fmt.Errorf("dockerinv: %s: listing containers: %w", c.source, err)
	}
	ctrs := make([]container.InspectResponse, 0, len(list.Items))
	for _, s := range list.Items {
		res, err := c.api.ContainerInspect(ctx, s.ID, client.ContainerInspectOptions{})
		switch {
		case cerrdefs.IsNotFound(err):
			c.skip(Skipped{ID: s.ID, Name: firstName(s.Names), Reason: "removed before it could be inspected"})
			continue
		case err != nil:
			return nil, fmt.Errorf("dockerinv: %s: inspecting container %s: %w", c.source, shortID(s.ID), err)
		}
		ctrs = append(ctrs, res.Container)
	}
	nets, err := c.api.NetworkList(ctx, client.NetworkListOptions{})
	if err != nil {
		return nil, fmt.Errorf("dockerinv: %s: listing networks: %w", c.source, err)
	}
	inv, ids, skipped, err := build(c.source, nets.Items, ctrs, c.Quarantine)
	for _, s := range skipped {
		c.skip(s)
	}
	if err != nil {
		return nil, err
	}
	if c.OnUnmanaged != nil {
		for _, u := range unmanaged(inv, ids, ctrs, nets.Items) {
			c.OnUnmanaged(u)
		}
	}
	c.bind(inv, ids, ctrs, managedBridges(inv, nets.Items))
	c.userlandProxy(inv, ctrs)
	return inv, nil
}

// userlandProxy sets inv.UserlandProxy when a container publishes a port
// and the daemon is local (see findUserlandProxy). hostNetwork containers
// are counted among every running container, those the inventory leaves
// out or quarantines included.
func (c *Client) userlandProxy(inv *firewall.Inventory, ctrs []container.InspectResponse) {
	var hostNetwork []string
	publishes := false
	for _, ct := range inv.Containers {
		publishes = publishes || len(ct.Published) > 0
	}
	for i := range ctrs {
		if d := &ctrs[i]; d.HostConfig != nil && d.HostConfig.NetworkMode.IsHost() {
			hostNetwork = append(hostNetwork, strings.TrimPrefix(d.Name, "/"))
		}
	}
	if !publishes {
		return
	}
	var note ProxyNote
	if strings.HasPrefix(c.source, "docker://") {
		proc := c.proc
		if proc == "" {
			proc = "/proc"
		}
		pidfile := c.pidfile
		if pidfile == "" {
			pidfile = DefaultPidfile
		}
		note = findUserlandProxy(proc, pidfile, hostNetwork)
	} else {
		note.Reason = "the daemon is not on a local socket"
	}
	inv.UserlandProxy = note.Proxy
	if c.OnUserlandProxy != nil {
		c.OnUserlandProxy(note)
	}
}

// portFinder returns the bridge ports of a container's network namespace,
// and the ports of a bridge.
type portFinder interface {
	of(sandboxKey string) ([]string, error)
	// portsOf returns the ports of the bridge named br, and whether the
	// host has a bridge of that name.
	portsOf(br string) ([]string, bool)
}

// managedBridge is the Linux bridge of a network of the inventory.
type managedBridge struct{ network, bridge string }

// managedBridges returns the bridges of inv's networks, as Docker's bridge
// driver names them: the network's com.docker.network.bridge.name option
// (docker0 for the default network), else br- and the first 12
// characters of its ID.
func managedBridges(inv *firewall.Inventory, nets []network.Summary) []managedBridge {
	var out []managedBridge
	for _, n := range nets {
		if n.Driver != "bridge" || !slices.ContainsFunc(inv.Networks, func(fn *firewall.Network) bool { return fn.Name == n.Name }) {
			continue
		}
		br := n.Options[optBridgeName]
		if br == "" {
			br = "br-" + shortID(n.ID)
		}
		out = append(out, managedBridge{network: n.Name, bridge: br})
	}
	slices.SortFunc(out, func(a, b managedBridge) int { return cmp.Compare(a.bridge, b.bridge) })
	return out
}

// optBridgeName is the option of a Docker bridge network that names its
// Linux bridge.
const optBridgeName = "com.docker.network.bridge.name"

// UnknownPort is a port of a managed network's bridge that no container of
// an inventory is bound to (firewall.Inventory.UnknownPorts).
type UnknownPort struct {
	Port, Bridge, Network string
	// Container names the container the port leads to, when known (a
	// quarantined one).
	Container string
}

func (u UnknownPort) String() string {
	who := "no container Ward could bind (one started since the inventory was read, one whose own ports were not found, or not a container's)"
	if u.Container != "" {
		who = u.Container
	}
	return fmt.Sprintf("port %s of bridge %s (network %s), of %s: its frames are dropped", u.Port, u.Bridge, u.Network, who)
}

// bind sets each container's Interfaces to its bridge ports, so that
// firewall.Compile binds its addresses to them; a container whose ports
// cannot be found stays unbound, and OnUnbound says why. Then every other
// port of the managed networks' bridges (of a quarantined container, of
// one whose ports were not found, of one started since the containers
// were listed) becomes an unknown port of the inventory, bound to no
// address, and OnUnknownPort says whose it is; and each network whose
// bridge's ports were listed names that bridge (Network.Bridge), so that
// a port attached after the listing is closed too. A managed network
// whose bridge the host does not have is reported with OnUnbound.
func (c *Client) bind(inv *firewall.Inventory, ids map[*firewall.Container]string, ctrs []container.InspectResponse, bridges []managedBridge) {
	find := c.ports
	if find == nil {
		find = func() (portFinder, error) { return newBridgePorts() }
	}
	sandbox, names := map[string]string{}, map[string]string{} // by Docker ID
	for i := range ctrs {
		d := &ctrs[i]
		if d.NetworkSettings != nil {
			sandbox[d.ID] = d.NetworkSettings.SandboxKey
		}
		names[d.ID] = strings.TrimPrefix(d.Name, "/")
	}
	var pf portFinder
	var ferr error
	for _, ct := range inv.Containers {
		id := ids[ct]
		if ct.HostNetwork || id == "" {
			continue
		}
		if pf == nil && ferr == nil {
			pf, ferr = find()
		}
		err := ferr
		if err == nil {
			ct.Interfaces, err = pf.of(sandbox[id])
		}
		if err != nil && c.OnUnbound != nil {
			c.OnUnbound(Skipped{ID: id, Name: names[id], Reason: err.Error()})
		}
	}
	if len(bridges) == 0 {
		return
	}
	if pf == nil && ferr == nil {
		pf, ferr = find()
	}
	if ferr != nil {
		if c.OnUnbound != nil {
			c.OnUnbound(Skipped{Name: "(every container)", Reason: "the ports of the networks' bridges cannot be listed: " + ferr.Error()})
		}
		return
	}
	// Whose each port is, for the report: quarantined containers'.
	owner := map[string]string{}
	bound := map[string]bool{}
	for _, ct := range inv.Containers {
		for _, p := range ct.Interfaces {
			bound[p] = true
		}
	}
	for _, q := range inv.Quarantined {
		if ports, err := pf.of(sandbox[q.ID]); err == nil {
			for _, p := range ports {
				owner[p] = fmt.Sprintf("quarantined container %s (%s)", q.Name, shortID(q.ID))
			}
		}
	}
	for _, mb := range bridges {
		ports, ok := pf.portsOf(mb.bridge)
		if !ok {
			if c.OnUnbound != nil {
				c.OnUnbound(Skipped{Name: "(network " + mb.network + ")", Reason: "the host has no bridge " + mb.bridge + ": its ports cannot be listed, and a container Ward has not classified there is not closed"})
			}
			continue
		}
		// Every port of the bridge is listed: Ward may close the ones
		// that appear after (firewall.Ruleset.Bridges).
		for _, n := range inv.Networks {
			if n.Name == mb.network {
				n.Bridge = mb.bridge
			}
		}
		for _, p := range ports {
			if bound[p] || slices.Contains(inv.UnknownPorts, p) {
				continue
			}
			inv.UnknownPorts = append(inv.UnknownPorts, p)
			if c.OnUnknownPort != nil {
				c.OnUnknownPort(UnknownPort{Port: p, Bridge: mb.bridge, Network: mb.network, Container: owner[p]})
			}
		}
	}
	slices.Sort(inv.UnknownPorts)
}

func (c *Client) skip(s Skipped) {
	if c.OnSkip != nil {
		c.OnSkip(s)
	}
}

func firstName(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return strings.TrimPrefix(names[0], "/")
}

// entry is a container on its way into the inventory.
type entry struct {
	id      string
	docker  string // Docker name
	c       *firewall.Container
	service string // Compose service, "" when none or one-off
	number  string // Compose container number
	// problems say why the container is quarantined; none: it is not.
	problems []string
}

// build maps what the daemon said to an inventory. With quarantine, the
// containers whose own data is invalid are quarantined (see
// Client.Quarantine); otherwise they are errors. It is pure: the tests
// feed it recorded responses too.
func build(source string, nets []network.Summary, ctrs []container.InspectResponse, quarantine bool) (*firewall.Inventory, map[*firewall.Container]string, []Skipped, error) {
	inv := &firewall.Inventory{File: source}
	managed := map[string]*firewall.Network{} // by network ID
	for _, n := range nets {
		if n.Driver != "bridge" {
			continue
		}
		fn := &firewall.Network{Name: n.Name, Internal: n.Internal}
		for _, cfg := range n.IPAM.Config {
			if cfg.Subnet.IsValid() {
				fn.Subnets = append(fn.Subnets, cfg.Subnet.Masked())
			}
		}
		if len(fn.Subnets) == 0 {
			continue // no address space: nothing to manage
		}
		managed[n.ID] = fn
		inv.Networks = append(inv.Networks, fn)
	}
	slices.SortFunc(inv.Networks, func(a, b *firewall.Network) int { return cmp.Compare(a.Name, b.Name) })

	var skipped []Skipped
	var entries []*entry
	var errs []error
	for i := range ctrs {
		d := &ctrs[i]
		e, reason, err := mapContainer(source, d, managed)
		var me *manifest.Error
		switch {
		case err != nil && quarantine && errors.As(err, &me):
			e.problems = append(e.problems, me.Err.Error())
			entries = append(entries, e)
		case err != nil:
			errs = append(errs, err)
		case reason != "":
			skipped = append(skipped, Skipped{ID: d.ID, Name: strings.TrimPrefix(d.Name, "/"), Reason: reason})
		default:
			entries = append(entries, e)
		}
	}
	if len(errs) > 0 {
		return nil, nil, skipped, errors.Join(errs...)
	}
	name(entries)
	slices.SortFunc(entries, func(a, b *entry) int { return cmp.Compare(a.c.ID(), b.c.ID()) })
	// Validate what is not quarantined, quarantine the containers the
	// errors name, and again: each round quarantines one container at
	// least, and a container left with the address of a quarantined one
	// is an error of the next round.
	var kept []*entry
	for {
		kept = kept[:0]
		inv.Containers, inv.Quarantined = nil, nil
		for _, e := range entries {
			if len(e.problems) > 0 {
				inv.Quarantined = append(inv.Quarantined, &firewall.Quarantined{
					Name: e.docker, ID: e.id, Reason: strings.Join(e.problems, "; "), IPs: e.c.IPs})
				continue
			}
			kept = append(kept, e)
			inv.Containers = append(inv.Containers, e.c)
		}
		err := inv.Validate()
		if err == nil {
			break
		}
		if !quarantine || !blame(err, kept) {
			return nil, nil, skipped, validateError(err, kept)
		}
	}
	slices.SortFunc(inv.Quarantined, func(a, b *firewall.Quarantined) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
	})
	ids := make(map[*firewall.Container]string, len(kept))
	for _, e := range kept {
		ids[e.c] = e.id
	}
	return inv, ids, skipped, nil
}

// blame adds the errors of err (from firewall.Inventory.Validate) to the
// problems of the containers they name, and reports whether every error
// named one: an error of no container (a network) fails the inventory.
func blame(err error, entries []*entry) bool {
	byID := map[string][]*entry{}
	for _, e := range entries {
		key := "container " + e.c.ID()
		byID[key] = append(byID[key], e)
	}
	var each []error
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		each = joined.Unwrap()
	} else {
		each = []error{err}
	}
	type problem struct {
		es  []*entry
		msg string
	}
	var found []problem
	for _, err := range each {
		var me *manifest.Error
		if !errors.As(err, &me) || len(byID[me.Object]) == 0 {
			return false
		}
		found = append(found, problem{byID[me.Object], me.Err.Error()})
	}
	for _, p := range found {
		for _, e := range p.es {
			e.problems = append(e.problems, p.msg)
		}
	}
	return len(found) > 0
}

// mapContainer maps one container, or says why it is left out, or why
// its labels are wrong (an error, with the container mapped as far as it
// could be: its addresses known).
func mapContainer(source string, d *container.InspectResponse, managed map[string]*firewall.Network) (*entry, string, error) {
	var labels map[string]string
	if d.Config != nil {
		labels = d.Config.Labels
	}
	e := &entry{id: d.ID, docker: strings.TrimPrefix(d.Name, "/"), number: labels[labelNumber]}
	if labels[labelOneoff] != "True" {
		e.service = labels[labelService]
	}
	c := &firewall.Container{Name: e.docker, Namespace: "default", Labels: podLabels(labels)}
	switch {
	case labels[LabelNamespace] != "":
		c.Namespace = labels[LabelNamespace]
	case labels[labelProject] != "":
		c.Namespace = labels[labelProject]
	}
	e.c = c

	var mode container.NetworkMode
	if d.HostConfig != nil {
		mode = d.HostConfig.NetworkMode
	}
	switch {
	case mode.IsHost():
		c.HostNetwork = true
	case mode.IsContainer():
		return nil, fmt.Sprintf("shares the network stack of container %s: policies see that container's addresses", shortID(mode.ConnectedContainer())), nil
	case mode.IsNone():
		return nil, "network none: no address on a managed network", nil
	default:
		c.IPs = addresses(d, managed)
		if len(c.IPs) == 0 {
			return nil, fmt.Sprintf("no address on a managed (bridge) network (attached to: %s)", attached(d)), nil
		}
		c.MACs = macAddresses(d, managed)
	}

	named, err := ParsePorts(labels[LabelPorts])
	if err != nil {
		return e, "", &manifest.Error{File: source, Object: fmt.Sprintf("container %s (%s)", e.docker, shortID(d.ID)),
			Err: fmt.Errorf("label %s=%q: %w", LabelPorts, labels[LabelPorts], err)}
	}
	c.Ports = named
	if d.Config != nil {
		var exposed []firewall.Port
		for p := range d.Config.ExposedPorts {
			proto, err := portset.ParseProtocol(string(p.Proto()))
			if err != nil || p.Num() == 0 {
				continue // a protocol policies cannot name
			}
			fp := firewall.Port{Port: p.Num(), Protocol: proto}
			if !slices.ContainsFunc(named, func(q firewall.Port) bool { return q.Port == fp.Port && q.Protocol == fp.Protocol }) {
				exposed = append(exposed, fp)
			}
		}
		slices.SortFunc(exposed, func(a, b firewall.Port) int {
			return cmp.Or(cmp.Compare(a.Port, b.Port), cmp.Compare(a.Protocol, b.Protocol))
		})
		c.Ports = append(c.Ports, exposed...)
	}
	c.Published = published(d)
	return e, "", nil
}

// published returns the container's ports the host publishes (docker run
// -p), once per host port and protocol whatever the host addresses
// (0.0.0.0 and :: publish the same port), sorted.
func published(d *container.InspectResponse) []firewall.Published {
	if d.NetworkSettings == nil {
		return nil
	}
	var out []firewall.Published
	for p, bindings := range d.NetworkSettings.Ports {
		proto, err := portset.ParseProtocol(string(p.Proto()))
		if err != nil || p.Num() == 0 {
			continue
		}
		for _, b := range bindings {
			hp, err := strconv.ParseUint(b.HostPort, 10, 16)
			if err != nil || hp == 0 {
				continue // not bound (yet)
			}
			pub := firewall.Published{HostPort: uint16(hp), Port: p.Num(), Protocol: proto}
			if !slices.Contains(out, pub) {
				out = append(out, pub)
			}
		}
	}
	slices.SortFunc(out, func(a, b firewall.Published) int {
		return cmp.Or(cmp.Compare(a.HostPort, b.HostPort), cmp.Compare(a.Protocol, b.Protocol), cmp.Compare(a.Port, b.Port))
	})
	return out
}

// addresses returns the container's addresses on managed networks: by
// network name, IPv4 then IPv6.
func addresses(d *container.InspectResponse, managed map[string]*firewall.Network) []netip.Addr {
	if d.NetworkSettings == nil {
		return nil
	}
	names := make([]string, 0, len(d.NetworkSettings.Networks))
	for name := range d.NetworkSettings.Networks {
		names = append(names, name)
	}
	slices.Sort(names)
	var ips []netip.Addr
	for _, name := range names {
		ep := d.NetworkSettings.Networks[name]
		if ep == nil || managed[ep.NetworkID] == nil {
			continue
		}
		for _, a := range []netip.Addr{ep.IPAddress, ep.GlobalIPv6Address} {
			if a.IsValid() && !slices.Contains(ips, a.Unmap()) {
				ips = append(ips, a.Unmap())
			}
		}
	}
	return ips
}

// macAddresses returns the MAC addresses of the container's endpoints on
// managed networks, sorted, each once: its bridge ports are bound to them
// (firewall.Container.MACs). An endpoint whose MAC address is missing or
// cannot be an interface's (a group address) contributes none.
func macAddresses(d *container.InspectResponse, managed map[string]*firewall.Network) []net.HardwareAddr {
	if d.NetworkSettings == nil {
		return nil
	}
	var out []net.HardwareAddr
	for _, ep := range d.NetworkSettings.Networks {
		if ep == nil || managed[ep.NetworkID] == nil {
			continue
		}
		m := net.HardwareAddr(ep.MacAddress)
		if len(m) != 6 || m[0]&1 != 0 || bytes.Equal(m, make([]byte, 6)) {
			continue
		}
		out = append(out, slices.Clone(m))
	}
	slices.SortFunc(out, func(a, b net.HardwareAddr) int { return bytes.Compare(a, b) })
	return slices.CompactFunc(out, func(a, b net.HardwareAddr) bool { return bytes.Equal(a, b) })
}

func attached(d *container.InspectResponse) string {
	if d.NetworkSettings == nil || len(d.NetworkSettings.Networks) == 0 {
		return "none"
	}
	var names []string
	for name := range d.NetworkSettings.Networks {
		names = append(names, name)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// podLabels keeps the labels a Pod could carry.
func podLabels(labels map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range labels {
		if len(validation.IsQualifiedName(k)) == 0 && len(validation.IsValidLabelValue(v)) == 0 {
			out[k] = v
		}
	}
	return out
}

// name gives Compose containers their service's name, numbered when the
// service runs several containers in one namespace.
func name(entries []*entry) {
	replicas := map[[2]string]int{}
	for _, e := range entries {
		if e.service != "" {
			replicas[[2]string{e.c.Namespace, e.service}]++
		}
	}
	for _, e := range entries {
		switch {
		case e.service == "":
		case replicas[[2]string{e.c.Namespace, e.service}] == 1:
			e.c.Name = e.service
		case e.number != "":
			e.c.Name = e.service + "-" + e.number
		}
	}
}

// validateError adds the Docker name and ID of the containers to err, an
// error of firewall.Inventory.Validate.
func validateError(err error, entries []*entry) error {
	docker := map[string][]*entry{}
	for _, e := range entries {
		key := "container " + e.c.ID()
		docker[key] = append(docker[key], e)
	}
	return relocate(err, docker)
}

// relocate adds the Docker name and ID to the object of the
// *manifest.Errors in err.
func relocate(err error, docker map[string][]*entry) error {
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range joined.Unwrap() {
			out = append(out, relocate(e, docker))
		}
		return errors.Join(out...)
	}
	var me *manifest.Error
	if !errors.As(err, &me) {
		return err
	}
	cp := *me
	if es := docker[cp.Object]; len(es) > 0 {
		var names []string
		for _, e := range es {
			names = append(names, fmt.Sprintf("docker container %s, %s", e.docker, shortID(e.id)))
		}
		cp.Object = fmt.Sprintf("%s (%s)", cp.Object, strings.Join(names, "; "))
	}
	return &cp
}
