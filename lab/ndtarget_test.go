package lab_test

import (
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netns"

	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/internal/ethframe"
	"github.com/wardsec/ward/lab"
)

// TestUnknownPortNDTarget attacks c's neighbour cache from a classified
// container whose bridge port Ward does not know (the spoof scenario, an
// inventory file listing b's and c's interfaces, not a's, naming no
// bridge): an unsolicited neighbour advertisement, from a's link-local
// address, with the override flag, whose target is b's IPv6 address. The
// bound-source rules judge the IPv6 source only, so it passed, and c sent
// its traffic for b to a's MAC address, where chain forward drops it (a
// denial of service of b). docs/firewall.md said nft 1.0.6 cannot match
// the target against a set; a rule per bound address on the raw payload
// (@th,64,128, chain nd_bound) does. Now c's entry for b keeps b's MAC
// address. Negative control: the jump to nd_bound deleted from the live
// table.
func TestUnknownPortNDTarget(t *testing.T) {
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
	ae, be, ce := hostEth0(t, l, a.ID), hostEth0(t, l, b.ID), hostEth0(t, l, c.ID)
	b6, c6 := hostAddr(t, b, 6), hostAddr(t, c, 6)
	var conn *net.UDPConn
	if err := l.InHost(c.ID, func() (err error) {
		conn, err = net.ListenUDP("udp6", net.UDPAddrFromAddrPort(netip.AddrPortFrom(c6, 0)))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	tg := b6.As16()
	body := slices.Concat([]byte{0x20, 0, 0, 0}, tg[:], []byte{2, 1}, ae.mac) // override; target link-layer address: a's
	poison, err := ethframe.ICMPv6(ae.mac, ce.mac, ae.ll, ce.ll, 136, body)
	if err != nil {
		t.Fatal(err)
	}
	for _, before := range []bool{false, true} {
		if err := l.Load(rs); err != nil {
			t.Fatal(err)
		}
		if before {
			deleteNDBoundJump(t, l)
		}
		forgetNeighbour(t, l, c.ID, b6)
		resolveNeighbour(t, l, c.ID, conn, b6, be.mac)
		drops := chainDrops(t, l, firewall.BridgeNDBound)
		poisoned := false
		for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			sendRaw(t, l, a.ID, ae, poison)
			if poisoned = neighbour(t, l, c.ID, b6) == ae.mac.String(); poisoned {
				break
			}
			if !before && chainDrops(t, l, firewall.BridgeNDBound) > drops {
				break // dropped at a's port: it cannot have reached c
			}
		}
		switch {
		case before && !poisoned:
			t.Errorf("the ruleset of before: a's advertisement for %s never reached c's neighbour cache: the test cannot see the hole", b6)
		case !before && poisoned:
			t.Errorf("a's advertisement for %s from a port not bound reached c: its entry for b is a's MAC address %s", b6, ae.mac)
		case !before && neighbour(t, l, c.ID, b6) != be.mac.String():
			t.Errorf("c's entry for %s is %q, want b's %s", b6, neighbour(t, l, c.ID, b6), be.mac)
		}
	}
}

// deleteNDBoundJump deletes from the lab's live bridge table the rule of
// chain prerouting that jumps to nd_bound: the ruleset of before it.
func deleteNDBoundJump(t *testing.T, l *lab.Lab) {
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
	rules, err := conn.GetRules(tb, &nftables.Chain{Name: firewall.BridgeChain, Table: tb})
	if err != nil {
		t.Fatal(err)
	}
	deleted := 0
	for _, r := range rules {
		if slices.ContainsFunc(r.Exprs, func(e expr.Any) bool {
			v, ok := e.(*expr.Verdict)
			return ok && v.Kind == expr.VerdictJump && v.Chain == firewall.BridgeNDBound
		}) {
			if err := conn.DelRule(r); err != nil {
				t.Fatal(err)
			}
			deleted++
		}
	}
	if err := conn.Flush(); err != nil {
		t.Fatal(err)
	}
	if deleted != 1 {
		t.Fatalf("deleted %d rules jumping to %s, want 1", deleted, firewall.BridgeNDBound)
	}
}
