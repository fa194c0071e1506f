package firewall

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/wardsec/ward/ipset"
	"github.com/wardsec/ward/netpol"
	"github.com/wardsec/ward/portset"
)

// Options tune Compile.
type Options struct {
	// AllowUnclassified lets traffic of unclassified addresses (in a
	// declared network, owned by no container: a container Ward has not
	// seen yet) through the window until Ward classifies them: they are
	// then judged as the engine judges any address no workload owns, an
	// external address, which isolated containers still refuse unless an
	// ipBlock admits it. By default they are dropped, both ways.
	AllowUnclassified bool
	// NoBind leaves containers' bridge ports unbound to their addresses
	// (no anti-spoofing check of every frame's source, Ruleset.Unbound):
	// VLAN-tagged frames to the ports are still dropped, and broadcast
	// and multicast still judged by the ingress of the port they reach.
	NoBind bool
	// LogRate is how many drops a second each dropping chain logs: 0
	// means DefaultLogRate, a negative value turns logging off. Drops are
	// counted either way.
	LogRate int
	// LogGroup, when not 0, sends the logged drops to this nflog group
	// (1-65535) instead of the kernel log, for `ward watch` to read.
	LogGroup int
	// OtherBridges are names of bridges (a name ending in * matches
	// every name it begins, as DockerBridges' br-*) that, when the
	// ruleset closes Bridges, it closes whole unless they are among
	// Bridges: no packet enters the host through one, nor is forwarded
	// or sent out through one. A bridge Docker creates for a network
	// made since the inventory was read is no managed network's, so
	// its containers' addresses are in no managed subnet: without this
	// they talked past every policy until the next sync.
	OtherBridges []string
}

// DefaultLogRate is the default of Options.LogRate.
const DefaultLogRate = 10

// Priority is the priority of Ward's base chains, relative to filter:
// before Docker's filter chains (iptables-nft and Docker's nftables
// backend both filter at priority filter).
const Priority = -10

// The chains every ruleset has, and the one for unclassified addresses.
const (
	ChainPrerouting   = "prerouting"
	ChainUnboundPort  = "unbound_port"
	ChainHostGroup    = "host_group"
	ChainForward      = "forward"
	ChainInput        = "input"
	ChainOutput       = "output"
	ChainUnclassified = "unclassified"
)

// The verdict maps classifying addresses, for each family (suffix _v4 or
// _v6): source addresses of egress-isolated classes, destination addresses
// of ingress-isolated classes.
const (
	MapEgress  = "egress"
	MapIngress = "ingress"
)

// SetManaged names the sets (suffix _v4 or _v6) of the managed networks'
// addresses: TCP packets that cannot open a connection are dropped to and
// from them unless conntrack already knows their connection, so that a
// connection Ward ended is never picked up again mid-stream.
const SetManaged = "managed"

// SetBridged names the sets (suffix _v4 or _v6) of the subnets of the
// managed networks whose bridges the ruleset closes (Ruleset.Bridges),
// when they are not all of the managed networks' (set managed then
// serves): packets from them enter the host through those bridges only.
const SetBridged = "bridged"

// MapGroupIngress is the mark map that judges broadcast and multicast
// packets by the ingress of the container port they leave through (see
// GroupMark): accept for a port whose ingress is open, a goto to its
// class's ingress chain otherwise.
const MapGroupIngress = "group_ingress"

// LogPrefix starts the prefix of every log line of a drop; the rest names
// the stage and class ("ward-drop egress c3 ", "ward-drop unclassified ").
const LogPrefix = "ward-drop "

// EgressChain is the name of the chain holding the egress grants of the
// class with summary ID classID ("c3": "eg_c3").
func EgressChain(classID string) string { return "eg_" + classID }

// IngressChain is the name of the chain holding the ingress grants of the
// class with summary ID classID ("c3": "in_c3").
func IngressChain(classID string) string { return "in_" + classID }

// directions lists the stages in the order packets meet them.
var directions = [...]netpol.Direction{netpol.Egress, netpol.Ingress}

// ndTypes are the ICMPv6 types IPv6 cannot work without on a link:
// multicast listener, router and neighbour discovery (by type number, as
// nft lists them).
var ndTypes = []string{
	"mld-listener-query", "mld-listener-report", "mld-listener-done",
	"nd-router-solicit", "nd-router-advert", "nd-neighbor-solicit", "nd-neighbor-advert",
	"mld2-listener-report",
}

