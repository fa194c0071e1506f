package lab_test

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"testing"

	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/internal/ethframe"
	"github.com/wardsec/ward/lab"
	"github.com/wardsec/ward/netpol"
)

// TestUnknownPortSpoof attacks from a container Ward has not classified:
// in the spoof scenario (c admits b on 53/UDP), a is left out of the
// inventory, as a container started since the last sync, or one Ward
// quarantined, is; its port is still on the bridge. Its own addresses are
// then unclassified, dropped both ways by the inet table, but the inet
// table judges a datagram by its source address: one a sends claiming b's
// address is judged as b's. With a's port among the inventory's
// UnknownPorts (what dockerinv lists from the bridges), the bridge table
// drops every such frame, over IPv4 and IPv6, and counts them; and when a
// takes b's MAC address (a frame from a link-local source, which the
// prerouting chain lets through for neighbour discovery, teaches the
// bridge b's MAC address on a's port), c's datagrams for b never leave
// through a's port. The negative control is the same inventory without
// UnknownPorts (how Ward was before): a's forged datagrams reach c, and a
// reads c's datagrams for b off its interface. Both without the bridge
// table's rules that also keep a port not bound from a bound address
// (deleteBoundSourceRules, TestUnknownPortBoundSource), so that the
// unknown ports alone are judged.
func TestUnknownPortSpoof(t *testing.T) {
	requireLab(t)
	t.Parallel()
	plan, a, b, c, compile := spoofWithout(t)
	aPort := a.Container.Interfaces[0]
	// Without the bridge named (Ruleset.Bridges), the unknown ports
	// alone; and without MAC addresses, which would stop the takeover of
	// b's MAC address too (TestMACSpoof).
	closed, open := withoutMACs(compile([]string{aPort}, false)), withoutMACs(compile(nil, false))
	if i := slices.IndexFunc(closed.Bindings, func(bd firewall.Binding) bool { return bd.Port == aPort }); i < 0 || len(closed.Bindings[i].Addrs) != 0 || closed.Bindings[i].Mark != 0 {
		t.Fatalf("bindings %+v: want %s bound to no address, unmarked", closed.Bindings, aPort)
	}

	l := startLab(t, plan.Hosts)
	ctx := context.Background()
	// spoof has a send b's address to c's 53 and reports whether it
	// arrived.
	spoof := func(fam int) bool {
		t.Helper()
		got, err := l.Spoof(ctx, a, hostAddr(t, b, fam), c, hostAddr(t, c, fam), 53)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	for _, fam := range []int{4, 6} {
		if err := l.Load(closed); err != nil {
			t.Fatal(err)
		}
		deleteBoundSourceRules(t, l)
		_, d0 := spoofDrops(t, l)
		if spoof(fam) {
			t.Errorf("IPv%d: with a's port unknown, a's datagram claiming b's address reached c's 53", fam)
		}
		if _, d1 := spoofDrops(t, l); d1 <= d0 {
			t.Errorf("IPv%d: with a's port unknown, the bridge table's drops went %d -> %d", fam, d0, d1)
		}
		if err := l.Load(open); err != nil {
			t.Fatal(err)
		}
		deleteBoundSourceRules(t, l)
		if !spoof(fam) {
			t.Errorf("IPv%d: without unknown ports, a's datagram claiming b's address did not reach c: the test cannot see the hole", fam)
		}
	}

	// a takes b's MAC address, and c sends b datagrams.
	for _, ic := range interceptions(t, l, a, b, c) {
		if err := l.Load(closed); err != nil {
			t.Fatal(err)
		}
		deleteBoundSourceRules(t, l)
		if ic.f() {
			t.Errorf("%s: with a's port unknown, a read c's datagram for b off its interface after claiming b's MAC address", ic.net)
		}
		if err := l.Load(open); err != nil {
			t.Fatal(err)
		}
		deleteBoundSourceRules(t, l)
		if !ic.f() {
			t.Errorf("%s: without unknown ports, a never saw c's datagram for b: the test cannot see the hole", ic.net)
		}
	}
}

// interception is an attempt of a's to read c's datagrams for b.
type interception struct {
	net string // udp4 or udp6
	f   func() bool
}

// interceptions returns, for each family, an attempt that has c resolve
// b's address, then a take b's MAC address over in the bridge's
// forwarding database (a frame from a's link-local source, which the
// prerouting chain lets through from any port, with b's MAC address as
// its Ethernet source) and c send b datagrams, and reports whether a saw
// one off its interface.
func interceptions(t *testing.T, l *lab.Lab, a, b, c *lab.Host) []interception {
	t.Helper()
	ae, be, ce := hostEth0(t, l, a.ID), hostEth0(t, l, b.ID), hostEth0(t, l, c.ID)
	sniff := capture(t, l, a.ID, ae)
	n := 0
	var out []interception
	for _, fam := range []struct {
		net  string
		c, b netip.Addr
	}{{"udp4", hostAddr(t, c, 4), hostAddr(t, b, 4)}, {"udp6", hostAddr(t, c, 6), hostAddr(t, b, 6)}} {
		var conn *net.UDPConn
		if err := l.InHost(c.ID, func() (err error) {
			conn, err = net.ListenUDP(fam.net, net.UDPAddrFromAddrPort(netip.AddrPortFrom(fam.c, 0)))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		bAddr := net.UDPAddrFromAddrPort(netip.AddrPortFrom(fam.b, 9))
		poison, err := ethframe.UDP(be.mac, ce.mac, netip.AddrPortFrom(ae.ll, 40000), netip.AddrPortFrom(ce.ll, 54), []byte("poison"))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, interception{fam.net, func() bool {
			resolveNeighbour(t, l, c.ID, conn, fam.b, be.mac)
			return interceptFDB(t, l, a.ID, ae, sniff, poison, conn, bAddr, &n)
		}})
	}
	return out
}

// spoofWithout returns the plan of the spoof scenario, its hosts a, b
// and c, and a compiler of rulesets for its inventory without a (a
// container Ward has not classified), with the unknown ports given, and
// with the lab's bridge named as the networks' (Network.Bridge) or not.
func spoofWithout(t *testing.T) (plan *lab.Plan, a, b, c *lab.Host, compile func(unknown []string, bridge bool) *firewall.Ruleset) {
	t.Helper()
	set := loadManifests(t, "testdata/spoof/spoof.yaml")
	plan = planFor(t, "testdata/spoof/spoof.yaml")
	hosts := map[string]*lab.Host{}
	for _, h := range plan.Hosts {
		hosts[h.ID] = h
	}
	a, b, c = hosts["spoof/a"], hosts["spoof/b"], hosts["spoof/c"]
	if a == nil || b == nil || c == nil || len(a.Container.Interfaces) != 1 {
		t.Fatalf("hosts %v: want spoof/a (with one bridge port), spoof/b and spoof/c", plan.Hosts)
	}
	without := *plan.Inventory
	without.Containers = slices.DeleteFunc(slices.Clone(plan.Inventory.Containers), func(ct *firewall.Container) bool { return ct.ID() == a.ID })
	model, err := without.Set(set)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := netpol.Compile(model)
	if err != nil {
		t.Fatal(err)
	}
	return plan, a, b, c, func(unknown []string, bridge bool) *firewall.Ruleset {
		t.Helper()
		inv := without
		inv.UnknownPorts = unknown
		inv.Networks = nil
		for _, n := range without.Networks {
			if n.Bridge == "" {
				t.Fatalf("network %s: the plan names no bridge", n.Name)
			}
			nn := *n
			if !bridge {
				nn.Bridge = ""
			}
			inv.Networks = append(inv.Networks, &nn)
		}
		rs, err := firewall.Compile(eng, &inv, firewall.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return rs
	}
}
