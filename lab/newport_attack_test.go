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

// fragment splits frame, an Ethernet frame holding an IPv4 or IPv6
// packet without options or extension headers (ethframe.UDP), into two
// frames holding fragments of it with identification id: the head, with
// the first at bytes of the packet's payload (a multiple of 8), and the
// tail, with the rest. The tail's Ethernet source and destination are
// tailSrc and tailDst: another port's frame.
func fragment(t *testing.T, frame []byte, at int, id uint32, tailSrc, tailDst net.HardwareAddr) (head, tail []byte) {
	t.Helper()
	if at%8 != 0 {
		t.Fatalf("fragment at %d: not a multiple of 8", at)
	}
	eth := frame[:14]
	tailEth := slices.Concat(tailDst, tailSrc, eth[12:14])
	if binary.BigEndian.Uint16(eth[12:14]) == unix.ETH_P_IP {
		ip, payload := frame[14:34], frame[34:]
		if at >= len(payload) {
			t.Fatalf("fragment at %d of %d bytes", at, len(payload))
		}
		v4 := func(data []byte, off int, more bool) []byte {
			h := slices.Clone(ip)
			binary.BigEndian.PutUint16(h[2:4], uint16(20+len(data))) // #nosec G115 -- a test frame
			binary.BigEndian.PutUint16(h[4:6], uint16(id))           // #nosec G115 -- the low half
			flags := uint16(off / 8)                                 // #nosec G115 -- a test frame
			if more {
				flags |= 0x2000
			}
			binary.BigEndian.PutUint16(h[6:8], flags)
			h[10], h[11] = 0, 0
			binary.BigEndian.PutUint16(h[10:12], ethframe.Checksum(h))
			return slices.Concat(h, data)
		}
		return slices.Concat(eth, v4(payload[:at], 0, true)), slices.Concat(tailEth, v4(payload[at:], at, false))
	}
	ip, payload := frame[14:54], frame[54:]
	if at >= len(payload) {
		t.Fatalf("fragment at %d of %d bytes", at, len(payload))
	}
	v6 := func(data []byte, off int, more bool) []byte {
		h := slices.Clone(ip)
		next := h[6]
		h[6] = unix.IPPROTO_FRAGMENT
		binary.BigEndian.PutUint16(h[4:6], uint16(8+len(data))) // #nosec G115 -- a test frame
		fh := make([]byte, 8)
		fh[0] = next
		m := uint16(off) // #nosec G115 -- a test frame; the low 3 bits are 0
		if more {
			m |= 1
		}
		binary.BigEndian.PutUint16(fh[2:4], m)
		binary.BigEndian.PutUint32(fh[4:8], id)
		return slices.Concat(h, fh, data)
	}
	return slices.Concat(eth, v6(payload[:at], 0, true)), slices.Concat(tailEth, v6(payload[at:], at, false))
}

