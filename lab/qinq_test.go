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
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/lab"
)

// TestUnknownPortBoundSourceQinQ attacks the host's neighbour cache from a
// classified container whose bridge port Ward does not know (the spoof
// scenario, an inventory file listing b's and c's interfaces, not a's,
// naming no bridge), with a gratuitous ARP reply claiming b's address
// wrapped in two priority tags (802.1ad, then 802.1Q, both VLAN 0) and
// sent to the bridge's own MAC address. a's veth strips the outer tag
// only: the frame's protocol is 8021q, which none of chain prerouting's
// bound-source rules (IPv4, ARP, IPv6) match, and `iifname != @ports
// accept` let it through; the host's stack strips the inner priority tag
// and took the reply, so the host's traffic for b (published ports,
// Docker's gateway) went to a's MAC address. Now chain input drops a
// frame to the host still tagged from a port not bound: the host's entry
// for b keeps b's MAC address. Negative control: the two rules deleted
// from the live table, the entry is a's.
func TestUnknownPortBoundSourceQinQ(t *testing.T) {
	requireLab(t)
	t.Parallel()
	plan := planFor(t, "testdata/spoof/spoof.yaml")
	rs := unknownPortOf(t, plan, "spoof/a")
	hosts := map[string]*lab.Host{}
	for _, h := range plan.Hosts {
		hosts[h.ID] = h
	}
	a, b := hosts["spoof/a"], hosts["spoof/b"]
	l := startLab(t, plan.Hosts)
	ae, be := hostEth0(t, l, a.ID), hostEth0(t, l, b.ID)
	bIP := hostAddr(t, b, 4)

	// The bridge gets an address of the hosts' subnet, as Docker's
	// gateway, so that the host answers and learns ARP on it.
	h, err := netns.GetFromPath(filepath.Join(lab.NetnsDir, l.Name()+"-r"))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	nh, err := netlink.NewHandleAt(h)
	if err != nil {
		t.Fatal(err)
	}
	defer nh.Close()
	br, err := nh.LinkByName(lab.BridgeName)
	if err != nil {
		t.Fatal(err)
	}
	gw := netip.AddrFrom4([4]byte{10, 9, 0, 254})
	if err := nh.AddrAdd(br, &netlink.Addr{IPNet: &net.IPNet{IP: gw.AsSlice(), Mask: net.CIDRMask(24, 32)}}); err != nil {
		t.Fatal(err)
	}
	brMAC := br.Attrs().HardwareAddr
	hostEntry := func() string {
		ns, err := nh.NeighList(br.Attrs().Index, netlink.FAMILY_V4)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range ns {
			if a, ok := netip.AddrFromSlice(n.IP); ok && a.Unmap() == bIP && len(n.HardwareAddr) == 6 {
				return n.HardwareAddr.String()
			}
		}
		return ""
	}
	qinq := func(f []byte) []byte {
		return slices.Concat(f[:12], []byte{0x88, 0xa8, 0, 0, 0x81, 0x00, 0, 0}, f[12:])
	}
	poison := qinq(arpFrame(ae.mac, brMAC, 2, ae.mac, bIP, brMAC, bIP))

	for _, before := range []bool{false, true} {
		if err := l.Load(rs); err != nil {
			t.Fatal(err)
		}
		if before {
			deleteInputTagRules(t, l)
		}
		// The host knows b at b's MAC address.
		if err := nh.NeighSet(&netlink.Neigh{LinkIndex: br.Attrs().Index, Family: unix.AF_INET, State: netlink.NUD_STALE,
			IP: bIP.AsSlice(), HardwareAddr: be.mac}); err != nil {
			t.Fatal(err)
		}
		var drops uint64
		if !before {
			drops = chainDrops(t, l, firewall.BridgeInput)
		}
		poisoned := false
		// Past the neighbour entry's locktime (a second), when the host
		// takes any reply for it.
		for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); {
			sendRaw(t, l, a.ID, ae, poison)
			if poisoned = hostEntry() == ae.mac.String(); poisoned {
				break
			}
			if !before && chainDrops(t, l, firewall.BridgeInput) > drops {
				break // dropped: it cannot have reached the host's stack
			}
			time.Sleep(20 * time.Millisecond)
		}
		switch {
		case before && !poisoned:
			t.Errorf("the ruleset of before: a's QinQ ARP reply claiming %s never reached the host's neighbour cache: the test cannot see the hole", bIP)
		case !before && poisoned:
			t.Errorf("a's QinQ ARP reply claiming %s from a port not bound reached the host: its entry for b is a's MAC address %s", bIP, ae.mac)
		case !before && hostEntry() != be.mac.String():
			t.Errorf("the host's entry for %s is %q, want b's %s", bIP, hostEntry(), be.mac)
		}
	}
}

// deleteInputTagRules deletes from the lab's live bridge table chain
// input's rules that match a frame's protocol (meta protocol): the
// ruleset of before them.
func deleteInputTagRules(t *testing.T, l *lab.Lab) {
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
	rules, err := conn.GetRules(tb, &nftables.Chain{Name: firewall.BridgeInput, Table: tb})
	if err != nil {
		t.Fatal(err)
	}
	deleted := 0
	for _, r := range rules {
		if slices.ContainsFunc(r.Exprs, func(e expr.Any) bool { m, ok := e.(*expr.Meta); return ok && m.Key == expr.MetaKeyPROTOCOL }) {
			if err := conn.DelRule(r); err != nil {
				t.Fatal(err)
			}
			deleted++
		}
	}
	if err := conn.Flush(); err != nil {
		t.Fatal(err)
	}
	if deleted != 2 {
		t.Fatalf("deleted %d rules of chain input matching tagged frames, want 2", deleted)
	}
}
