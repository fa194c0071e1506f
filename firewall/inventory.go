package firewall

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wardsec/ward/ipset"
	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/portset"
)

// Inventory describes the containers of a host and the networks their
// addresses come from: what Ward enforces policies between. It is read
// from a file (LoadInventory) or, later, from the Docker Engine.
type Inventory struct {
	// File names the source in errors and workload Sources.
	File       string
	Containers []*Container
	Networks   []*Network
	// Quarantined are containers Ward could not classify (package
	// dockerinv: a label that does not parse, a name two containers
	// claim). They are no workloads: policies never select them, and
	// their addresses are dropped both ways, even with
	// Options.AllowUnclassified. An inventory file has none: it is valid
	// or refused whole.
	Quarantined []*Quarantined
	// UnknownPorts are bridge ports of the managed networks' bridges that
	// no container of the inventory has among its Interfaces: those of
	// quarantined containers, of containers whose own ports could not be
	// found, and of containers started since the inventory was read
	// (package dockerinv lists them from the kernel; an inventory file
	// has none). Each is bound to no address (Ruleset.Bindings): every
	// frame it sends is dropped (ARP probes and IPv6 link-local and
	// unspecified sources aside, which neighbour discovery needs), so it
	// can claim no other container's address, and no unicast packet
	// leaves the bridge through it; broadcast and multicast packets to it
	// are unmarked, dropped from managed addresses as to any port Ward
	// does not know, and from the host (set group_open).
	UnknownPorts []string
	// UserlandProxy, when set, identifies the sockets of Docker's
	// userland proxy (package dockerinv sets it from the running
	// Engine; an inventory file cannot). See UserlandProxy.
	UserlandProxy *UserlandProxy
}

// UserlandProxy identifies the sockets of Docker's userland proxy
// (docker-proxy): those of UID in Cgroup exactly (not in a cgroup below
// it). The proxy relays a client's connection to a port the host
// publishes (Container.Published) as a connection of its own, from a
// gateway address, to the publishing container; Ward judges the client's
// packet at the input hook as the connection to the container's port, and
// admits the proxy's onward leg to that port, which would otherwise be
// judged as the gateway's (Compile).
//
// Where Cgroup is the root (dockerd runs in the root cgroup), every
// process of UID in the root cgroup passes for the proxy: on the host, that
// is root, which can rewrite the firewall anyway.
type UserlandProxy struct {
	UID    uint32
	Cgroup Cgroup
}

// Quarantined is a container left out of an inventory because its own
// data is invalid, with the addresses whose traffic Ward drops.
type Quarantined struct {
	Name   string // as its source names it (Docker's container name)
	ID     string // its source's ID (Docker's container ID), or ""
	Reason string
	IPs    []netip.Addr
}

func (q *Quarantined) String() string {
	id := q.ID
	if len(id) > 12 {
		id = id[:12]
	}
	if id == "" {
		return fmt.Sprintf("%s: %s", q.Name, q.Reason)
	}
	return fmt.Sprintf("%s (%s): %s", q.Name, id, q.Reason)
}

// Container is one container, seen by policies as a bare Pod of Namespace
// with Labels, IPs and container Ports.
type Container struct {
	Name      string
	Namespace string // the Compose project; "default" when not given
	Labels    map[string]string
	// IPs are the container's addresses, in file order. Every container
	// has one, except hostNetwork ones, which share the host's.
	IPs   []netip.Addr
	Ports []Port
	// HostNetwork containers use the host's network stack: policies never
	// select them and selectors never match them (docs/semantics.md), so
	// only ipBlocks see them, through IPs when given (host addresses, not
	// checked against Networks).
	HostNetwork bool
	// Interfaces are the container's bridge ports: the host side of its
	// veths (Docker's vethXXXXXXX). When given, frames entering a bridge
	// from them must carry one of IPs as their source (Ruleset.Bindings):
	// the container cannot claim another's address and permissions.
	Interfaces []string
	// MACs are the MAC addresses of the container's interfaces on the
	// managed networks (Docker's endpoint MacAddress), when known. Each of
	// Interfaces is then bound to them as to IPs: a frame from the port
	// must carry one of them as its Ethernet source (an ARP packet as its
	// sender hardware address too), and a frame carrying one of them must
	// come from one of the container's ports (Ruleset.Bindings), so that
	// no port can take the container's MAC address over in the bridge's
	// forwarding database.
	MACs []net.HardwareAddr
	// Published are the container's ports the host publishes (Docker's
	// -p HOST:CONTAINER). A container on the same bridge reaches them
	// through the host, where Docker's userland proxy relays the
	// connection: Ward judges the client's packet to the host's port as
	// the client's connection to this container's port.
	Published []Published
	Line      int
}