// TestNewPortFragments attacks the closed bridge with fragments from a
// port attached since the last sync: the kernel reassembles IPv4 and IPv6
// fragments (conntrack's defragmentation, priority -400 of the prerouting
// hook, for the host and, through br_netfilter, for bridged packets)
// before the inet table's chain prerouting sees the packet, and the
// reassembled packet carries the metadata, packet mark included, of its
// first fragment. So a fragment from the new port a, whose frame the
// bridge table did not mark, joined to a first fragment from b's bound
// port (marked), gets b's mark: a completes a datagram that b began, in
// b's name, to the host and to c (which admits b on 53/UDP), and the
// mark lies about where part of it came from. The chain prerouting must
// see each fragment as it enters, before reassembly.
//
// The controls: both fragments from b arrive (legitimate fragmented
// traffic keeps flowing, and the test sees reassembly); a's fragment
// alone never does.
func TestNewPortFragments(t *testing.T) {
	requireLab(t)
	t.Parallel()
	plan, a, b, c, compile := spoofWithout(t)
	closed := compile(nil, true)
	l := startLab(t, plan.Hosts)
	ae, be, ce := hostEth0(t, l, a.ID), hostEth0(t, l, b.ID), hostEth0(t, l, c.ID)
	brMAC, router := hostOnBridge(t, l)
	if err := l.Load(closed); err != nil {
		t.Fatal(err)
	}
	sniffC := capture(t, l, c.ID, ce)
	r4, r6 := netip.MustParseAddr("10.9.0.254"), netip.MustParseAddr("fd00:9::fe")

	n := 0
	// send has b send the first fragment of a datagram from b to dst
	// (the host's address through brMAC, or c's through c's MAC address),
	// and tailFrom the rest, and reports whether the datagram arrived:
	// at the host's socket, or on c's interface.
	send := func(dst netip.Addr, toC, headFromB bool, tailFrom eth0Of, tailID string) bool {
		t.Helper()
		n++
		marker := fmt.Appendf(nil, "ward-frag-%d-%d-", os.Getpid(), n)
		// 64 bytes before the marker: the marker is in the tail.
		payload := slices.Concat(bytes.Repeat([]byte{'.'}, 64), marker, bytes.Repeat([]byte{'x'}, 32))
		dstMAC, port := brMAC, uint16(9)
		if toC {
			dstMAC, port = ce.mac, 53
		}
		src := hostAddr(t, b, 4)
		if dst.Is6() {
			src = hostAddr(t, b, 6)
		}
		f, err := ethframe.UDP(be.mac, dstMAC, netip.AddrPortFrom(src, 40000), netip.AddrPortFrom(dst, port), payload)
		if err != nil {
			t.Fatal(err)
		}
		head, tail := fragment(t, f, 48, uint32(0x5700+n), tailFrom.mac, dstMAC) // #nosec G115 -- a small counter
		if headFromB {
			sendRaw(t, l, b.ID, be, head)
		}
		sendRaw(t, l, tailID, tailFrom, tail)
		if !toC {
			return got(router, marker, testTimeout)
		}
		buf := make([]byte, 4096)
		for deadline := time.Now().Add(testTimeout); time.Now().Before(deadline); {
			if k, _, err := unix.Recvfrom(sniffC, buf, 0); err == nil && bytes.Contains(buf[:k], marker) {
				return true
			}
		}
		return false
	}
	for _, tc := range []struct {
		what      string
		dst       netip.Addr
		toC       bool
		headFromB bool
		tail      eth0Of
		tailID    string
		want      bool
	}{
		{"b's fragments to the host (IPv4)", r4, false, true, be, b.ID, true},
		{"b's fragments to the host (IPv6)", r6, false, true, be, b.ID, true},
		{"b's fragments to c:53 (IPv4)", hostAddr(t, c, 4), true, true, be, b.ID, true},
		{"b's fragments to c:53 (IPv6)", hostAddr(t, c, 6), true, true, be, b.ID, true},
		{"a's fragment alone to the host (IPv4)", r4, false, false, ae, a.ID, false},
		{"a's fragment alone to c:53 (IPv4)", hostAddr(t, c, 4), true, false, ae, a.ID, false},
		{"a's fragment after b's to the host (IPv4)", r4, false, true, ae, a.ID, false},
		{"a's fragment after b's to the host (IPv6)", r6, false, true, ae, a.ID, false},
		{"a's fragment after b's to c:53 (IPv4)", hostAddr(t, c, 4), true, true, ae, a.ID, false},
		{"a's fragment after b's to c:53 (IPv6)", hostAddr(t, c, 6), true, true, ae, a.ID, false},
	} {
		if got := send(tc.dst, tc.toC, tc.headFromB, tc.tail, tc.tailID); got != tc.want {
			t.Errorf("bridge closed: %s: arrived %v, want %v", tc.what, got, tc.want)
		}
	}
}