// Compile turns the engine's verdicts into a ruleset for table inet ward
// (see the package documentation for its design). inv gives the managed
// networks, whose addresses that no workload owns are unclassified; it
// may be nil (nothing is then unclassified). Addresses come from the
// engine's endpoints: the known pod IPs of workloads, which for a model
// built by Inventory.Set are the containers' addresses.
//
// It fails when one address belongs to two workloads, since no rule could
// tell them apart.
func Compile(eng *netpol.Engine, inv *Inventory, opts Options) (*Ruleset, error) {
	if opts.LogGroup < 0 || opts.LogGroup > 65535 {
		return nil, fmt.Errorf("log group %d: want 1-65535, or 0 for the kernel log", opts.LogGroup)
	}
	for _, n := range opts.OtherBridges {
		if _, err := ifnamePattern(n); err != nil {
			return nil, fmt.Errorf("other bridges: %w", err)
		}
	}
	lg := logOpts{rate: opts.LogRate, group: uint16(opts.LogGroup)} // #nosec G115 -- checked above
	if lg.rate == 0 {
		lg.rate = DefaultLogRate
	}
	sum := eng.Summarize(netpol.Filter{})
	classes := eng.Classes()
	index := make(map[string]int, len(classes))
	for i, c := range classes {
		index[netpol.ClassID(c)] = i
	}

	// Each workload address belongs to one class; external classes hold
	// their ranges without them. (Under the engine's semantics a group
	// holding an external class also holds every class with an address
	// inside it, since ipBlocks match those too, so the holes fill again
	// in group sets; carving keeps each set exactly its classes' addresses
	// by construction.)
	owner := map[netip.Addr]*netpol.Endpoint{}
	var owned []ipset.Range
	addrs := make([]ipset.Set, len(classes))
	for i, c := range classes {
		if c.External {
			continue
		}
		var rs []ipset.Range
		for _, ep := range c.Members {
			for _, ip := range ep.IPs {
				if prev, dup := owner[ip]; dup && prev != ep {
					return nil, fmt.Errorf("firewall: %s is an address of both %s and %s: no rule can tell them apart", ip, prev.ID, ep.ID)
				}
				owner[ip] = ep
				rs = append(rs, ipset.Range{From: ip, To: ip})
			}
		}
		addrs[i] = ipset.Of(rs...)
		owned = append(owned, rs...)
	}
	ownedSet := ipset.Of(owned...)
	for i, c := range classes {
		if !c.External {
			continue
		}
		var rs []ipset.Range
		for _, ep := range c.Members {
			rs = append(rs, ep.External.Ranges()...)
		}
		addrs[i] = subtract(ipset.Of(rs...), ownedSet)
	}
	unclassified := dropped(inv, opts, ownedSet)
	var managed ipset.Set
	if inv != nil {
		managed = inv.Managed()
	}

	rs := &Ruleset{}
	var managedFamilies []Family
	for _, f := range Families {
		if elems := ofFamily(managed, f); len(elems) > 0 {
			rs.Sets = append(rs.Sets, &Set{Name: SetManaged + f.suffix(), Family: f, Elements: elems})
			managedFamilies = append(managedFamilies, f)
		}
	}
	// A set per group and family: the union of its classes' addresses.
	sets := map[string]bool{}
	for _, g := range sum.Groups {
		var all []ipset.Range
		for _, id := range g.Classes {
			all = append(all, addrs[index[id]].Ranges()...)
		}
		for _, f := range Families {
			if elems := ofFamily(ipset.Of(all...), f); len(elems) > 0 {
				rs.Sets = append(rs.Sets, &Set{Name: g.ID + f.suffix(), Family: f, Elements: elems})
				sets[g.ID+f.suffix()] = true
			}
		}
	}

	// Verdict maps: an address of an isolated class jumps to the class's
	// chain; an unclassified address to the unclassified chain.
	var maps [2][2][]MapElement // by netpol.Direction, then family-1
	for i, c := range classes {
		if c.External || addrs[i].Empty() {
			continue
		}
		id := netpol.ClassID(c)
		for _, d := range directions {
			if !c.Isolated(d) {
				continue
			}
			chain := IngressChain(id)
			if d == netpol.Egress {
				chain = EgressChain(id)
			}
			for _, r := range addrs[i].Ranges() {
				f := family(r.From)
				maps[d][f-1] = append(maps[d][f-1], MapElement{Range: r, Verdict: Verdict{Kind: Jump, Chain: chain}})
			}
		}
	}
	for _, r := range unclassified.Ranges() {
		f := family(r.From)
		for _, d := range directions {
			maps[d][f-1] = append(maps[d][f-1], MapElement{Range: r, Verdict: Verdict{Kind: Jump, Chain: ChainUnclassified}})
		}
	}
	for _, d := range directions {
		name := MapIngress
		if d == netpol.Egress {
			name = MapEgress
		}
		for _, f := range Families {
			elems := maps[d][f-1]
			slices.SortFunc(elems, func(a, b MapElement) int { return a.Range.From.Compare(b.Range.From) })
			rs.Maps = append(rs.Maps, &Map{Name: name + f.suffix(), Family: f, Elements: elems})
		}
	}

	// Broadcast and multicast: each bound port's mark names its class's
	// ingress chain (see GroupMark).
	rs.Bindings = bindings(inv)
	rs.Unbound = opts.NoBind && len(rs.Bindings) > 0
	rs.SpoofLogGroup = lg.group
	if len(rs.Bindings) > 0 {
		classOf := map[netip.Addr]int{}
		for i, c := range classes {
			if c.External {
				continue
			}
			for _, ep := range c.Members {
				for _, ip := range ep.IPs {
					classOf[ip] = i
				}
			}
		}
		marks := map[int]uint32{}
		gm := &MarkMap{Name: MapGroupIngress, Elements: []MarkElement{{Mark: GroupMark, Verdict: Verdict{Kind: Accept}}}}
		for i := range rs.Bindings {
			b := &rs.Bindings[i]
			if len(b.Addrs) == 0 {
				continue // an unknown port: unmarked (Inventory.UnknownPorts)
			}
			b.Mark = GroupMark
			ci, ok := classOf[b.Addrs[0]]
			if !ok || !classes[ci].Isolated(netpol.Ingress) {
				continue
			}
			m, ok := marks[ci]
			if !ok {
				m = GroupMark + uint32(len(marks)+1) // #nosec G115 -- one per class, far below 2^16
				marks[ci] = m
				gm.Elements = append(gm.Elements, MarkElement{Mark: m, Verdict: Verdict{Kind: Goto, Chain: IngressChain(netpol.ClassID(classes[ci]))}})
			}
			b.Mark = m
		}
		rs.MarkMaps = append(rs.MarkMaps, gm)
	}
	rs.Self = selfAddrs(inv)
	base, errMaps := baseChains(managedFamilies, len(rs.Bindings) > 0, rs.Self)
	rs.Chains = append(rs.Chains, base...)
	// An ICMP or ICMPv6 error quoting a packet to a container comes from
	// that container (icmp_err_v4, _v6 judge containers' errors): the
	// path between two containers, or between the host and one, has no
	// router but the host, whose errors cross neither forward nor input.
	// From outside the managed networks, conntrack still marks such an
	// error related to the connection it quotes: a LAN host refused a
	// container's connected socket to another (TestExternalICMPError).
	if inv != nil {
		var quoted []Rule
		for _, f := range managedFamilies {
			var prefixes []netip.Prefix
			for _, n := range inv.Networks {
				for _, p := range n.Subnets {
					if family(p.Addr()) == f && !slices.Contains(prefixes, p.Masked()) {
						prefixes = append(prefixes, p.Masked())
					}
				}
			}
			slices.SortFunc(prefixes, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
			for _, p := range prefixes {
				quoted = append(quoted, Rule{CtState: []string{"related"}, ICMP: f, QuotedIn: p,
					Addr: &Lookup{Family: f, Name: SetManaged + f.suffix(), Not: true}, Counter: true, Verdict: Verdict{Kind: Drop}})
			}
		}
		for _, c := range base {
			if c.Hook != "forward" && c.Hook != "input" {
				continue
			}
			i := slices.IndexFunc(c.Rules, func(r Rule) bool { return slices.Contains(r.CtState, "established") })
			for _, q := range quoted {
				q.CtState = slices.Clone(q.CtState)
				l := *q.Addr
				q.Addr = &l
				c.Rules = slices.Insert(c.Rules, i, q)
				i++
			}
		}
	}
	if len(rs.Bindings) > 0 && !rs.Unbound {
		rs.Bridges = inv.bridges()
		rs.NoLinkLocalLearn = inv.macBridges()
	}
	if rs.closed() {
		// Ruleset.Bridges: a packet that enters the host, or that
		// br_netfilter hands to the inet hooks, from a managed bridge's
		// port that the bridge table did not mark.
		// One rule, one lookup for every packet; the log and the drop in
		// a chain of their own.
		jump := rs.unboundRule()
		jump.Counter, jump.Verdict = false, Verdict{Kind: Jump, Chain: ChainUnboundPort}
		pre := &Chain{Name: ChainPrerouting, Hook: "prerouting", Priority: PriorityPrerouting, Rules: []Rule{jump}}
		// A packet from an address of a network whose bridge Ward knows
		// comes in through that bridge, where the bridge table checked
		// its source; one from such an address that comes in through any
		// other interface (the host's uplink, a tunnel it decapsulates, a
		// bridge Ward does not manage) is a forgery that the inet table
		// would judge as that container's (TestExternalForgedSource).
		// The host's own packets loop back through lo from its own
		// addresses, the gateways' among them, and through lo only.
		bridged := inv.bridgedSubnets()
		for _, f := range Families {
			elems := ofFamily(bridged, f)
			if len(elems) == 0 {
				continue
			}
			name := SetManaged + f.suffix()
			if !slices.Equal(elems, ofFamily(managed, f)) {
				name = SetBridged + f.suffix()
				rs.Sets = append(rs.Sets, &Set{Name: name, Family: f, Elements: elems})
			}
			// Not even from the host's own address: IPv4 drops a packet
			// from a local address through any interface but lo (a
			// martian), IPv6 does not, and a LAN host's packet from the
			// gateway's address passed as the host's
			// (TestExternalForgedHostSource).
			pre.Rules = append(pre.Rules,
				Rule{IifNotBridges: true, Iif: "lo", IifNot: true, Addr: &Lookup{Family: f, Name: name}, Verdict: Verdict{Kind: Jump, Chain: ChainUnboundPort}},
				Rule{Iif: "lo", Addr: &Lookup{Family: f, Name: name}, SrcNotLocal: true, Verdict: Verdict{Kind: Jump, Chain: ChainUnboundPort}})
		}
		drop := &Chain{Name: ChainUnboundPort, Rules: []Rule{
			{LogRate: spoofLogRateSec, LogPrefix: SpoofLogPrefix, LogGroup: lg.group},
			{Counter: true, Verdict: Verdict{Kind: Drop}},
		}}
		rs.Chains = slices.Insert(rs.Chains, 0, pre, drop)
		for _, hook := range []string{"prerouting", "forward", "output"} {
			var rules []Rule
			for _, n := range opts.OtherBridges {
				rules = append(rules, Rule{IfName: n, IfOut: hook != "prerouting", IfNotBridges: true, Counter: true, Verdict: Verdict{Kind: Drop}})
			}
			for _, c := range rs.Chains {
				if c.Hook == hook {
					c.Rules = slices.Insert(c.Rules, 0, rules...)
				}
			}
		}
	}
	portlessRules(rs, inv, classes)
	rs.Maps = append(rs.Maps, errMaps...)
	publishedRules(rs, eng, inv, classes, addrs, unclassified, lg)
	userlandProxyRules(rs, inv)
	if !unclassified.Empty() {
		rs.Chains = append(rs.Chains, &Chain{Name: ChainUnclassified, Rules: dropRules("unclassified", lg)})
	}
	for _, info := range sum.Classes {
		i := index[info.ID]
		if info.External || addrs[i].Empty() {
			continue
		}
		if info.EgressIsolated {
			rs.Chains = append(rs.Chains, grantChain(sets, EgressChain(info.ID), "egress "+info.ID, info.Egress, true, lg))
		}
		if info.IngressIsolated {
			rs.Chains = append(rs.Chains, grantChain(sets, IngressChain(info.ID), "ingress "+info.ID, info.Ingress, false, lg))
		}
	}
	return rs, nil
}

// baseChains returns the forward, input and output chains. Forwarded
// packets go through both stages; packets to the host only through the
// source's egress stage, and packets from the host only through the
// destination's ingress stage: the host itself is never isolated, and its
// own addresses (even a gateway address in a managed network) are judged
// as the engine judges them, as external addresses unless a hostNetwork
// container names them.
//
// managed lists the families with a managed set: TCP packets to or from
// those addresses that cannot open a connection (not a lone SYN) are
// dropped unless conntrack knows their connection, and so are invalid
// ones, so that a connection FlushDenied ended stays ended (the kernel's
// nf_conntrack_tcp_loose would otherwise pick it up again from either
// end's next segment, in whichever direction the policies allow). group
// says whether ports are known: broadcast and multicast packets are then
// judged by the ingress of the port they leave through (GroupMark), and
// dropped from managed addresses to ports Ward does not know.
func baseChains(managed []Family, group bool, self []netip.Addr) ([]*Chain, []*Map) {
	stage := func(m string, dst bool) []Rule {
		var out []Rule
		for _, f := range Families {
			out = append(out, Rule{VMap: &Lookup{Family: f, Dst: dst, Name: m + f.suffix()}})
		}
		return out
	}
	drop := Verdict{Kind: Drop}
	// noPickUp drops what may not open or continue a connection to or
	// from managed addresses (the source's and the destination's, as
	// each hook needs).
	noPickUp := func(invalid bool, dsts ...bool) []Rule {
		var out []Rule
		for _, f := range managed {
			for _, dst := range dsts {
				set := &Lookup{Family: f, Dst: dst, Name: SetManaged + f.suffix()}
				if invalid {
					out = append(out, Rule{CtState: []string{"invalid"}, Addr: set, Counter: true, Verdict: drop})
				}
				l := *set
				out = append(out, Rule{TCPNotSYN: true, Addr: &l, Counter: true, Verdict: drop})
			}
		}
		return out
	}
	// Rules own their slices: a caller may edit one ruleset's rules.
	established := func() Rule {
		return Rule{CtState: []string{"established", "related"}, Verdict: Verdict{Kind: Accept}}
	}
	// Discovery is link-local: neighbour and router discovery carry hop
	// limit 255, multicast listener discovery 1 (RFC 4861, RFC 3810),
	// which no forwarded packet keeps (the host decrements it before its
	// forward hook); accepted from anyone regardless, an ICMPv6 message
	// of those types from outside the host, routed to an isolated
	// container, reached it past its ingress (TestExternalNDTypes).
	nd := func() []Rule {
		var link, mld []string
		for _, t := range ndTypes {
			if strings.HasPrefix(t, "mld") {
				mld = append(mld, t)
			} else {
				link = append(link, t)
			}
		}
		return []Rule{
			{ICMPv6Types: link, HopLimit: 255, Verdict: Verdict{Kind: Accept}},
			{ICMPv6Types: mld, HopLimit: 1, Verdict: Verdict{Kind: Accept}},
		}
	}
	// An ICMP redirect to a container is never forwarded by right: its
	// one legitimate sender is the container's first-hop router on its
	// link, the host, whose redirects leave through output. Conntrack
	// marks one quoting a tracked connection related, whoever sends it,
	// and established,related accepted it: where nothing binds sources
	// (--no-bind, unknown ports), a container forging the gateway's
	// address redirected another's traffic for a destination to itself
	// (TestForgedRedirect). ICMPv6's (nd-redirect), from the router's
	// link-local address, is dropped too, failing closed (conntrack
	// tracks no such message; ct state invalid drops it as well).
	var redirects []Rule
	for _, f := range managed {
		r := Rule{Addr: &Lookup{Family: f, Dst: true, Name: SetManaged + f.suffix()}, Counter: true, Verdict: drop}
		if f == IPv4 {
			r.ICMPTypes = []string{"redirect"}
		} else {
			r.ICMPv6Types = []string{"nd-redirect"}
		}
		redirects = append(redirects, r)
	}
	errChains, errMaps, errJumps := icmpErrorRules(self)
	forward := &Chain{Name: ChainForward, Hook: "forward", Priority: Priority, Rules: slices.Concat(redirects, errJumps(), []Rule{
		established(),
		{CtState: []string{"invalid"}, Counter: true, Verdict: drop},
	})}
	forward.Rules = append(forward.Rules, noPickUp(false, false, true)...)
	forward.Rules = append(forward.Rules, nd()...)
	for _, f := range Families {
		if len(selfElements(self, f)) > 0 {
			forward.Rules = append(forward.Rules, Rule{Pair: &Lookup{Family: f, Name: SetSelf + f.suffix()}, Verdict: Verdict{Kind: Accept}})
		}
	}
	forward.Rules = append(forward.Rules, stage(MapEgress, false)...)
	forward.Rules = append(forward.Rules, stage(MapIngress, true)...)
	if group {
		for _, p := range GroupPrefixes {
			forward.Rules = append(forward.Rules, Rule{Dst: p, MarkVMap: MapGroupIngress})
		}
		for _, p := range GroupPrefixes {
			f := family(p.Addr())
			if slices.Contains(managed, f) {
				forward.Rules = append(forward.Rules, Rule{Dst: p, Addr: &Lookup{Family: f, Name: SetManaged + f.suffix()}, Counter: true, Verdict: drop})
			}
		}
	}
	// lo's packets are accepted after the mid-stream drops, so that the
	// host's packets to a port it publishes are judged (publishedRules
	// goes before lo).
	input := &Chain{Name: ChainInput, Hook: "input", Priority: Priority, Rules: append(errJumps(), established())}
	input.Rules = append(input.Rules, noPickUp(true, false)...)
	input.Rules = append(append(input.Rules, Rule{Iif: "lo", Verdict: Verdict{Kind: Accept}}), nd()...)
	input.Rules = append(input.Rules, stage(MapEgress, false)...)
	// A packet the host sends to one of its own addresses leaves through
	// lo, even after Docker's DNAT (in nat output) has sent it to a
	// container's published port: such a packet is judged by the
	// container's ingress before lo's packets are let through.
	// A packet the host sends from a managed address that is not its own
	// (a gateway's) is forged: a raw IP socket of the host's namespace
	// (a --network host container keeps NET_RAW by default) would pass
	// for a container with it, judged by the receiver's ingress as that
	// container, or continue that container's tracked flow. The host
	// routes containers' packets through forward, never through output.
	output := &Chain{Name: ChainOutput, Hook: "output", Priority: Priority}
	for _, f := range managed {
		output.Rules = append(output.Rules, Rule{Addr: &Lookup{Family: f, Name: SetManaged + f.suffix()}, SrcNotLocal: true, Counter: true, Verdict: drop})
	}
	output.Rules = append(output.Rules, established())
	output.Rules = append(output.Rules, noPickUp(true, true)...)
	for _, r := range stage(MapIngress, true) {
		r.CtStatus = "dnat"
		output.Rules = append(output.Rules, r)
	}
	output.Rules = append(append(output.Rules, Rule{Oif: "lo", Verdict: Verdict{Kind: Accept}}), nd()...)
	output.Rules = append(output.Rules, stage(MapIngress, true)...)
	return append([]*Chain{forward, input, output}, errChains...), errMaps
}

// ChainICMPErrors is the prefix of the chains (suffix _v4 or _v6) that
// judge the ICMP and ICMPv6 errors containers send (icmpErrorRules).
const ChainICMPErrors = "icmp_err"

// icmpErrorRules returns the chains that drop an ICMP or ICMPv6 error
// from a container's address (self) that quotes a packet to another
// address, and a function returning the rules that jump to them, for the
// head of the forward and input chains: conntrack marks an error
// "related" when the header it quotes matches a tracked connection,
// whoever sends it, so "ct state established,related accept" would let
// a container (with NET_RAW) forge a port unreachable, a fragmentation
// needed or another hard error for another pair's connection (or the
// host's), ending or crippling it though the policies deny it any packet
// to that end. The legitimate sender of an error is the host that
// received the quoted packet: a container's own errors quote packets to
// itself (its kernel sends them from the quoted destination), and those
// pass; routers (the host's gateway addresses, outside routers) are not
// containers and are not judged. A container cannot send an error from
// another's address: the bridge table binds sources to ports. The jumps
// match related ICMP packets only, so other packets never walk the
// chains, one rule per address, and an error only the chain of its
// source's bucket (a map by source address, as the stages').
func icmpErrorRules(self []netip.Addr) ([]*Chain, []*Map, func() []Rule) {
	var chains []*Chain
	var maps []*Map
	var jumps []Rule
	for _, f := range Families {
		var addrs []netip.Addr // sorted, as self
		for _, a := range self {
			if family(a) == f {
				addrs = append(addrs, a)
			}
		}
		if len(addrs) == 0 {
			continue
		}
		// The rules in chains of icmpErrorBucket consecutive addresses,
		// reached through an interval map by the error's source: an
		// error walks one chain, whatever the number of containers.
		name := ChainICMPErrors + f.suffix()
		m := &Map{Name: name, Family: f}
		for k, chunk := range slices.Collect(slices.Chunk(addrs, icmpErrorBucket)) {
			c := &Chain{Name: fmt.Sprintf("%s_%d", name, k)}
			for _, a := range chunk {
				c.Rules = append(c.Rules, Rule{ForeignError: a, Counter: true, Verdict: Verdict{Kind: Drop}})
			}
			chains = append(chains, c)
			m.Elements = append(m.Elements, MapElement{Range: ipset.Range{From: chunk[0], To: chunk[len(chunk)-1]}, Verdict: Verdict{Kind: Jump, Chain: c.Name}})
		}
		maps = append(maps, m)
		jumps = append(jumps, Rule{CtState: []string{"related"}, ICMP: f, VMap: &Lookup{Family: f, Name: name}})
	}
	// Rules own their slices: a caller may edit one ruleset's rules.
	return chains, maps, func() []Rule {
		out := slices.Clone(jumps)
		for i := range out {
			out[i].CtState = slices.Clone(out[i].CtState)
			l := *out[i].VMap
			out[i].VMap = &l
		}
		return out
	}
}

// icmpErrorBucket is how many addresses a chain of icmpErrorRules judges:
// an error walks at most that many rules.
const icmpErrorBucket = 64

// ChainPublished is the prefix of the chains that judge a connection to a
// port the host publishes ("pub_1"), and of their sets of allowed sources
// ("pub_1_v4").
const ChainPublished = "pub_"

// ChainUserlandProxy is the chain that admits the onward leg of Docker's
// userland proxy (Inventory.UserlandProxy).
const ChainUserlandProxy = "userland_proxy"

// publishedRules judges, at the input hook, a packet to a port the host
// publishes (Container.Published) as the connection it becomes: Docker's
// userland proxy accepts it on the host and connects onward to the
// container, so the egress stage would judge the client's connection to
// the host's address, and the onward leg the gateway's to the container,
// neither the real one. A rule per published host port jumps, for any
// source (containers, the host itself through lo, outside hosts), to a
// chain that accepts the sources whose connection to every container
// publishing that port the engine allows (a container always reaches
// itself; unclassified and quarantined addresses never do), and drops the
// others. In output, the host's own packets to it over lo jump there too
// (conntrack confirms lo's connections in output), and what the host
// sends from a published port may not pick a connection up again: TCP
// segments conntrack does not know are dropped, a new UDP or SCTP flow
// reaches only the sources allowed to connect to the port.
func publishedRules(rs *Ruleset, eng *netpol.Engine, inv *Inventory, classes []*netpol.Class, addrs []ipset.Set, unclassified ipset.Set, lg logOpts) {
	if inv == nil {
		return
	}
	type key struct {
		proto portset.Protocol
		port  uint16
	}
	publishers := map[key][]*Container{}
	var keys []key
	for _, c := range inv.Containers {
		for _, p := range c.Published {
			k := key{p.Protocol, p.HostPort}
			if len(publishers[k]) == 0 {
				keys = append(keys, k)
			}
			if !slices.Contains(publishers[k], c) {
				publishers[k] = append(publishers[k], c)
			}
		}
	}
	if len(keys) == 0 {
		return
	}
	slices.SortFunc(keys, func(a, b key) int { return cmp.Or(cmp.Compare(a.port, b.port), cmp.Compare(a.proto, b.proto)) })
	input := rs.Chain(ChainInput)
	// After established and the mid-stream drops; before lo.
	at := slices.IndexFunc(input.Rules, func(r Rule) bool { return r.Iif == "lo" })
	var jumps, loJumps, pickUps []Rule
	for n, k := range keys {
		allowed := subtract(ipset.Of(ipset.Range{From: netip.IPv4Unspecified(), To: netip.MustParseAddr("255.255.255.255")},
			ipset.Range{From: netip.IPv6Unspecified(), To: lastIPv6}), unclassified)
		for _, c := range publishers[k] {
			var q uint16
			for _, p := range c.Published {
				if p.Protocol == k.proto && p.HostPort == k.port {
					q = p.Port // one container port per host port and protocol
				}
			}
			var srcs []ipset.Range
			for _, a := range c.IPs {
				srcs = append(srcs, ipset.Range{From: a.Unmap(), To: a.Unmap()})
			}
			if len(c.IPs) > 0 {
				if d := eng.EndpointOfIP(c.IPs[0]); !d.IsExternal() {
					for i, cl := range classes {
						if eng.ClassAllowed(cl, d.Class()).Contains(k.proto, q) {
							srcs = append(srcs, addrs[i].Ranges()...)
						}
					}
				}
			}
			s := ipset.Of(srcs...)
			allowed = subtract(allowed, subtract(allowed, s)) // allowed ∩ s
		}
		chain := fmt.Sprintf("%s%d", ChainPublished, n+1)
		c := &Chain{Name: chain}
		// port matches the published port, as the destination or (src)
		// the source; each rule gets its own.
		port := func(src bool) *L4 {
			return &L4{Protocols: []portset.Protocol{k.proto}, Ports: []PortRange{{k.port, k.port}}, Src: src}
		}
		if k.proto == portset.TCP {
			// A segment conntrack does not know opens nothing here, from
			// any source (noPickUp covers managed ones only): once
			// FlushDenied ended a denied client's connection, its next
			// segment must not be picked up as a new one.
			c.Rules = append(c.Rules, Rule{TCPNotSYN: true, Counter: true, Verdict: Verdict{Kind: Drop}})
			// Nor may the host pick it up again from the proxy's side,
			// the direction the host may always send (its own clients'
			// segments over lo are judged in output: loJumps).
			pickUps = append(pickUps, Rule{TCPNotSYN: true, L4: port(true), Counter: true, Verdict: Verdict{Kind: Drop}})
		}
		for _, f := range Families {
			if elems := ofFamily(allowed, f); len(elems) > 0 {
				rs.Sets = append(rs.Sets, &Set{Name: chain + f.suffix(), Family: f, Elements: elems})
				c.Rules = append(c.Rules, Rule{Addr: &Lookup{Family: f, Name: chain + f.suffix()}, Verdict: Verdict{Kind: Accept}})
				if k.proto != portset.TCP {
					// A new flow from the published port (a UDP proxy's
					// datagram to a client whose own flow FlushDenied
					// ended) is the client's connection to it.
					pickUps = append(pickUps, Rule{Addr: &Lookup{Family: f, Dst: true, Name: chain + f.suffix()}, L4: port(true), Verdict: Verdict{Kind: Accept}})
				}
			}
		}
		if k.proto != portset.TCP {
			pickUps = append(pickUps, Rule{L4: port(true), Counter: true, Verdict: Verdict{Kind: Drop}})
		}
		c.Rules = append(c.Rules, dropRules(fmt.Sprintf("published %d/%s", k.port, k.proto), lg)...)
		rs.Chains = append(rs.Chains, c)
		jumps = append(jumps, Rule{L4: port(false), Verdict: Verdict{Kind: Jump, Chain: chain}})
		loJumps = append(loJumps, Rule{Oif: "lo", L4: port(false), Verdict: Verdict{Kind: Jump, Chain: chain}})
	}
	input.Rules = slices.Insert(input.Rules, at, jumps...)
	// The host's own packets to the ports it publishes are judged in
	// output already: over lo, conntrack confirms a connection there,
	// and a datagram dropped only in input would leave one that the
	// proxy's answer makes established.
	output := rs.Chain(ChainOutput)
	lo := slices.IndexFunc(output.Rules, func(r Rule) bool { return r.Oif == "lo" })
	output.Rules = slices.Insert(output.Rules, lo, loJumps...)
	// With the mid-stream drops: after established.
	est := slices.IndexFunc(output.Rules, func(r Rule) bool { return slices.Contains(r.CtState, "established") })
	output.Rules = slices.Insert(output.Rules, est+1, pickUps...)
}

// userlandProxyRules admits, at the output hook, the onward leg of
// Docker's userland proxy: a new connection from a socket of
// Inventory.UserlandProxy to a container's published port, whose client
// publishedRules judged already. The container's ingress stage judges
// every other socket's connection as the host's. A socket in a cgroup
// below the proxy's is not the proxy's.
func userlandProxyRules(rs *Ruleset, inv *Inventory) {
	if inv == nil || inv.UserlandProxy == nil {
		return
	}
	type key struct {
		addr  netip.Addr
		proto portset.Protocol
		port  uint16
	}
	var keys []key
	for _, c := range inv.Containers {
		for _, p := range c.Published {
			for _, a := range c.IPs {
				if k := (key{a.Unmap(), p.Protocol, p.Port}); !slices.Contains(keys, k) {
					keys = append(keys, k)
				}
			}
		}
	}
	if len(keys) == 0 {
		return
	}
	slices.SortFunc(keys, func(a, b key) int {
		return cmp.Or(a.addr.Compare(b.addr), cmp.Compare(a.port, b.port), cmp.Compare(a.proto, b.proto))
	})
	up := inv.UserlandProxy
	uid := up.UID
	mark := ProxyConnMark
	admit := Rule{SkUID: &uid, CtMarkSet: &mark, Verdict: Verdict{Kind: Accept}}
	if up.Cgroup.Level > 0 {
		admit.Cgroup = &CgroupMatch{Level: up.Cgroup.Level, Cgroup: up.Cgroup}
	}
	rs.Chains = append(rs.Chains, &Chain{Name: ChainUserlandProxy, Rules: []Rule{
		{Cgroup: &CgroupMatch{Level: up.Cgroup.Level + 1, Any: true}, Verdict: Verdict{Kind: Return}},
		admit,
	}})
	var jumps []Rule
	for _, k := range keys {
		jumps = append(jumps, Rule{Dst: netip.PrefixFrom(k.addr, k.addr.BitLen()),
			L4:      &L4{Protocols: []portset.Protocol{k.proto}, Ports: []PortRange{{k.port, k.port}}},
			Verdict: Verdict{Kind: Jump, Chain: ChainUserlandProxy}})
	}
	// After lo and neighbour discovery; before the ingress stage.
	output := rs.Chain(ChainOutput)
	lo := slices.IndexFunc(output.Rules, func(r Rule) bool { return r.Oif == "lo" })
	at := lo + slices.IndexFunc(output.Rules[lo:], func(r Rule) bool { return r.VMap != nil })
	output.Rules = slices.Insert(output.Rules, at, jumps...)
}

// lastIPv6 is the last IPv6 address.
var lastIPv6 = netip.AddrFrom16([16]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})

