package firewall

import (
	"net/netip"
	"slices"

	"github.com/wardsec/ward/ipset"
	"github.com/wardsec/ward/netpol"
	"github.com/wardsec/ward/portset"
)

// Hook says where a packet meets the ruleset: forwarded between two
// addresses, delivered to the host, or sent by the host.
type Hook uint8

// The hooks of Ward's base chains.
const (
	Forward Hook = iota
	Input
	Output
)

func (h Hook) String() string {
	switch h {
	case Input:
		return "input"
	case Output:
		return "output"
	}
	return "forward"
}

// Oracle answers, with the engine alone and without the ruleset, whether
// the ruleset Compile makes of the same engine, inventory and options
// accepts a new flow. It states the contract the compiler keeps (tested
// packet by packet against an interpreter of the compiled ruleset), and
// it decides which tracked connections a new ruleset no longer allows
// (FlushDenied). Packets conntrack already tracks are not its business:
// replies, and ICMP errors related to a connection (which the ruleset
// accepts, but for a container's error quoting a packet to another
// address: icmpErrorRules; the interpreter's tests model those).
type Oracle struct {
	eng          *netpol.Engine
	unclassified ipset.Set
	managed      ipset.Set
	quarantined  ipset.Set
	allow        bool
	ports        bool // the inventory names containers' bridge ports
	// self are the containers' addresses: a connection from one to
	// itself through the host is accepted (a pod always reaches itself).
	self []netip.Addr
	// published lists, by protocol and host port, the containers that
	// publish it and their port.
	published map[publishedKey][]publishedTarget
	// proxy says whether the inventory identifies the userland proxy's
	// sockets (Relayed).
	proxy bool
}

type publishedKey struct {
	proto portset.Protocol
	port  uint16
}

type publishedTarget struct {
	c    *Container
	port uint16
}

// NewOracle returns the oracle of Compile(eng, inv, opts).
func NewOracle(eng *netpol.Engine, inv *Inventory, opts Options) *Oracle {
	var owned []ipset.Range
	for _, ep := range eng.Endpoints() {
		for _, ip := range ep.IPs {
			owned = append(owned, ipset.Range{From: ip, To: ip})
		}
	}
	var managed, quarantined []ipset.Range
	if inv != nil {
		managed = inv.Managed().Ranges()
		for _, q := range inv.Quarantined {
			for _, ip := range q.IPs {
				quarantined = append(quarantined, ipset.Range{From: ip.Unmap(), To: ip.Unmap()})
			}
		}
	}
	ownedSet := ipset.Of(owned...)
	published := map[publishedKey][]publishedTarget{}
	if inv != nil {
		for _, c := range inv.Containers {
			for _, p := range c.Published {
				k := publishedKey{p.Protocol, p.HostPort}
				published[k] = append(published[k], publishedTarget{c, p.Port})
			}
		}
	}
	return &Oracle{proxy: inv != nil && inv.UserlandProxy != nil, published: published, self: selfAddrs(inv), eng: eng, allow: opts.AllowUnclassified, managed: ipset.Of(managed...),
		unclassified: subtract(ipset.Of(managed...), ownedSet), quarantined: subtract(ipset.Of(quarantined...), ownedSet),
		ports: len(bindings(inv)) > 0}
}

// Allows reports whether a new flow from src to dst on proto and port
// passes Ward's ruleset at hook:
//
//   - dropped when the source (except at Output, where it is the host)
//     or the destination (except at Input) is unclassified: in a managed
//     network and owned by no container, unless AllowUnclassified; or
//     quarantined: an address of a container of Inventory.Quarantined,
//     whatever AllowUnclassified says;
//   - else accepted between two external addresses (nothing selects
//     them);
//   - else accepted iff the engine allows the port between the endpoints
//     holding the addresses.
//
// At Input and Output, the host's own address is external, as it is to
// the engine. At Input, a packet to a port the host publishes is judged,
// whatever its source, as the connection to every container publishing
// it (a container always reaches itself). At Output, the host's sockets
// are judged as the host's: see Relayed for the userland proxy's.
func (o *Oracle) Allows(hook Hook, src, dst netip.Addr, proto portset.Protocol, port uint16) bool {
	src, dst = src.Unmap(), dst.Unmap()
	if hook == Input {
		if targets := o.published[publishedKey{proto, port}]; len(targets) > 0 {
			return o.allowsPublished(src, proto, targets)
		}
	}
	if hook == Forward && src == dst && o.isSelf(src) {
		return true
	}
	if hook != Output && o.dropped(src) || hook != Input && o.dropped(dst) {
		return false
	}
	s, d := o.eng.EndpointOfIP(src), o.eng.EndpointOfIP(dst)
	if s.IsExternal() && d.IsExternal() {
		return true
	}
	return o.eng.Allowed(s, d).Contains(proto, port)
}

