package firewall_test

// A tiny interpreter of the Ruleset structure (not of its text: the text
// is checked by the golden files and, on a machine with nft, by loading
// them): it walks the chains for one packet the way netfilter does, so
// that tests can compare the compiled rules with the engine without a
// kernel.

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/ipset"
	"github.com/wardsec/ward/portset"
)

// IP protocol numbers of the packets the interpreter knows.
const (
	protoICMP   = 1
	protoTCP    = 6
	protoUDP    = 17
	protoICMPv6 = 58
	protoSCTP   = 132
)

var protoNumber = map[portset.Protocol]uint8{portset.TCP: protoTCP, portset.UDP: protoUDP, portset.SCTP: protoSCTP}

// packet is what the rules can look at.
type packet struct {
	hook       string // base chain: "forward", "input" or "output"
	iif, oif   string
	ct         string     // conntrack state; "" means "new"
	dnat       bool       // conntrack status: the destination was translated
	noSYN      bool       // a TCP segment other than a lone SYN
	mark       uint32     // the packet mark (set by the bridge table)
	member     netip.Addr // of a broadcast or multicast packet: the container whose port it leaves through
	src, dst   netip.Addr
	proto      uint8
	port       uint16 // destination port
	sport      uint16 // source port
	icmpv6Type string
	icmpType   string // ICMP (IPv4), by nft name
	// hopLimit is an IPv6 packet's hop limit as the hook sees it (0:
	// 255 for neighbour and router discovery types, 1 for multicast
	// listener discovery, 64 otherwise).
	hopLimit uint8
	// quoted is, of an ICMP or ICMPv6 error, the destination of the
	// packet it quotes (the raw bytes a rule's ForeignError reads).
	quoted netip.Addr
	// sock is the local socket a packet the host sends comes from, or
	// nil.
	sock *sock
	// foreign is, of a packet the host sends, that its source is none of
	// the host's addresses (a raw IP socket's forgery): fib saddr type
	// != local.
	foreign bool
}

// sock is a local socket: its owner and its cgroup v2 with its ancestors,
// by level (cgroups[0] is the root's ID).
type sock struct {
	uid     uint32
	cgroups []uint64
}

// hops is p's hop limit: hopLimit, or what a genuine message of its
// ICMPv6 type carries.
func (p packet) hops() uint8 {
	switch {
	case p.hopLimit != 0:
		return p.hopLimit
	case strings.HasPrefix(p.icmpv6Type, "mld"):
		return 1
	case strings.HasPrefix(p.icmpv6Type, "nd-"):
		return 255
	}
	return 64
}

func (p packet) String() string {
	name := map[uint8]string{protoICMP: "icmp", protoTCP: "tcp", protoUDP: "udp", protoSCTP: "sctp", protoICMPv6: "icmpv6"}[p.proto]
	s := fmt.Sprintf("%s %s -> %s %s/%d", p.hook, p.src, p.dst, name, p.port)
	if p.ct != "" {
		s += " ct " + p.ct
	}
	return s
}

// result is a packet's fate and the path that decided it.
type result struct {
	accept bool
	// by is the rule that gave the verdict ("chain[i]"), or "policy".
	by string
	// counted is whether that rule has a counter.
	counted bool
	trace   []string
}

type interp struct {
	self     map[netip.Addr]bool
	sets     map[string]*firewall.Set
	maps     map[string]*firewall.Map
	markMaps map[string]*firewall.MarkMap
	chains   map[string]*firewall.Chain
	bridges  []string
}

func newInterp(rs *firewall.Ruleset) *interp {
	in := &interp{sets: map[string]*firewall.Set{}, maps: map[string]*firewall.Map{}, markMaps: map[string]*firewall.MarkMap{}, chains: map[string]*firewall.Chain{}}
	for _, m := range rs.MarkMaps {
		in.markMaps[m.Name] = m
	}
	in.bridges = rs.Bridges
	in.self = map[netip.Addr]bool{}
	for _, a := range rs.Self {
		in.self[a] = true
	}
	for _, s := range rs.Sets {
		in.sets[s.Name] = s
	}
	for _, m := range rs.Maps {
		in.maps[m.Name] = m
	}
	for _, c := range rs.Chains {
		in.chains[c.Name] = c
	}
	return in
}

