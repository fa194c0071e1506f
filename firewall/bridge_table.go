package firewall

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// bridgeTable is Ward's bridge table as google/nftables names it.
func bridgeTable() *nftables.Table {
	return &nftables.Table{Family: nftables.TableFamilyBridge, Name: TableName}
}

// bridgeObjects is the bridge table of a ruleset's bindings, translated.
type bridgeObjects struct {
	table  *nftables.Table
	chains []*nftables.Chain // prerouting, forward, output, then the chains they jump to
	sets   []setElems
	rules  []*nftables.Rule
}

// ifname encodes an interface name as the kernel compares it: the name
// and zeros, 16 bytes.
func ifname(name string) ([]byte, error) {
	if bad := badInterface(name); bad != "" {
		return nil, fmt.Errorf("%s", bad)
	}
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return b, nil
}

// translateBridge builds the bridge table of bindings (see
// Ruleset.BridgeString), the same expressions nft makes of its text, so
// that `nft list table bridge ward` prints BridgeString back.
func translateBridge(bindings []Binding, unbound bool, logGroup uint16, closed bool) (*bridgeObjects, error) {
	t := bridgeTable()
	policy := nftables.ChainPolicyAccept
	pre := &nftables.Chain{
		Name: BridgeChain, Table: t, Hooknum: nftables.ChainHookPrerouting,
		Priority: nftables.ChainPriorityRef(BridgePriority), Type: nftables.ChainTypeFilter, Policy: &policy,
	}
	// Priority filter (-200): before br_netfilter hands the frame to the
	// inet forward hook (NF_BR_PRI_BRNF, 0), so that the mark is set when
	// the inet table reads it.
	fwd := &nftables.Chain{
		Name: BridgeForward, Table: t, Hooknum: nftables.ChainHookForward,
		Priority: nftables.ChainPriorityRef(-200), Type: nftables.ChainTypeFilter, Policy: &policy,
	}
	// Priority filter (-200), as chain forward.
	out := &nftables.Chain{
		Name: BridgeOutput, Table: t, Hooknum: nftables.ChainHookOutput,
		Priority: nftables.ChainPriorityRef(-200), Type: nftables.ChainTypeFilter, Policy: &policy,
	}
	o := &bridgeObjects{table: t, chains: []*nftables.Chain{pre, fwd, out}}
	if unbound {
		// No prerouting chain; chain output keeps the host's group and
		// link-local rules, which need the ports alone (bridgeHostRules).
		o.chains = []*nftables.Chain{fwd, out}
	}
	// An interface name is a string, in host byte order: said so, nft
	// lists the names; otherwise it reads them backwards.
	ports := &nftables.Set{Table: t, Name: BridgePorts, KeyType: nftables.TypeIFName, KeyByteOrder: binaryutil.NativeEndian}
	v4 := &nftables.Set{Table: t, Name: BridgeAddrs4, KeyType: nftables.MustConcatSetType(nftables.TypeIFName, nftables.TypeIPAddr)}
	v6 := &nftables.Set{Table: t, Name: BridgeAddrs6, KeyType: nftables.MustConcatSetType(nftables.TypeIFName, nftables.TypeIP6Addr)}
	// The port marks: a verdict map from port to a chain that sets the
	// mark (a map of marks would store them in an order nft cannot be
	// told about, and `nft list` would print them byte-swapped).
	marks := &nftables.Set{Table: t, Name: BridgeMarks, IsMap: true, KeyType: nftables.TypeIFName,
		KeyByteOrder: binaryutil.NativeEndian, DataType: nftables.TypeVerdict}
	ndMap := &nftables.Set{Table: t, Name: BridgeND, IsMap: true, KeyType: nftables.TypeIFName,
		KeyByteOrder: binaryutil.NativeEndian, DataType: nftables.TypeVerdict}
	markChains := map[uint32]*nftables.Chain{}
	for _, b := range bindings {
		if b.Mark == 0 || markChains[b.Mark] != nil {
			continue
		}
		c := &nftables.Chain{Name: markChain(b.Mark), Table: t}
		markChains[b.Mark] = c
		o.chains = append(o.chains, c)
		o.rules = append(o.rules, &nftables.Rule{Table: t, Chain: c, Exprs: []expr.Any{
			&expr.Immediate{Register: 1, Data: binaryutil.NativeEndian.PutUint32(b.Mark)},
			&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1},
		}})
	}
	ndJumps, ndcs := ndChains(bindings)
	var pe, e4, e6, me, ne []nftables.SetElement
	for i, b := range bindings {
		name, err := ifname(b.Port)
		if err != nil {
			return nil, err
		}
		pe = append(pe, nftables.SetElement{Key: name})
		if b.Mark != 0 {
			me = append(me, nftables.SetElement{Key: name, VerdictData: &expr.Verdict{Kind: expr.VerdictJump, Chain: markChain(b.Mark)}})
		}
		ne = append(ne, nftables.SetElement{Key: name, VerdictData: &expr.Verdict{Kind: expr.VerdictJump, Chain: ndJumps[i]}})
		for _, a := range b.Addrs {
			switch {
			case a.Is4():
				ip := a.As4()
				e4 = append(e4, nftables.SetElement{Key: append(append([]byte(nil), name...), ip[:]...)})
			case a.Is6() && !a.Is4In6():
				ip := a.As16()
				e6 = append(e6, nftables.SetElement{Key: append(append([]byte(nil), name...), ip[:]...)})
			default:
				return nil, fmt.Errorf("binding %s: invalid address %s", b.Port, a)
			}
		}
	}
	bound4 := &nftables.Set{Table: t, Name: BridgeBound4, KeyType: nftables.TypeIPAddr}
	bound6 := &nftables.Set{Table: t, Name: BridgeBound6, KeyType: nftables.TypeIP6Addr}
	var b4e, b6e []nftables.SetElement
	a4, a6 := boundAddrs(bindings)
	for _, a := range a4 {
		b4e = append(b4e, nftables.SetElement{Key: a.AsSlice()})
	}
	for _, a := range a6 {
		b6e = append(b6e, nftables.SetElement{Key: a.AsSlice()})
	}
	// Set group_open (bridgeHostRules): the ports whose container's
	// ingress is not isolated.
	groupOpen := &nftables.Set{Table: t, Name: BridgeGroupOpen, KeyType: nftables.TypeIFName, KeyByteOrder: binaryutil.NativeEndian}
	var goe []nftables.SetElement
	for _, b := range bindings {
		if b.Mark != GroupMark {
			continue
		}
		name, err := ifname(b.Port)
		if err != nil {
			return nil, err
		}
		goe = append(goe, nftables.SetElement{Key: name})
	}
	o.sets = []setElems{{ports, pe}, {v4, e4}, {v6, e6}, {bound4, b4e}, {bound6, b6e}, {groupOpen, goe}, {marks, me}, {ndMap, ne}}
	if unbound {
		o.sets = []setElems{{ports, pe}, {groupOpen, goe}, {marks, me}} // no nd_ports: nothing looks it up
	}
	// Sets macs, mac_ports and bound_macs (bridgeMACRules).
	macs := &nftables.Set{Table: t, Name: BridgeMACs, KeyType: nftables.MustConcatSetType(nftables.TypeIFName, nftables.TypeEtherAddr)}
	macPorts := &nftables.Set{Table: t, Name: BridgeMACPorts, KeyType: nftables.TypeIFName, KeyByteOrder: binaryutil.NativeEndian}
	boundMACs := &nftables.Set{Table: t, Name: BridgeBoundMACs, KeyType: nftables.TypeEtherAddr}
	bindsMACs := !unbound && slices.ContainsFunc(bindings, func(b Binding) bool { return len(b.MACs) > 0 })
	if bindsMACs {
		var mp, mpe, bme []nftables.SetElement
		var all []net.HardwareAddr
		for _, b := range bindings {
			if len(b.MACs) == 0 {
				continue
			}
			name, err := ifname(b.Port)
			if err != nil {
				return nil, err
			}
			mpe = append(mpe, nftables.SetElement{Key: name})
			for _, m := range b.MACs {
				if len(m) != 6 {
					return nil, fmt.Errorf("binding %s: invalid MAC address %s", b.Port, m)
				}
				// A concatenation pads each field to 4 bytes.
				mp = append(mp, nftables.SetElement{Key: slices.Concat(name, m, []byte{0, 0})})
				all = append(all, m)
			}
		}
		for _, m := range sortedMACs(all) {
			bme = append(bme, nftables.SetElement{Key: slices.Clone(m)})
		}
		o.sets = append(o.sets, setElems{macs, mp}, setElems{macPorts, mpe}, setElems{boundMACs, bme})
	}

	const r1, r2 = 1, 2 // 16-byte registers: an ifname fills r1, the address follows in r2
	etherType := func(t uint16) []expr.Any {
		return []expr.Any{
			&expr.Payload{DestRegister: r1, Base: expr.PayloadBaseLLHeader, Offset: 12, Len: 2},
			&expr.Cmp{Op: expr.CmpOpEq, Register: r1, Data: binaryutil.BigEndian.PutUint16(t)},
		}
	}
	iifname := &expr.Meta{Key: expr.MetaKeyIIFNAME, Register: r1}
	accept := &expr.Verdict{Kind: expr.VerdictAccept}
	lookup := func(s *nftables.Set, invert bool) *expr.Lookup {
		return &expr.Lookup{SourceRegister: r1, SetName: s.Name, Invert: invert}
	}
	src := func(reg uint32, off, n uint32) *expr.Payload {
		return &expr.Payload{DestRegister: reg, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n}
	}
	spoofLog := &expr.Log{Key: 1 << unix.NFTA_LOG_PREFIX, Data: []byte(SpoofLogPrefix)}
	if logGroup != 0 {
		spoofLog.Key |= 1 << unix.NFTA_LOG_GROUP
		spoofLog.Group = logGroup
	}
	fe80 := netip.MustParseAddr("fe80::").As16()
	var zero16 [16]byte
	// Ruleset.Bridges: every frame from a bound port carries BoundMark.
	var markBound []expr.Any
	if closed {
		markBound = []expr.Any{
			&expr.Immediate{Register: r1, Data: binaryutil.NativeEndian.PutUint32(BoundMark)},
			&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: r1},
		}
	}
	var rules, macRules [][]expr.Any
	if bindsMACs {
		// bridgeMACRules: the Ethernet source (6 bytes at offset 6), an
		// ARP packet's sender hardware address (at offset 8).
		spoof := &expr.Verdict{Kind: expr.VerdictJump, Chain: BridgeMACSpoof}
		ether := func(reg uint32) *expr.Payload {
			return &expr.Payload{DestRegister: reg, Base: expr.PayloadBaseLLHeader, Offset: 6, Len: 6}
		}
		macRules = [][]expr.Any{
			{iifname, lookup(macPorts, false), iifname, ether(r2), lookup(macs, true), spoof},
			[]expr.Any{iifname, lookup(macPorts, true), ether(r1), lookup(boundMACs, false), spoof},
			append(etherType(unix.ETH_P_ARP), iifname, src(r2, 8, 6), lookup(macs, true), iifname, lookup(macPorts, false), spoof),
			append(etherType(unix.ETH_P_ARP), src(r1, 8, 6), lookup(boundMACs, false), iifname, lookup(macPorts, true), spoof),
		}
		rules = append(rules, macRules...)
	}
	// skbProto matches the frame's protocol (meta protocol): a VLAN tag the
	// receiving veth stripped leaves the inner one.
	skbProto := func(p uint16) []expr.Any {
		return []expr.Any{
			&expr.Meta{Key: expr.MetaKeyPROTOCOL, Register: r1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: r1, Data: binaryutil.BigEndian.PutUint16(p)},
		}
	}
	drop := []expr.Any{&expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop}}
	rules = append(rules, [][]expr.Any{
		slices.Concat(etherType(unix.ETH_P_IP), []expr.Any{iifname, src(r2, 12, 4), lookup(v4, false)}, markBound, []expr.Any{accept}),
		// bridgeBoundSourceRules: a bound address from a port not bound.
		slices.Concat(skbProto(unix.ETH_P_IP), []expr.Any{src(r1, 12, 4), lookup(bound4, false), iifname, lookup(ports, true)}, drop),
		slices.Concat(skbProto(unix.ETH_P_ARP), []expr.Any{src(r1, 14, 4), lookup(bound4, false), iifname, lookup(ports, true)}, drop),
		slices.Concat(skbProto(unix.ETH_P_IPV6), []expr.Any{src(r1, 8, 16), lookup(bound6, false), iifname, lookup(ports, true)}, drop),
		// A neighbour advertisement from a port not bound, to chain
		// nd_bound: its target must be no bound address.
		slices.Concat(skbProto(unix.ETH_P_IPV6), []expr.Any{&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: r1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: r1, Data: []byte{unix.IPPROTO_ICMPV6}},
			icmpv6Type(r1), &expr.Cmp{Op: expr.CmpOpEq, Register: r1, Data: []byte{icmpv6Types["nd-neighbor-advert"]}},
			iifname, lookup(ports, true), &expr.Verdict{Kind: expr.VerdictJump, Chain: BridgeNDBound}}),
		{iifname, lookup(ports, true), accept},
	}...)
	if closed {
		rules = append(rules, markBound)
	}
	rules = append(rules, [][]expr.Any{
		append(etherType(unix.ETH_P_ARP), iifname, src(r2, 14, 4), lookup(v4, false), accept),
		append(etherType(unix.ETH_P_ARP), src(r1, 14, 4), &expr.Cmp{Op: expr.CmpOpEq, Register: r1, Data: []byte{0, 0, 0, 0}}, accept),
		// A router advertisement from a container, from any source
		// (a link-local one passes the discovery rules below): the others would
		// take it for their router and send it their traffic.
		append(etherType(unix.ETH_P_IPV6), &expr.Meta{Key: expr.MetaKeyL4PROTO, Register: r1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: r1, Data: []byte{unix.IPPROTO_ICMPV6}},
			icmpv6Type(r1), &expr.Cmp{Op: expr.CmpOpEq, Register: r1, Data: []byte{icmpv6Types["nd-router-advert"]}},
			&expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop}),
		// A neighbour advertisement, from any source, to its port's
		// check of the target (ndChains).
		append(etherType(unix.ETH_P_IPV6), &expr.Meta{Key: expr.MetaKeyL4PROTO, Register: r1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: r1, Data: []byte{unix.IPPROTO_ICMPV6}},
			icmpv6Type(r1), &expr.Cmp{Op: expr.CmpOpEq, Register: r1, Data: []byte{icmpv6Types["nd-neighbor-advert"]}},
			iifname, &expr.Lookup{SourceRegister: r1, SetName: ndMap.Name, IsDestRegSet: true, DestRegister: 0}),
	}...)
	// Link-local and unspecified sources, which no binding holds, carry
	// neighbour, router and multicast listener discovery only (ndTypes):
	// anything else from them (a datagram, an ICMPv6 error about another
	// pair's connection) would be judged by no policy, since the inet
	// table's sets hold neither, at the host's input hook as well as
	// between containers.
	for _, saddr := range []func() []expr.Any{
		func() []expr.Any {
			return []expr.Any{src(r1, 8, 16),
				&expr.Bitwise{SourceRegister: r1, DestRegister: r1, Len: 16, Mask: append([]byte{0xff, 0xc0}, make([]byte, 14)...), Xor: make([]byte, 16)},
				&expr.Cmp{Op: expr.CmpOpEq, Register: r1, Data: fe80[:]}}
		},
		func() []expr.Any {
			return []expr.Any{src(r1, 8, 16), &expr.Cmp{Op: expr.CmpOpEq, Register: r1, Data: zero16[:]}}
		},
	} {
		for _, typ := range []expr.Any{
			&expr.Range{Op: expr.CmpOpEq, Register: r1, FromData: []byte{ndFirst}, ToData: []byte{ndLast}},
			&expr.Cmp{Op: expr.CmpOpEq, Register: r1, Data: []byte{ndMLDv2}},
		} {
			rules = append(rules, slices.Concat(etherType(unix.ETH_P_IPV6), saddr(), []expr.Any{
				&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: r1},
				&expr.Cmp{Op: expr.CmpOpEq, Register: r1, Data: []byte{unix.IPPROTO_ICMPV6}},
				icmpv6Type(r1), typ, accept,
			}))
		}
	}
	rules = append(rules, [][]expr.Any{
		append(etherType(unix.ETH_P_IPV6), iifname, src(r2, 8, 16), lookup(v6, false), accept),
		{&expr.Limit{Type: expr.LimitTypePkts, Rate: spoofLogRateSec, Unit: expr.LimitTimeSecond, Burst: 5}, spoofLog},
		{&expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop}},
	}...)
	if !unbound {
		for _, exprs := range rules {
			o.rules = append(o.rules, &nftables.Rule{Table: t, Chain: pre, Exprs: exprs})
		}
	}
	// The target of an advertisement (16 bytes at offset 8 of the ICMPv6
	// message): a link-local address, or one of the port's.
	target := func(n uint32) *expr.Payload {
		return &expr.Payload{DestRegister: r1, Base: expr.PayloadBaseTransportHeader, Offset: 8, Len: n}
	}
	ret := &expr.Verdict{Kind: expr.VerdictReturn}
	if unbound {
		ndcs = nil // no prerouting chain, nothing jumps there
	}
	for _, nc := range ndcs {
		c := &nftables.Chain{Name: nc.name, Table: t}
		o.chains = append(o.chains, c)
		o.rules = append(o.rules, &nftables.Rule{Table: t, Chain: c, Exprs: []expr.Any{target(2),
			&expr.Bitwise{SourceRegister: r1, DestRegister: r1, Len: 2, Mask: []byte{0xff, 0xc0}, Xor: []byte{0, 0}},
			&expr.Cmp{Op: expr.CmpOpEq, Register: r1, Data: []byte{0xfe, 0x80}}, ret}})
		for _, a := range nc.addrs {
			o.rules = append(o.rules, &nftables.Rule{Table: t, Chain: c, Exprs: []expr.Any{target(16),
				&expr.Cmp{Op: expr.CmpOpEq, Register: r1, Data: a.AsSlice()}, ret}})
		}
		o.rules = append(o.rules, &nftables.Rule{Table: t, Chain: c, Exprs: []expr.Any{&expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop}}})
	}
	if !unbound {
		// Chain nd_bound (bridgeBoundSourceRules): an advertisement from
		// a port not bound whose target is a bound address is dropped.
		c := &nftables.Chain{Name: BridgeNDBound, Table: t}
		o.chains = append(o.chains, c)
		for _, a := range a6 {
			o.rules = append(o.rules, &nftables.Rule{Table: t, Chain: c, Exprs: []expr.Any{target(16),
				&expr.Cmp{Op: expr.CmpOpEq, Register: r1, Data: a.AsSlice()}, &expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop}}})
		}
	}
	if bindsMACs {
		c := &nftables.Chain{Name: BridgeMACSpoof, Table: t}
		o.chains = append(o.chains, c)
		for _, exprs := range [][]expr.Any{
			{&expr.Limit{Type: expr.LimitTypePkts, Rate: spoofLogRateSec, Unit: expr.LimitTimeSecond, Burst: 5}, spoofLog},
			{&expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop}},
		} {
			o.rules = append(o.rules, &nftables.Rule{Table: t, Chain: c, Exprs: exprs})
		}
	}
	if bindsMACs || !unbound {
		// Chain input (BridgeInput): the Ethernet source rules again, for
		// frames to reserved group addresses, which skip prerouting; then
		// a frame to the host still tagged once its port stripped a tag
		// (802.1ad QinQ), from a port not bound (bridgeInputTagRules).
		in := &nftables.Chain{
			Name: BridgeInput, Table: t, Hooknum: nftables.ChainHookInput,
			Priority: nftables.ChainPriorityRef(-200), Type: nftables.ChainTypeFilter, Policy: &policy,
		}
		o.chains = append(o.chains, in)
		var inRules [][]expr.Any
		if bindsMACs {
			inRules = append(inRules, macRules[:2]...)
		}
		if !unbound {
			for _, tag := range []uint16{unix.ETH_P_8021Q, unix.ETH_P_8021AD} {
				inRules = append(inRules, slices.Concat(skbProto(tag), []expr.Any{iifname, lookup(ports, true)}, drop))
			}
		}
		for _, exprs := range inRules {
			o.rules = append(o.rules, &nftables.Rule{Table: t, Chain: in, Exprs: exprs})
		}
	}

	// Chain forward: VLAN-tagged frames to a bound port are dropped;
	// broadcast and multicast packets get their output port's mark.
	oifname := &expr.Meta{Key: expr.MetaKeyOIFNAME, Register: r1}
	setMark := []expr.Any{
		&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: r1},
		&expr.Lookup{SourceRegister: r1, SetName: marks.Name, IsDestRegSet: true, DestRegister: 0},
	}
	var fwdRules [][]expr.Any
	boundMark := func(op expr.CmpOp) []expr.Any {
		return []expr.Any{
			&expr.Meta{Key: expr.MetaKeyMARK, Register: r1},
			&expr.Bitwise{SourceRegister: r1, DestRegister: r1, Len: 4, Mask: binaryutil.NativeEndian.PutUint32(BoundMarkMask), Xor: make([]byte, 4)},
			&expr.Cmp{Op: op, Register: r1, Data: binaryutil.NativeEndian.PutUint32(BoundMark)},
		}
	}
	if closed {
		// A frame to a bound port from a port not bound: from a port of
		// the same bridge attached since the last sync.
		fwdRules = append(fwdRules, slices.Concat([]expr.Any{oifname, lookup(ports, false)}, boundMark(expr.CmpOpNeq),
			[]expr.Any{&expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop}}))
	}
	if unbound {
		// A router advertisement from a known port: the prerouting chain,
		// which drops them with the bindings, is left out (Ruleset.Unbound),
		// and chain forward would let it reach the others, which took the
		// sender for their default router (TestRouterAdvertNoBind).
		fwdRules = append(fwdRules, append(etherType(unix.ETH_P_IPV6), &expr.Meta{Key: expr.MetaKeyL4PROTO, Register: r1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: r1, Data: []byte{unix.IPPROTO_ICMPV6}},
			icmpv6Type(r1), &expr.Cmp{Op: expr.CmpOpEq, Register: r1, Data: []byte{icmpv6Types["nd-router-advert"]}},
			iifname, lookup(ports, false), &expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop}))
	}
	for _, tag := range []uint16{unix.ETH_P_8021Q, unix.ETH_P_8021AD} {
		// The ether type first: an untagged frame costs one compare.
		fwdRules = append(fwdRules, append(etherType(tag), oifname, lookup(ports, false), &expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop}))
	}
	// TCP, UDP and every protocol but ICMPv6 over link-local IPv6
	// addresses, which no rule can tell apart, to a bound port; then
	// every ICMPv6 type but neighbour, router and multicast listener
	// discovery (ndTypes: 130 to 136, 143), which is all IPv6 needs of a
	// link: echo requests and errors between link-local addresses would
	// otherwise reach a container whatever its ingress policies say (the
	// inet table's maps hold no link-local address).
	// discoveryOnly drops, through a port of set s (or through one not
	// in it, with invert), what match selects but discovery: every
	// protocol but ICMPv6, then every ICMPv6 type but ndTypes.
	// scope is the output port's lookups (oifname @ports, and for the
	// host's group packets oifname != @group_open too).
	discoveryOnly := func(match, scope []expr.Any) [][]expr.Any {
		return [][]expr.Any{slices.Concat(match, []expr.Any{
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: r1},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: r1, Data: []byte{unix.IPPROTO_ICMPV6}},
		}, scope, []expr.Any{&expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop}}), slices.Concat(match, []expr.Any{
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: r1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: r1, Data: []byte{unix.IPPROTO_ICMPV6}},
			icmpv6Type(r1), &expr.Range{Op: expr.CmpOpNeq, Register: r1, FromData: []byte{ndFirst}, ToData: []byte{ndLast}},
			icmpv6Type(r1), &expr.Cmp{Op: expr.CmpOpNeq, Register: r1, Data: []byte{ndMLDv2}},
		}, scope, []expr.Any{&expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop}})}
	}
	toPorts := []expr.Any{oifname, lookup(ports, false)}
	// The host's group packets to a port of the bindings whose
	// container's ingress is isolated: to a bound port not in group_open.
	// Only the bindings' ports: another bridge's (a libvirt or LXC
	// guest's, virbr0, lxcbr0) is no network Ward manages, and would lose
	// the host's broadcast and multicast, DHCP replies among them
	// (TestHostGroupOtherBridge).
	toIsolated := []expr.Any{oifname, lookup(ports, false), oifname, lookup(groupOpen, true)}
	for _, dst := range []bool{false, true} {
		fwdRules = append(fwdRules, discoveryOnly(slices.Concat(skbProto(unix.ETH_P_IPV6), addrPrefix(r1, linkLocal, dst)), toPorts)...)
	}
	for _, p := range GroupPrefixes {
		match := skbProto(unix.ETH_P_IP)
		if p.Addr().Is6() {
			match = skbProto(unix.ETH_P_IPV6)
		}
		match = append(match, dstPrefix(r1, p)...)
		fwdRules = append(fwdRules, append(match, setMark...))
	}
	// bridgeDestRules: a unicast packet leaving through a bound port is
	// addressed to one of the port's addresses.
	var destRules [][]expr.Any
	if !unbound {
		for _, f := range []struct {
			proto uint16
			off   uint32
			below []byte // the first group (IPv4) or link-local (IPv6) address
			set   *nftables.Set
		}{
			{unix.ETH_P_IP, 16, []byte{224, 0, 0, 0}, v4},
			{unix.ETH_P_IPV6, 24, fe80[:], v6},
		} {
			n := uint32(len(f.below)) // #nosec G115 -- 4 or 16
			destRules = append(destRules, slices.Concat(skbProto(f.proto), []expr.Any{
				&expr.Payload{DestRegister: r1, Base: expr.PayloadBaseNetworkHeader, Offset: f.off, Len: n},
				&expr.Cmp{Op: expr.CmpOpLt, Register: r1, Data: f.below},
				oifname, lookup(ports, false),
				oifname, &expr.Payload{DestRegister: r2, Base: expr.PayloadBaseNetworkHeader, Offset: f.off, Len: n},
				lookup(f.set, true), &expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop},
			}))
		}
		// Unicast addresses above those ranges, which no container holds:
		// IPv4's class E (240.0.0.0-255.255.255.254) and IPv6's deprecated
		// site-local prefix (fec0::/10).
		destRules = append(destRules,
			slices.Concat(skbProto(unix.ETH_P_IP), []expr.Any{
				&expr.Payload{DestRegister: r1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
				&expr.Range{Op: expr.CmpOpEq, Register: r1, FromData: []byte{240, 0, 0, 0}, ToData: []byte{255, 255, 255, 254}},
				oifname, lookup(ports, false), &expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop},
			}),
			slices.Concat(skbProto(unix.ETH_P_IPV6), dstPrefix(r1, siteLocal),
				[]expr.Any{oifname, lookup(ports, false), &expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop}}))
	}
	fwdRules = append(fwdRules, destRules...)
	// bridgeOutputRules, in chain forward too: a packet addressed to a
	// bound address leaves through a bound port only (not with unbound:
	// no address sets). Without it a container whose port is not bound
	// took a bound one's traffic with an ARP reply or a neighbour
	// advertisement claiming its address (lab.TestUnknownPortBoundSource).
	var boundDest [][]expr.Any
	if !unbound {
		for _, f := range []struct {
			proto uint16
			off   uint32
			n     uint32
			set   *nftables.Set
		}{{unix.ETH_P_IP, 16, 4, bound4}, {unix.ETH_P_IPV6, 24, 16, bound6}} {
			boundDest = append(boundDest, slices.Concat(skbProto(f.proto), []expr.Any{
				&expr.Payload{DestRegister: r1, Base: expr.PayloadBaseNetworkHeader, Offset: f.off, Len: f.n},
				lookup(f.set, false), oifname, lookup(ports, true), &expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop},
			}))
		}
	}
	fwdRules = append(fwdRules, boundDest...)
	if closed {
		// A frame from a bound port to a port not bound (the same bridge's).
		fwdRules = append(fwdRules, slices.Concat(boundMark(expr.CmpOpEq),
			[]expr.Any{oifname, lookup(ports, true), &expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop}}))
	}
	for _, exprs := range fwdRules {
		o.rules = append(o.rules, &nftables.Rule{Table: t, Chain: fwd, Exprs: exprs})
	}
	// Chain output (bridgeOutputRules): the host's own frames, to a
	// bound port addressed to another's address, or to a port not bound
	// addressed to a bound address (not with unbound: no address sets);
	// then bridgeHostRules, which need the ports alone, so that --no-bind
	// judges the host's group and link-local packets as well.
	outRules := slices.Concat(destRules, boundDest)
	// bridgeHostRules: link-local IPv6 to a bound port, discovery
	// only; group packets only to a port of group_open, but IGMP and
	// discovery.
	outRules = append(outRules, discoveryOnly(slices.Concat(skbProto(unix.ETH_P_IPV6), dstPrefix(r1, linkLocal)), toPorts)...)
	outRules = append(outRules,
		slices.Concat(skbProto(unix.ETH_P_IP), dstPrefix(r1, GroupPrefixes[0]), []expr.Any{
			&expr.Payload{DestRegister: r1, Base: expr.PayloadBaseNetworkHeader, Offset: 9, Len: 1},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: r1, Data: []byte{unix.IPPROTO_IGMP}},
		}, toIsolated, []expr.Any{&expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop}}),
		slices.Concat(skbProto(unix.ETH_P_IP), dstPrefix(r1, GroupPrefixes[1]),
			toIsolated, []expr.Any{&expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop}}))
	outRules = append(outRules, discoveryOnly(slices.Concat(skbProto(unix.ETH_P_IPV6), dstPrefix(r1, GroupPrefixes[2])), toIsolated)...)
	for _, exprs := range outRules {
		o.rules = append(o.rules, &nftables.Rule{Table: t, Chain: out, Exprs: exprs})
	}
	return o, nil
}