// Published is a container port the host publishes on HostPort.
type Published struct {
	HostPort uint16
	Port     uint16
	Protocol portset.Protocol
}

// ID returns "namespace/name".
func (c *Container) ID() string { return c.Namespace + "/" + c.Name }

// Port is a port a container serves, which named ports in policies
// resolve to.
type Port struct {
	Name     string // empty when unnamed
	Port     uint16
	Protocol portset.Protocol
}

// Network is a network containers are attached to. Its subnets are managed
// address space: an address in them that no container owns is
// unclassified (see Options.AllowUnclassified).
type Network struct {
	Name    string
	Subnets []netip.Prefix
	// Internal records that the network has no route out (Docker's
	// --internal). Docker enforces it; Ward's rules do not depend on it.
	Internal bool
	// Bridge names the network's Linux bridge (Docker's br-<id>, docker0,
	// or its com.docker.network.bridge.name), when every port of it that
	// belongs to a container of the inventory is among the containers'
	// Interfaces or UnknownPorts: Ward then closes every other port of it,
	// one attached since, too (Ruleset.Bridges), when the ruleset binds
	// ports at all (some container lists its Interfaces, or UnknownPorts
	// are known; not with Options.NoBind). Without any, it closes none
	// (UnclosedBridges), and judges on it only containers' router
	// advertisements and the host's group and link-local packets.
	// Networks may share one.
	Bridge string
	Line   int
}

