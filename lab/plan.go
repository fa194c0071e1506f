package lab

import (
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/netpol"
	"github.com/wardsec/ward/portset"
)

// Protocols are the transport protocols every declared port is probed
// with, in output order.
var Protocols = [...]portset.Protocol{portset.TCP, portset.UDP, portset.SCTP}

// Host is a test host: a container of the inventory in a network
// namespace of its own, serving every port number it declares over every
// protocol of Protocols.
type Host struct {
	// ID is the container's "namespace/name".
	ID        string
	Container *firewall.Container
	// Addrs are the container's addresses, all configured on the host.
	Addrs []netip.Addr
	// Ports are the distinct port numbers the container declares, sorted.
	Ports []uint16
}

// Skip is an inventory container that is not a test host, and why.
type Skip struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

// Probe is one connection attempt of the truth table: from Src's address
// SrcAddr to Dst's address DstAddr on Port over Protocol. Expect is the
// engine's verdict, never the ruleset's.
type Probe struct {
	Src, Dst         *Host
	SrcAddr, DstAddr netip.Addr
	Port             uint16
	Protocol         portset.Protocol
	Expect           bool
}

func (p *Probe) String() string {
	return fmt.Sprintf("%s -> %s %d/%s (%s -> %s)", p.Src.ID, p.Dst.ID, p.Port, p.Protocol, p.SrcAddr, p.DstAddr)
}

// Plan is what a lab run checks: the engine, the ruleset compiled from
// it, the hosts and the expected truth table.
type Plan struct {
	Inventory *firewall.Inventory
	Engine    *netpol.Engine
	Ruleset   *firewall.Ruleset
	Hosts     []*Host
	// Skipped are the containers that are not hosts (hostNetwork ones).
	Skipped []Skip
	// Probes are ordered by port, protocol, family, source and
	// destination.
	Probes []Probe
}

// NewPlan compiles the NetworkPolicies and Namespaces of policies (which
// may be nil) for the containers of inv, as `ward fw` does (the engine
// re-evaluated with the inventory's addresses, then the ruleset with
// default options), and lists the probes of the truth table.
//
// Every container with an address becomes a host; hostNetwork containers
// share their node's network stack and are skipped. The truth table holds,
// for every ordered pair of different hosts, every port number the
// destination declares and every protocol, and every address family both
// hosts have, one probe per pair of engine endpoints: a host's first
// address of a family stands for all its addresses of that family that the
// engine puts in the same endpoint (ipBlocks can tell a workload's
// addresses apart). Its expected verdict is the engine's Allowed between
// the endpoints holding the two addresses.
//
// Host i's bridge port in the lab is h<i> (Start names the ports in the
// order of the hosts it is given: give it the plan's), so the ruleset is
// compiled from a copy of inv whose hosts have that port as their only
// Interfaces (anti-spoofing, Ruleset.Bindings), and one MAC address, their
// eth0's, as their only MACs: the container's first, unless another host
// has it, else the lab's own (HostMAC). Every lab run loads the bridge
// table too, with Ethernet sources bound, and every probe crosses it. The
// other containers have neither; inv itself is left as it was.
func NewPlan(policies *manifest.Set, inv *firewall.Inventory) (*Plan, error) {
	if inv == nil {
		return nil, fmt.Errorf("lab: no inventory")
	}
	inv = bound(inv)
	model, err := inv.Set(policies)
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	eng, err := netpol.Compile(model)
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	rs, err := firewall.Compile(eng, inv, firewall.Options{})
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	p := &Plan{Inventory: inv, Engine: eng, Ruleset: rs}
	for _, c := range inv.Containers {
		switch {
		case c.HostNetwork:
			p.Skipped = append(p.Skipped, Skip{c.ID(), "hostNetwork: shares its node's network stack, so it is not a test host and no probe starts or ends at it"})
			continue
		case len(c.IPs) == 0:
			p.Skipped = append(p.Skipped, Skip{c.ID(), "no address"})
			continue
		}
		h := &Host{ID: c.ID(), Container: c, Addrs: slices.Clone(c.IPs)}
		for _, port := range c.Ports {
			if !slices.Contains(h.Ports, port.Port) {
				h.Ports = append(h.Ports, port.Port)
			}
		}
		slices.Sort(h.Ports)
		p.Hosts = append(p.Hosts, h)
	}
	p.Probes = probes(eng, p.Hosts)
	return p, nil
}

