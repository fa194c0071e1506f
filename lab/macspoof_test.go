package lab_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/internal/ethframe"
	"github.com/wardsec/ward/lab"
)

// withoutMACs is rs with its bindings' MAC addresses left out: the
// ruleset of an inventory without macs, which binds IP addresses only
// (and sets no bridge's no_linklocal_learn).
func withoutMACs(rs *firewall.Ruleset) *firewall.Ruleset {
	out := *rs
	out.NoLinkLocalLearn = nil
	out.Bindings = slices.Clone(rs.Bindings)
	for i := range out.Bindings {
		out.Bindings[i].MACs = nil
	}
	return &out
}

// arpFrame is an Ethernet frame from etherSrc to etherDst holding an ARP
// packet (op 1, a request, or 2, a reply) whose sender is sha at spa and
// whose target is tha at tpa.
func arpFrame(etherSrc, etherDst net.HardwareAddr, op uint16, sha net.HardwareAddr, spa netip.Addr, tha net.HardwareAddr, tpa netip.Addr) []byte {
	f := make([]byte, 60) // the minimum frame, padded
	copy(f, etherDst)
	copy(f[6:], etherSrc)
	binary.BigEndian.PutUint16(f[12:], unix.ETH_P_ARP)
	binary.BigEndian.PutUint16(f[14:], 1)      // Ethernet
	binary.BigEndian.PutUint16(f[16:], 0x0800) // IPv4
	f[18], f[19] = 6, 4
	binary.BigEndian.PutUint16(f[20:], op)
	copy(f[22:], sha)
	copy(f[28:], spa.AsSlice())
	copy(f[32:], tha)
	copy(f[38:], tpa.AsSlice())
	return f
}

// chainDrops sums the counters of chain name of the lab's bridge table.
func chainDrops(t *testing.T, l *lab.Lab, name string) uint64 {
	t.Helper()
	present, drops := bridgeDrops(t, l, name)
	if !present {
		t.Fatalf("no bridge table in the lab")
	}
	return drops
}