// queue adds the bridge table's objects to conn's batch: the table, its
// chain, its sets with their elements, its rules.
func (o *bridgeObjects) queue(conn *nftables.Conn) error {
	conn.AddTable(o.table)
	for _, c := range o.chains {
		conn.AddChain(c)
	}
	for _, s := range o.sets {
		if err := queueSet(conn, s); err != nil {
			return err
		}
	}
	for _, r := range o.rules {
		conn.AddRule(r) // lookups name their sets: the kernel finds them in the batch
	}
	return nil
}

// The ICMPv6 types of ndTypes, as the bridge table matches them: the
// range from ndFirst to ndLast (multicast listener query, report and done,
// router solicitation and advertisement, neighbour solicitation and
// advertisement) and ndMLDv2 (TestNDTypeRange checks they agree).
const ndFirst, ndLast, ndMLDv2 = 130, 136, 143

// icmpv6Type loads an ICMPv6 message's type into reg.
func icmpv6Type(reg uint32) *expr.Payload {
	return &expr.Payload{DestRegister: reg, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 1}
}

// linkLocal is IPv6's link-local prefix.
var linkLocal = netip.MustParsePrefix("fe80::/10")

// siteLocal is IPv6's deprecated site-local prefix (RFC 3879), between
// the link-local and the multicast ones: no container's address.
var siteLocal = netip.MustParsePrefix("fec0::/10")

