package lab_test

import (
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
	"github.com/wardsec/ward/portset"
)

// uplink gives the lab's router (the host) a second link, wext0, as a
// host's uplink to its LAN: a veth whose peer, wext1, stays in the router
// namespace, so that a frame written on wext1 arrives on wext0 as one
// from the LAN. The host forwards (ip_forward, IPv6 forwarding) and has
// reverse path filtering in loose mode (systemd's default), and its
// addresses on the bridge give it routes to the containers; its loopback
// is up. It returns
// wext1's index and MAC address, wext0's MAC address, and the host's UDP
// socket on port 9 of every address (hostOnBridge).
func uplink(t *testing.T, l *lab.Lab) (index int, src, dst net.HardwareAddr, router *net.UDPConn) {
	t.Helper()
	_, router = hostOnBridge(t, l)
	inRouter(t, l, func() error {
		veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "wext0"}, PeerName: "wext1"}
		if err := netlink.LinkAdd(veth); err != nil {
			return err
		}
		for _, name := range []string{"lo", "wext0", "wext1"} {
			link, err := netlink.LinkByName(name)
			if err != nil {
				return err
			}
			if err := netlink.LinkSetUp(link); err != nil {
				return err
			}
			if name == "wext0" {
				dst = link.Attrs().HardwareAddr
				for _, p := range []string{"192.0.2.1/24", "2001:db8:7::1/64"} {
					addr, err := netlink.ParseAddr(p)
					if err != nil {
						return err
					}
					addr.Flags = unix.IFA_F_NODAD
					if err := netlink.AddrAdd(link, addr); err != nil {
						return err
					}
				}
			} else {
				index, src = link.Attrs().Index, link.Attrs().HardwareAddr
			}
		}
		for p, v := range map[string]string{
			"/proc/sys/net/ipv4/ip_forward":              "1",
			"/proc/sys/net/ipv6/conf/all/forwarding":     "1",
			"/proc/sys/net/ipv4/conf/all/rp_filter":      "2",
			"/proc/sys/net/ipv4/conf/wext0/rp_filter":    "2",
			"/proc/sys/net/ipv6/conf/wext0/disable_ipv6": "0",
		} {
			if err := os.WriteFile(p, []byte(v+"\n"), 0o644); err != nil { // #nosec G306 -- a sysctl of the lab's router namespace
				return err
			}
		}
		return nil
	})
	return index, src, dst, router
}