// bridges returns the networks' bridges, sorted, each once.
func (inv *Inventory) bridges() []string {
	if inv == nil {
		return nil
	}
	var out []string
	for _, n := range inv.Networks {
		if n.Bridge != "" {
			out = append(out, n.Bridge)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// UnclosedBridges returns the networks that name their bridge (Bridge)
// when the inventory knows no bridge port at all (no container lists its
// Interfaces, no UnknownPorts): the ruleset then binds no port, so it
// closes none of those bridges' ports, whatever Bridge says (a container
// may send from any address, a port attached later is open), and judges
// on them only containers' router advertisements and, where a
// container's ingress is isolated, the host's group and link-local
// packets (portlessRules). The command line warns of each.
func (inv *Inventory) UnclosedBridges() []*Network {
	if inv == nil || len(inv.UnknownPorts) > 0 || slices.ContainsFunc(inv.Containers, func(c *Container) bool { return len(c.Interfaces) > 0 }) {
		return nil
	}
	var out []*Network
	for _, n := range inv.Networks {
		if n.Bridge != "" {
			out = append(out, n)
		}
	}
	return out
}

// Portless is a container on a network whose bridge the ruleset closes
// (Network.Bridge, with ports bound) that lists no Interfaces of its own.
type Portless struct {
	Container *Container
	Network   *Network
}

// PortlessOnClosedBridges returns, when the inventory knows bridge ports
// (some container lists its Interfaces, or UnknownPorts are known), each
// container without Interfaces (nor HostNetwork) that has an address on
// a network naming its bridge, once per such network: the ruleset closes
// every port of that bridge it does not bind (Ruleset.Bridges), the
// container's own too, so all its traffic through the bridge is dropped
// (fail closed: its port cannot be told from one attached since). The
// command line warns of each (Ruleset.Bridges needs the bindings, so
// with Options.NoBind there is nothing to warn of).
func (inv *Inventory) PortlessOnClosedBridges() []Portless {
	if inv == nil || len(inv.UnknownPorts) == 0 && !slices.ContainsFunc(inv.Containers, func(c *Container) bool { return len(c.Interfaces) > 0 }) {
		return nil
	}
	var out []Portless
	for _, c := range inv.Containers {
		if c.HostNetwork || len(c.Interfaces) > 0 {
			continue
		}
		for _, n := range inv.Networks {
			if n.Bridge != "" && slices.ContainsFunc(c.IPs, func(ip netip.Addr) bool {
				return slices.ContainsFunc(n.Subnets, func(p netip.Prefix) bool { return p.Contains(ip) })
			}) {
				out = append(out, Portless{c, n})
			}
		}
	}
	return out
}

// bridgedSubnets returns the subnets of the networks that name their
// bridge.
func (inv *Inventory) bridgedSubnets() ipset.Set {
	var rs []ipset.Range
	for _, n := range inv.Networks {
		if n.Bridge == "" {
			continue
		}
		for _, s := range n.Subnets {
			rs = append(rs, ipset.FromPrefix(s))
		}
	}
	return ipset.Of(rs...)
}

// macBridges returns the bridges (sorted, each once) of the networks
// holding an address of a container whose bridge ports are bound to MAC
// addresses.
func (inv *Inventory) macBridges() []string {
	if inv == nil {
		return nil
	}
	var out []string
	for _, n := range inv.Networks {
		if n.Bridge == "" {
			continue
		}
		in := func(ip netip.Addr) bool {
			return slices.ContainsFunc(n.Subnets, func(p netip.Prefix) bool { return p.Contains(ip) })
		}
		if slices.ContainsFunc(inv.Containers, func(c *Container) bool {
			return !c.HostNetwork && len(c.Interfaces) > 0 && len(c.MACs) > 0 && slices.ContainsFunc(c.IPs, in)
		}) {
			out = append(out, n.Bridge)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Errors of inventories, for errors.Is. Every error LoadInventory and
// ParseInventory return is a *manifest.Error with the file and line, wrapping
// one of these.
var (
	// ErrUnknownField: a key the format does not have (a typo).
	ErrUnknownField = errors.New("unknown field")
	// ErrMissingAddress: a container without an IP.
	ErrMissingAddress = errors.New("container without address")
	// ErrBadAddress: an IP or subnet that does not parse or cannot be a
	// container's.
	ErrBadAddress = errors.New("invalid address")
	// ErrOutsideNetworks: a container IP in none of the declared subnets,
	// such as an IPv6 address where only IPv4 subnets are declared.
	ErrOutsideNetworks = errors.New("address outside the declared networks")
	// ErrDuplicate: two containers (or networks) with one name, or two
	// containers with one IP.
	ErrDuplicate = errors.New("duplicate")
	// ErrInvalid: anything else malformed (wrong type, missing name, bad
	// port).
	ErrInvalid = errors.New("invalid inventory")
)

// inventoryError is the message of an inventory error and its kind.
type inventoryError struct {
	msg  string
	kind error
}

func (e *inventoryError) Error() string { return e.msg }
func (e *inventoryError) Unwrap() error { return e.kind }

// LoadInventory reads and parses an inventory file of at most
// manifest.DefaultMaxFileSize bytes.
func LoadInventory(path string) (*Inventory, error) {
	data, err := manifest.ReadFile(path, 0)
	if err != nil {
		return nil, &manifest.Error{File: path, Err: err}
	}
	return ParseInventory(path, data)
}

// ParseInventory parses an inventory held in memory; name is used in errors
// and Sources. Decoding is strict: unknown fields, values of the wrong type
// and invalid addresses are errors, all reported (errors.Join of
// *manifest.Error, each with its line).
func ParseInventory(name string, data []byte) (*Inventory, error) {
	p := &parser{inv: &Inventory{File: name}, containers: map[string]*Container{}, networks: map[string]*Network{}}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &manifest.Error{File: name, Err: &inventoryError{"empty inventory: want containers and networks", ErrInvalid}}
		}
		return nil, yamlError(name, err)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, yamlError(name, err)
	default:
		return nil, &manifest.Error{File: name, Line: extra.Line, Err: &inventoryError{"more than one YAML document", ErrInvalid}}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	p.top(root)
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	return p.inv, nil
}

// yamlError turns a YAML syntax error ("yaml: line 3: ...") into a
// *manifest.Error with the line.
func yamlError(name string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if i := strings.IndexByte(rest, ':'); i > 0 {
			if n, err := strconv.Atoi(rest[:i]); err == nil {
				line, msg = n, strings.TrimSpace(rest[i+1:])
			}
		}
	}
	return &manifest.Error{File: name, Line: line, Err: &inventoryError{msg, ErrInvalid}}
}

type parser struct {
	inv        *Inventory
	pending    []ipNode // container addresses, checked at the end
	errs       []error
	containers map[string]*Container // by ID, to find one declared twice
	networks   map[string]*Network   // by name
}

func (p *parser) fail(line int, object string, kind error, format string, args ...any) {
	p.errs = append(p.errs, &manifest.Error{File: p.inv.File, Line: line, Object: object,
		Err: &inventoryError{fmt.Sprintf(format, args...), kind}})
}

// deref follows aliases.
func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// fields calls set for each key of mapping n, in order, after checking that
// every key is one of known and none repeats. what names n in errors.
func (p *parser) fields(n *yaml.Node, what, object string, known []string, set func(key string, v *yaml.Node)) bool {
	n = deref(n)
	if isNull(n) {
		return true
	}
	if n.Kind != yaml.MappingNode {
		p.fail(n.Line, object, ErrInvalid, "%s: want a mapping", what)
		return false
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), deref(n.Content[i+1])
		key := k.Value
		if !slices.Contains(known, key) {
			p.fail(k.Line, object, ErrUnknownField, "%s: unknown field %q (want one of %s)", what, key, strings.Join(known, ", "))
			continue
		}
		if prev, dup := seen[key]; dup {
			p.fail(k.Line, object, ErrInvalid, "%s: field %q repeated (first on line %d)", what, key, prev)
			continue
		}
		seen[key] = k.Line
		set(key, v)
	}
	return true
}

// seq calls each for the items of sequence n.
func (p *parser) seq(n *yaml.Node, what, object string, each func(*yaml.Node)) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		p.fail(n.Line, object, ErrInvalid, "%s: want a list", what)
		return
	}
	for _, item := range n.Content {
		each(deref(item))
	}
}

// str returns the text of scalar n.
func (p *parser) str(n *yaml.Node, what, object string) (string, bool) {
	if isNull(n) {
		return "", true
	}
	if n.Kind != yaml.ScalarNode {
		p.fail(n.Line, object, ErrInvalid, "%s: want a string", what)
		return "", false
	}
	return n.Value, true
}

func (p *parser) top(n *yaml.Node) {
	if isNull(n) {
		p.fail(0, "", ErrInvalid, "empty inventory: want containers and networks")
		return
	}
	var containers, networks *yaml.Node
	if !p.fields(n, "inventory", "", []string{"containers", "networks"}, func(key string, v *yaml.Node) {
		if key == "containers" {
			containers = v
		} else {
			networks = v
		}
	}) {
		return
	}
	if networks != nil {
		p.seq(networks, "networks", "", p.network)
	}
	if containers != nil {
		p.seq(containers, "containers", "", p.container)
	}
	checkAddresses(p.inv, p.pending, n.Line, p.fail)
}

func (p *parser) network(n *yaml.Node) {
	net := &Network{Line: n.Line}
	object := "network"
	var subnets *yaml.Node
	ok := p.fields(n, "network", object, []string{"name", "subnets", "internal", "bridge"}, func(key string, v *yaml.Node) {
		switch key {
		case "name":
			net.Name, _ = p.str(v, "name", object)
		case "bridge":
			if name, ok := p.str(v, "bridge", object); ok {
				if bad := badInterface(name); bad != "" {
					p.fail(v.Line, object, ErrInvalid, "bridge: %s", bad)
				}
				net.Bridge = name
			}
		case "subnets":
			subnets = v
		case "internal":
			net.Internal = p.boolean(v, "internal", object)
		}
	})
	if !ok {
		return
	}
	if net.Name == "" {
		p.fail(n.Line, object, ErrInvalid, "network without a name")
		return
	}
	object = "network " + net.Name
	if subnets != nil {
		p.seq(subnets, "subnets", object, func(s *yaml.Node) {
			text, ok := p.str(s, "subnet", object)
			if !ok {
				return
			}
			pfx, err := ipset.ParsePrefix(text)
			if err != nil {
				p.fail(s.Line, object, ErrBadAddress, "%s", strings.TrimPrefix(err.Error(), "ipset: "))
				return
			}
			net.Subnets = append(net.Subnets, pfx)
		})
	}
	if len(net.Subnets) == 0 {
		p.fail(n.Line, object, ErrInvalid, "network without subnets")
	}
	if other := p.networks[net.Name]; other != nil {
		p.fail(n.Line, object, ErrDuplicate, "network %q already declared%s", net.Name, onLine(other.Line))
		return
	}
	p.networks[net.Name] = net
	p.inv.Networks = append(p.inv.Networks, net)
}

func (p *parser) boolean(n *yaml.Node, what, object string) bool {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		p.fail(n.Line, object, ErrInvalid, "%s: want true or false", what)
		return false
	}
	var b bool
	if err := n.Decode(&b); err != nil {
		p.fail(n.Line, object, ErrInvalid, "%s: want true or false", what)
	}
	return b
}