// markChain names the bridge table's chain that marks a packet with m.
func markChain(m uint32) string { return fmt.Sprintf("mark_%d", m-GroupMark) }

// dstPrefix loads the destination address of an IPv4 or IPv6 header
// into reg and compares it with p, as nft does: a whole address with cmp;
// a prefix of whole bytes by loading only those; another prefix through a
// mask.
func dstPrefix(reg uint32, p netip.Prefix) []expr.Any { return addrPrefix(reg, p, true) }

// addrPrefix is dstPrefix of the source address (dst false) or the
// destination's.
func addrPrefix(reg uint32, p netip.Prefix, dst bool) []expr.Any {
	addr := p.Addr().AsSlice()
	off := uint32(12)
	if len(addr) == 16 {
		off = 8
	}
	if dst {
		off += uint32(len(addr)) // #nosec G115 -- 4 or 16
	}
	load := func(n int) *expr.Payload {
		return &expr.Payload{DestRegister: reg, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: uint32(n)} // #nosec G115 -- at most 16
	}
	bits := p.Bits()
	switch {
	case bits == len(addr)*8:
		return []expr.Any{load(len(addr)), &expr.Cmp{Op: expr.CmpOpEq, Register: reg, Data: addr}}
	case bits%8 == 0:
		return []expr.Any{load(bits / 8), &expr.Cmp{Op: expr.CmpOpEq, Register: reg, Data: addr[:bits/8]}}
	}
	mask := make([]byte, len(addr))
	for i := range bits / 8 {
		mask[i] = 0xff
	}
	mask[bits/8] = byte(0xff << (8 - bits%8))
	return []expr.Any{
		load(len(addr)),
		&expr.Bitwise{SourceRegister: reg, DestRegister: reg, Len: uint32(len(addr)), Mask: mask, Xor: make([]byte, len(addr))}, // #nosec G115 -- 4 or 16
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg, Data: addr},
	}
}