// TestExternalForgedSource attacks from outside the host: a LAN host
// (or a tunnel the host decapsulates, or a bridge Ward does not manage)
// sends the host a packet for a container whose source is another
// container's address. The bridge table binds a source to a bridge port
// only for frames entering a managed bridge; the inet table judges a
// routed packet by its addresses alone, so the packet is judged as that
// container's. In the spoof scenario c admits b on 53/UDP: a datagram
// from the LAN claiming b's address (IPv4 and IPv6) must not reach c,
// while the same datagram from a LAN address of its own is refused by c's
// ingress anyway (the engine's verdict). b's own datagram still reaches
// c, and the host's datagram from its address on the bridge to itself
// (through lo) still arrives. Without the prerouting chain's rules for
// sources outside the managed bridges (negative control) the forged
// datagrams reach c: with Linux's default reverse path filtering (off),
// and in loose mode (systemd's default, set here), which only asks that
// some route lead back to the source; strict mode stops the IPv4 one
// only, IPv6 has no such filter, and Docker 20.10 without "ip6tables"
// filters no forwarded IPv6 packet at all.
func TestExternalForgedSource(t *testing.T) {
	requireLab(t)
	t.Parallel()
	plan := planFor(t, "testdata/spoof/spoof.yaml")
	hosts := map[string]*lab.Host{}
	for _, h := range plan.Hosts {
		hosts[h.ID] = h
	}
	b, c := hosts["spoof/b"], hosts["spoof/c"]
	l := startLab(t, plan.Hosts)
	be, ce := hostEth0(t, l, b.ID), hostEth0(t, l, c.ID)
	index, src, dst, router := uplink(t, l)
	o := firewall.NewOracle(plan.Engine, plan.Inventory, firewall.Options{})
	sniff := capture(t, l, c.ID, ce)
	n := 0
	fromLAN := func(from, to netip.AddrPort) bool {
		t.Helper()
		n++
		marker := fmt.Appendf(nil, "ward-extsrc-%d-%d", os.Getpid(), n)
		f, err := ethframe.UDP(src, dst, from, to, marker)
		if err != nil {
			t.Fatal(err)
		}
		inRouter(t, l, func() error {
			fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				return err
			}
			defer unix.Close(fd)
			sa := &unix.SockaddrLinklayer{Ifindex: index, Protocol: ethframe.Htons(ethframe.EtherType(from.Addr())), Halen: 6}
			copy(sa.Addr[:], dst)
			for range 3 {
				if err := unix.Sendto(fd, f, 0, sa); err != nil {
					return err
				}
			}
			return nil
		})
		return seen(sniff, marker, testTimeout)
	}
	if err := l.Load(plan.Ruleset); err != nil {
		t.Fatal(err)
	}
	forged := func(fam int) (asB, toC netip.AddrPort) {
		return netip.AddrPortFrom(hostAddr(t, b, fam), 40000), netip.AddrPortFrom(hostAddr(t, c, fam), 53)
	}
	for _, fam := range []int{4, 6} {
		asB, toC := forged(fam)
		lan := netip.AddrPortFrom(netip.MustParseAddr("192.0.2.7"), 40000)
		if fam == 6 {
			lan = netip.AddrPortFrom(netip.MustParseAddr("2001:db8:7::7"), 40000)
		}
		if !o.Allows(firewall.Forward, asB.Addr(), toC.Addr(), portset.UDP, toC.Port()) || o.Allows(firewall.Forward, lan.Addr(), toC.Addr(), portset.UDP, toC.Port()) {
			t.Fatalf("IPv%d: the engine must allow b and deny %s to c:53/UDP", fam, lan.Addr())
		}
		if fromLAN(lan, toC) {
			t.Errorf("IPv%d: a LAN datagram from %s reached c:53, which c's ingress denies it", fam, lan.Addr())
		}
		if fromLAN(asB, toC) {
			t.Errorf("IPv%d: a LAN datagram claiming b's address %s reached c:53", fam, asB.Addr())
		}
		// b's own datagram, bridged to c.
		n++
		marker := fmt.Appendf(nil, "ward-extsrc-%d-%d", os.Getpid(), n)
		f, err := ethframe.UDP(be.mac, ce.mac, asB, toC, marker)
		if err != nil {
			t.Fatal(err)
		}
		sendRaw(t, l, b.ID, be, f)
		if !seen(sniff, marker, 2*time.Second) {
			t.Errorf("IPv%d: b's own datagram to c:53 did not arrive", fam)
		}
		// The host to itself, from its address on the bridge (a managed
		// subnet's), through lo.
		self := netip.MustParseAddr("10.9.0.254")
		if fam == 6 {
			self = netip.MustParseAddr("fd00:9::fe")
		}
		// (udpAnswered: the socket receives its own datagram.)
		if !udpAnswered(t, router, net.UDPAddrFromAddrPort(netip.AddrPortFrom(self, 9))) {
			t.Errorf("IPv%d: the host's datagram from %s to itself did not arrive", fam, self)
		}
	}

	open := withChain(t, plan.Ruleset, firewall.ChainPrerouting, func(rules []firewall.Rule) []firewall.Rule {
		return slices.DeleteFunc(rules, func(r firewall.Rule) bool { return r.IifNotBridges })
	})
	if err := l.Load(open); err != nil {
		t.Fatal(err)
	}
	for _, fam := range []int{4, 6} {
		asB, toC := forged(fam)
		if !fromLAN(asB, toC) {
			t.Errorf("IPv%d: without the rules for sources outside the managed bridges, a LAN datagram claiming b's address did not reach c: the test cannot see the attack", fam)
		}
	}
}