// ipNode is a container address and its line, checked once every network
// is known.
type ipNode struct {
	c    *Container
	addr netip.Addr
	line int
}

func (p *parser) container(n *yaml.Node) {
	c := &Container{Line: n.Line}
	object := "container"
	var ips, ports, ifaces, macs *yaml.Node
	var nameLine int
	var published *yaml.Node
	ok := p.fields(n, "container", object, []string{"name", "namespace", "labels", "ips", "ports", "hostNetwork", "interfaces", "macs", "published"}, func(key string, v *yaml.Node) {
		switch key {
		case "name":
			c.Name, _ = p.str(v, "name", object)
			nameLine = v.Line
		case "namespace":
			c.Namespace, _ = p.str(v, "namespace", object)
		case "labels":
			c.Labels = p.labels(v, object)
		case "ips":
			ips = v
		case "ports":
			ports = v
		case "hostNetwork":
			c.HostNetwork = p.boolean(v, "hostNetwork", object)
		case "interfaces":
			ifaces = v
		case "macs":
			macs = v
		case "published":
			published = v
		}
	})
	if !ok {
		return
	}
	if c.Namespace == "" {
		c.Namespace = "default"
	}
	if c.Name == "" {
		p.fail(n.Line, object, ErrInvalid, "container without a name")
		return
	}
	object = "container " + c.ID()
	if bad := badName(c.Name); bad != "" {
		p.fail(nameLine, object, ErrInvalid, "name %q: %s", c.Name, bad)
	}
	if bad := badNamespace(c.Namespace); bad != "" {
		p.fail(n.Line, object, ErrInvalid, "%s", bad)
	}
	if ips != nil {
		p.seq(ips, "ips", object, func(s *yaml.Node) {
			text, ok := p.str(s, "ip", object)
			if !ok {
				return
			}
			a, err := netip.ParseAddr(strings.TrimSpace(text))
			if err != nil {
				p.fail(s.Line, object, ErrBadAddress, "%q is not an IP address", text)
				return
			}
			if bad := badAddress(a); bad != "" {
				p.fail(s.Line, object, ErrBadAddress, "%s", bad)
				return
			}
			a = a.Unmap()
			c.IPs = append(c.IPs, a)
			p.pending = append(p.pending, ipNode{c, a, s.Line})
		})
	}
	if ports != nil {
		p.seq(ports, "ports", object, func(s *yaml.Node) { p.port(c, s, object) })
	}
	if ifaces != nil {
		p.seq(ifaces, "interfaces", object, func(s *yaml.Node) {
			name, ok := p.str(s, "interface", object)
			if !ok {
				return
			}
			if bad := badInterface(name); bad != "" {
				p.fail(s.Line, object, ErrInvalid, "%s", bad)
				return
			}
			c.Interfaces = append(c.Interfaces, name)
		})
	}
	if macs != nil {
		p.seq(macs, "macs", object, func(s *yaml.Node) {
			text, ok := p.str(s, "mac", object)
			if !ok {
				return
			}
			mac, bad := parseMAC(text)
			if bad != "" {
				p.fail(s.Line, object, ErrBadAddress, "%s", bad)
				return
			}
			c.MACs = append(c.MACs, mac)
		})
	}
	if published != nil {
		p.seq(published, "published", object, func(s *yaml.Node) { p.published(c, s, object) })
	}
	if len(c.IPs) == 0 && !c.HostNetwork {
		p.fail(n.Line, object, ErrMissingAddress, "%s", noAddress)
	}
	if other := p.containers[c.ID()]; other != nil {
		p.fail(nameLine, object, ErrDuplicate, "container %s already declared%s", c.ID(), onLine(other.Line))
		return
	}
	p.containers[c.ID()] = c
	p.inv.Containers = append(p.inv.Containers, c)
}