// TestMACSpoof attacks the bridge's forwarding database, in the spoof
// scenario (c admits b on 53/UDP): a, with NET_RAW, sends frames with c's
// MAC address as their Ethernet source, and b then sends c datagrams on
// 53/UDP. The bridge learns a frame's source after its prerouting hooks:
// with c's MAC address moved to a's port, it forwards b's datagrams for c
// there, where they are dropped (the destination check; a port not
// bound), a denial of service between two containers of one bridge,
// until c speaks again. Attacked from a bound port (a's binding admits
// the frames' IP sources: an IPv4 or IPv6 datagram from a's own address,
// an ARP request from it, an ARP probe, a neighbour solicitation from
// ::, an EAPOL frame to a reserved group address, which skips the
// prerouting hook for the input hook) and from a port attached since the last sync (a left out of the
// inventory, the bridge closed: frames the inet table never sees, an
// ARP request and a frame of IEEE's local experimental EtherType, which
// br_netfilter hands to no inet hook). With the ruleset binding MAC
// addresses (Binding.MACs: each host's port to its eth0's) a's frames
// are dropped and counted in chain mac_spoof, the bridge keeps c's MAC
// address on c's port, and every datagram of b reaches c's interface.
// The negative control is the same ruleset without MAC addresses (an
// inventory without macs, as before Ward read them): b's datagrams
// after each frame are lost.
func TestMACSpoof(t *testing.T) {
	requireLab(t)
	t.Parallel()
	plan, a, b, c, compile := spoofWithout(t)
	l := startLab(t, plan.Hosts)
	ae, be, ce := hostEth0(t, l, a.ID), hostEth0(t, l, b.ID), hostEth0(t, l, c.ID)
	for i, h := range plan.Hosts {
		if e := hostEth0(t, l, h.ID); !slices.ContainsFunc(plan.Ruleset.Bindings, func(bd firewall.Binding) bool {
			return bd.Port == fmt.Sprintf("h%d", i) && len(bd.MACs) == 1 && bytes.Equal(bd.MACs[0], e.mac)
		}) {
			t.Fatalf("%s: eth0 %s is not its port's bound MAC address: bindings %+v", h.ID, e.mac, plan.Ruleset.Bindings)
		}
	}
	sniffC := capture(t, l, c.ID, ce)
	bcast := net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	zeroMAC := make(net.HardwareAddr, 6)
	a4, a6, b4, b6 := hostAddr(t, a, 4), hostAddr(t, a, 6), hostAddr(t, b, 4), hostAddr(t, b, 6)
	udp := func(src, dst netip.Addr) []byte {
		f, err := ethframe.UDP(ce.mac, be.mac, netip.AddrPortFrom(src, 40000), netip.AddrPortFrom(dst, 54), []byte("poison"))
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	other := make([]byte, 60)
	copy(other, bcast)
	copy(other[6:], ce.mac)
	binary.BigEndian.PutUint16(other[12:], 0x88b5)
	// A duplicate address detection probe for b's address: from ::, to
	// its solicited-node group.
	solicited := netip.AddrFrom16([16]byte{0: 0xff, 1: 0x02, 11: 1, 12: 0xff, 13: b6.As16()[13], 14: b6.As16()[14], 15: b6.As16()[15]})
	ns, err := ethframe.ICMPv6(ce.mac, net.HardwareAddr{0x33, 0x33, 0xff, b6.As16()[13], b6.As16()[14], b6.As16()[15]},
		netip.IPv6Unspecified(), solicited, 135, slices.Concat([]byte{0, 0, 0, 0}, b6.AsSlice()))
	if err != nil {
		t.Fatal(err)
	}
	// An EAPOL frame to 01:80:c2:00:00:03, an IEEE 802.1 reserved group
	// address: the bridge hands it to its input hook, not prerouting, and
	// learns its source.
	eapol := make([]byte, 60)
	copy(eapol, net.HardwareAddr{0x01, 0x80, 0xc2, 0, 0, 3})
	copy(eapol[6:], ce.mac)
	binary.BigEndian.PutUint16(eapol[12:], 0x888e)
	type poison struct {
		what  string
		frame []byte
	}
	arpRequest := poison{"an ARP request from a's own address", arpFrame(ce.mac, bcast, 1, ae.mac, a4, zeroMAC, b4)}
	attackers := []struct {
		who     string
		rs      *firewall.Ruleset
		poisons []poison
	}{
		{"a, a bound container", plan.Ruleset, []poison{
			{"an IPv4 datagram from a's own address", udp(a4, b4)},
			{"an IPv6 datagram from a's own address", udp(a6, b6)},
			arpRequest,
			{"an ARP probe", arpFrame(ce.mac, bcast, 1, ae.mac, netip.IPv4Unspecified(), zeroMAC, b4)},
			{"a neighbour solicitation from ::", ns},
			{"an EAPOL frame, to a reserved group address", eapol},
		}},
		{"a, a port attached since the last sync", compile(nil, true), []poison{
			arpRequest,
			{"a frame of EtherType 0x88b5", other},
		}},
	}
	// b's sockets, to c:53 (which c admits from b), one per family.
	conns := map[int]*net.UDPConn{}
	for _, fam := range []int{4, 6} {
		var conn *net.UDPConn
		if err := l.InHost(b.ID, func() (err error) {
			conn, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(hostAddr(t, b, fam), 0)))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conns[fam] = conn
	}
	n := 0
	// flows has a send poison, then b send c a datagram per family, 3
	// times, and reports whether every datagram reached c's interface.
	flows := func(poison []byte) bool {
		all := true
		for range 3 {
			sendRaw(t, l, a.ID, ae, poison)
			for _, fam := range []int{4, 6} {
				n++
				m := fmt.Appendf(nil, "ward-macspoof-%d-%d", os.Getpid(), n)
				if _, err := conns[fam].WriteToUDP(m, net.UDPAddrFromAddrPort(netip.AddrPortFrom(hostAddr(t, c, fam), 53))); err != nil {
					t.Fatal(err)
				}
				arrived := false
				buf := make([]byte, 4096)
				for deadline := time.Now().Add(testTimeout); time.Now().Before(deadline) && !arrived; {
					if k, _, err := unix.Recvfrom(sniffC, buf, 0); err == nil && bytes.Contains(buf[:k], m) {
						arrived = true
					}
				}
				all = all && arrived
			}
		}
		return all
	}
	// heal has c speak (a datagram to b, to a port where nothing
	// listens), so that the bridge learns c's MAC address back on c's
	// port, and b resolve c's addresses to it.
	heal := func() {
		for _, fam := range []int{4, 6} {
			if err := l.InHost(c.ID, func() error {
				conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(hostAddr(t, b, fam), 9)))
				if err != nil {
					return err
				}
				defer conn.Close()
				_, err = conn.Write([]byte("heal"))
				return err
			}); err != nil {
				t.Fatal(err)
			}
			resolveNeighbour(t, l, b.ID, conns[fam], hostAddr(t, c, fam), ce.mac)
		}
	}

	for _, at := range attackers {
		if !slices.ContainsFunc(at.rs.Bindings, func(bd firewall.Binding) bool { return len(bd.MACs) > 0 }) {
			t.Fatalf("%s: the ruleset binds no MAC address", at.who)
		}
		for _, p := range at.poisons {
			if err := l.Load(at.rs); err != nil {
				t.Fatal(err)
			}
			heal()
			before := chainDrops(t, l, firewall.BridgeMACSpoof)
			if !flows(p.frame) {
				t.Errorf("%s: after %s with c's MAC address as its source, b's datagrams to c stopped arriving", at.who, p.what)
			}
			if after := chainDrops(t, l, firewall.BridgeMACSpoof); after <= before {
				t.Errorf("%s: %s with c's MAC address as its source: chain %s counted no drop (%d before, %d after)", at.who, p.what, firewall.BridgeMACSpoof, before, after)
			}

			// Negative control: the same ruleset binding IP addresses only.
			if err := l.Load(withoutMACs(at.rs)); err != nil {
				t.Fatal(err)
			}
			heal()
			if flows(p.frame) {
				t.Errorf("%s: without MAC addresses bound, %s with c's MAC address as its source did not stop b's datagrams to c: the test cannot see the hole", at.who, p.what)
			}
		}
	}
}