// grantChain returns a class's chain for one direction: a rule per grant,
// family and port shape that returns to the base chain on a match (the
// next stage decides), then the logged, counted drop. Egress grants match
// the destination address, ingress grants the source. sets holds the
// names of the sets made.
func grantChain(sets map[string]bool, name, what string, grants []netpol.Grant, egress bool, lg logOpts) *Chain {
	c := &Chain{Name: name}
	for _, g := range grants {
		for _, f := range Families {
			set := g.Group + f.suffix()
			if !sets[set] {
				continue // no address of this family in the group
			}
			for _, l4 := range l4Matches(g.Allowed) {
				c.Rules = append(c.Rules, Rule{
					Addr:    &Lookup{Family: f, Dst: egress, Name: set},
					L4:      l4,
					Verdict: Verdict{Kind: Return},
				})
			}
		}
	}
	c.Rules = append(c.Rules, dropRules(what, lg)...)
	return c
}

// logOpts is how drops are logged: at most rate a second each chain (none
// when rate < 0), to the kernel log, or to nflog group when not 0.
type logOpts struct {
	rate  int
	group uint16
}

// dropRules log (rate-limited, unless rate < 0) and count a drop. The
// limit is a match, so logging is a rule of its own: the drop must not
// depend on it.
func dropRules(what string, lg logOpts) []Rule {
	var out []Rule
	if lg.rate > 0 {
		out = append(out, Rule{LogRate: lg.rate, LogPrefix: LogPrefix + what + " ", LogGroup: lg.group})
	}
	return append(out, Rule{Counter: true, Verdict: Verdict{Kind: Drop}})
}

