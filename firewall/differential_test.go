package firewall_test

// The key correctness test: the compiled ruleset, run by the interpreter
// of eval_test.go, against the engine's verdicts, for every ordered pair
// of addresses (containers, external probes, unclassified probes and host
// addresses) over the ports where allowed sets can change.

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"

	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/internal/refeval"
	"github.com/wardsec/ward/ipset"
	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/netpol"
	"github.com/wardsec/ward/portset"
)

// oracle is firewall.Oracle, the contract the ruleset keeps (stated with
// the engine alone), with the reference evaluator as a second opinion.
type oracle struct {
	*firewall.Oracle
	inv   *firewall.Inventory
	eng   *netpol.Engine
	allow bool
	ref   *refeval.Evaluator
}

func newOracle(m *model, opts firewall.Options) *oracle {
	return &oracle{Oracle: firewall.NewOracle(m.eng, m.inv, opts), inv: m.inv, eng: m.eng, allow: opts.AllowUnclassified, ref: refeval.New(m.set)}
}

// publishedPort reports whether a container publishes port on the host.
func (o *oracle) publishedPort(proto portset.Protocol, port uint16) bool {
	for _, c := range o.inv.Containers {
		for _, p := range c.Published {
			if p.Protocol == proto && p.HostPort == port {
				return true
			}
		}
	}
	return false
}

var hookOf = map[string]firewall.Hook{"forward": firewall.Forward, "input": firewall.Input, "output": firewall.Output}

func (o *oracle) want(p packet, proto portset.Protocol) bool {
	// A TCP segment other than a lone SYN opens nothing from a managed
	// address (forward, input) or to one (forward, output).
	if p.noSYN && (p.hook != "output" && o.Managed(p.src) || p.hook != "input" && o.Managed(p.dst)) {
		return false
	}
	// Nor to a port the host publishes, from any source (input), nor over
	// lo (output).
	if p.noSYN && (p.hook == "input" || p.hook == "output" && p.oif == "lo") && o.publishedPort(proto, p.port) {
		return false
	}
	// The host to itself: accepted, but for the ports it publishes,
	// judged in output as in input.
	if p.iif == "lo" || p.oif == "lo" {
		if !o.publishedPort(proto, p.port) {
			return true
		}
		return o.Allows(firewall.Input, p.src, p.dst, proto, p.port)
	}
	if p.hook == "forward" && firewall.IsGroup(p.dst) {
		return o.AllowsGroup(p.src, p.dst, p.member, proto, p.port)
	}
	if p.hook == "output" && o.proxySock(p.sock) && o.Relayed(p.dst, proto, p.port) {
		return true
	}
	return o.Allows(hookOf[p.hook], p.src, p.dst, proto, p.port)
}

// proxySock reports whether s is a socket of the inventory's userland
// proxy: its owner, in its cgroup exactly. Written without the compiler's
// or the interpreter's code.
func (o *oracle) proxySock(s *sock) bool {
	up := o.inv.UserlandProxy
	if s == nil || up == nil || s.uid != up.UID {
		return false
	}
	return len(s.cgroups) == int(up.Cgroup.Level)+1 && s.cgroups[up.Cgroup.Level] == up.Cgroup.ID
}

// hostSockets are the sockets the host's packets come from when the
// inventory names a userland proxy: the proxy's, and sockets that differ
// from it by owner, by cgroup (a sibling), or by being in a cgroup below
// the proxy's; else only a socket-less packet.
func hostSockets(inv *firewall.Inventory) []*sock {
	up := inv.UserlandProxy
	if up == nil {
		return []*sock{nil}
	}
	path := []uint64{1}
	for l := uint32(1); l <= up.Cgroup.Level; l++ {
		path = append(path, 100+uint64(l))
	}
	path[up.Cgroup.Level] = up.Cgroup.ID
	sibling := slices.Clone(path)
	if up.Cgroup.Level > 0 {
		sibling[up.Cgroup.Level] = up.Cgroup.ID + 1
	}
	return []*sock{
		nil,
		{uid: up.UID, cgroups: path},
		{uid: up.UID + 1000, cgroups: path},
		{uid: up.UID, cgroups: append(slices.Clone(path), 999)},
		{uid: up.UID, cgroups: sibling},
	}
}