// hostOnBridge gives the host (the lab's router namespace) the
// addresses 10.9.0.254/24 and fd00:9::fe/64 on the bridge and a UDP socket
// on port 9 of every address, and returns the bridge's MAC address and
// that socket.
func hostOnBridge(t *testing.T, l *lab.Lab) (net.HardwareAddr, *net.UDPConn) {
	t.Helper()
	var brMAC net.HardwareAddr
	var router *net.UDPConn
	inRouter(t, l, func() error {
		br, err := netlink.LinkByName(lab.BridgeName)
		if err != nil {
			return err
		}
		brMAC = br.Attrs().HardwareAddr
		for _, p := range []string{"10.9.0.254/24", "fd00:9::fe/64"} {
			addr, err := netlink.ParseAddr(p)
			if err != nil {
				return err
			}
			addr.Flags = unix.IFA_F_NODAD
			if err := netlink.AddrAdd(br, addr); err != nil {
				return err
			}
		}
		router, err = net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv6zero, Port: 9})
		return err
	})
	t.Cleanup(func() { _ = router.Close() })
	return brMAC, router
}

// TestHostTrafficFDB attacks the host's own traffic to a container, and
// what it routes to one (a published port's, through destination NAT),
// by the bridge's forwarding database: the attacker sends a frame with
// b's MAC address as its Ethernet source, the bridge learns that address
// on the attacker's port before any filter, and the host's next packet
// for b leaves through the bridge to the attacker's port. The bridge
// table's destination check (chain forward) and the closing of ports not
// bound (Ruleset.Bridges) judge frames the bridge forwards between its
// ports; a frame the host sends through the bridge takes its output hook.
// Attacked from a port attached since the last sync (a, left out of the
// inventory) and from a bound container (c, whose frame carries its own
// address, which its binding admits), over IPv4 and IPv6: neither may
// read the host's datagram for b, while b's datagrams to the host and the
// host's to b flow.
func TestHostTrafficFDB(t *testing.T) {
	requireLab(t)
	t.Parallel()
	plan, a, b, c, compile := spoofWithout(t)
	// Without MAC addresses, which would drop the attackers' frames as
	// they enter (TestMACSpoof): chain output's destination checks alone.
	closed := withoutMACs(compile(nil, true))
	l := startLab(t, plan.Hosts)
	ae, be, ce := hostEth0(t, l, a.ID), hostEth0(t, l, b.ID), hostEth0(t, l, c.ID)
	_, router := hostOnBridge(t, l)
	n := 0
	for _, at := range []struct {
		who  string
		host *lab.Host
		e    eth0Of
	}{{"a, a port attached since the last sync", a, ae}, {"c, a bound container", c, ce}} {
		rs := closed
		if at.host == c {
			rs = withoutMACs(plan.Ruleset) // every port bound, c's included
		}
		if err := l.Load(rs); err != nil {
			t.Fatal(err)
		}
		sniff := capture(t, l, at.host.ID, at.e)
		for _, fam := range []int{4, 6} {
			bIP := hostAddr(t, b, fam)
			to := net.UDPAddrFromAddrPort(netip.AddrPortFrom(bIP, 9))
			// The host resolves b's address to b's MAC address.
			for deadline := time.Now().Add(2 * time.Second); neighbourIn(t, func(f func() error) { inRouter(t, l, f) }, bIP) != be.mac.String(); time.Sleep(20 * time.Millisecond) {
				if _, err := router.WriteToUDP([]byte("resolve"), to); err != nil {
					t.Fatal(err)
				}
				if time.Now().After(deadline) {
					t.Fatalf("the host did not resolve %s to b's %s", bIP, be.mac)
				}
			}
			// The host's datagram reaches b (the output chain lets the
			// host's traffic through to the port it is bound to).
			var bConn *net.UDPConn
			if err := l.InHost(b.ID, func() (err error) {
				bConn, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(bIP, 9)))
				return err
			}); err != nil {
				t.Fatal(err)
			}
			// b speaks first: the bridge learns b's MAC address back on
			// b's port, which the last attack took over (its traffic is
			// lost till then: the denial of service that remains).
			rAddr := netip.MustParseAddr("10.9.0.254")
			if fam == 6 {
				rAddr = netip.MustParseAddr("fd00:9::fe")
			}
			n++
			hello := fmt.Appendf(nil, "ward-b-to-host-%d-%d", os.Getpid(), n)
			if _, err := bConn.WriteToUDP(hello, net.UDPAddrFromAddrPort(netip.AddrPortFrom(rAddr, 9))); err != nil {
				t.Fatal(err)
			}
			if !got(router, hello, 2*time.Second) {
				t.Errorf("IPv%d: b's datagram to the host did not arrive", fam)
			}
			n++
			marker := fmt.Appendf(nil, "ward-host-to-b-%d-%d", os.Getpid(), n)
			if _, err := router.WriteToUDP(marker, to); err != nil {
				t.Fatal(err)
			}
			if !got(bConn, marker, 2*time.Second) {
				t.Errorf("IPv%d: the host's datagram to b did not arrive", fam)
			}
			_ = bConn.Close()
			// The attacker's frame: b's MAC address, the attacker's own
			// IP address (to c, or from c to a).
			dst, dstMAC := hostAddr(t, c, fam), ce.mac
			if at.host == c {
				dst, dstMAC = hostAddr(t, a, fam), ae.mac
			}
			udp, err := ethframe.UDP(be.mac, dstMAC, netip.AddrPortFrom(hostAddr(t, at.host, fam), 40000), netip.AddrPortFrom(dst, 54), []byte("poison"))
			if err != nil {
				t.Fatal(err)
			}
			// Or a frame of no protocol the inet table sees (IEEE's
			// local experimental EtherType), which br_netfilter hands to
			// no inet hook: the bridge learns its source all the same.
			other := make([]byte, 60)
			copy(other, dstMAC)
			copy(other[6:], be.mac)
			binary.BigEndian.PutUint16(other[12:], 0x88b5)
			read := false
			for range 5 {
				n++
				sendRaw(t, l, at.host.ID, at.e, udp)
				sendRaw(t, l, at.host.ID, at.e, other)
				marker := fmt.Appendf(nil, "ward-host-fdb-%d-%d", os.Getpid(), n)
				if _, err := router.WriteToUDP(marker, to); err != nil {
					t.Fatal(err)
				}
				buf := make([]byte, 2048)
				for deadline := time.Now().Add(testTimeout); time.Now().Before(deadline) && !read; {
					if k, _, err := unix.Recvfrom(sniff, buf, 0); err == nil && bytes.Contains(buf[:k], marker) {
						read = true
					}
				}
			}
			if read {
				t.Errorf("IPv%d: %s read the host's datagram for b after claiming b's MAC address", fam, at.who)
			}
		}
	}
}