// TestARPSpoof attacks neighbour caches with ARP from a bound port, in
// the spoof scenario: a, with NET_RAW, sends c an ARP reply claiming b's
// address (its own Ethernet source and sender hardware address: c would
// send a its traffic for b; the IP binding, arp saddr ip, drops it), and
// sends b an ARP request for b's address with a's own address as its
// sender but c's MAC address as its sender hardware address (b would
// send c its traffic for a; the MAC binding, arp saddr ether, drops it).
// With the plan's ruleset neither entry changes; without the bridge
// table (negative control) both do, and without MAC addresses bound the
// second does.
func TestARPSpoof(t *testing.T) {
	requireLab(t)
	t.Parallel()
	plan := planFor(t, "testdata/spoof/spoof.yaml")
	hosts := map[string]*lab.Host{}
	for _, h := range plan.Hosts {
		hosts[h.ID] = h
	}
	a, b, c := hosts["spoof/a"], hosts["spoof/b"], hosts["spoof/c"]
	if a == nil || b == nil || c == nil {
		t.Fatalf("hosts %v: want spoof/a, spoof/b and spoof/c", plan.Hosts)
	}
	l := startLab(t, plan.Hosts)
	ae, be, ce := hostEth0(t, l, a.ID), hostEth0(t, l, b.ID), hostEth0(t, l, c.ID)
	a4, b4, c4 := hostAddr(t, a, 4), hostAddr(t, b, 4), hostAddr(t, c, 4)
	bcast := net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	listen := func(id string, ip netip.Addr) *net.UDPConn {
		var conn *net.UDPConn
		if err := l.InHost(id, func() (err error) {
			conn, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 0)))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		return conn
	}
	bConn, cConn := listen(b.ID, b4), listen(c.ID, c4)
	// poisoned has host id (through conn) resolve ip to its owner's
	// MAC address, a send f, and reports whether id's entry for ip then
	// names mac.
	poisoned := func(id string, conn *net.UDPConn, ip netip.Addr, owner net.HardwareAddr, f []byte, mac net.HardwareAddr) bool {
		if err := l.InHost(id, func() error {
			ns, err := netlink.NeighList(0, netlink.FAMILY_V4)
			for _, nb := range ns {
				if x, ok := netip.AddrFromSlice(nb.IP); ok && x.Unmap() == ip {
					_ = netlink.NeighDel(&nb)
				}
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		resolveNeighbour(t, l, id, conn, ip, owner)
		time.Sleep(1100 * time.Millisecond) // the neighbour entry's locktime
		sendRaw(t, l, a.ID, ae, f)
		time.Sleep(testTimeout)
		return neighbour(t, l, id, ip) == mac.String()
	}
	ipClaim := func() bool {
		return poisoned(c.ID, cConn, b4, be.mac, arpFrame(ae.mac, ce.mac, 2, ae.mac, b4, ce.mac, c4), ae.mac)
	}
	macClaim := func() bool {
		return poisoned(b.ID, bConn, a4, ae.mac, arpFrame(ae.mac, bcast, 1, ce.mac, a4, make(net.HardwareAddr, 6), b4), ce.mac)
	}

	if err := l.Load(plan.Ruleset); err != nil {
		t.Fatal(err)
	}
	if ipClaim() {
		t.Error("a's ARP reply claiming b's address rewrote c's entry for it")
	}
	if macClaim() {
		t.Error("a's ARP request with c's MAC address as its sender hardware address rewrote b's entry for a's address")
	}
	if err := l.Load(withoutMACs(plan.Ruleset)); err != nil {
		t.Fatal(err)
	}
	if !macClaim() {
		t.Error("without MAC addresses bound, a's ARP request with c's MAC address as its sender left b's entry for a's address: the test cannot see the hole")
	}
	noBridge := *withoutBridgeTable(plan.Ruleset)
	if err := l.Load(&noBridge); err != nil {
		t.Fatal(err)
	}
	if !ipClaim() {
		t.Error("without the bridge table, a's ARP reply claiming b's address left c's entry for it: the test cannot see the hole")
	}
}

// TestMACSpoofLLDP is the attack of TestMACSpoof with an LLDP frame (to
// 01:80:c2:00:00:0e) carrying c's MAC address as its source: the bridge
// hands such a frame to no netfilter hook and learns its source
// (br_handle_frame's LLDP case), so the bridge table cannot drop it, and
// b's datagrams to c would go to a's port. Ward's ruleset names the lab's
// bridge in Ruleset.NoLinkLocalLearn, and loading it (Lab.Load, as `ward
// fw` applies) sets the bridge's no_linklocal_learn, which stops that
// learning: b's datagrams keep arriving. The negative control is the
// same ruleset without the bridge option (Ward before it set it): they
// are lost.
func TestMACSpoofLLDP(t *testing.T) {
	requireLab(t)
	t.Parallel()
	plan, a, b, c, _ := spoofWithout(t)
	if !slices.Equal(plan.Ruleset.NoLinkLocalLearn, []string{lab.BridgeName}) {
		t.Fatalf("the ruleset's NoLinkLocalLearn = %v; want the lab's bridge %s", plan.Ruleset.NoLinkLocalLearn, lab.BridgeName)
	}
	noOption := *plan.Ruleset
	noOption.NoLinkLocalLearn = nil
	l := startLab(t, plan.Hosts)
	ae, ce := hostEth0(t, l, a.ID), hostEth0(t, l, c.ID)
	sniffC := capture(t, l, c.ID, ce)
	b4, c4 := hostAddr(t, b, 4), hostAddr(t, c, 4)
	lldp := make([]byte, 60)
	copy(lldp, net.HardwareAddr{0x01, 0x80, 0xc2, 0, 0, 0x0e})
	copy(lldp[6:], ce.mac)
	binary.BigEndian.PutUint16(lldp[12:], 0x88cc)
	var conn *net.UDPConn
	if err := l.InHost(b.ID, func() (err error) {
		conn, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(b4, 0)))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	n := 0
	// arrives loads rs, has c speak to b (the bridge learns c's MAC
	// address back), a send the LLDP frame, b send c a datagram, and
	// reports whether it reached c's interface.
	arrives := func(rs *firewall.Ruleset) bool {
		if err := l.Load(rs); err != nil {
			t.Fatal(err)
		}
		if err := l.InHost(c.ID, func() error {
			cc, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(b4, 9)))
			if err != nil {
				return err
			}
			defer cc.Close()
			_, err = cc.Write([]byte("heal"))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		resolveNeighbour(t, l, b.ID, conn, c4, ce.mac)
		sendRaw(t, l, a.ID, ae, lldp)
		n++
		m := fmt.Appendf(nil, "ward-lldp-%d-%d", os.Getpid(), n)
		if _, err := conn.WriteToUDP(m, net.UDPAddrFromAddrPort(netip.AddrPortFrom(c4, 53))); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4096)
		for deadline := time.Now().Add(testTimeout); time.Now().Before(deadline); {
			if k, _, err := unix.Recvfrom(sniffC, buf, 0); err == nil && bytes.Contains(buf[:k], m) {
				return true
			}
		}
		return false
	}
	if !arrives(plan.Ruleset) {
		t.Error("with Ward's ruleset loaded, after a's LLDP frame with c's MAC address as its source, b's datagram to c did not arrive: the bridge learned the frame's source")
	}
	if arrives(&noOption) {
		t.Error("without no_linklocal_learn, a's LLDP frame with c's MAC address as its source left b's datagram to c arriving: the test cannot see the hole")
	}
}