// second is refeval's verdict on the same flow, when it has one: not
// between two external addresses (nothing modelled) and not for an
// unclassified or quarantined drop (Ward's own rules).
func (o *oracle) second(p packet, proto portset.Protocol) (bool, bool) {
	if !o.allow && (p.hook != "output" && o.Unclassified(p.src) || p.hook != "input" && o.Unclassified(p.dst)) {
		return false, false
	}
	if p.hook != "output" && o.Quarantined(p.src) || p.hook != "input" && o.Quarantined(p.dst) {
		return false, false
	}
	if p.noSYN || firewall.IsGroup(p.dst) || p.hook == "input" && o.publishedPort(proto, p.port) || p.src == p.dst ||
		p.hook == "output" && o.proxySock(p.sock) && o.Relayed(p.dst, proto, p.port) {
		return false, false // Ward's own rules
	}
	pod := func(a netip.Addr) refeval.Pod {
		ep := o.eng.EndpointOfIP(a)
		if ep.IsExternal() {
			return refeval.External(a)
		}
		pod := refeval.PodOf(ep.Workload)
		pod.IP = a
		return pod
	}
	s, d := pod(p.src), pod(p.dst)
	if s.IsExternal() && d.IsExternal() {
		return false, false
	}
	return o.ref.Allowed(s, d, proto.String(), int(p.port)), true
}

// probeSet is what a differential run sends.
type probeSet struct {
	addrs []netip.Addr // sources and destinations of forwarded packets
	hosts []netip.Addr // the host's own addresses
	ports []uint16
}

// probes returns every workload address; for each external endpoint,
// addresses at the edges of its ranges; the edges of every ipBlock and
// declared subnet (unclassified or external); and as host addresses a
// gateway-like address per subnet, a public address per family and the
// addresses of hostNetwork workloads. With limit > 0, each external
// endpoint keeps at most limit edge addresses (picked by r).
func probes(m *model, r *rand.Rand, limit int) probeSet {
	var ps probeSet
	seen := map[netip.Addr]bool{}
	add := func(list *[]netip.Addr, a netip.Addr) {
		if a.IsValid() && !seen[a] {
			seen[a] = true
			*list = append(*list, a)
		}
	}
	owned := map[netip.Addr]bool{}
	for _, ep := range m.eng.Endpoints() {
		for _, ip := range ep.IPs {
			owned[ip] = true
			if ep.Workload.HostNetwork {
				add(&ps.hosts, ip)
			} else {
				add(&ps.addrs, ip)
			}
		}
	}
	for _, n := range m.inv.Networks {
		for _, s := range n.Subnets {
			gw := lastAddr(s).Prev()
			if !owned[gw] {
				add(&ps.hosts, gw)
			}
		}
	}
	add(&ps.hosts, netip.MustParseAddr("198.51.100.7"))
	add(&ps.hosts, netip.MustParseAddr("2001:db8::7"))

	var edges []netip.Addr
	for _, n := range m.inv.Networks {
		for _, s := range n.Subnets {
			edges = append(edges, refeval.EdgeAddrs(s)...)
		}
	}
	forPeers(m.set, func(peer networkingv1.NetworkPolicyPeer) {
		if peer.IPBlock == nil {
			return
		}
		for _, c := range append([]string{peer.IPBlock.CIDR}, peer.IPBlock.Except...) {
			if p, err := netip.ParsePrefix(c); err == nil {
				edges = append(edges, refeval.EdgeAddrs(p)...)
			}
		}
	})
	for _, ep := range m.eng.Endpoints() {
		if !ep.IsExternal() {
			continue
		}
		var cands []netip.Addr
		for i, rg := range ep.External.Ranges() {
			if i == 4 {
				break
			}
			cands = append(cands, rg.From, rg.From.Next(), rg.To.Prev(), rg.To)
		}
		for _, a := range edges {
			if ep.External.Contains(a) {
				cands = append(cands, a)
			}
		}
		cands = slices.DeleteFunc(cands, func(a netip.Addr) bool { return !a.IsValid() || owned[a] || !ep.External.Contains(a) })
		slices.SortFunc(cands, netip.Addr.Compare)
		cands = slices.Compact(cands)
		if limit > 0 && len(cands) > limit {
			r.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
			cands = cands[:limit]
		}
		for _, a := range cands {
			add(&ps.addrs, a)
		}
	}
	for _, p := range refeval.InterestingPorts(m.set) {
		ps.ports = append(ps.ports, uint16(p)) // #nosec G115 -- InterestingPorts are within 1-65535
	}
	for _, c := range m.inv.Containers {
		for _, p := range c.Published {
			if !slices.Contains(ps.ports, p.HostPort) {
				ps.ports = append(ps.ports, p.HostPort)
			}
		}
	}
	return ps
}

