package firewall

import (
	"bytes"
	"fmt"
	"math/big"
	"math/bits"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/wardsec/ward/ipset"
	"github.com/wardsec/ward/portset"
)

// TableFamily and TableName name the one nftables table Ward owns. Ward
// never adds anything to another table.
const (
	TableFamily = "inet"
	TableName   = "ward"
)

// Family is an address family.
type Family uint8

// The address families.
const (
	IPv4 Family = iota + 1
	IPv6
)

// Families lists the families in output order.
var Families = [...]Family{IPv4, IPv6}

func (f Family) String() string {
	switch f {
	case IPv4:
		return "IPv4"
	case IPv6:
		return "IPv6"
	}
	return "Family(" + strconv.Itoa(int(f)) + ")"
}

// nftProto is the payload protocol nft names addresses of f under.
func (f Family) nftProto() string {
	if f == IPv6 {
		return "ip6"
	}
	return "ip"
}

// nftType is the nft data type of addresses of f.
func (f Family) nftType() string {
	if f == IPv6 {
		return "ipv6_addr"
	}
	return "ipv4_addr"
}

// icmpName is nft's name of f's ICMP protocol.
func (f Family) icmpName() string {
	if f == IPv6 {
		return "ipv6-icmp"
	}
	return "icmp"
}

// suffix ends the names of sets and maps holding addresses of f.
func (f Family) suffix() string {
	if f == IPv6 {
		return "_v6"
	}
	return "_v4"
}

// Ruleset is a compiled table: Ward's whole nftables state. It is a value:
// String renders it for `nft -f`, and the structure is what netlink code
// and tests consume. Sets and Maps are listed before Chains, each in a
// fixed order, so the text is deterministic.
type Ruleset struct {
	Sets []*Set
	Maps []*Map
	// MarkMaps are verdict maps keyed by packet mark: the bridge table
	// marks a broadcast or multicast frame with its output port's class
	// (Binding.Mark), and the forward chain judges it by that class's
	// ingress grants (see GroupMark).
	MarkMaps []*MarkMap
	// Self are the containers' addresses (sorted), for the sets self_v4
	// and self_v6 of (address . address) pairs: a connection from a
	// container to itself through the host (Docker's hairpin NAT of a
	// published port, without its userland proxy) is accepted, since a
	// pod always reaches itself.
	Self   []netip.Addr
	Chains []*Chain
	// Bindings tie containers' addresses to their bridge ports: a frame
	// that enters a bridge from a bound port must carry one of the port's
	// addresses as its source (IPv4, ARP, IPv6; IPv6 link-local and
	// unspecified sources aside), or it is dropped before any other rule
	// sees it; and, when they know its MAC addresses (Binding.MACs), one
	// of those as its Ethernet source (an ARP packet as its sender
	// hardware address too), while no other port may send one of them
	// (bridgeMACRules). They are enforced in a second table of Ward's
	// own, table bridge ward (BridgeString), present only when there are
	// bindings.
	// Sorted by port.
	Bindings []Binding
	// Unbound keeps the bridge table's ports (VLAN-tagged frames to them
	// dropped, broadcast and multicast to them judged by their ingress)
	// without binding them to addresses: no prerouting chain, no address
	// sets (Options.NoBind).
	Unbound bool
	// SpoofLogGroup, when not 0, logs the bridge table's spoofed frames
	// to this nflog group instead of the kernel log (Options.LogGroup).
	SpoofLogGroup uint16
	// Bridges are the managed networks' Linux bridges (sorted), when
	// the inventory names them (Network.Bridge) and the ruleset binds
	// ports: every port of them that is not among Bindings is closed,
	// including one attached since the inventory was read, before any
	// sync lists it. The bridge table marks every frame from a bound port
	// with BoundMark (chain prerouting) and drops a frame it forwards to
	// a bound port without that mark, or from a bound port to a port not
	// bound (chain forward); the inet table's chain prerouting drops a
	// packet that enters the host through one of Bridges without it, and
	// table arp ward an ARP packet likewise (ARPString), so that a port
	// Ward has not bound can neither forge sources towards the
	// containers or the host nor teach the host's neighbour cache
	// another container's address.
	Bridges []string
	// NoLinkLocalLearn are the bridges of Bridges (sorted) whose
	// networks hold a container bound to MAC addresses: whoever applies
	// the ruleset sets their option no_linklocal_learn
	// (SetLinkLocalLearning), since a frame to 01:80:c2:00:00:0e (LLDP)
	// reaches no netfilter hook of a bridge, so no rule can drop it, yet
	// the bridge would learn its source: a port could take another
	// container's MAC address over with it. Not a part of Ward's tables.
	NoLinkLocalLearn []string
}

// PriorityRaw is nft's "raw" priority, relative to filter
// (Chain.Priority): before conntrack and Docker's destination NAT see a
// packet.
const PriorityRaw = -300

// PriorityPrerouting is the priority of the inet table's chain
// prerouting (Ruleset.Bridges), relative to filter: -450, before
// conntrack's defragmentation (-400) as well, so that the chain sees each
// fragment as it enters. A reassembled packet carries the mark of its
// first fragment: judged after reassembly, a fragment from a port not
// bound, joined to a first fragment from a bound port, would pass as
// bound (TestNewPortFragments).
const PriorityPrerouting = -450

// BoundMark is the packet mark the bridge table sets on every frame that
// enters a bridge from a bound port (Ruleset.Bridges), compared under
// BoundMarkMask so that other software's low bits do not hide it. The high
// half spells "WS" (Ward, source checked).
const (
	BoundMark     uint32 = 0x57530000
	BoundMarkMask uint32 = 0xffff0000
)

// Binding is a bridge port (the host side of a container's veth) and the
// addresses frames from it may carry.
type Binding struct {
	Port  string
	Addrs []netip.Addr // sorted
	// Mark is what the bridge table marks broadcast and multicast
	// frames leaving the port with: GroupMark, or GroupMark plus the
	// number of the container's class when its ingress is isolated; 0
	// (no mark, as a port Ward does not know) for a port without
	// addresses (Inventory.UnknownPorts).
	Mark uint32
	// MACs are the MAC addresses frames from the port may carry as their
	// Ethernet source (Container.MACs), sorted; none when unknown, and
	// then the port's frames may carry any source MAC address but one
	// bound to another port.
	MACs []net.HardwareAddr
}

// GroupMark is the packet mark of a broadcast or multicast frame bound for
// a container port whose ingress is not isolated; GroupMark+n marks one
// bound for a port of the n-th ingress-isolated class. The high half
// spells "WD", so that marks other software sets are never mistaken for
// Ward's.
const GroupMark uint32 = 0x57440000

// Group destinations: a packet to one of these addresses reaches every
// port of a bridge (or every member of a group), not the one container
// that owns the address, so its ingress is judged by the port it leaves
// through.
var GroupPrefixes = [...]netip.Prefix{
	netip.MustParsePrefix("224.0.0.0/4"),
	netip.MustParsePrefix("255.255.255.255/32"),
	netip.MustParsePrefix("ff00::/8"),
}

// MarkMap is a named verdict map keyed by packet mark.
type MarkMap struct {
	Name     string
	Elements []MarkElement // sorted by mark
}