// isHost reports whether c becomes a test host.
func isHost(c *firewall.Container) bool { return !c.HostNetwork && len(c.IPs) > 0 }

// portName is the bridge port, in the router, of the lab's host i.
func portName(i int) string { return fmt.Sprintf("h%d", i) }

// HostMAC is the MAC address of the lab's host i's eth0 when its
// container has none: 02:77:64:00 ("wd", locally administered) and i+1 in
// two bytes.
func HostMAC(i int) net.HardwareAddr {
	return net.HardwareAddr{0x02, 0x77, 0x64, 0x00, byte((i + 1) >> 8), byte(i + 1)} // #nosec G115 -- two bytes of the host's number, by design
}

// BridgeName is the lab's bridge, in the router: every network of a
// plan's inventory names it (firewall.Network.Bridge).
const BridgeName = "br0"

// bound returns a copy of inv whose test hosts, in order, have their lab
// bridge port (portName) as their only interface, and the other
// containers none, and whose networks are the lab's bridge: its ports
// that no host is bound to are closed (firewall.Ruleset.Bridges).
func bound(inv *firewall.Inventory) *firewall.Inventory {
	out := *inv
	out.Networks = make([]*firewall.Network, len(inv.Networks))
	for i, n := range inv.Networks {
		nn := *n
		nn.Bridge = BridgeName
		out.Networks[i] = &nn
	}
	out.Containers = make([]*firewall.Container, len(inv.Containers))
	n := 0
	used := map[string]bool{}
	for i, c := range inv.Containers {
		cc := *c
		cc.Interfaces, cc.MACs = nil, nil
		if isHost(c) {
			cc.Interfaces = []string{portName(n)}
			mac := HostMAC(n)
			if len(c.MACs) > 0 && !used[c.MACs[0].String()] {
				mac = c.MACs[0] // one MAC address per eth0 of the bridge
			}
			used[mac.String()] = true
			cc.MACs = []net.HardwareAddr{mac}
			n++
		}
		out.Containers[i] = &cc
	}
	return &out
}

// point is an address a host is probed at, standing for an endpoint.
type point struct {
	host *Host
	addr netip.Addr
	ep   *netpol.Endpoint
}

// points returns, per family, the hosts' first address of each endpoint.
func points(eng *netpol.Engine, hosts []*Host) map[firewall.Family][]point {
	out := map[firewall.Family][]point{}
	for _, h := range hosts {
		type key struct {
			f  firewall.Family
			ep *netpol.Endpoint
		}
		seen := map[key]bool{}
		for _, a := range h.Addrs {
			ep, f := eng.EndpointOfIP(a), family(a)
			if seen[key{f, ep}] {
				continue
			}
			seen[key{f, ep}] = true
			out[f] = append(out[f], point{h, a, ep})
		}
	}
	return out
}

func family(a netip.Addr) firewall.Family {
	if a.Is4() {
		return firewall.IPv4
	}
	return firewall.IPv6
}

func probes(eng *netpol.Engine, hosts []*Host) []Probe {
	var ports []uint16
	for _, h := range hosts {
		ports = append(ports, h.Ports...)
	}
	slices.Sort(ports)
	ports = slices.Compact(ports)
	pts := points(eng, hosts)
	allowed := map[[2]*netpol.Endpoint]portset.Set{}
	var out []Probe
	for _, port := range ports {
		for _, proto := range Protocols {
			for _, f := range firewall.Families {
				for _, src := range pts[f] {
					for _, dst := range pts[f] {
						if src.host == dst.host || !slices.Contains(dst.host.Ports, port) {
							continue
						}
						key := [2]*netpol.Endpoint{src.ep, dst.ep}
						a, ok := allowed[key]
						if !ok {
							a = eng.Allowed(src.ep, dst.ep)
							allowed[key] = a
						}
						out = append(out, Probe{Src: src.host, Dst: dst.host, SrcAddr: src.addr, DstAddr: dst.addr,
							Port: port, Protocol: proto, Expect: a.Contains(proto, port)})
					}
				}
			}
		}
	}
	return out
}