func lastAddr(p netip.Prefix) netip.Addr {
	return ipset.FromPrefix(p).To
}

func forPeers(set *manifest.Set, fn func(networkingv1.NetworkPolicyPeer)) {
	for _, p := range set.Policies {
		for _, r := range p.Spec.Ingress {
			for _, peer := range r.From {
				fn(peer)
			}
		}
		for _, r := range p.Spec.Egress {
			for _, peer := range r.To {
				fn(peer)
			}
		}
	}
}

// differ runs every packet of ps (sample > 0: that many random protocol and
// port probes per address pair instead of all) and reports disagreements,
// stopping after a few. It returns the number of packets run.
func differ(t *testing.T, label string, m *model, rs *firewall.Ruleset, o *oracle, ps probeSet, r *rand.Rand, sample int) int {
	t.Helper()
	in := newInterp(rs)
	failures, packets := 0, 0
	var probeOne func(p packet, proto portset.Protocol) bool
	probe := func(p packet, proto portset.Protocol, port uint16) bool {
		p.proto, p.port = protoNumber[proto], port
		p.noSYN = false
		if ok := probeOne(p, proto); !ok {
			return false
		}
		if proto != portset.TCP {
			return true
		}
		p.noSYN = true
		return probeOne(p, proto)
	}
	probeOne = func(p packet, proto portset.Protocol) bool {
		packets++
		got := in.run(p)
		want := o.want(p, proto)
		switch {
		case got.accept != want:
			failures++
			t.Errorf("%s: %s: ruleset %s (by %s, path %s), engine says %s\n  source %s, destination %s",
				label, p, verdict(got.accept), got.by, strings.Join(got.trace, " "), verdict(want),
				describe(m, o, p.src), describe(m, o, p.dst))
		case !got.accept && !got.counted:
			failures++
			t.Errorf("%s: %s: dropped by %s without a counter", label, p, got.by)
		}
		if ref, ok := o.second(p, proto); ok && ref != got.accept {
			failures++
			t.Errorf("%s: %s: ruleset %s, refeval says %s", label, p, verdict(got.accept), verdict(ref))
		}
		return failures < 5
	}
	check := func(p packet) bool {
		if sample > 0 {
			for range sample {
				if !probe(p, portset.Protocols[r.IntN(len(portset.Protocols))], ps.ports[r.IntN(len(ps.ports))]) {
					return false
				}
			}
			return true
		}
		for _, proto := range portset.Protocols {
			for _, port := range ps.ports {
				if !probe(p, proto, port) {
					return false
				}
			}
		}
		return true
	}
	// Broadcast and multicast packets leave through each bound port with
	// its mark, and through a port Ward does not know, unmarked.
	members := []packet{{}}
	for _, b := range rs.Bindings {
		if len(b.Addrs) > 0 {
			members = append(members, packet{member: b.Addrs[0], mark: b.Mark})
		}
	}
	socks := hostSockets(m.inv)
	groups := []netip.Addr{netip.MustParseAddr("255.255.255.255"), netip.MustParseAddr("224.0.0.251"), netip.MustParseAddr("ff02::1"), netip.MustParseAddr("ff05::1:3")}
	for _, s := range ps.addrs {
		for _, d := range ps.addrs {
			if s.Is4() != d.Is4() {
				continue
			}
			// s == d: a connection to itself through the host (hairpin NAT).
			if !check(packet{hook: "forward", iif: "br0", oif: "br1", src: s, dst: d}) {
				return packets
			}
		}
		for _, g := range groups {
			if s.Is4() != g.Is4() {
				continue
			}
			for _, m := range members {
				if !check(packet{hook: "forward", iif: "br0", oif: "br0", src: s, dst: g, member: m.member, mark: m.mark}) {
					return packets
				}
			}
		}
		for _, h := range ps.hosts {
			if s.Is4() != h.Is4() {
				continue
			}
			if !check(packet{hook: "input", iif: "br0", src: s, dst: h}) {
				return packets
			}
			for _, k := range socks {
				if !check(packet{hook: "output", oif: "br0", src: h, dst: s, sock: k}) {
					return packets
				}
			}
		}
	}
	// The host to itself: its ports, the published ones among them.
	for _, s := range ps.hosts {
		for _, d := range ps.hosts {
			if s.Is4() == d.Is4() && (!check(packet{hook: "input", iif: "lo", src: s, dst: d}) || !check(packet{hook: "output", oif: "lo", src: s, dst: d})) {
				return packets
			}
		}
	}
	return packets
}