// MarkElement maps a packet mark to a verdict.
type MarkElement struct {
	Mark    uint32
	Verdict Verdict
}

// Set is a named interval set of addresses of one family.
type Set struct {
	Name   string
	Family Family
	// Elements are sorted, disjoint and non-adjacent.
	Elements []ipset.Range
}

// Map is a named interval verdict map keyed by addresses of one family.
type Map struct {
	Name     string
	Family   Family
	Elements []MapElement // sorted, disjoint
}

// MapElement maps a range of addresses to a verdict.
type MapElement struct {
	Range   ipset.Range
	Verdict Verdict
}

// Chain is a chain of the table. A base chain has a Hook; Ward's base
// chains are filter chains at priority filter + Priority (negative: before
// other filter chains, such as Docker's) with policy accept, so that
// Ward's drops are final while its accepts leave the packet to the next
// base chain.
type Chain struct {
	Name     string
	Hook     string // "forward", "input" or "output"; "" for a regular chain
	Priority int    // relative to filter (0); base chains only
	Rules    []Rule
}

// Rule is one rule: every match it has must hold for its statements and
// verdict to apply. Matches are tested in field order.
type Rule struct {
	Iif, Oif string // the packet's input or output interface ("lo")
	// IifNot negates Iif: packets whose input interface is not Iif
	// (iif != "lo").
	IifNot bool
	// IifBridges matches packets whose input interface is one of the
	// ruleset's Bridges (iifname @bridges): for a packet a bridge hands
	// to the host or to br_netfilter, the bridge's name.
	IifBridges bool
	// IifNotBridges matches packets whose input interface is none of the
	// ruleset's Bridges (iifname != @bridges): in chain prerouting, a
	// packet that entered the host through its uplink, a tunnel or a
	// bridge Ward does not manage.
	IifNotBridges bool
	// IfName matches the packet's input interface, or with IfOut its
	// output interface, by name (iifname, oifname): a name ending in *
	// matches every name it begins.
	IfName string
	IfOut  bool
	// IfNotBridges, with IfName, matches when that interface is none of
	// the ruleset's Bridges (iifname != @bridges).
	IfNotBridges bool
	// MarkNe, when set, matches packets whose mark, masked, differs from
	// its value (meta mark & Mask != Value).
	MarkNe *MarkMatch
	// CtState matches the packet's conntrack state, any of these
	// ("established", "related", "invalid", "new", "untracked").
	CtState []string
	// CtStatus matches when the connection has this status bit: only
	// "dnat" (its destination was translated, as Docker does for a
	// published port).
	CtStatus string
	// TCPNotSYN matches TCP packets whose flags among FIN, SYN, RST and
	// ACK are not SYN alone: packets that cannot open a connection.
	TCPNotSYN bool
	// ICMPTypes matches ICMP (IPv4) packets of these types, by nft name
	// (icmpTypes).
	ICMPTypes []string
	// ICMPv6Types matches ICMPv6 packets of these types, by nft name.
	ICMPv6Types []string
	// HopLimit, when not 0, matches IPv6 packets with this hop limit
	// (ip6 hoplimit).
	HopLimit uint8
	// ICMP, when set, matches the packets of the family's ICMP: ICMP for
	// IPv4, ICMPv6 for IPv6 (meta l4proto icmp, ipv6-icmp), whichever
	// the packet's own family.
	ICMP Family
	// ForeignError, when valid, matches the packets from this address
	// that, read as an ICMP or ICMPv6 error, quote a packet to another
	// address: the destination of the IP header an error quotes (bytes
	// 24..27 of an ICMP message, 32..47 of an ICMPv6 one, nft's raw
	// @th,192,32 and @th,256,128) is not ForeignError. The host that
	// sends an error is the one that received the packet it quotes, so a
	// container's error quotes a packet to itself; only a router's quotes
	// a packet to someone else.
	ForeignError netip.Addr
	// QuotedIn, when valid, matches the packets that, read as an ICMP or
	// ICMPv6 error, quote a packet to an address in the prefix (the
	// bytes ForeignError reads): with Addr, an error from outside the
	// managed networks about a packet to a container, which no router
	// sends (TestExternalICMPError).
	QuotedIn netip.Prefix
	// Dst, when valid, matches packets whose destination is in the
	// prefix (and of its family).
	Dst netip.Prefix
	// Addr matches when the packet's source or destination address is in
	// a named set (and the packet is of the set's family).
	Addr *Lookup
	// SrcNotLocal matches packets whose source address is not one of the
	// host's own (fib saddr type != local): in the output hook, a packet
	// the host sends from another's address, as a raw IP socket can; in
	// the prerouting hook, a packet that did not loop back from the host.
	SrcNotLocal bool
	// Pair matches when the packet's (source . destination) is in the
	// named set of address pairs of Pair.Family (Pair.Dst unused).
	Pair *Lookup
	// L4 matches the packet's transport protocol and destination port.
	L4 *L4
	// SkUID, when set, matches packets of a local socket owned by this
	// user (meta skuid): packets the host sends.
	SkUID *uint32
	// Cgroup matches packets of a local socket by its cgroup v2.
	Cgroup *CgroupMatch
	// VMap looks the packet's address up in a named verdict map: the
	// element's verdict applies; no element means no match. When set,
	// Verdict is unused.
	VMap *Lookup
	// MarkVMap looks the packet's mark up in the named MarkMap, as VMap
	// does an address.
	MarkVMap string
	// LogRate, when LogPrefix is set, limits logging to LogRate packets a
	// second (the limit is a match: over it, the rule does not apply, so
	// a rule that logs has no verdict).
	LogRate   int
	LogPrefix string
	// LogGroup, when not 0, logs to this nflog group instead of the
	// kernel log.
	LogGroup uint16
	Counter  bool
	// CtMarkSet, when set, sets the connection's mark (ct mark set).
	CtMarkSet *uint32
	Verdict   Verdict
}

// MarkMatch is a packet mark compared under a mask.
type MarkMatch struct{ Mask, Value uint32 }

// ProxyConnMark is the conntrack mark of the connections the
// userland_proxy chain admits (it spells "WDPX"): FlushDenied keeps those
// of them the client's leg of which it keeps, and only those.
const ProxyConnMark uint32 = 0x57445058

// CgroupMatch matches a local socket's cgroup v2 (the cgroup of the
// process that created it) at one level of the hierarchy (socket cgroupv2
// level N): the socket's cgroup or its ancestor at depth Level must be
// Cgroup, or, with Any, exist (the socket's cgroup is at least that deep).
type CgroupMatch struct {
	Level  uint32
	Any    bool
	Cgroup Cgroup
}

// Cgroup is a cgroup v2.
type Cgroup struct {
	// Path is the cgroup's directory relative to /sys/fs/cgroup, as nft
	// names it ("system.slice/docker.service"; "unified/x" where cgroup v2
	// is mounted at /sys/fs/cgroup/unified): "" for the root.
	Path string
	// Level is its depth in the hierarchy: 0 for the root.
	Level uint32
	// ID is the cgroup's ID, the inode number of its directory: what the
	// kernel compares.
	ID uint64
}