// protocol reads a transport protocol: TCP, UDP or SCTP.
func (p *parser) protocol(v *yaml.Node, object string) (portset.Protocol, bool) {
	s, ok := p.str(v, "protocol", object)
	if !ok {
		return 0, false
	}
	proto, err := portset.ParseProtocol(s)
	if err != nil {
		p.fail(v.Line, object, ErrInvalid, "protocol %q: want TCP, UDP or SCTP", s)
		return 0, false
	}
	return proto, true
}

// published reads one published port: {hostPort: 9090, port: 80,
// protocol: TCP}.
func (p *parser) published(c *Container, n *yaml.Node, object string) {
	pub := Published{Protocol: portset.TCP}
	number := func(v *yaml.Node, what string) uint16 {
		x, err := strconv.Atoi(v.Value)
		if v.Kind != yaml.ScalarNode || v.Tag != "!!int" || err != nil || x < portset.MinPort || x > portset.MaxPort {
			p.fail(v.Line, object, ErrInvalid, "%s %q: want a number from 1 to 65535", what, v.Value)
			return 0
		}
		return uint16(x) // #nosec G115 -- checked to lie in 1..65535 above
	}
	p.fields(n, "published port", object, []string{"hostPort", "port", "protocol"}, func(key string, v *yaml.Node) {
		switch key {
		case "hostPort":
			pub.HostPort = number(v, "hostPort")
		case "port":
			pub.Port = number(v, "port")
		case "protocol":
			if proto, ok := p.protocol(v, object); ok {
				pub.Protocol = proto
			}
		}
	})
	if n.Kind != yaml.MappingNode {
		return
	}
	if pub.HostPort == 0 || pub.Port == 0 {
		p.fail(n.Line, object, ErrInvalid, "published port: want hostPort and port")
		return
	}
	if !slices.Contains(c.Published, pub) {
		c.Published = append(c.Published, pub)
	}
}

