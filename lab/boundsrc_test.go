package lab_test

import (
	"context"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/internal/ethframe"
	"github.com/wardsec/ward/lab"
)

// TestUnknownPortBoundSource attacks from a classified container whose
// bridge port Ward does not know, beside containers whose ports it binds:
// the spoof scenario (c admits b on 53/UDP, a on 54/UDP) from an
// inventory file that lists b's and c's interfaces, not a's, and names no
// bridge. The bridge table let every frame from a's port through
// (`iifname != @ports accept`), and chain forward checked only the
// destinations of bound ports, so a, with NET_RAW:
//   - sent c datagrams claiming b's address, which c's ingress took for
//     b's (IPv4, IPv6);
//   - with a gratuitous ARP reply claiming b's IPv4 address, or an
//     unsolicited neighbour advertisement claiming b's IPv6 address, had
//     c send it c's datagrams for b, and read them;
//   - with a frame from its link-local address carrying b's MAC address,
//     took that address over in the bridge's forwarding database and read
//     c's datagrams for b.
//
// Now a frame from a port not bound carrying a bound address as its
// source (IPv4, ARP sender, IPv6) is dropped, and so is a packet to a
// bound address that the bridge would forward through a port not bound:
// none of these succeeds, while a's own datagram to c's 54 and b's to
// c's 53 still arrive. The negative control is the same ruleset with
// those rules deleted from the live table (the ruleset of before): every
// attack succeeds.
func TestUnknownPortBoundSource(t *testing.T) {
	requireLab(t)
	t.Parallel()
	plan := planFor(t, "testdata/spoof/spoof.yaml")
	rs := unknownPortOf(t, plan, "spoof/a")
	hosts := map[string]*lab.Host{}
	for _, h := range plan.Hosts {
		hosts[h.ID] = h
	}
	a, b, c := hosts["spoof/a"], hosts["spoof/b"], hosts["spoof/c"]
	l := startLab(t, plan.Hosts)
	ctx := context.Background()
	ae, be, ce := hostEth0(t, l, a.ID), hostEth0(t, l, b.ID), hostEth0(t, l, c.ID)
	sniff := capture(t, l, a.ID, ae)

	spoof := func(fam int) bool {
		t.Helper()
		got, err := l.Spoof(ctx, a, hostAddr(t, b, fam), c, hostAddr(t, c, fam), 53)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	own := func(from *lab.Host, fam int, port uint16) bool {
		t.Helper()
		got, err := l.Spoof(ctx, from, hostAddr(t, from, fam), c, hostAddr(t, c, fam), port)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	// poisoning: a claims b's address in c's neighbour cache (a
	// gratuitous ARP reply, which Linux takes within its locktime; an
	// unsolicited advertisement with the override flag), then c sends b
	// datagrams, and a reports whether it read one.
	n := 0
	var poisonings []interception
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
		var poison []byte
		if fam.b.Is4() {
			poison = arpFrame(ae.mac, ce.mac, 2, ae.mac, fam.b, ae.mac, fam.b)
		} else {
			tg := fam.b.As16()
			body := slices.Concat([]byte{0x20, 0, 0, 0}, tg[:], []byte{2, 1}, ae.mac) // override; target link-layer address: a's
			var err error
			if poison, err = ethframe.ICMPv6(ae.mac, ce.mac, ae.ll, ce.ll, 136, body); err != nil {
				t.Fatal(err)
			}
		}
		bAddr := net.UDPAddrFromAddrPort(netip.AddrPortFrom(fam.b, 9))
		poisonings = append(poisonings, interception{fam.net + " neighbour cache", func() bool {
			forgetNeighbour(t, l, c.ID, fam.b)
			resolveNeighbour(t, l, c.ID, conn, fam.b, be.mac)
			return interceptFDB(t, l, a.ID, ae, sniff, poison, conn, bAddr, &n)
		}})
	}
	fdb := interceptions(t, l, a, b, c)

	for _, before := range []bool{false, true} {
		name := "now"
		if before {
			name = "the ruleset of before"
		}
		if err := l.Load(rs); err != nil {
			t.Fatal(err)
		}
		if before {
			deleteBoundSourceRules(t, l)
		}
		for _, fam := range []int{4, 6} {
			if got := spoof(fam); got != before {
				t.Errorf("%s: IPv%d: a's datagram claiming b's address reached c's 53: %v, want %v", name, fam, got, before)
			}
			if !own(a, fam, 54) || !own(b, fam, 53) {
				t.Errorf("%s: IPv%d: a's own datagram to c's 54 or b's to c's 53 did not arrive", name, fam)
			}
		}
		for _, ic := range slices.Concat(fdb, poisonings) {
			if got := ic.f(); got != before {
				t.Errorf("%s: %s: a read c's datagram for b: %v, want %v", name, ic.net, got, before)
			}
		}
		// A poisoned entry (an advertisement from a's link-local source
		// passes; only c's traffic for b is kept from a) would stay for
		// the next round.
		forgetNeighbour(t, l, c.ID, hostAddr(t, b, 4))
		forgetNeighbour(t, l, c.ID, hostAddr(t, b, 6))
	}
}

// unknownPortOf compiles plan's policies for its inventory with host
// id's interfaces and MAC addresses left out, and no bridge named: an
// inventory file that lists the other containers' ports only.
func unknownPortOf(t *testing.T, plan *lab.Plan, id string) *firewall.Ruleset {
	t.Helper()
	inv := *plan.Inventory
	inv.Containers = nil
	found := false
	for _, ct := range plan.Inventory.Containers {
		cc := *ct
		cc.MACs = nil
		if cc.ID() == id {
			cc.Interfaces, found = nil, true
		}
		inv.Containers = append(inv.Containers, &cc)
	}
	if !found {
		t.Fatalf("no container %s", id)
	}
	inv.Networks = nil
	for _, n := range plan.Inventory.Networks {
		nn := *n
		nn.Bridge = ""
		inv.Networks = append(inv.Networks, &nn)
	}
	rs, err := firewall.Compile(plan.Engine, &inv, firewall.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs.Bridges) != 0 || len(rs.Bindings) != len(plan.Hosts)-1 {
		t.Fatalf("bridges %q, %d bindings: want none and one per host but %s", rs.Bridges, len(rs.Bindings), id)
	}
	return rs
}

// deleteBoundSourceRules deletes from the lab's live bridge table the
// rules that judge a bound address through a port not bound in chains
// prerouting and forward (a lookup in bound_v4 or bound_v6 and one in
// ports, inverted), and the jump to nd_bound when there is one: the
// ruleset of before them.
func deleteBoundSourceRules(t *testing.T, l *lab.Lab) {
	t.Helper()
	h, err := netns.GetFromPath(filepath.Join(lab.NetnsDir, l.Name()+"-r"))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	conn, err := nftables.New(nftables.WithNetNSFd(int(h)))
	if err != nil {
		t.Fatal(err)
	}
	tb := &nftables.Table{Family: nftables.TableFamilyBridge, Name: firewall.TableName}
	deleted := 0
	for _, chain := range []string{firewall.BridgeChain, firewall.BridgeForward} {
		rules, err := conn.GetRules(tb, &nftables.Chain{Name: chain, Table: tb})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rules {
			bound, notPorts, ndJump := false, false, false
			for _, e := range r.Exprs {
				if lk, ok := e.(*expr.Lookup); ok {
					bound = bound || lk.SetName == firewall.BridgeBound4 || lk.SetName == firewall.BridgeBound6
					notPorts = notPorts || lk.SetName == firewall.BridgePorts && lk.Invert
				}
				if v, ok := e.(*expr.Verdict); ok && v.Kind == expr.VerdictJump && v.Chain == firewall.BridgeNDBound {
					ndJump = true
				}
			}
			if ndJump {
				// The neighbour advertisements whose target is a bound
				// address (TestUnknownPortNDTarget) are judged by a port
				// not bound too: without this jump, the negative
				// controls of the mechanisms under test still saw their
				// advertisements dropped.
				if err := conn.DelRule(r); err != nil {
					t.Fatal(err)
				}
				continue
			}
			if bound && notPorts {
				if err := conn.DelRule(r); err != nil {
					t.Fatal(err)
				}
				deleted++
			}
		}
	}
	if err := conn.Flush(); err != nil {
		t.Fatal(err)
	}
	if deleted != 5 {
		t.Fatalf("deleted %d rules judging bound addresses through ports not bound, want 5", deleted)
	}
}

// forgetNeighbour deletes host id's neighbour entry for ip, if any.
func forgetNeighbour(t *testing.T, l *lab.Lab, id string, ip netip.Addr) {
	t.Helper()
	if err := l.InHost(id, func() error {
		family := netlink.FAMILY_V6
		if ip.Is4() {
			family = netlink.FAMILY_V4
		}
		ns, err := netlink.NeighList(0, family)
		if err != nil {
			return err
		}
		for _, n := range ns {
			if a, ok := netip.AddrFromSlice(n.IP); ok && a.Unmap() == ip {
				if err := netlink.NeighDel(&n); err != nil {
					return err
				}
			}
		}
		return nil
	}); err != nil {
		t.Fatalf("%s: forget %s: %v", id, ip, err)
	}
}