func verdict(ok bool) string {
	if ok {
		return "accepts"
	}
	return "drops"
}

func describe(m *model, o *oracle, a netip.Addr) string {
	ep := m.eng.EndpointOfIP(a)
	s := fmt.Sprintf("%s (class %s)", ep.ID, netpol.ClassID(ep.Class()))
	if o.Unclassified(a) {
		s += ", unclassified"
	}
	return s
}

// TestDifferentialXYZ runs every pair of the x/y/z scenario, on every
// protocol and interesting port, with and without AllowUnclassified.
func TestDifferentialXYZ(t *testing.T) {
	m := load(t, "testdata/xyz-inventory.yaml", "testdata/xyz-policies.yaml")
	for _, opts := range []firewall.Options{{}, {AllowUnclassified: true}} {
		rs := compile(t, m, opts)
		checkStructure(t, rs)
		o := newOracle(m, opts)
		ps := probes(m, nil, 0)
		n := differ(t, fmt.Sprintf("xyz %+v", opts), m, rs, o, ps, nil, 0)
		t.Logf("%+v: %d addresses, %d host addresses, %d ports: %d packets", opts, len(ps.addrs), len(ps.hosts), len(ps.ports), n)
	}
}

// TestDifferentialShop does the same on the example shop.
func TestDifferentialShop(t *testing.T) {
	m := load(t, "testdata/shop-inventory.yaml", "../examples/shop")
	rs := compile(t, m, firewall.Options{})
	checkStructure(t, rs)
	o := newOracle(m, firewall.Options{})
	ps := probes(m, nil, 0)
	n := differ(t, "shop", m, rs, o, ps, nil, 0)
	t.Logf("%d addresses, %d host addresses, %d ports: %d packets", len(ps.addrs), len(ps.hosts), len(ps.ports), n)
}

// TestDifferentialUserlandProxy runs the shop with Docker's userland
// proxy identified, in a cgroup of its own and in the root cgroup: the
// proxy's sockets reach the published ports of the containers whatever
// their ingress says, and every other socket of the host (another owner,
// another cgroup, a cgroup below the proxy's) is judged as the host.
func TestDifferentialUserlandProxy(t *testing.T) {
	for _, cg := range []firewall.Cgroup{
		{Path: "system.slice/docker.service", Level: 2, ID: 4242},
		{Level: 0, ID: 1},
	} {
		t.Run(fmt.Sprintf("level %d", cg.Level), func(t *testing.T) {
			m := load(t, "testdata/shop-inventory.yaml", "../examples/shop")
			m.inv.UserlandProxy = &firewall.UserlandProxy{UID: 0, Cgroup: cg}
			rs := compile(t, m, firewall.Options{})
			checkStructure(t, rs)
			if rs.Chain(firewall.ChainUserlandProxy) == nil {
				t.Fatal("no userland proxy chain")
			}
			o := newOracle(m, firewall.Options{})
			ps := probes(m, nil, 0)
			relayed := 0
			for _, a := range ps.addrs {
				for _, port := range ps.ports {
					if o.Relayed(a, portset.TCP, port) && !o.Allows(firewall.Output, ps.hosts[0], a, portset.TCP, port) {
						relayed++
					}
				}
			}
			if relayed == 0 {
				t.Fatal("no published port the host's ingress verdict refuses: the test would prove nothing")
			}
			n := differ(t, "shop+proxy", m, rs, o, ps, nil, 0)
			t.Logf("%d packets; %d (container, port) pairs only the proxy reaches", n, relayed)
		})
	}
}