// TestExternalNDTypes attacks an ingress-isolated container from
// outside the host with ICMPv6 messages of the neighbour, router and
// multicast listener discovery types, which Ward's forward chain accepted
// between any two addresses: a LAN host's neighbour solicitation, router
// advertisement or MLD report, routed to c's address (c's ingress admits
// nothing from the LAN), reached c, where a raw ICMPv6 socket read its
// payload. Discovery is link-local: its messages carry hop limit 255
// (neighbour and router discovery) or 1 (MLD), which no forwarded packet
// keeps, and the forward chain now accepts them only so. Negative
// control: the same rules without the hop limits (as before) let each
// through; an echo request is dropped by c's ingress either way.
func TestExternalNDTypes(t *testing.T) {
	requireLab(t)
	t.Parallel()
	plan := planFor(t, "testdata/spoof/spoof.yaml")
	l := startLab(t, plan.Hosts)
	index, src, dst, _ := uplink(t, l)
	fd := icmpv6Socket(t, l, "spoof/c")
	lan, c := netip.MustParseAddr("2001:db8:7::7"), netip.MustParseAddr("fd00:9::3")
	n := 0
	send := func(typ byte, timeout time.Duration) bool {
		t.Helper()
		n++
		marker := fmt.Appendf(nil, "ward-extnd-%d-%d", os.Getpid(), n)
		body := slices.Concat(make([]byte, 4), c.AsSlice(), marker) // reserved, target, then the payload
		f, err := ethframe.ICMPv6(src, dst, lan, c, typ, body)
		if err != nil {
			t.Fatal(err)
		}
		inRouter(t, l, func() error {
			s, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				return err
			}
			defer unix.Close(s)
			sa := &unix.SockaddrLinklayer{Ifindex: index, Protocol: ethframe.Htons(unix.ETH_P_IPV6), Halen: 6}
			copy(sa.Addr[:], dst)
			for range 3 {
				if err := unix.Sendto(s, f, 0, sa); err != nil {
					return err
				}
			}
			return nil
		})
		return received(fd, marker, timeout)
	}
	discovery := []byte{135, 136, 133, 134, 130, 131, 132, 143}
	const echo = 128

	// Negative control first (it also has the host resolve c's address).
	open := plan.Ruleset
	for _, name := range []string{firewall.ChainForward} {
		open = withChain(t, open, name, func(rules []firewall.Rule) []firewall.Rule {
			for i := range rules {
				rules[i].HopLimit = 0
			}
			return rules
		})
	}
	if err := l.Load(open); err != nil {
		t.Fatal(err)
	}
	// The host's first packets for c wait for it to resolve c's address
	// and may be lost: send until one arrives.
	for deadline := time.Now().Add(10 * time.Second); !send(discovery[0], 500*time.Millisecond); {
		if time.Now().After(deadline) {
			t.Fatal("without the hop limits, no neighbour solicitation from the LAN reached c: the test cannot see the attack")
		}
	}
	for _, typ := range discovery {
		if !send(typ, 2*time.Second) {
			t.Errorf("without the hop limits, the LAN's ICMPv6 type %d to c did not arrive: the test cannot see the attack", typ)
		}
	}
	if send(echo, testTimeout) {
		t.Errorf("without the hop limits, the LAN's echo request reached c")
	}

	if err := l.Load(plan.Ruleset); err != nil {
		t.Fatal(err)
	}
	for _, typ := range append(discovery, echo) {
		if send(typ, testTimeout) {
			t.Errorf("the LAN's ICMPv6 type %d to c (hop limit 255, 254 once forwarded) reached c past its ingress", typ)
		}
	}
}