// ndChain is a chain of the bridge table that lets a neighbour
// advertisement from a port through only if its target is a link-local
// address or one of addrs, the port's IPv6 addresses.
type ndChain struct {
	name  string
	addrs []netip.Addr
}

// ndChainNone is the chain of the ports without an IPv6 address.
const ndChainNone = "nd_none"

// ndChains returns the chain each binding's neighbour advertisements jump
// to (nd_<n> for the n-th binding with IPv6 addresses, nd_none for the
// others) and those chains, nd_none first if any binding uses it, as
// BridgeString writes them and translateBridge adds them.
func ndChains(bindings []Binding) (jumps []string, chains []ndChain) {
	var own []ndChain
	none := false
	for _, b := range bindings {
		var v6 []netip.Addr
		for _, a := range b.Addrs {
			if a.Is6() && !a.Is4In6() {
				v6 = append(v6, a)
			}
		}
		if len(v6) == 0 {
			none = true
			jumps = append(jumps, ndChainNone)
			continue
		}
		c := ndChain{name: fmt.Sprintf("nd_%d", len(own)), addrs: v6}
		own = append(own, c)
		jumps = append(jumps, c.name)
	}
	if none {
		chains = append(chains, ndChain{name: ndChainNone})
	}
	return jumps, append(chains, own...)
}