// TestDifferentialRandom runs random clusters (refeval.RandomObjects)
// turned into inventories: every workload with an address becomes a
// container, each on a network of its /24 (IPv4) or /120 (IPv6), and now
// and then a network nobody uses. Each pair of addresses gets a sample of
// protocol and port probes; every other cluster allows unclassified
// addresses.
func TestDifferentialRandom(t *testing.T) {
	clusters := 300
	if testing.Short() {
		clusters = 60
	}
	total, pairs := 0, 0
	for seed := range uint64(clusters) {
		r := rand.New(rand.NewPCG(seed, 0x6677))
		inv, pol, yaml := randomInventory(t, r)
		m := build(t, inv, pol)
		opts := firewall.Options{AllowUnclassified: seed%2 == 1}
		rs := compile(t, m, opts)
		checkStructure(t, rs)
		o := newOracle(m, opts)
		ps := probes(m, r, 4)
		pairs += len(ps.addrs) * (len(ps.addrs) - 1)
		before := t.Failed()
		total += differ(t, fmt.Sprintf("seed %d", seed), m, rs, o, ps, r, 8)
		if t.Failed() && !before {
			t.Logf("seed %d inventory:\n%s\nruleset:\n%s", seed, yaml, rs)
			return
		}
	}
	t.Logf("%d random clusters: about %d forwarded address pairs, %d packets", clusters, pairs, total)
}

// randomInventory makes an inventory of a random cluster and returns it
// with the cluster's policies and namespaces, and its YAML.
func randomInventory(t *testing.T, r *rand.Rand) (*firewall.Inventory, *manifest.Set, string) {
	t.Helper()
	defaultNS, objs := refeval.RandomObjects(r)
	set, err := manifest.FromObjects(defaultNS, objs...)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	nets := map[netip.Prefix]bool{}
	b.WriteString("containers:\n")
	for _, w := range set.Workloads {
		if len(w.IPs) == 0 && !w.HostNetwork {
			continue
		}
		fmt.Fprintf(&b, "  - name: %q\n    namespace: %q\n    hostNetwork: %v\n    labels: {", w.Name, w.Namespace, w.HostNetwork)
		keys := make([]string, 0, len(w.Labels))
		for k := range w.Labels {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%q: %q", k, w.Labels[k])
		}
		b.WriteString("}\n    ips: [")
		for i, ip := range w.IPs {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%q", ip)
			if !w.HostNetwork {
				bits := 24
				if ip.Is6() {
					bits = 120
				}
				nets[netip.PrefixFrom(ip, bits).Masked()] = true
			}
		}
		b.WriteString("]\n    ports:\n")
		for _, p := range w.Ports {
			fmt.Fprintf(&b, "      - {name: %q, port: %d, protocol: %s}\n", p.Name, p.Port, p.Protocol)
		}
	}
	if r.IntN(3) == 0 || len(nets) == 0 {
		nets[netip.MustParsePrefix("10.9.0.0/24")] = true
	}
	b.WriteString("networks:\n")
	list := make([]netip.Prefix, 0, len(nets))
	for p := range nets {
		list = append(list, p)
	}
	slices.SortFunc(list, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
	for i, p := range list {
		fmt.Fprintf(&b, "  - {name: n%d, subnets: [%q]}\n", i, p)
	}
	inv, err := firewall.ParseInventory("random.yaml", []byte(b.String()))
	if err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	return inv, set, b.String()
}