// TestExternalICMPError replays TestForgedICMPError's attack from
// outside the host: b holds a connected UDP socket to c:53 (c admits b
// there), and a LAN host sends b a port unreachable, from its own
// address, quoting b's datagram to c. Conntrack marks it related to b's
// connection, and the icmp_err chains judge containers' errors only
// (routers are not judged), so b's socket failed with ECONNREFUSED. No
// router lies between two containers, or between the host and one, but
// the host, whose own errors cross neither forward nor input: an error
// from outside the managed networks quoting a packet to a container is
// dropped now, while c's own error about the same datagram still
// reaches b. Negative control: without those rules, the LAN's error
// refuses b's socket. IPv6: TestExternalICMPv6Error.
func TestExternalICMPError(t *testing.T) {
	requireLab(t)
	t.Parallel()
	plan := planFor(t, "testdata/spoof/spoof.yaml")
	hosts := map[string]*lab.Host{}
	for _, h := range plan.Hosts {
		hosts[h.ID] = h
	}
	b, c := hosts["spoof/b"], hosts["spoof/c"]
	l := startLab(t, plan.Hosts)
	index, src, dst, _ := uplink(t, l)
	bA, cA := hostAddr(t, b, 4), hostAddr(t, c, 4)
	fromLAN := func(msg []byte) {
		ip := make([]byte, 20)
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[2:4], uint16(20+len(msg))) // #nosec G115 -- a test packet
		ip[8], ip[9] = 64, unix.IPPROTO_ICMP
		copy(ip[12:16], netip.MustParseAddr("192.0.2.7").AsSlice())
		copy(ip[16:20], bA.AsSlice())
		binary.BigEndian.PutUint16(ip[10:12], ethframe.Checksum(ip))
		f := slices.Concat(dst, src, []byte{0x08, 0x00}, ip, msg)
		inRouter(t, l, func() error {
			s, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				return err
			}
			defer unix.Close(s)
			sa := &unix.SockaddrLinklayer{Ifindex: index, Protocol: ethframe.Htons(unix.ETH_P_IP), Halen: 6}
			copy(sa.Addr[:], dst)
			for range 3 {
				if err := unix.Sendto(s, f, 0, sa); err != nil {
					return err
				}
			}
			return nil
		})
	}
	fromC := func(msg []byte) {
		if err := l.InHost(c.ID, func() error {
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_ICMP)
			if err != nil {
				return err
			}
			defer unix.Close(fd)
			return unix.Sendto(fd, msg, 0, &unix.SockaddrInet4{Addr: bA.As4()})
		}); err != nil {
			t.Fatal(err)
		}
	}

	if err := l.Load(plan.Ruleset); err != nil {
		t.Fatal(err)
	}
	if refusedAfter(t, l, b.ID, bA, cA, fromLAN) {
		t.Error("a LAN host's port unreachable about b's connection to c:53 refused b's socket")
	}
	if !refusedAfter(t, l, b.ID, bA, cA, fromC) {
		t.Error("c's own port unreachable about b's datagram did not refuse b's socket")
	}

	open := plan.Ruleset
	for _, name := range []string{firewall.ChainForward, firewall.ChainInput} {
		open = withChain(t, open, name, func(rules []firewall.Rule) []firewall.Rule {
			return slices.DeleteFunc(rules, func(r firewall.Rule) bool { return r.QuotedIn.IsValid() })
		})
	}
	if err := l.Load(open); err != nil {
		t.Fatal(err)
	}
	if !refusedAfter(t, l, b.ID, bA, cA, fromLAN) {
		t.Error("without the rules for errors from outside, the LAN's port unreachable did not refuse b's socket: the test cannot see the attack")
	}
}