// l4Matches expresses ports as matches: nil (no match at all) for every
// port of every protocol; else one match per protocol and port range, with
// Ports nil for a protocol's whole range.
func l4Matches(p portset.Set) []*L4 {
	if p.IsAll() {
		return []*L4{nil}
	}
	// One protocol and one port range per match, never a list: nft
	// turns a list ("tcp dport { 80, 443 }") into an anonymous set, and
	// the kernel walks a table's list of sets to name each new one and
	// to find a named set, so thousands of them make loading quadratic
	// (4,000 containers: 6,103 anonymous sets, 5.8 s to load with nft,
	// against 0.5 s without). A few more rules cost the packet nothing
	// comparable: a class's chain holds only its own grants.
	var out []*L4
	for _, r := range p.Ranges() {
		l := &L4{Protocols: []portset.Protocol{r.Proto}, Ports: []PortRange{{r.Lo, r.Hi}}}
		if r.Lo == portset.MinPort && r.Hi == portset.MaxPort {
			l.Ports = nil
		}
		out = append(out, l)
	}
	return out
}

// ofFamily returns the ranges of s of family f.
func ofFamily(s ipset.Set, f Family) []ipset.Range {
	var out []ipset.Range
	for _, r := range s.Ranges() {
		if family(r.From) == f {
			out = append(out, r)
		}
	}
	return out
}