// run walks p through the base chain of its hook: jump pushes a frame,
// goto replaces the top one, return and the end of a regular chain pop it,
// and the end of (or a return from) the base chain applies its policy,
// accept.
func (in *interp) run(p packet) result {
	type frame struct {
		c  *firewall.Chain
		pc int
	}
	var res result
	stack := []frame{{c: in.chains[p.hook]}}
	if stack[0].c == nil || stack[0].c.Hook != p.hook {
		panic("no base chain for hook " + p.hook)
	}
	for steps := 0; ; steps++ {
		if steps > 10000 || len(stack) > 16 {
			panic("rules loop: " + strings.Join(res.trace, " "))
		}
		top := &stack[len(stack)-1]
		if top.pc >= len(top.c.Rules) {
			if len(stack) == 1 {
				res.accept, res.by = true, "policy"
				return res
			}
			stack = stack[:len(stack)-1]
			continue
		}
		i := top.pc
		r := &top.c.Rules[i]
		top.pc++
		if !in.matches(r, p) {
			continue
		}
		v := r.Verdict
		if r.VMap != nil {
			e, ok := in.lookup(r.VMap, p)
			if !ok {
				continue
			}
			v = e
		}
		if r.MarkVMap != "" {
			m := in.markMaps[r.MarkVMap]
			if m == nil {
				panic("missing mark map " + r.MarkVMap)
			}
			i := slices.IndexFunc(m.Elements, func(e firewall.MarkElement) bool { return e.Mark == p.mark })
			if i < 0 {
				continue
			}
			v = m.Elements[i].Verdict
		}
		at := fmt.Sprintf("%s[%d]", top.c.Name, i)
		res.trace = append(res.trace, at+":"+v.String())
		switch v.Kind {
		case firewall.Continue:
		case firewall.Accept, firewall.Drop:
			res.accept, res.by, res.counted = v.Kind == firewall.Accept, at, r.Counter
			return res
		case firewall.Return:
			if len(stack) == 1 {
				res.accept, res.by = true, "policy"
				return res
			}
			stack = stack[:len(stack)-1]
		case firewall.Jump:
			stack = append(stack, frame{c: in.target(v.Chain)})
		case firewall.Goto:
			stack[len(stack)-1] = frame{c: in.target(v.Chain)}
		}
	}
}

func (in *interp) target(name string) *firewall.Chain {
	c := in.chains[name]
	if c == nil || c.Hook != "" {
		panic("jump to missing or base chain " + name)
	}
	return c
}

func addrOf(l *firewall.Lookup, p packet) (netip.Addr, bool) {
	a := p.src
	if l.Dst {
		a = p.dst
	}
	is4 := l.Family == firewall.IPv4
	return a, a.Is4() == is4
}

func (in *interp) matches(r *firewall.Rule, p packet) bool {
	if r.Iif != "" && (r.Iif != p.iif) != r.IifNot || r.Oif != "" && r.Oif != p.oif {
		return false
	}
	if r.IfName != "" {
		name := p.iif
		if r.IfOut {
			name = p.oif
		}
		prefix, wild := strings.CutSuffix(r.IfName, "*")
		if wild && !strings.HasPrefix(name, prefix) || !wild && name != prefix || r.IfNotBridges && slices.Contains(in.bridges, name) {
			return false
		}
	}
	if r.IifBridges && !slices.Contains(in.bridges, p.iif) {
		return false
	}
	if r.IifNotBridges && slices.Contains(in.bridges, p.iif) {
		return false
	}
	if r.SrcNotLocal && !p.foreign {
		return false // the host's own packets (output) or looped back (prerouting)
	}
	if m := r.MarkNe; m != nil && p.mark&m.Mask == m.Value {
		return false
	}
	ct := p.ct
	if ct == "" {
		ct = "new"
	}
	if len(r.CtState) > 0 && !slices.Contains(r.CtState, ct) {
		return false
	}
	if r.CtStatus != "" && (r.CtStatus != "dnat" || !p.dnat) {
		return false
	}
	if r.TCPNotSYN && (p.proto != protoTCP || !p.noSYN) {
		return false
	}
	if r.ICMP != 0 && p.proto != map[firewall.Family]uint8{firewall.IPv4: protoICMP, firewall.IPv6: protoICMPv6}[r.ICMP] {
		return false
	}
	if a := r.ForeignError; a.IsValid() && (p.src != a || p.quoted == a) {
		return false
	}
	if q := r.QuotedIn; q.IsValid() && (!p.quoted.IsValid() || !q.Contains(p.quoted)) {
		return false
	}
	if r.Dst.IsValid() && !r.Dst.Contains(p.dst) {
		return false
	}
	if len(r.ICMPTypes) > 0 && (p.proto != protoICMP || !slices.Contains(r.ICMPTypes, p.icmpType)) {
		return false
	}
	if len(r.ICMPv6Types) > 0 && (p.proto != protoICMPv6 || !slices.Contains(r.ICMPv6Types, p.icmpv6Type)) {
		return false
	}
	if r.HopLimit != 0 && (!p.dst.Is6() || p.hops() != r.HopLimit) {
		return false
	}
	if r.Addr != nil {
		a, ok := addrOf(r.Addr, p)
		s := in.sets[r.Addr.Name]
		if s == nil {
			panic("missing set " + r.Addr.Name)
		}
		if !ok || rangesContain(s.Elements, a) == r.Addr.Not {
			return false
		}
	}
	if r.Pair != nil && (p.src != p.dst || !in.self[p.src] || p.src.Is4() != (r.Pair.Family == firewall.IPv4)) {
		return false
	}
	if r.L4 != nil {
		found := false
		for _, proto := range r.L4.Protocols {
			found = found || protoNumber[proto] == p.proto
		}
		if !found {
			return false
		}
		port := p.port
		if r.L4.Src {
			port = p.sport
		}
		if r.L4.Ports != nil && !slices.ContainsFunc(r.L4.Ports, func(pr firewall.PortRange) bool { return pr.Lo <= port && port <= pr.Hi }) {
			return false
		}
	}
	if r.SkUID != nil && (p.sock == nil || p.sock.uid != *r.SkUID) {
		return false
	}
	if m := r.Cgroup; m != nil {
		// No socket, or a cgroup less deep than Level: no match.
		if p.sock == nil || uint64(len(p.sock.cgroups)) <= uint64(m.Level) {
			return false
		}
		if got := p.sock.cgroups[m.Level]; !m.Any && got != m.Cgroup.ID || got == 0 {
			return false
		}
	}
	if r.VMap != nil {
		if _, ok := addrOf(r.VMap, p); !ok {
			return false
		}
	}
	// The limit of a logging rule is taken as under its rate: the rule
	// has no verdict either way.
	return true
}