// ndElements renders the elements of map nd_ports as nft lists them.
func ndElements(bindings []Binding) []string {
	jumps, _ := ndChains(bindings)
	out := make([]string, len(bindings))
	for i, b := range bindings {
		out[i] = strconv.Quote(b.Port) + " : jump " + jumps[i]
	}
	return out
}

// bindingElements renders the bindings' set elements as BridgeString
// writes them: the ports, and the (port, address) pairs of each family.
func bindingElements(bindings []Binding) (ports, v4, v6, marks []string) {
	for _, b := range bindings {
		ports = append(ports, strconv.Quote(b.Port))
		if b.Mark != 0 {
			marks = append(marks, strconv.Quote(b.Port)+" : jump "+markChain(b.Mark))
		}
		for _, a := range b.Addrs {
			e := strconv.Quote(b.Port) + " . " + a.String()
			if a.Is4() {
				v4 = append(v4, e)
			} else {
				v6 = append(v6, e)
			}
		}
	}
	return ports, v4, v6, marks
}

// diffBridge lists how the live bridge table differs from rs's bindings,
// as Diff does for the inet table.
func diffBridge(conn *nftables.Conn, rs *Ruleset) ([]string, error) {
	live, err := findTable(conn, nftables.TableFamilyBridge)
	if err != nil {
		return nil, err
	}
	switch {
	case live == nil && len(rs.Bindings) == 0:
		return nil, nil
	case live == nil:
		return []string{"+ table " + BridgeFamily + " " + TableName + " (not loaded)"}, nil
	case len(rs.Bindings) == 0:
		return []string{"- table " + BridgeFamily + " " + TableName}, nil
	}
	want, err := translateBridge(rs.Bindings, rs.Unbound, rs.SpoofLogGroup, rs.closed())
	if err != nil {
		return nil, fmt.Errorf("firewall: diff: %w", err)
	}
	ports, v4, v6, marks := bindingElements(rs.Bindings)
	a4, a6 := boundAddrs(rs.Bindings)
	macPorts, macPairs, boundMACs := macElements(rs.Bindings)
	planned := map[string][]string{BridgePorts: ports, BridgeAddrs4: v4, BridgeAddrs6: v6, BridgeMarks: marks, BridgeND: ndElements(rs.Bindings),
		BridgeBound4: addrStrings(a4), BridgeBound6: addrStrings(a6), BridgeGroupOpen: groupOpenPorts(rs.Bindings), BridgeMACs: macPairs, BridgeMACPorts: macPorts, BridgeBoundMACs: boundMACs}
	out, err := chainChanges(conn, nftables.TableFamilyBridge, live, want.chains, "bridge table")
	if err != nil {
		return nil, err
	}
	for _, se := range want.sets {
		name := se.set.Name
		s, err := conn.GetSetByName(live, name)
		if err != nil {
			out = append(out, fmt.Sprintf("+ set %s (bridge table)", name))
			continue
		}
		elems, err := conn.GetSetElements(s)
		if err != nil {
			return nil, fmt.Errorf("firewall: diff: elements of %s: %w", name, err)
		}
		var got []string
		for _, e := range elems {
			k := decodeBinding(e.Key)
			if a, ok := netip.AddrFromSlice(e.Key); ok && (name == BridgeBound4 || name == BridgeBound6) {
				k = a.String()
			}
			if name == BridgeBoundMACs && len(e.Key) >= 6 {
				k = net.HardwareAddr(e.Key[:6]).String()
			}
			if name == BridgeMarks || name == BridgeND {
				v := e.VerdictData
				if v == nil && len(e.Val) > 0 {
					if v, err = decodeVerdict(e.Val); err != nil {
						return nil, fmt.Errorf("firewall: diff: map %s: %w", name, err)
					}
				}
				if v != nil {
					k += " : " + verdictString(v)
				}
			}
			got = append(got, k)
		}
		out = append(out, elementChanges("set", name, got, planned[name])...)
	}
	for _, c := range want.chains {
		var planned []*nftables.Rule
		for _, r := range want.rules {
			if r.Chain == c {
				planned = append(planned, r)
			}
		}
		got, err := conn.GetRules(live, &nftables.Chain{Name: c.Name, Table: live})
		if err != nil {
			out = append(out, "+ chain "+c.Name+" (bridge table)")
			continue
		}
		for j := range max(len(planned), len(got)) {
			switch {
			case j >= len(got):
				out = append(out, fmt.Sprintf("+ chain %s rule %d (bridge table)", c.Name, j+1))
			case j >= len(planned):
				out = append(out, fmt.Sprintf("- chain %s rule %d (bridge table, not in the plan)", c.Name, j+1))
			case !sameExprs(planned[j].Exprs, got[j].Exprs):
				out = append(out, fmt.Sprintf("~ chain %s rule %d differs (bridge table)", c.Name, j+1))
			}
		}
	}
	return out, nil
}

// decodeBinding renders a bridge set element's key: a port, or a port
// and an address or a MAC address (6 bytes, padded to 8).
func decodeBinding(key []byte) string {
	if len(key) < unix.IFNAMSIZ {
		return fmt.Sprintf("%x", key)
	}
	name := strconv.Quote(strings.TrimRight(string(key[:unix.IFNAMSIZ]), "\x00"))
	rest := key[unix.IFNAMSIZ:]
	if a, ok := netip.AddrFromSlice(rest); ok {
		return name + " . " + a.String()
	}
	if len(rest) == 6 || len(rest) == 8 {
		return name + " . " + net.HardwareAddr(rest[:6]).String()
	}
	return name
}

// addrStrings renders addresses as nft lists them.
func addrStrings(addrs []netip.Addr) []string {
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = a.String()
	}
	return out
}