// subtract returns s without the addresses of t, in one sweep over both
// sorted lists (ipset.Set.Subtract compares every pair, too slow for the
// addresses of thousands of containers).
func subtract(s, t ipset.Set) ipset.Set {
	holes := t.Ranges()
	j := 0
	var out []ipset.Range
	for _, a := range s.Ranges() {
		for j < len(holes) && holes[j].To.Less(a.From) {
			j++
		}
		cur, alive := a, true
		for k := j; k < len(holes) && !cur.To.Less(holes[k].From); k++ {
			h := holes[k]
			if cur.From.Less(h.From) {
				out = append(out, ipset.Range{From: cur.From, To: h.From.Prev()})
			}
			if !h.To.Less(cur.To) {
				alive = false
				break
			}
			cur.From = h.To.Next()
		}
		if alive {
			out = append(out, cur)
		}
	}
	return ipset.Of(out...)
}

// selfAddrs returns the addresses of the inventory's containers (not
// hostNetwork ones), sorted: a connection from one of them to itself
// through the host is a pod reaching itself.
func selfAddrs(inv *Inventory) []netip.Addr {
	if inv == nil {
		return nil
	}
	var out []netip.Addr
	for _, c := range inv.Containers {
		if !c.HostNetwork {
			out = append(out, c.IPs...)
		}
	}
	slices.SortFunc(out, func(a, b netip.Addr) int { return a.Compare(b) })
	return slices.Compact(out)
}