// Lookup names a set or map and the address it is keyed by.
type Lookup struct {
	Family Family
	Dst    bool // destination address; source otherwise
	Name   string
	// Not, of Rule.Addr, matches when the address is not in the set.
	Not bool
}

// L4 matches a transport protocol and destination port. Ports nil means
// any packet of the protocols (port 0 included).
type L4 struct {
	Protocols []portset.Protocol
	Ports     []PortRange
	// Src matches Ports against the source port instead.
	Src bool
}

// PortRange is an inclusive range of ports.
type PortRange struct{ Lo, Hi uint16 }

// VerdictKind is what a verdict does.
type VerdictKind uint8

// The verdicts. Continue goes on with the next rule (no verdict).
const (
	Continue VerdictKind = iota
	Accept
	Drop
	Return
	Jump
	Goto
)

// Verdict is a rule's verdict; Chain is the target of Jump and Goto.
type Verdict struct {
	Kind  VerdictKind
	Chain string
}

func (v Verdict) String() string {
	switch v.Kind {
	case Accept:
		return "accept"
	case Drop:
		return "drop"
	case Return:
		return "return"
	case Jump:
		return "jump " + v.Chain
	case Goto:
		return "goto " + v.Chain
	}
	return ""
}

// Chain returns the chain named name, or nil.
func (r *Ruleset) Chain(name string) *Chain {
	for _, c := range r.Chains {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Set returns the set named name, or nil.
func (r *Ruleset) Set(name string) *Set {
	for _, s := range r.Sets {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Map returns the map named name, or nil.
func (r *Ruleset) Map(name string) *Map {
	for _, m := range r.Maps {
		if m.Name == name {
			return m
		}
	}
	return nil
}

// MarkMap returns the mark map named name, or nil.
func (r *Ruleset) MarkMap(name string) *MarkMap {
	for _, m := range r.MarkMaps {
		if m.Name == name {
			return m
		}
	}
	return nil
}

// Stats counts what a ruleset holds.
type Stats struct {
	Sets, Maps, Chains, Rules int
	// Elements counts the elements of sets and maps.
	Elements int
	// Bindings counts the (port, address) pairs of the bridge table.
	Bindings int
}

// Stats counts the ruleset's objects.
func (r *Ruleset) Stats() Stats {
	s := Stats{Sets: len(r.Sets), Maps: len(r.Maps) + len(r.MarkMaps), Chains: len(r.Chains)}
	for _, f := range Families {
		if n := len(selfElements(r.Self, f)); n > 0 {
			s.Sets++
			s.Elements += n
		}
	}
	if len(r.Bridges) > 0 {
		s.Sets++
		s.Elements += len(r.Bridges)
	}
	for _, m := range r.MarkMaps {
		s.Elements += len(m.Elements)
	}
	for _, set := range r.Sets {
		s.Elements += len(set.Elements)
	}
	for _, m := range r.Maps {
		s.Elements += len(m.Elements)
	}
	for _, c := range r.Chains {
		s.Rules += len(c.Rules)
	}
	if !r.Unbound {
		for _, b := range r.Bindings {
			s.Bindings += len(b.Addrs)
		}
	}
	return s
}

// String renders the table in nft's syntax, as `nft -f` reads it and close
// to how `nft list table inet ward` prints it (counters are written without
// their values).
func (r *Ruleset) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "table %s %s {\n", TableFamily, TableName)
	first := true
	sep := func() {
		if !first {
			b.WriteByte('\n')
		}
		first = false
	}
	for _, s := range r.Sets {
		sep()
		fmt.Fprintf(&b, "\tset %s {\n\t\ttype %s\n\t\tflags interval\n", s.Name, s.Family.nftType())
		writeElements(&b, s.elementStrings(), s.Family)
		b.WriteString("\t}\n")
	}
	for _, m := range r.Maps {
		sep()
		fmt.Fprintf(&b, "\tmap %s {\n\t\ttype %s : verdict\n\t\tflags interval\n", m.Name, m.Family.nftType())
		writeElements(&b, m.elementStrings(), m.Family)
		b.WriteString("\t}\n")
	}
	for _, m := range r.MarkMaps {
		sep()
		fmt.Fprintf(&b, "\tmap %s {\n\t\ttype mark : verdict\n", m.Name)
		writeElementsN(&b, m.elementStrings(), 5)
		b.WriteString("\t}\n")
	}
	if len(r.Bridges) > 0 {
		sep()
		b.WriteString(r.bridgesSet())
	}
	for _, f := range Families {
		elems := selfElements(r.Self, f)
		if len(elems) == 0 {
			continue
		}
		sep()
		fmt.Fprintf(&b, "\tset %s {\n\t\ttype %s . %s\n\t\tflags interval\n", SetSelf+f.suffix(), f.nftType(), f.nftType())
		writeElementsN(&b, elems, 1)
		b.WriteString("\t}\n")
	}
	for _, c := range r.Chains {
		sep()
		fmt.Fprintf(&b, "\tchain %s {\n", c.Name)
		if c.Hook != "" {
			fmt.Fprintf(&b, "\t\ttype filter hook %s priority %s; policy accept;\n", c.Hook, priority(c.Priority))
		}
		for _, rule := range c.Rules {
			b.WriteString("\t\t")
			b.WriteString(rule.String())
			b.WriteByte('\n')
		}
		b.WriteString("\t}\n")
	}
	b.WriteString("}\n")
	if len(r.Bindings) > 0 {
		b.WriteString(r.BridgeString())
	}
	if r.closed() {
		b.WriteString(r.ARPString())
	}
	return b.String()
}

// closed reports whether the ruleset closes the ports of Bridges that it
// does not bind (Ruleset.Bridges).
func (r *Ruleset) closed() bool { return len(r.Bridges) > 0 && len(r.Bindings) > 0 && !r.Unbound }

// SetBridges names the set of Ruleset.Bridges, in the inet and the ARP
// table.
const SetBridges = "bridges"

// bridgeElements renders the elements of set bridges as nft lists them.
func bridgeElements(bridges []string) []string {
	q := make([]string, len(bridges))
	for i, n := range bridges {
		q[i] = strconv.Quote(n)
	}
	return q
}

// bridgesSet renders set bridges as nft lists it.
func (r *Ruleset) bridgesSet() string {
	q := bridgeElements(r.Bridges)
	return fmt.Sprintf("\tset %s {\n\t\ttype ifname\n\t\telements = { %s }\n\t}\n", SetBridges, strings.Join(q, ",\n\t\t\t     "))
}

// ARPFamily and ARPChain name Ward's ARP table and its one chain.
const (
	ARPFamily = "arp"
	ARPChain  = "input"
)

// unboundRule drops a packet that entered through one of the managed
// bridges from a port the bridge table did not mark (Ruleset.Bridges).
func (r *Ruleset) unboundRule() Rule {
	return Rule{IifBridges: true, MarkNe: &MarkMatch{Mask: BoundMarkMask, Value: BoundMark}, Counter: true, Verdict: Verdict{Kind: Drop}}
}

// ARPString renders table arp ward, as nft lists it: an ARP packet that
// reaches the host through a managed bridge from a port Ward has not bound
// (no BoundMark) is dropped before the host's neighbour cache learns from
// it. Empty unless the ruleset closes such ports (Ruleset.Bridges).
func (r *Ruleset) ARPString() string {
	if !r.closed() {
		return ""
	}
	return fmt.Sprintf("table %s %s {\n%s\n\tchain %s {\n\t\ttype filter hook input priority filter; policy accept;\n\t\t%s\n\t}\n}\n",
		ARPFamily, TableName, r.bridgesSet(), ARPChain, r.unboundRule())
}

// The bridge table's names.
const (
	BridgeFamily    = "bridge"
	BridgePorts     = "ports"
	BridgeAddrs4    = "addrs_v4"
	BridgeAddrs6    = "addrs_v6"
	BridgeChain     = "prerouting"
	BridgeForward   = "forward"
	BridgeMarks     = "port_marks"
	BridgeND        = "nd_ports"
	BridgeNDBound   = "nd_bound"
	BridgeBound4    = "bound_v4"
	BridgeBound6    = "bound_v6"
	BridgeGroupOpen = "group_open"
	BridgeMACs      = "macs"
	BridgeMACPorts  = "mac_ports"
	BridgeBoundMACs = "bound_macs"
	BridgeMACSpoof  = "mac_spoof"
	BridgeInput     = "input"
	BridgeOutput    = "output"
	BridgePriority  = -300 // "dstnat": before br_netfilter hands frames to the inet hooks
	SpoofLogPrefix  = "ward-spoof "
	spoofLogRateSec = 10
)

// BridgeString renders the bridge table of the bindings, as nft lists it.
// Chain prerouting accepts IPv4 frames whose source is one of their
// port's addresses (first: the common case costs one lookup), then frames
// from unbound ports, then frames whose source is one of their port's
// addresses (an ARP sender likewise; IPv6 link-local and unspecified
// sources, for neighbour discovery, too), and drops the rest from bound
// ports, logging at most 10 a second: VLAN-tagged frames (VLAN 0
// included) from a bound port match no accept and are dropped too. A
// router advertisement from a bound port is dropped first, whatever its
// source: a container is never the router of a Docker bridge, and its
// advertisement would make the others route through it (a default route,
// a hop limit, an MTU of its choosing) past every address binding. A
// neighbour advertisement from a bound port jumps (map nd_ports) to its
// port's chain nd_<n>, which drops it unless its target is a link-local
// address or one of the port's IPv6 addresses (nd_none, of the ports
// without any, only the former): the source binding does not cover the
// target, and an advertisement for another container's address, from
// the sender's own link-local or bound address, would rewrite its
// neighbours' cache entries for that address to the sender's MAC address
// and send it their packets.
// Chain forward drops VLAN-tagged frames bound for a bound port (which
// br_netfilter would hand to no inet hook unless
// bridge-nf-filter-vlan-tagged is on), drops packets to or from a
// link-local IPv6 address bound for a bound port but neighbour, router and
// multicast listener discovery (ICMPv6 types 130 to 136 and 143: no rule
// can tell containers' link-local addresses apart, so they are denied
// whatever the policies say, ICMPv6 echo and errors included; neighbour
// discovery keeps working), and marks each broadcast or
// multicast packet with its output port's Binding.Mark, so that the inet
// table judges it by the ingress of the container it reaches.
// Chain output judges the frames the host sends through a bridge
// (bridgeOutputRules), with sets bound_v4 and bound_v6 of every binding's
// addresses, then the host's group and link-local packets
// (bridgeHostRules), with set group_open.
// When bindings know MAC addresses (Binding.MACs), chain prerouting first
// binds Ethernet sources (bridgeMACRules), with sets macs (port . MAC
// address pairs), mac_ports (the ports with MAC addresses) and bound_macs
// (every binding's MAC addresses), and chain mac_spoof, which logs like
// the prerouting chain's last rules and drops.
func (r *Ruleset) BridgeString() string {
	var b strings.Builder
	fmt.Fprintf(&b, "table %s %s {\n", BridgeFamily, TableName)
	ports, v4, v6, marks := bindingElements(r.Bindings)
	set := func(name, typ string, elems []string) {
		fmt.Fprintf(&b, "\tset %s {\n\t\ttype %s\n", name, typ)
		if len(elems) > 0 {
			b.WriteString("\t\telements = { " + strings.Join(elems, ",\n\t\t\t     ") + " }\n")
		}
		b.WriteString("\t}\n\n")
	}
	set(BridgePorts, "ifname", ports)
	if !r.Unbound {
		set(BridgeAddrs4, "ifname . ipv4_addr", v4)
		set(BridgeAddrs6, "ifname . ipv6_addr", v6)
		b4, b6 := boundAddrs(r.Bindings)
		for _, bs := range []struct {
			name string
			f    Family
			a    []netip.Addr
		}{{BridgeBound4, IPv4, b4}, {BridgeBound6, IPv6, b6}} {
			fmt.Fprintf(&b, "\tset %s {\n\t\ttype %s\n", bs.name, bs.f.nftType())
			elems := make([]string, len(bs.a))
			for i, a := range bs.a {
				elems[i] = a.String()
			}
			writeElements(&b, elems, bs.f)
			b.WriteString("\t}\n\n")
		}
	}
	set(BridgeGroupOpen, "ifname", groupOpenPorts(r.Bindings))
	fmt.Fprintf(&b, "\tmap %s {\n\t\ttype ifname : verdict\n", BridgeMarks)
	if len(marks) > 0 {
		b.WriteString("\t\telements = { " + strings.Join(marks, ",\n\t\t\t     ") + " }\n")
	}
	b.WriteString("\t}\n\n")
	nd := ndElements(r.Bindings)
	_, ndc := ndChains(r.Bindings)
	if !r.Unbound {
		fmt.Fprintf(&b, "\tmap %s {\n\t\ttype ifname : verdict\n", BridgeND)
		if len(nd) > 0 {
			b.WriteString("\t\telements = { " + strings.Join(nd, ",\n\t\t\t     ") + " }\n")
		}
		b.WriteString("\t}\n\n")
	}
	macs := r.bindsMACs()
	if macs {
		ports, pairs, bound := macElements(r.Bindings)
		for _, s := range []struct {
			name, typ string
			elems     []string
		}{{BridgeMACs, "ifname . ether_addr", pairs}, {BridgeMACPorts, "ifname", ports}, {BridgeBoundMACs, "ether_addr", bound}} {
			fmt.Fprintf(&b, "\tset %s {\n\t\ttype %s\n", s.name, s.typ)
			writeElementsN(&b, s.elems, 1)
			b.WriteString("\t}\n\n")
		}
	}
	var pre []string
	setMark := ""
	if r.closed() {
		setMark = "meta mark set " + markString(BoundMark) + " "
	}
	spoofLog := fmt.Sprintf("limit rate %d/second log prefix %q", spoofLogRateSec, SpoofLogPrefix) + logGroupText(r.SpoofLogGroup)
	if macs {
		pre = slices.Clone(bridgeMACRules)
	}
	if !r.Unbound {
		pre = append(pre, []string{
			"iifname . ip saddr @" + BridgeAddrs4 + " " + setMark + "accept",
		}...)
		pre = append(pre, bridgeBoundSourceRules...)
		pre = append(pre, []string{
			"iifname != @" + BridgePorts + " accept",
			strings.TrimSpace(setMark),
			"iifname . arp saddr ip @" + BridgeAddrs4 + " accept",
			"arp saddr ip 0.0.0.0 accept",
			"icmpv6 type nd-router-advert counter drop",
			"icmpv6 type nd-neighbor-advert iifname vmap @" + BridgeND,
			"ip6 saddr fe80::/10 icmpv6 type 130-136 accept",
			"ip6 saddr fe80::/10 icmpv6 type mld2-listener-report accept",
			"ip6 saddr :: icmpv6 type 130-136 accept",
			"ip6 saddr :: icmpv6 type mld2-listener-report accept",
			"iifname . ip6 saddr @" + BridgeAddrs6 + " accept",
			spoofLog,
			"counter drop",
		}...)
		fmt.Fprintf(&b, "\tchain %s {\n\t\ttype filter hook prerouting priority dstnat; policy accept;\n", BridgeChain)
		for _, l := range pre {
			if l != "" {
				b.WriteString("\t\t" + l + "\n")
			}
		}
		b.WriteString("\t}\n\n")
	}
	fmt.Fprintf(&b, "\tchain %s {\n\t\ttype filter hook forward priority filter; policy accept;\n", BridgeForward)
	boundMark := maskedMark(BoundMarkMask, BoundMark)
	if r.closed() {
		fmt.Fprintf(&b, "\t\toifname @%s meta mark != %s counter drop\n", BridgePorts, boundMark)
	}
	if r.Unbound {
		// No prerouting chain: a container's router advertisements are
		// dropped here (TestRouterAdvertNoBind).
		fmt.Fprintf(&b, "\t\ticmpv6 type nd-router-advert iifname @%s counter drop\n", BridgePorts)
	}
	for _, l := range []string{
		"ether type 8021q oifname @" + BridgePorts + " counter drop",
		"ether type 8021ad oifname @" + BridgePorts + " counter drop",
		"ip6 saddr fe80::/10 meta l4proto != ipv6-icmp oifname @" + BridgePorts + " counter drop",
		"ip6 saddr fe80::/10 icmpv6 type != 130-136 icmpv6 type != mld2-listener-report oifname @" + BridgePorts + " counter drop",
		"ip6 daddr fe80::/10 meta l4proto != ipv6-icmp oifname @" + BridgePorts + " counter drop",
		"ip6 daddr fe80::/10 icmpv6 type != 130-136 icmpv6 type != mld2-listener-report oifname @" + BridgePorts + " counter drop",
		"ip daddr 224.0.0.0/4 oifname vmap @" + BridgeMarks,
		"ip daddr 255.255.255.255 oifname vmap @" + BridgeMarks,
		"ip6 daddr ff00::/8 oifname vmap @" + BridgeMarks,
	} {
		b.WriteString("\t\t" + l + "\n")
	}
	if !r.Unbound {
		for _, l := range slices.Concat(bridgeDestRules, bridgeOutputRules) {
			b.WriteString("\t\t" + l + "\n")
		}
	}
	if r.closed() {
		fmt.Fprintf(&b, "\t\tmeta mark %s oifname != @%s counter drop\n", boundMark, BridgePorts)
	}
	b.WriteString("\t}\n")
	out := slices.Concat(bridgeDestRules, bridgeOutputRules, bridgeHostRules)
	if r.Unbound {
		// Without address sets, the host's group and link-local packets
		// alone: they need the ports only.
		out = bridgeHostRules
	}
	fmt.Fprintf(&b, "\n\tchain %s {\n\t\ttype filter hook output priority filter; policy accept;\n", BridgeOutput)
	for _, l := range out {
		b.WriteString("\t\t" + l + "\n")
	}
	b.WriteString("\t}\n")
	seen := map[uint32]bool{0: true}
	for _, bd := range r.Bindings {
		if seen[bd.Mark] {
			continue
		}
		seen[bd.Mark] = true
		fmt.Fprintf(&b, "\n\tchain %s {\n\t\tmeta mark set %s\n\t}\n", markChain(bd.Mark), markString(bd.Mark))
	}
	if !r.Unbound {
		for _, c := range ndc {
			fmt.Fprintf(&b, "\n\tchain %s {\n\t\t@th,64,16 & 0xffc0 == 0xfe80 return\n", c.name)
			for _, a := range c.addrs {
				fmt.Fprintf(&b, "\t\t@th,64,128 0x%x return\n", a.AsSlice())
			}
			b.WriteString("\t\tcounter drop\n\t}\n")
		}
		_, a6 := boundAddrs(r.Bindings)
		fmt.Fprintf(&b, "\n\tchain %s {\n", BridgeNDBound)
		for _, a := range a6 {
			fmt.Fprintf(&b, "\t\t@th,64,128 0x%x counter drop\n", a.AsSlice())
		}
		b.WriteString("\t}\n")
	}
	if macs {
		fmt.Fprintf(&b, "\n\tchain %s {\n\t\t%s\n\t\tcounter drop\n\t}\n", BridgeMACSpoof, spoofLog)
	}
	if macs || !r.Unbound {
		fmt.Fprintf(&b, "\n\tchain %s {\n\t\ttype filter hook input priority filter; policy accept;\n", BridgeInput)
		var in []string
		if macs {
			in = bridgeMACRules[:2]
		}
		if !r.Unbound {
			in = slices.Concat(in, bridgeInputTagRules)
		}
		for _, l := range in {
			b.WriteString("\t\t" + l + "\n")
		}
		b.WriteString("\t}\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// bridgeMACRules open chain prerouting when bindings know MAC addresses:
// a frame from a port with MAC addresses must carry one of them as its
// Ethernet source, and an ARP packet from it as its sender hardware
// address; a frame from any other port must carry none of the bound MAC
// addresses (a port bound to addresses only, one of no classified
// container, one attached since the last sync). The bridge learns its
// forwarding database from every frame's source after its prerouting
// hooks, whatever the EtherType: without these rules a container (with
// NET_RAW) that sends frames with another's MAC address as their source
// takes that address over, and the bridge forwards it the other's unicast
// traffic (which the destination check, bridgeDestRules, then drops: a
// denial of service). The ARP rules test the EtherType first: other
// frames pay one comparison.
var bridgeMACRules = []string{
	"iifname @" + BridgeMACPorts + " iifname . ether saddr != @" + BridgeMACs + " jump " + BridgeMACSpoof,
	"iifname != @" + BridgeMACPorts + " ether saddr @" + BridgeBoundMACs + " jump " + BridgeMACSpoof,
	"iifname . arp saddr ether != @" + BridgeMACs + " iifname @" + BridgeMACPorts + " jump " + BridgeMACSpoof,
	"arp saddr ether @" + BridgeBoundMACs + " iifname != @" + BridgeMACPorts + " jump " + BridgeMACSpoof,
}

// Chain input holds bridgeMACRules' first two (the Ethernet source)
// when bindings know MAC addresses. A frame to an IEEE 802.1 reserved
// group address (01:80:c2:00:00:02 to 0f, EAPOL's 03 among them, but 0e)
// bypasses the prerouting hook: the bridge hands it to its input hook
// and then learns its source (br_handle_local_finish), so that a
// container could move another's MAC address to its port with one such
// frame (lab.TestMACSpoof). LLDP's 0e (and 00 with STP on) reaches no
// hook at all (lab.TestMACSpoofLLDP, docs/firewall.md).
//
// bindsMACs reports whether the bridge table binds MAC addresses: some
// binding knows its port's, and the ruleset binds sources at all.
func (r *Ruleset) bindsMACs() bool {
	return !r.Unbound && slices.ContainsFunc(r.Bindings, func(b Binding) bool { return len(b.MACs) > 0 })
}

// macElements renders the elements of sets mac_ports, macs and
// bound_macs as nft lists them.
func macElements(bindings []Binding) (ports, pairs, bound []string) {
	var all []net.HardwareAddr
	for _, b := range bindings {
		if len(b.MACs) == 0 {
			continue
		}
		ports = append(ports, strconv.Quote(b.Port))
		for _, m := range b.MACs {
			pairs = append(pairs, strconv.Quote(b.Port)+" . "+m.String())
			all = append(all, m)
		}
	}
	for _, m := range sortedMACs(all) {
		bound = append(bound, m.String())
	}
	return ports, pairs, bound
}

// sortedMACs returns macs sorted, each once.
func sortedMACs(macs []net.HardwareAddr) []net.HardwareAddr {
	out := slices.Clone(macs)
	slices.SortFunc(out, func(a, b net.HardwareAddr) int { return bytes.Compare(a, b) })
	return slices.CompactFunc(out, func(a, b net.HardwareAddr) bool { return bytes.Equal(a, b) })
}

// writeElements writes an elements line the way nft (1.0) lists it: two
// IPv4 elements a line, one IPv6 element a line, continuation lines
// aligned under the first. Empty sets have no elements line (nft rejects
// "elements = { }").
func writeElements(b *strings.Builder, elems []string, f Family) {
	perLine := 1
	if f == IPv4 {
		perLine = 2
	}
	writeElementsN(b, elems, perLine)
}

// writeElementsN writes an elements line with perLine elements a line
// (nft's choice depends on the key type: five 32-bit marks a line).
func writeElementsN(b *strings.Builder, elems []string, perLine int) {
	if len(elems) == 0 {
		return
	}
	b.WriteString("\t\telements = { ")
	for i, e := range elems {
		switch {
		case i == 0:
		case i%perLine == 0:
			b.WriteString(",\n\t\t\t     ")
		default:
			b.WriteString(", ")
		}
		b.WriteString(e)
	}
	b.WriteString(" }\n")
}

// elementStrings renders the set's elements as nft lists them.
func (s *Set) elementStrings() []string {
	out := make([]string, len(s.Elements))
	for i, e := range s.Elements {
		out[i] = rangeString(e)
	}
	return out
}

// elementStrings renders the map's elements, with their verdicts, as nft
// lists them.
func (m *Map) elementStrings() []string {
	out := make([]string, len(m.Elements))
	for i, e := range m.Elements {
		out[i] = rangeString(e.Range) + " : " + e.Verdict.String()
	}
	return out
}

// elementStrings renders the map's elements, with their verdicts, as nft
// lists them.
func (m *MarkMap) elementStrings() []string {
	out := make([]string, len(m.Elements))
	for i, e := range m.Elements {
		out[i] = markString(e.Mark) + " : " + e.Verdict.String()
	}
	return out
}

// bridgeDestRules bind destinations as the prerouting chain binds
// sources: a unicast packet (below the group addresses, and for IPv6
// below the link-local ones, which the rules before judge) leaving
// through a bound port must be addressed to one of the port's addresses;
// one to the unicast addresses above them (IPv4's class E, IPv6's
// site-local prefix), which no container holds, is dropped: judged by no
// policy (no ingress map holds them), it reached an isolated container's
// interface (TestUnownedUnicast).
// A container that sends frames with another's MAC address as their
// source (and its own IP address, which its binding admits) moves that
// MAC address to its own port in the bridge's forwarding database, and
// the bridge then forwards the other container's unicast traffic to it:
// these rules drop it there, so it is lost (until the other container
// sends again) rather than read. They need no MAC address: the bindings
// know each port's IP addresses.
var bridgeDestRules = []string{
	"ip daddr < 224.0.0.0 oifname @" + BridgePorts + " oifname . ip daddr != @" + BridgeAddrs4 + " counter drop",
	"ip6 daddr < fe80:: oifname @" + BridgePorts + " oifname . ip6 daddr != @" + BridgeAddrs6 + " counter drop",
	"ip daddr 240.0.0.0-255.255.255.254 oifname @" + BridgePorts + " counter drop",
	"ip6 daddr fec0::/10 oifname @" + BridgePorts + " counter drop",
}

// bridgeOutputRules follow bridgeDestRules in the bridge table's chain
// output, which judges the frames the host itself sends through a bridge
// (its own packets, and those it routes: a published port's, after
// destination NAT), which chain forward never sees: the bridge sends them
// by its forwarding database too, where any port can take over a
// container's MAC address (a bound one with a frame from its own address,
// a port not bound, attached since the last sync, with any frame the inet
// table never sees, such as ARP). A unicast packet to a bound port must
// be addressed to one of its addresses (bridgeDestRules), and one
// addressed to a bound address must leave through a bound port
// (bound_v4, bound_v6: every binding's addresses), so that the host's
// traffic for a container reaches no other port (TestHostTrafficFDB).
var bridgeOutputRules = []string{
	"ip daddr @" + BridgeBound4 + " oifname != @" + BridgePorts + " counter drop",
	"ip6 daddr @" + BridgeBound6 + " oifname != @" + BridgePorts + " counter drop",
}

// bridgeBoundSourceRules follow, in chain prerouting, the accept of a
// bound port's own IPv4 sources: a frame carrying a bound address (bound_v4,
// bound_v6) as its IPv4, ARP sender or IPv6 source from a port not bound
// (one the inventory lists no container's interfaces for, one attached
// since, another bridge's) is dropped. The binding of a port to its
// container's addresses is that container's identity; without these
// rules a container whose port Ward does not know (an inventory file
// that lists some containers' interfaces and not others', without
// bridge:) passed for a bound container, reaching the sources it admits,
// and with an ARP reply or a neighbour advertisement claiming its
// address took its traffic (lab.TestUnknownPortBoundSource). They
// compare the frame's protocol (meta protocol), not its EtherType, so a
// VLAN-tagged forgery, whose tag the receiving veth strips, is dropped
// too. Chain forward repeats bridgeOutputRules: a packet addressed to a
// bound address leaves through no port but a bound one.
var bridgeBoundSourceRules = []string{
	"ip saddr @" + BridgeBound4 + " iifname != @" + BridgePorts + " counter drop",
	"arp saddr ip @" + BridgeBound4 + " iifname != @" + BridgePorts + " counter drop",
	"ip6 saddr @" + BridgeBound6 + " iifname != @" + BridgePorts + " counter drop",
	"icmpv6 type nd-neighbor-advert iifname != @" + BridgePorts + " jump " + BridgeNDBound,
}

// bridgeInputTagRules end the bridge table's chain input: a frame to the
// host (or routed by it) from a port not bound whose protocol is still a
// VLAN tag after the port stripped one, an 802.1ad frame with an 802.1Q
// tag inside, is dropped. The receiving veth strips the outer tag only,
// so the frame's protocol (meta protocol) is 8021q and chain
// prerouting's bound-source rules, which match IPv4, ARP and IPv6, let it
// through; the host's stack strips a second priority tag (VLAN 0) and
// took the ARP reply or datagram inside for the bound container's
// (lab.TestUnknownPortBoundSourceQinQ). Chain forward drops tagged frames
// to bound ports; a bound port's tagged frames end at prerouting's drop.
var bridgeInputTagRules = []string{
	"meta protocol 8021q iifname != @" + BridgePorts + " counter drop",
	"meta protocol 8021ad iifname != @" + BridgePorts + " counter drop",
}

// bridgeHostRules end the bridge table's chain output: the host's own
// packets that no inet rule judges by the container they reach. The inet
// table's chain output judges the host's packets by their destination
// address's ingress (map ingress_v4, ingress_v6), which holds neither
// group addresses nor link-local ones; and the host's broadcast or
// multicast frame reaches every port of the bridge without crossing the
// bridge's forward hook, where the port marks (port_marks, group_ingress)
// judge a container's. So any process of the host, or a hostNetwork
// container, reached any container's UDP port past its ingress policies
// with a datagram to 224.0.0.1, 255.255.255.255 or ff02::1, or to the
// container's link-local IPv6 address (TestHostGroupAndLinkLocal).
// A group packet from the host does not leave through a bound port whose
// container's ingress is isolated (a port of the bindings not in set
// group_open, the bindings whose Mark is GroupMark), but IGMP and neighbour, router and multicast
// listener discovery, which links need and which carry no port: an
// isolated container gets none of the host's group datagrams, even on a
// port its policies open to the host's address (the bridge table cannot
// run the class's ingress chain; failing closed). Only bound ports: the
// bridge table hooks every bridge of the host, and another bridge's
// ports (libvirt's virbr0, LXC's lxcbr0) lost the host's broadcast and
// multicast, DHCP replies included (TestHostGroupOtherBridge); the kernel
// may lack nft's bridge meta expressions (meta obrname), so the ports,
// not the bridges, scope them. Link-local IPv6 is judged as in chain
// forward: discovery only.
var bridgeHostRules = []string{
	"ip6 daddr fe80::/10 meta l4proto != ipv6-icmp oifname @" + BridgePorts + " counter drop",
	"ip6 daddr fe80::/10 icmpv6 type != 130-136 icmpv6 type != mld2-listener-report oifname @" + BridgePorts + " counter drop",
	"ip daddr 224.0.0.0/4 ip protocol != igmp" + toIsolated,
	"ip daddr 255.255.255.255" + toIsolated,
	"ip6 daddr ff00::/8 meta l4proto != ipv6-icmp" + toIsolated,
	"ip6 daddr ff00::/8 icmpv6 type != 130-136 icmpv6 type != mld2-listener-report" + toIsolated,
}

// toIsolated ends bridgeHostRules' group rules: a bound port (no other
// bridge's, which Ward does not manage: TestHostGroupOtherBridge) not in
// group_open.
const toIsolated = " oifname @" + BridgePorts + " oifname != @" + BridgeGroupOpen + " counter drop"

// groupOpenPorts renders set group_open: the ports of the bindings whose
// container's ingress is not isolated (Mark GroupMark).
func groupOpenPorts(bindings []Binding) []string {
	var out []string
	for _, b := range bindings {
		if b.Mark == GroupMark {
			out = append(out, strconv.Quote(b.Port))
		}
	}
	return out
}

// boundAddrs returns the bindings' addresses of each family, sorted,
// each once: sets bound_v4 and bound_v6.
func boundAddrs(bindings []Binding) (v4, v6 []netip.Addr) {
	for _, b := range bindings {
		for _, a := range b.Addrs {
			if a.Is4() {
				v4 = append(v4, a)
			} else if a.Is6() && !a.Is4In6() {
				v6 = append(v6, a)
			}
		}
	}
	slices.SortFunc(v4, netip.Addr.Compare)
	slices.SortFunc(v6, netip.Addr.Compare)
	return slices.Compact(v4), slices.Compact(v6)
}

// SetSelf names the sets of the containers' (address . address) pairs
// (Ruleset.Self), suffix _v4 or _v6.
const SetSelf = "self"

// selfElements renders the pairs of the addresses of family f.
func selfElements(addrs []netip.Addr, f Family) []string {
	var out []string
	for _, a := range addrs {
		if family(a) == f {
			out = append(out, a.String()+" . "+a.String())
		}
	}
	return out
}

// markString writes a mark as nft lists it.
func markString(m uint32) string { return fmt.Sprintf("0x%08x", m) }

// maskedMark renders a mark compared under mask as nft (1.0.6) lists it:
// a mask of leading ones as a prefix length ("0x57530000/16"), another
// as "& mask ==".
func maskedMark(mask, value uint32) string {
	if ones := bits.LeadingZeros32(^mask); mask<<ones == 0 {
		return markString(value) + "/" + strconv.Itoa(ones)
	}
	return "& " + markString(mask) + " == " + markString(value)
}

// rangeString writes r as nft lists interval elements: an address, a
// prefix, or from-to.
func rangeString(r ipset.Range) string {
	if r.From == r.To {
		return r.From.String()
	}
	return r.String()
}

func priority(p int) string {
	if p >= PriorityRaw-10 && p <= PriorityRaw+10 {
		// nft names a priority by the standard one within 10 of it.
		switch d := p - PriorityRaw; {
		case d < 0:
			return "raw - " + strconv.Itoa(-d)
		case d > 0:
			return "raw + " + strconv.Itoa(d)
		}
		return "raw"
	}
	switch {
	case p < -10 || p > 10:
		return strconv.Itoa(p) // nft's number, named by no standard priority near it
	case p < 0:
		return "filter - " + strconv.Itoa(-p)
	case p > 0:
		return "filter + " + strconv.Itoa(p)
	}
	return "filter"
}

// String renders the rule in nft syntax.
func (r Rule) String() string {
	var parts []string
	if r.Iif != "" && r.IifNot {
		parts = append(parts, "iif != "+strconv.Quote(r.Iif))
	} else if r.Iif != "" {
		parts = append(parts, "iif "+strconv.Quote(r.Iif))
	}
	if r.Oif != "" {
		parts = append(parts, "oif "+strconv.Quote(r.Oif))
	}
	if r.IfName != "" {
		k := "iifname"
		if r.IfOut {
			k = "oifname"
		}
		parts = append(parts, k+" "+strconv.Quote(r.IfName))
		if r.IfNotBridges {
			parts = append(parts, k+" != @"+SetBridges)
		}
	}
	if r.IifBridges {
		parts = append(parts, "iifname @"+SetBridges)
	}
	if r.IifNotBridges {
		parts = append(parts, "iifname != @"+SetBridges)
	}
	if m := r.MarkNe; m != nil {
		parts = append(parts, "meta mark != "+maskedMark(m.Mask, m.Value))
	}
	if len(r.CtState) > 0 {
		parts = append(parts, "ct state "+strings.Join(r.CtState, ","))
	}
	if r.CtStatus != "" {
		parts = append(parts, "ct status "+r.CtStatus)
	}
	if r.TCPNotSYN {
		parts = append(parts, "tcp flags != syn / fin,syn,rst,ack")
	}
	if len(r.ICMPTypes) > 0 {
		parts = append(parts, "icmp type "+anonSet(r.ICMPTypes))
	}
	if len(r.ICMPv6Types) > 0 {
		parts = append(parts, "icmpv6 type "+anonSet(r.ICMPv6Types))
	}
	if r.HopLimit != 0 {
		parts = append(parts, "ip6 hoplimit "+strconv.Itoa(int(r.HopLimit)))
	}
	if r.ICMP != 0 {
		parts = append(parts, "meta l4proto "+r.ICMP.icmpName())
	}
	if a := r.ForeignError; a.IsValid() {
		f := family(a)
		off, n := 192, 32
		if f == IPv6 {
			off, n = 256, 128
		}
		parts = append(parts, fmt.Sprintf("%s saddr %s @th,%d,%d != 0x%s", f.nftProto(), a, off, n, new(big.Int).SetBytes(a.AsSlice()).Text(16)))
	}
	if q := r.QuotedIn; q.IsValid() {
		off, mask, val := quotedMatch(q)
		if mask == nil {
			parts = append(parts, fmt.Sprintf("@th,%d,%d 0x%s", off, 8*len(val), new(big.Int).SetBytes(val).Text(16)))
		} else {
			parts = append(parts, fmt.Sprintf("@th,%d,%d & 0x%s == 0x%s", off, 8*len(val), new(big.Int).SetBytes(mask).Text(16), new(big.Int).SetBytes(val).Text(16)))
		}
	}
	if r.Dst.IsValid() {
		f := IPv4
		if r.Dst.Addr().Is6() {
			f = IPv6
		}
		d := r.Dst.String()
		if r.Dst.IsSingleIP() {
			d = r.Dst.Addr().String()
		}
		parts = append(parts, f.nftProto()+" daddr "+d)
	}
	if r.Addr != nil {
		op := " @"
		if r.Addr.Not {
			op = " != @"
		}
		parts = append(parts, r.Addr.field()+op+r.Addr.Name)
	}
	if r.SrcNotLocal {
		parts = append(parts, "fib saddr type != local")
	}
	if r.Pair != nil {
		fam := r.Pair.Family.nftProto()
		parts = append(parts, fam+" saddr . "+fam+" daddr @"+r.Pair.Name)
	}
	if r.L4 != nil {
		parts = append(parts, r.L4.String())
	}
	if r.SkUID != nil {
		parts = append(parts, "meta skuid "+strconv.FormatUint(uint64(*r.SkUID), 10))
	}
	if m := r.Cgroup; m != nil {
		level := "socket cgroupv2 level " + strconv.FormatUint(uint64(m.Level), 10)
		if m.Any {
			parts = append(parts, level+" != 0")
		} else {
			parts = append(parts, level+" "+strconv.Quote(m.Cgroup.Path))
		}
	}
	if r.VMap != nil {
		parts = append(parts, r.VMap.field()+" vmap @"+r.VMap.Name)
	}
	if r.MarkVMap != "" {
		parts = append(parts, "meta mark vmap @"+r.MarkVMap)
	}
	if r.LogPrefix != "" {
		if r.LogRate > 0 {
			l := "limit rate " + strconv.Itoa(r.LogRate) + "/second"
			if b := logBurst(r.LogRate); b != 5 {
				l += " burst " + strconv.Itoa(b) + " packets" // nft leaves its default, 5, out
			}
			parts = append(parts, l)
		}
		parts = append(parts, "log prefix "+strconv.Quote(r.LogPrefix))
		if r.LogGroup != 0 {
			parts[len(parts)-1] += logGroupText(r.LogGroup)
		}
	}
	if r.Counter {
		parts = append(parts, "counter")
	}
	if r.CtMarkSet != nil {
		parts = append(parts, fmt.Sprintf("ct mark set %#08x", *r.CtMarkSet))
	}
	if r.VMap == nil && r.MarkVMap == "" {
		if v := r.Verdict.String(); v != "" {
			parts = append(parts, v)
		}
	}
	return strings.Join(parts, " ")
}

// field is the nft payload expression of the looked-up address.
func (l *Lookup) field() string {
	if l.Dst {
		return l.Family.nftProto() + " daddr"
	}
	return l.Family.nftProto() + " saddr"
}

// String renders the match: "tcp dport 80", "meta l4proto { tcp, udp }
// th dport { 53, 8000-8080 }", or "meta l4proto sctp" for every port.
func (l *L4) String() string {
	names := make([]string, len(l.Protocols))
	for i, p := range l.Protocols {
		names[i] = strings.ToLower(p.String())
	}
	if l.Ports == nil {
		return "meta l4proto " + anonSet(names)
	}
	ports := make([]string, len(l.Ports))
	for i, p := range l.Ports {
		ports[i] = p.String()
	}
	dir := " dport "
	if l.Src {
		dir = " sport "
	}
	if len(names) == 1 {
		return names[0] + dir + anonSet(ports)
	}
	return "meta l4proto " + anonSet(names) + " th" + dir + anonSet(ports)
}

func (p PortRange) String() string {
	if p.Lo == p.Hi {
		return strconv.Itoa(int(p.Lo))
	}
	return strconv.Itoa(int(p.Lo)) + "-" + strconv.Itoa(int(p.Hi))
}

// anonSet writes one value bare and several as an anonymous set.
func anonSet(vals []string) string {
	if len(vals) == 1 {
		return vals[0]
	}
	return "{ " + strings.Join(vals, ", ") + " }"
}

// logGroupText is how nft lists a log statement's nflog group.
func logGroupText(g uint16) string {
	if g == 0 {
		return ""
	}
	return " group " + strconv.Itoa(int(g))
}

// logBurst is the burst of a drop-log rule logging rate packets a second:
// a second's worth, at least nft's default of 5, so that a burst of drops
// (a scanner's SYNs to twenty ports at once) is logged whole up to the
// rate, not cut at 5.
func logBurst(rate int) int { return max(rate, 5) }

// quotedMatch returns where an ICMP or ICMPv6 error quotes its packet's
// destination (bits from the transport header: 192 for IPv4, 256 for
// IPv6) and the bytes of q's prefix there, as nft loads them: whole
// bytes, with a mask (nil when the prefix ends on a byte) for the bits of
// the last one.
func quotedMatch(q netip.Prefix) (off int, mask, val []byte) {
	off = 192
	if q.Addr().Is6() {
		off = 256
	}
	bits := q.Bits()
	n := (bits + 7) / 8
	val = q.Masked().Addr().AsSlice()[:n]
	if bits%8 != 0 {
		mask = make([]byte, n)
		for i := range mask {
			mask[i] = 0xff
		}
		mask[n-1] = byte(0xff << (8 - bits%8))
	}
	return off, mask, val
}