// TestExternalForgedHostSource attacks chain prerouting's exemption for
// the host's own addresses: a LAN host sends, through the host's uplink,
// a datagram from the host's IPv6 address on the bridge (fd00:9::fe, in
// the managed subnet) to c, which admits the host on 55/UDP. IPv4 drops
// a packet from a local address entering through any interface but lo
// (a martian source), IPv6 has no such check: the exemption (fib saddr
// type local) let the forgery pass as the host's own packet, and with
// unclassified addresses allowed the forward chain judged it by c's
// ingress, which admits the host. A packet from the host's own address
// comes back to the host through lo only. The host's datagram to itself
// from that address (through lo) still arrives, as does one from an
// address the host gains after the ruleset is loaded, and the same forgery
// without the exemption's restriction to lo (negative control) reaches c.
func TestExternalForgedHostSource(t *testing.T) {
	requireLab(t)
	t.Parallel()
	plan := planFor(t, "testdata/spoof/spoof.yaml", "testdata/spoofhost/admit-host.yaml")
	rs, err := firewall.Compile(plan.Engine, plan.Inventory, firewall.Options{AllowUnclassified: true})
	if err != nil {
		t.Fatal(err)
	}
	hosts := map[string]*lab.Host{}
	for _, h := range plan.Hosts {
		hosts[h.ID] = h
	}
	c := hosts["spoof/c"]
	l := startLab(t, plan.Hosts)
	ce := hostEth0(t, l, c.ID)
	index, src, dst, router := uplink(t, l)
	sniff := capture(t, l, c.ID, ce)
	self := netip.MustParseAddr("fd00:9::fe")
	toC := netip.AddrPortFrom(hostAddr(t, c, 6), 55)
	o := firewall.NewOracle(plan.Engine, plan.Inventory, firewall.Options{AllowUnclassified: true})
	if !o.Allows(firewall.Forward, self, toC.Addr(), portset.UDP, toC.Port()) {
		t.Fatalf("the engine must admit %s to c:55/UDP", self)
	}
	n := 0
	fromLAN := func() bool {
		t.Helper()
		n++
		marker := fmt.Appendf(nil, "ward-extsrc-host-%d-%d", os.Getpid(), n)
		f, err := ethframe.UDP(src, dst, netip.AddrPortFrom(self, 40000), toC, marker)
		if err != nil {
			t.Fatal(err)
		}
		inRouter(t, l, func() error {
			fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				return err
			}
			defer unix.Close(fd)
			sa := &unix.SockaddrLinklayer{Ifindex: index, Protocol: ethframe.Htons(ethframe.EtherType(self)), Halen: 6}
			copy(sa.Addr[:], dst)
			for range 3 {
				if err := unix.Sendto(fd, f, 0, sa); err != nil {
					return err
				}
			}
			return nil
		})
		return seen(sniff, marker, testTimeout)
	}
	if err := l.Load(rs); err != nil {
		t.Fatal(err)
	}
	if fromLAN() {
		t.Errorf("a LAN datagram claiming the host's address %s reached c:55", self)
	}
	if !udpAnswered(t, router, net.UDPAddrFromAddrPort(netip.AddrPortFrom(self, 9))) {
		t.Errorf("the host's datagram from %s to itself did not arrive", self)
	}
	// An address the host gains after the ruleset is loaded (a DHCP
	// renumbering, a second gateway address) is its own at once: the
	// kernel's tables are looked up when each packet passes.
	for _, p := range []string{"10.9.0.200/32", "fd00:9::c8/128"} {
		inRouter(t, l, func() error {
			br, err := netlink.LinkByName(lab.BridgeName)
			if err != nil {
				return err
			}
			addr, err := netlink.ParseAddr(p)
			if err != nil {
				return err
			}
			addr.Flags = unix.IFA_F_NODAD
			if err := netlink.AddrAdd(br, addr); err != nil {
				return err
			}
			return lab.UntilLocal(&netlink.Handle{}, netip.MustParsePrefix(p).Addr())
		})
		later := netip.MustParsePrefix(p).Addr()
		if !udpAnswered(t, router, net.UDPAddrFromAddrPort(netip.AddrPortFrom(later, 9))) {
			t.Errorf("the host's datagram from %s, added after the ruleset, to itself did not arrive", later)
		}
	}

	open := withChain(t, rs, firewall.ChainPrerouting, func(rules []firewall.Rule) []firewall.Rule {
		return slices.DeleteFunc(rules, func(r firewall.Rule) bool { return r.IifNotBridges && !r.SrcNotLocal })
	})
	if err := l.Load(open); err != nil {
		t.Fatal(err)
	}
	if !fromLAN() {
		t.Errorf("with the host's addresses exempt whatever the interface, a LAN datagram claiming %s did not reach c: the test cannot see the attack", self)
	}
}