// badName explains why a container name cannot be a Pod's name, or is "".
func badName(name string) string {
	if strings.ContainsAny(name, "/ \t\r\n") {
		return "must not contain '/' or spaces"
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return "must not contain control characters"
		}
	}
	return ""
}

func (p *parser) labels(n *yaml.Node, object string) map[string]string {
	out := map[string]string{}
	if isNull(n) {
		return out
	}
	if n.Kind != yaml.MappingNode {
		p.fail(n.Line, object, ErrInvalid, "labels: want a mapping")
		return out
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), deref(n.Content[i+1])
		if bad := badLabelKey(k.Value); bad != "" {
			p.fail(k.Line, object, ErrInvalid, "%s", bad)
			continue
		}
		if _, dup := out[k.Value]; dup {
			p.fail(k.Line, object, ErrInvalid, "label %q repeated", k.Value)
			continue
		}
		val, ok := p.str(v, "label "+k.Value, object)
		if !ok {
			continue
		}
		if bad := badLabelValue(k.Value, val); bad != "" {
			p.fail(v.Line, object, ErrInvalid, "%s", bad)
			continue
		}
		out[k.Value] = val
	}
	return out
}

func (p *parser) port(c *Container, n *yaml.Node, object string) {
	port := Port{Protocol: portset.TCP}
	var number *yaml.Node
	p.fields(n, "port", object, []string{"name", "port", "protocol"}, func(key string, v *yaml.Node) {
		switch key {
		case "name":
			port.Name, _ = p.str(v, "port name", object)
			if port.Name != "" {
				if bad := badPortName(port.Name); bad != "" {
					p.fail(v.Line, object, ErrInvalid, "%s", bad)
				}
			}
		case "port":
			number = v
		case "protocol":
			if proto, ok := p.protocol(v, object); ok {
				port.Protocol = proto
			}
		}
	})
	if n.Kind != yaml.MappingNode {
		return
	}
	if number == nil {
		p.fail(n.Line, object, ErrInvalid, "port without a number")
		return
	}
	v, err := strconv.Atoi(number.Value)
	if number.Kind != yaml.ScalarNode || number.Tag != "!!int" || err != nil || v < portset.MinPort || v > portset.MaxPort {
		p.fail(number.Line, object, ErrInvalid, "port %q: want a number from 1 to 65535", number.Value)
		return
	}
	port.Port = uint16(v) // #nosec G115 -- checked to lie in 1..65535 above
	for _, other := range c.Ports {
		if port.Name != "" && other.Name == port.Name {
			p.fail(n.Line, object, ErrDuplicate, "port name %q used twice", port.Name)
			return
		}
	}
	c.Ports = append(c.Ports, port)
}

