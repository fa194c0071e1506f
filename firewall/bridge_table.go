package firewall

import (
	"fmt"
	"net/netip"
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
	table *nftables.Table
	chain *nftables.Chain
	sets  []setElems
	rules []*nftables.Rule
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
func translateBridge(bindings []Binding) (*bridgeObjects, error) {
	t := bridgeTable()
	policy := nftables.ChainPolicyAccept
	o := &bridgeObjects{table: t, chain: &nftables.Chain{
		Name: BridgeChain, Table: t, Hooknum: nftables.ChainHookPrerouting,
		Priority: nftables.ChainPriorityRef(BridgePriority), Type: nftables.ChainTypeFilter, Policy: &policy,
	}}
	// An interface name is a string, in host byte order: said so, nft
	// lists the names; otherwise it reads them backwards.
	ports := &nftables.Set{Table: t, Name: BridgePorts, KeyType: nftables.TypeIFName, KeyByteOrder: binaryutil.NativeEndian}
	v4 := &nftables.Set{Table: t, Name: BridgeAddrs4, KeyType: nftables.MustConcatSetType(nftables.TypeIFName, nftables.TypeIPAddr)}
	v6 := &nftables.Set{Table: t, Name: BridgeAddrs6, KeyType: nftables.MustConcatSetType(nftables.TypeIFName, nftables.TypeIP6Addr)}
	var pe, e4, e6 []nftables.SetElement
	for _, b := range bindings {
		name, err := ifname(b.Port)
		if err != nil {
			return nil, err
		}
		pe = append(pe, nftables.SetElement{Key: name})
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
	o.sets = []setElems{{ports, pe}, {v4, e4}, {v6, e6}}

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
	fe80 := netip.MustParseAddr("fe80::").As16()
	var zero16 [16]byte
	rules := [][]expr.Any{
		append(etherType(unix.ETH_P_IP), iifname, src(r2, 12, 4), lookup(v4, false), accept),
		{iifname, lookup(ports, true), accept},
		append(etherType(unix.ETH_P_ARP), iifname, src(r2, 14, 4), lookup(v4, false), accept),
		append(etherType(unix.ETH_P_ARP), src(r1, 14, 4), &expr.Cmp{Op: expr.CmpOpEq, Register: r1, Data: []byte{0, 0, 0, 0}}, accept),
		append(etherType(unix.ETH_P_IPV6), src(r1, 8, 16),
			&expr.Bitwise{SourceRegister: r1, DestRegister: r1, Len: 16, Mask: append([]byte{0xff, 0xc0}, make([]byte, 14)...), Xor: make([]byte, 16)},
			&expr.Cmp{Op: expr.CmpOpEq, Register: r1, Data: fe80[:]}, accept),
		append(etherType(unix.ETH_P_IPV6), src(r1, 8, 16), &expr.Cmp{Op: expr.CmpOpEq, Register: r1, Data: zero16[:]}, accept),
		append(etherType(unix.ETH_P_IPV6), iifname, src(r2, 8, 16), lookup(v6, false), accept),
		{&expr.Limit{Type: expr.LimitTypePkts, Rate: spoofLogRateSec, Unit: expr.LimitTimeSecond, Burst: 5},
			&expr.Log{Key: 1 << unix.NFTA_LOG_PREFIX, Data: []byte(SpoofLogPrefix)}},
		{&expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop}},
	}
	for _, exprs := range rules {
		o.rules = append(o.rules, &nftables.Rule{Table: t, Chain: o.chain, Exprs: exprs})
	}
	return o, nil
}

// queue adds the bridge table's objects to conn's batch: the table, its
// chain, its sets with their elements, its rules.
func (o *bridgeObjects) queue(conn *nftables.Conn) error {
	conn.AddTable(o.table)
	conn.AddChain(o.chain)
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

// bindingElements renders the bindings' set elements as BridgeString
// writes them: the ports, and the (port, address) pairs of each family.
func bindingElements(bindings []Binding) (ports, v4, v6 []string) {
	for _, b := range bindings {
		ports = append(ports, strconv.Quote(b.Port))
		for _, a := range b.Addrs {
			e := strconv.Quote(b.Port) + " . " + a.String()
			if a.Is4() {
				v4 = append(v4, e)
			} else {
				v6 = append(v6, e)
			}
		}
	}
	return ports, v4, v6
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
	want, err := translateBridge(rs.Bindings)
	if err != nil {
		return nil, fmt.Errorf("firewall: diff: %w", err)
	}
	ports, v4, v6 := bindingElements(rs.Bindings)
	planned := map[string][]string{BridgePorts: ports, BridgeAddrs4: v4, BridgeAddrs6: v6}
	var out []string
	for _, name := range []string{BridgePorts, BridgeAddrs4, BridgeAddrs6} {
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
			got = append(got, decodeBinding(e.Key))
		}
		out = append(out, elementChanges("set", name, got, planned[name])...)
	}
	chain := &nftables.Chain{Name: BridgeChain, Table: live}
	got, err := conn.GetRules(live, chain)
	if err != nil {
		return append(out, "+ chain "+BridgeChain+" (bridge table)"), nil
	}
	for j := range max(len(want.rules), len(got)) {
		switch {
		case j >= len(got):
			out = append(out, fmt.Sprintf("+ chain %s rule %d (bridge table)", BridgeChain, j+1))
		case j >= len(want.rules):
			out = append(out, fmt.Sprintf("- chain %s rule %d (bridge table, not in the plan)", BridgeChain, j+1))
		case !sameExprs(want.rules[j].Exprs, got[j].Exprs):
			out = append(out, fmt.Sprintf("~ chain %s rule %d differs (bridge table)", BridgeChain, j+1))
		}
	}
	return out, nil
}

// decodeBinding renders a bridge set element's key: a port, or a port
// and an address.
func decodeBinding(key []byte) string {
	if len(key) < unix.IFNAMSIZ {
		return fmt.Sprintf("%x", key)
	}
	name := strconv.Quote(strings.TrimRight(string(key[:unix.IFNAMSIZ]), "\x00"))
	if a, ok := netip.AddrFromSlice(key[unix.IFNAMSIZ:]); ok {
		return name + " . " + a.String()
	}
	return name
}