// TestExternalICMPv6Error is TestExternalICMPError over IPv6: a LAN
// host's ICMPv6 port unreachable (destination unreachable, code 4) about
// b's connection to c, routed to b, must not refuse b's socket (the
// forward chain's rule comparing the quoted destination, at bytes 32..47
// of the message, with the managed /64); the negative control without
// the rules for errors from outside lets it refuse the socket.
func TestExternalICMPv6Error(t *testing.T) {
	requireLab(t)
	t.Parallel()
	plan := planFor(t, "testdata/spoof/spoof.yaml")
	hosts := map[string]*lab.Host{}
	for _, h := range plan.Hosts {
		hosts[h.ID] = h
	}
	b, c := hosts["spoof/b"], hosts["spoof/c"]
	l := startLab(t, plan.Hosts)
	index, src, dst, _ := uplink(t, l)
	bA, cA := hostAddr(t, b, 6), hostAddr(t, c, 6)
	lan := netip.MustParseAddr("2001:db8:7::7")
	fromLAN := func(msg []byte) {
		f, err := ethframe.ICMPv6(src, dst, lan, bA, msg[0], msg[4:])
		if err != nil {
			t.Fatal(err)
		}
		m := f[14+40:] // set the code (ICMPv6 builds code 0) and checksum again
		m[1] = msg[1]
		m[2], m[3] = 0, 0
		s, d := lan.As16(), bA.As16()
		pseudo := append(binary.BigEndian.AppendUint32(slices.Concat(s[:], d[:]), uint32(len(m))), 0, 0, 0, unix.IPPROTO_ICMPV6)
		binary.BigEndian.PutUint16(m[2:4], ethframe.Checksum(slices.Concat(pseudo, m)))
		inRouter(t, l, func() error {
			fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				return err
			}
			defer unix.Close(fd)
			sa := &unix.SockaddrLinklayer{Ifindex: index, Protocol: ethframe.Htons(unix.ETH_P_IPV6), Halen: 6}
			copy(sa.Addr[:], dst)
			for range 3 {
				if err := unix.Sendto(fd, f, 0, sa); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := l.Load(plan.Ruleset); err != nil {
		t.Fatal(err)
	}
	if refusedAfter(t, l, b.ID, bA, cA, fromLAN) {
		t.Error("a LAN host's ICMPv6 port unreachable about b's connection to c:53 refused b's socket")
	}
	open := plan.Ruleset
	for _, name := range []string{firewall.ChainForward, firewall.ChainInput} {
		open = withChain(t, open, name, func(rules []firewall.Rule) []firewall.Rule {
			return slices.DeleteFunc(rules, func(r firewall.Rule) bool { return r.QuotedIn.IsValid() })
		})
	}
	if err := l.Load(open); err != nil {
		t.Fatal(err)
	}
	if !refusedAfter(t, l, b.ID, bA, cA, fromLAN) {
		t.Error("without the rules for errors from outside, the LAN's ICMPv6 port unreachable did not refuse b's socket: the test cannot see the attack")
	}
}