// bindings ties each container's bridge ports to its addresses and MAC
// addresses, sorted by port and address (the order nft lists them in).
func bindings(inv *Inventory) []Binding {
	if inv == nil {
		return nil
	}
	var out []Binding
	for _, c := range inv.Containers {
		if c.HostNetwork {
			continue
		}
		for _, port := range c.Interfaces {
			addrs := slices.Clone(c.IPs)
			slices.SortFunc(addrs, func(a, b netip.Addr) int { return a.Compare(b) })
			out = append(out, Binding{Port: port, Addrs: addrs, MACs: sortedMACs(c.MACs)})
		}
	}
	for _, port := range inv.UnknownPorts {
		out = append(out, Binding{Port: port})
	}
	slices.SortFunc(out, func(a, b Binding) int { return strings.Compare(a.Port, b.Port) })
	return out
}

// portlessRules judges, when no port of the bridges is known (no
// Bindings: an inventory without interfaces), on the bridges the
// inventory names (Network.Bridge), what the bridge table judges per
// port otherwise: containers' router advertisements (dropped in chain
// forward) and the host's group and link-local packets.
//
// The host's: the bridge table's chain output, which lets such packets
// through only to the ports of containers whose ingress is not isolated
// (set group_open), needs the ports. The inet table's chain output sees
// the bridge alone, not which ports the frame will reach, and judges the
// host's packets by their destination address's ingress, whose maps hold
// no group or link-local address: any process of the host reached an
// isolated container's UDP port with a datagram to 224.0.0.1,
// 255.255.255.255, ff02::1 or the container's link-local address. So,
// failing closed, such a packet out of a named bridge on which some
// container's ingress is isolated jumps to chain host_group, which lets
// neighbour, router and multicast listener discovery return and drops
// (counted) ICMP, ICMPv6, TCP, UDP and SCTP: every container on the
// bridge loses the host's broadcast, multicast and link-local datagrams,
// even those its policies would admit. What is left, IGMP (the host's
// membership reports, which the bridge's multicast snooping needs) and
// other raw IP protocols, needs a raw socket.
func portlessRules(rs *Ruleset, inv *Inventory, classes []*netpol.Class) {
	if inv == nil || len(rs.Bindings) > 0 {
		return // the bridge table judges them per port (bridgeHostRules)
	}
	isolated := map[netip.Addr]bool{}
	for _, c := range classes {
		if c.External || !c.Isolated(netpol.Ingress) {
			continue
		}
		for _, ep := range c.Members {
			for _, ip := range ep.IPs {
				isolated[ip] = true
			}
		}
	}
	var bridges []string
	for _, n := range inv.Networks {
		if n.Bridge == "" || slices.Contains(bridges, n.Bridge) {
			continue
		}
		if slices.ContainsFunc(inv.Containers, func(c *Container) bool {
			return !c.HostNetwork && slices.ContainsFunc(c.IPs, func(ip netip.Addr) bool {
				return isolated[ip] && slices.ContainsFunc(n.Subnets, func(p netip.Prefix) bool { return p.Contains(ip) })
			})
		}) {
			bridges = append(bridges, n.Bridge)
		}
	}
	// A router advertisement from a container (no container is the router
	// of a Docker bridge) made its neighbours route through it: the
	// bridge table's prerouting chain drops them from known ports, and
	// chain forward accepted them as discovery. Without known ports,
	// forward drops them on the named bridges (the bridge is the input
	// interface of what br_netfilter hands it; a routed packet keeps no
	// hop limit of 255, so only bridged ones reach the discovery accept).
	var named []string
	for _, n := range inv.Networks {
		if n.Bridge != "" && !slices.Contains(named, n.Bridge) {
			named = append(named, n.Bridge)
		}
	}
	slices.Sort(named)
	for _, c := range rs.Chains {
		if c.Hook != "forward" {
			continue
		}
		i := slices.IndexFunc(c.Rules, func(r Rule) bool { return r.HopLimit != 0 })
		if i < 0 {
			i = len(c.Rules)
		}
		var ra []Rule
		for _, br := range named {
			ra = append(ra, Rule{IfName: br, ICMPv6Types: []string{"nd-router-advert"}, Counter: true, Verdict: Verdict{Kind: Drop}})
		}
		c.Rules = slices.Insert(c.Rules, i, ra...)
	}
	if len(bridges) == 0 {
		return
	}
	slices.Sort(bridges)
	var jumps []Rule
	for _, br := range bridges {
		for _, p := range append(GroupPrefixes[:], linkLocal) {
			jumps = append(jumps, Rule{IfName: br, IfOut: true, Dst: p, Verdict: Verdict{Kind: Jump, Chain: ChainHostGroup}})
		}
	}
	drop := Verdict{Kind: Drop}
	rs.Chains = append(rs.Chains, &Chain{Name: ChainHostGroup, Rules: []Rule{
		{ICMPv6Types: slices.Clone(ndTypes), Verdict: Verdict{Kind: Return}},
		{ICMP: IPv6, Counter: true, Verdict: drop},
		{ICMP: IPv4, Counter: true, Verdict: drop},
		{L4: &L4{Protocols: []portset.Protocol{portset.TCP, portset.UDP, portset.SCTP}}, Counter: true, Verdict: drop},
	}})
	for _, c := range rs.Chains {
		if c.Hook != "output" {
			continue
		}
		// After the drops of forged sources, before anything accepts.
		i := 0
		for i < len(c.Rules) && c.Rules[i].SrcNotLocal {
			i++
		}
		c.Rules = slices.Insert(c.Rules, i, jumps...)
	}
}