// isSelf reports whether a is a container's address.
func (o *Oracle) isSelf(a netip.Addr) bool {
	_, ok := slices.BinarySearchFunc(o.self, a, func(x, y netip.Addr) int { return x.Compare(y) })
	return ok
}

// publishes reports whether a container publishes port on the host.
func (o *Oracle) publishes(proto portset.Protocol, port uint16) bool {
	return len(o.published[publishedKey{proto, port}]) > 0
}

// Relayed reports whether a new flow from a socket of Docker's userland
// proxy (Inventory.UserlandProxy) to dst on proto and port is admitted at
// Output whatever the destination's ingress says: its onward leg to a port
// a container publishes, whose client was judged at Input. Every other
// socket of the host is judged by Allows.
func (o *Oracle) Relayed(dst netip.Addr, proto portset.Protocol, port uint16) bool {
	if !o.proxy {
		return false
	}
	dst = dst.Unmap()
	for _, targets := range o.published {
		for _, t := range targets {
			if t.port == port && slices.Contains(t.c.IPs, dst) && slices.ContainsFunc(t.c.Published, func(p Published) bool { return p.Protocol == proto && p.Port == port }) {
				return true
			}
		}
	}
	return false
}

// allowsPublished judges a packet to a port the host
// publishes: the connection the userland proxy relays it as, to every
// container publishing it (Container.Published), must be allowed; a
// container always reaches itself.
func (o *Oracle) allowsPublished(src netip.Addr, proto portset.Protocol, targets []publishedTarget) bool {
	if o.dropped(src) {
		return false
	}
	s := o.eng.EndpointOfIP(src)
	for _, t := range targets {
		if slices.Contains(t.c.IPs, src) {
			continue
		}
		if len(t.c.IPs) == 0 {
			return false
		}
		if d := o.eng.EndpointOfIP(t.c.IPs[0]); d.IsExternal() || !o.eng.Allowed(s, d).Contains(proto, t.port) {
			return false
		}
	}
	return true
}

// dropped reports whether a's packets go to the unclassified chain.
func (o *Oracle) dropped(a netip.Addr) bool {
	return (!o.allow && o.unclassified.Contains(a)) || o.quarantined.Contains(a)
}

// Unclassified reports whether a is in a managed network and owned by no
// container.
func (o *Oracle) Unclassified(a netip.Addr) bool { return o.unclassified.Contains(a.Unmap()) }

// Managed reports whether a is in a managed network: a TCP segment to or
// from it that is not a lone SYN opens no connection.
func (o *Oracle) Managed(a netip.Addr) bool { return o.managed.Contains(a.Unmap()) }

// IsGroup reports whether a is a broadcast or multicast destination
// (GroupPrefixes), which AllowsGroup judges.
func IsGroup(a netip.Addr) bool {
	for _, p := range GroupPrefixes {
		if p.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}

// AllowsGroup reports whether a new flow from src to the broadcast or
// multicast address group, forwarded through the bridge port of the
// container at member, passes: src's egress must allow group (an
// external address, as for any ipBlock), and the member's ingress must
// admit src as it would for a packet to member itself. member is invalid
// for a port the inventory does not name: a managed source may then not
// send to it (it can only be a container Ward has not classified yet).
// Without ports in the inventory, only the egress is judged.
func (o *Oracle) AllowsGroup(src, group, member netip.Addr, proto portset.Protocol, port uint16) bool {
	if !o.Allows(Forward, src, group, proto, port) {
		return false
	}
	if !o.ports {
		return true
	}
	if !member.IsValid() {
		return !o.managed.Contains(src.Unmap())
	}
	return o.eng.IngressAllowed(o.eng.EndpointOfIP(src.Unmap()), o.eng.EndpointOfIP(member.Unmap())).Contains(proto, port)
}

// AllowsAnyProtocol reports whether a new flow of a protocol without
// ports (ICMP, ESP, GRE, any other IP protocol) from src to dst passes
// at hook: as Allows, where the engine must allow every port of every
// protocol between the endpoints, since only a grant of every port admits
// other protocols in the ruleset.
func (o *Oracle) AllowsAnyProtocol(hook Hook, src, dst netip.Addr) bool {
	src, dst = src.Unmap(), dst.Unmap()
	if hook == Forward && src == dst && o.isSelf(src) {
		return true
	}
	if hook != Output && o.dropped(src) || hook != Input && o.dropped(dst) {
		return false
	}
	s, d := o.eng.EndpointOfIP(src), o.eng.EndpointOfIP(dst)
	if s.IsExternal() && d.IsExternal() {
		return true
	}
	return o.eng.Allowed(s, d).IsAll()
}

// Quarantined reports whether a is the address of a quarantined
// container (Inventory.Quarantined) that no container owns.
func (o *Oracle) Quarantined(a netip.Addr) bool { return o.quarantined.Contains(a.Unmap()) }