// checkAddresses validates container addresses against each other and
// the networks: no address twice, and every address of a container on a
// network in one of the declared subnets; and no bridge port twice. A MAC
// address may be two containers' (Docker lets containers on different
// networks share one): each binds it to its own ports. ips
// are the containers' addresses with their lines (0: unknown), line the
// inventory's.
func checkAddresses(inv *Inventory, ips []ipNode, line int, fail func(line int, object string, kind error, format string, args ...any)) {
	ifOwner := map[string]*Container{}
	for _, c := range inv.Containers {
		for _, name := range c.Interfaces {
			if prev := ifOwner[name]; prev != nil && prev != c {
				fail(c.Line, "container "+c.ID(), ErrDuplicate, "interface %q is already the bridge port of %s", name, prev.ID())
				continue
			}
			ifOwner[name] = c
		}
	}
	if len(inv.Networks) == 0 && slices.ContainsFunc(inv.Containers, func(c *Container) bool { return !c.HostNetwork }) {
		fail(line, "", ErrInvalid, "no networks: declare the networks container addresses come from, so that Ward knows which addresses it manages")
	}
	owner := map[netip.Addr]ipNode{}
	managed := inv.Managed()
	var families [3]bool
	var subnets []string
	for _, n := range inv.Networks {
		for _, s := range n.Subnets {
			families[family(s.Addr())] = true
			subnets = append(subnets, s.String())
		}
	}
	for _, ip := range ips {
		object := "container " + ip.c.ID()
		if prev, dup := owner[ip.addr]; dup {
			fail(ip.line, object, ErrDuplicate, "%s is already the address of %s%s", ip.addr, prev.c.ID(), onLine(prev.line))
			continue
		}
		owner[ip.addr] = ip
		if ip.c.HostNetwork || len(inv.Networks) == 0 {
			continue
		}
		switch {
		case managed.Contains(ip.addr):
		case !families[family(ip.addr)]:
			fail(ip.line, object, ErrOutsideNetworks, "%s address %s, but no declared network has an %s subnet", family(ip.addr), ip.addr, family(ip.addr))
		default:
			fail(ip.line, object, ErrOutsideNetworks, "%s is in none of the declared subnets (%s)", ip.addr, strings.Join(subnets, ", "))
		}
	}
}