// sendRawMarked is sendRaw with the sending socket's mark (SO_MARK) set
// to mark: the frame leaves a's namespace with that packet mark.
func sendRawMarked(t *testing.T, l *lab.Lab, id string, e eth0Of, frame []byte, mark int) {
	t.Helper()
	if err := l.InHost(id, func() error {
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_MARK, mark); err != nil {
			return err
		}
		to := &unix.SockaddrLinklayer{Ifindex: e.index, Protocol: ethframe.Htons(binary.BigEndian.Uint16(frame[12:14])), Halen: 6}
		copy(to.Addr[:], frame[:6])
		for range 3 {
			if err := unix.Sendto(fd, frame, 0, to); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatalf("send from %s: %v", id, err)
	}
}

// TestNewPortHeld replays the attacks on the closed bridge that it
// holds against, from a port attached since the last sync (a, left out of
// the inventory), each with the same attack on the bridge not named as
// the negative control, where it succeeds:
//   - a's frames sent with the bound mark already set (SO_MARK
//     0x57530000), claiming b's address, to the host and to c:53: the mark
//     does not cross the veth into the host's namespace;
//   - a's ARP reply, unicast to c and broadcast, and a's neighbour
//     advertisement (override), to c and to all nodes, claiming b's
//     address for a's MAC address in c's neighbour cache;
//   - a's priority-tagged (VLAN 0) datagram claiming b's address to the
//     host, which takes it as untagged (to a container, the bridge table
//     drops tagged frames whether the bridge is closed or not).
func TestNewPortHeld(t *testing.T) {
	requireLab(t)
	t.Parallel()
	plan, a, b, c, compile := spoofWithout(t)
	closed, open := compile(nil, true), compile(nil, false)
	l := startLab(t, plan.Hosts)
	ae, be, ce := hostEth0(t, l, a.ID), hostEth0(t, l, b.ID), hostEth0(t, l, c.ID)
	brMAC, router := hostOnBridge(t, l)
	sniffC := capture(t, l, c.ID, ce)
	b4, b6, c4, c6 := hostAddr(t, b, 4), hostAddr(t, b, 6), hostAddr(t, c, 4), hostAddr(t, c, 6)
	r4 := netip.MustParseAddr("10.9.0.254")
	n := 0
	marker := func() []byte {
		n++
		return fmt.Appendf(nil, "ward-held-%d-%d", os.Getpid(), n)
	}
	seen := func(fd int, m []byte) bool {
		buf := make([]byte, 4096)
		for deadline := time.Now().Add(testTimeout); time.Now().Before(deadline); {
			if k, _, err := unix.Recvfrom(fd, buf, 0); err == nil && bytes.Contains(buf[:k], m) {
				return true
			}
		}
		return false
	}
	udp := func(srcMAC, dstMAC net.HardwareAddr, src, dst netip.Addr, port uint16, m []byte) []byte {
		f, err := ethframe.UDP(srcMAC, dstMAC, netip.AddrPortFrom(src, 40000), netip.AddrPortFrom(dst, port), m)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	// cPoisoned has c resolve b's address, a send f, and reports whether
	// c's entry for b then names a's MAC address.
	var cConn4, cConn6 *net.UDPConn
	for _, p := range []struct {
		conn **net.UDPConn
		ip   netip.Addr
	}{{&cConn4, c4}, {&cConn6, c6}} {
		if err := l.InHost(c.ID, func() (err error) {
			*p.conn, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.ip, 0)))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		defer (*p.conn).Close()
	}
	cPoisoned := func(ip netip.Addr, f []byte) bool {
		conn := cConn4
		if ip.Is6() {
			conn = cConn6
		}
		// Forget an earlier attack's entry first.
		if err := l.InHost(c.ID, func() error {
			ns, err := netlink.NeighList(0, netlink.FAMILY_ALL)
			for _, nb := range ns {
				if x, ok := netip.AddrFromSlice(nb.IP); ok && x.Unmap() == ip {
					_ = netlink.NeighDel(&nb)
				}
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		resolveNeighbour(t, l, c.ID, conn, ip, be.mac)
		time.Sleep(1100 * time.Millisecond) // the neighbour entry's locktime
		sendRaw(t, l, a.ID, ae, f)
		time.Sleep(testTimeout)
		return neighbour(t, l, c.ID, ip) == ae.mac.String()
	}
	na := func(dstMAC net.HardwareAddr, dst netip.Addr) []byte {
		body := slices.Concat([]byte{0x20, 0, 0, 0}, b6.AsSlice(), []byte{2, 1}, ae.mac)
		f, err := ethframe.ICMPv6(ae.mac, dstMAC, ae.ll, dst, 136, body)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	bcast := net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	allNodes := net.HardwareAddr{0x33, 0x33, 0, 0, 0, 1}
	tagged := func(f []byte) []byte {
		g, err := ethframe.Tag(f, 0)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	attempts := []attempt{
		{"a's marked frame claiming b's address to the host", func() bool {
			m := marker()
			sendRawMarked(t, l, a.ID, ae, udp(ae.mac, brMAC, b4, r4, 9, m), int(firewall.BoundMark))
			return got(router, m, testTimeout)
		}},
		{"a's marked frame claiming b's address to c:53", func() bool {
			m := marker()
			sendRawMarked(t, l, a.ID, ae, udp(ae.mac, ce.mac, b4, c4, 53, m), int(firewall.BoundMark))
			return seen(sniffC, m)
		}},
		{"a's priority-tagged frame claiming b's address to the host", func() bool {
			m := marker()
			sendRaw(t, l, a.ID, ae, tagged(udp(ae.mac, brMAC, b4, r4, 9, m)))
			return got(router, m, testTimeout)
		}},
		{"a's ARP reply to c claiming b's address", func() bool { return cPoisoned(b4, arpReply(ae.mac, ce.mac, b4, c4)) }},
		{"a's broadcast ARP reply claiming b's address", func() bool { return cPoisoned(b4, arpReply(ae.mac, bcast, b4, c4)) }},
		{"a's neighbour advertisement to c claiming b's address", func() bool { return cPoisoned(b6, na(ce.mac, c6)) }},
		{"a's neighbour advertisement to all nodes claiming b's address", func() bool {
			return cPoisoned(b6, na(allNodes, netip.MustParseAddr("ff02::1")))
		}},
	}
	closedOpen(t, l, closed, open, attempts)
}

// TestRoutedThroughHost checks that the closed bridge keeps the traffic
// the host routes between its containers: b sends c a datagram on 53/UDP
// (which c admits from b) through the host, as a container sends one to
// another network's (to the bridge's MAC address, the host's gateway
// address's), over IPv4 and IPv6. It enters the host marked, and the host
// sends it into the bridge again, through the bridge table's chain output
// (the destination is c's, through c's port). The control: with the
// host not forwarding, it never arrives, so it is the routed one that does.
func TestRoutedThroughHost(t *testing.T) {
	requireLab(t)
	t.Parallel()
	plan, _, b, c, compile := spoofWithout(t)
	l := startLab(t, plan.Hosts)
	be, ce := hostEth0(t, l, b.ID), hostEth0(t, l, c.ID)
	brMAC, _ := hostOnBridge(t, l)
	if err := l.Load(compile(nil, true)); err != nil {
		t.Fatal(err)
	}
	sniffC := capture(t, l, c.ID, ce)
	forwarding := func(on bool) {
		v := []byte("0\n")
		if on {
			v = []byte("1\n")
		}
		inRouter(t, l, func() error {
			for _, p := range []string{"/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/ipv6/conf/all/forwarding"} {
				if err := os.WriteFile(p, v, 0o644); err != nil { // #nosec G306 -- a sysctl of the lab's router namespace
					return err
				}
			}
			return nil
		})
	}
	n := 0
	for _, on := range []bool{true, false} {
		forwarding(on)
		for _, fam := range []int{4, 6} {
			n++
			m := fmt.Appendf(nil, "ward-routed-%d-%d", os.Getpid(), n)
			f, err := ethframe.UDP(be.mac, brMAC, netip.AddrPortFrom(hostAddr(t, b, fam), 40000), netip.AddrPortFrom(hostAddr(t, c, fam), 53), m)
			if err != nil {
				t.Fatal(err)
			}
			sendRaw(t, l, b.ID, be, f)
			arrived := false
			buf := make([]byte, 4096)
			for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline) && !arrived; {
				if k, _, err := unix.Recvfrom(sniffC, buf, 0); err == nil && bytes.Contains(buf[:k], m) {
					arrived = true
				}
			}
			if arrived != on {
				t.Errorf("IPv%d, the host forwarding %v: b's datagram to c:53 through the host arrived %v, want %v", fam, on, arrived, on)
			}
		}
	}
}