func (in *interp) lookup(l *firewall.Lookup, p packet) (firewall.Verdict, bool) {
	m := in.maps[l.Name]
	if m == nil {
		panic("missing map " + l.Name)
	}
	a, _ := addrOf(l, p)
	i := sort.Search(len(m.Elements), func(i int) bool { return !m.Elements[i].Range.To.Less(a) })
	if i < len(m.Elements) && m.Elements[i].Range.Contains(a) {
		return m.Elements[i].Verdict, true
	}
	return firewall.Verdict{}, false
}

func rangesContain(rs []ipset.Range, a netip.Addr) bool {
	i := sort.Search(len(rs), func(i int) bool { return !rs[i].To.Less(a) })
	return i < len(rs) && rs[i].Contains(a)
}

// checkStructure checks what nft would refuse or what the interpreter
// relies on: names resolve, set and map elements are of their family,
// sorted and disjoint (sets also non-adjacent), each hook has one base
// chain, and every drop is counted.
func checkStructure(t testing.TB, rs *firewall.Ruleset) {
	t.Helper()
	names := map[string]bool{}
	for _, s := range rs.Sets {
		if names[s.Name] {
			t.Errorf("set %s declared twice", s.Name)
		}
		names[s.Name] = true
		checkRanges(t, "set "+s.Name, s.Family, s.Elements, true)
	}
	for _, m := range rs.Maps {
		if names[m.Name] {
			t.Errorf("map %s declared twice", m.Name)
		}
		names[m.Name] = true
		var rs2 []ipset.Range
		for _, e := range m.Elements {
			rs2 = append(rs2, e.Range)
			if e.Verdict.Kind != firewall.Jump && e.Verdict.Kind != firewall.Goto {
				t.Errorf("map %s: element %s has verdict %s", m.Name, e.Range, e.Verdict)
			}
		}
		checkRanges(t, "map "+m.Name, m.Family, rs2, false)
	}
	chains := map[string]*firewall.Chain{}
	hooks := map[string]int{}
	for _, c := range rs.Chains {
		if chains[c.Name] != nil {
			t.Errorf("chain %s declared twice", c.Name)
		}
		chains[c.Name] = c
		if c.Hook != "" {
			hooks[c.Hook]++
		}
	}
	for _, h := range []string{"forward", "input", "output"} {
		if hooks[h] != 1 {
			t.Errorf("%d base chains for hook %s, want 1", hooks[h], h)
		}
	}
	target := func(where string, v firewall.Verdict) {
		if v.Kind == firewall.Jump || v.Kind == firewall.Goto {
			if c := chains[v.Chain]; c == nil || c.Hook != "" {
				t.Errorf("%s: %s to a missing or base chain", where, v)
			}
		}
	}
	for _, m := range rs.Maps {
		for _, e := range m.Elements {
			target("map "+m.Name, e.Verdict)
		}
	}
	for _, c := range rs.Chains {
		for i, r := range c.Rules {
			where := fmt.Sprintf("%s[%d] %q", c.Name, i, r.String())
			for _, l := range []*firewall.Lookup{r.Addr, r.VMap} {
				if l != nil && !names[l.Name] {
					t.Errorf("%s: no set or map %s", where, l.Name)
				}
			}
			target(where, r.Verdict)
			if r.Verdict.Kind == firewall.Drop && !r.Counter {
				t.Errorf("%s: drop without counter", where)
			}
			if r.LogPrefix != "" && r.Verdict.Kind != firewall.Continue {
				t.Errorf("%s: a rate-limited log rule with a verdict (over the limit, the verdict would not apply)", where)
			}
		}
	}
}

func checkRanges(t testing.TB, what string, f firewall.Family, rs []ipset.Range, merged bool) {
	t.Helper()
	for i, r := range rs {
		if r.From.Is4() != (f == firewall.IPv4) || r.To.Is4() != (f == firewall.IPv4) || r.To.Less(r.From) {
			t.Errorf("%s: element %s is not a valid %s range", what, r, f)
		}
		if i > 0 {
			prev := rs[i-1]
			if !prev.To.Less(r.From) {
				t.Errorf("%s: elements %s and %s overlap or are out of order", what, prev, r)
			}
			if merged && prev.To.Next() == r.From {
				t.Errorf("%s: elements %s and %s are adjacent", what, prev, r)
			}
		}
	}
}