func family(a netip.Addr) Family {
	if a.Is4() {
		return IPv4
	}
	return IPv6
}

// Managed returns the addresses of every declared subnet.
func (inv *Inventory) Managed() ipset.Set {
	var rs []ipset.Range
	for _, n := range inv.Networks {
		for _, s := range n.Subnets {
			rs = append(rs, ipset.FromPrefix(s))
		}
	}
	return ipset.Of(rs...)
}

// Objects returns a bare Pod per container: its name, namespace and
// labels, a container serving its ports, status.podIP(s) holding its
// addresses, and spec.hostNetwork.
func (inv *Inventory) Objects() []any {
	objs := make([]any, 0, len(inv.Containers))
	for _, c := range inv.Containers {
		pod := &corev1.Pod{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
			ObjectMeta: metav1.ObjectMeta{Namespace: c.Namespace, Name: c.Name, Labels: c.Labels},
			Spec: corev1.PodSpec{
				HostNetwork: c.HostNetwork,
				Containers:  []corev1.Container{{Name: c.Name}},
			},
		}
		for _, p := range c.Ports {
			pod.Spec.Containers[0].Ports = append(pod.Spec.Containers[0].Ports, corev1.ContainerPort{
				Name: p.Name, ContainerPort: int32(p.Port), Protocol: corev1.Protocol(p.Protocol.String()),
			})
		}
		for i, a := range c.IPs {
			if i == 0 {
				pod.Status.PodIP = a.String()
			}
			pod.Status.PodIPs = append(pod.Status.PodIPs, corev1.PodIP{IP: a.String()})
		}
		objs = append(objs, pod)
	}
	return objs
}

// Set returns the model the engine compiles: the containers as workloads
// (see Objects), with the NetworkPolicies and Namespaces of policies (which
// may be nil). The workloads and Services of policies are left out: on a
// host, the inventory says what runs. Workload Sources point at the
// inventory's lines.
func (inv *Inventory) Set(policies *manifest.Set) (*manifest.Set, error) {
	pods, err := manifest.FromObjects("default", inv.Objects()...)
	if err != nil {
		// Parsing checked everything FromObjects checks; say where anyway.
		var me *manifest.Error
		if errors.As(err, &me) && me.Line >= 1 && me.Line <= len(inv.Containers) {
			return nil, &manifest.Error{File: inv.File, Line: inv.Containers[me.Line-1].Line, Object: me.Object, Err: me.Err}
		}
		return nil, fmt.Errorf("firewall: %w", err)
	}
	line := map[string]int{}
	for _, c := range inv.Containers {
		line[c.ID()] = c.Line
	}
	for _, w := range pods.Workloads {
		w.Source = manifest.Source{File: inv.File, Line: line[w.Namespace+"/"+w.Name]}
	}
	out := &manifest.Set{Workloads: pods.Workloads, PodIPsKnown: pods.PodIPsKnown}
	namespaces := map[string]*manifest.Namespace{}
	if policies != nil {
		out.Policies = policies.Policies
		out.Skipped = policies.Skipped
		out.Unsupported = policies.Unsupported
		for _, n := range policies.Namespaces {
			namespaces[n.Name] = n
		}
		for _, o := range policies.Objects {
			if o.Kind == "Namespace" || o.Kind == "NetworkPolicy" {
				out.Objects = append(out.Objects, o)
			}
		}
	}
	for _, n := range pods.Namespaces {
		if _, ok := namespaces[n.Name]; !ok {
			namespaces[n.Name] = n
		}
	}
	for _, n := range namespaces {
		out.Namespaces = append(out.Namespaces, n)
	}
	slices.SortFunc(out.Namespaces, func(a, b *manifest.Namespace) int { return cmp.Compare(a.Name, b.Name) })
	for i, o := range pods.Objects {
		o.Source = manifest.Source{File: inv.File, Line: inv.Containers[i].Line}
		out.Objects = append(out.Objects, o)
	}
	return out, nil
}
