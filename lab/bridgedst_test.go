package lab_test

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/internal/ethframe"
	"github.com/wardsec/ward/lab"
)

// udpAny opens a UDP socket of host id bound to 0.0.0.0:port, which also
// takes datagrams to the host's broadcast addresses.
func udpAny(t *testing.T, l *lab.Lab, id string, port uint16) *net.UDPConn {
	t.Helper()
	var conn *net.UDPConn
	if err := l.InHost(id, func() (err error) {
		conn, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4zero, Port: int(port)})
		return err
	}); err != nil {
		t.Fatalf("%s: %v", id, err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// got reports whether a datagram holding marker reaches conn before the
// timeout.
func got(conn *net.UDPConn, marker []byte, timeout time.Duration) bool {
	buf := make([]byte, 2048)
	deadline := time.Now().Add(timeout)
	for {
		_ = conn.SetReadDeadline(deadline)
		n, _, err := conn.ReadFromUDP(buf)
		if err != nil {
			return false
		}
		if bytes.Contains(buf[:n], marker) {
			return true
		}
	}
}

// TestSubnetBroadcast attacks the spoof scenario (c admits a on 54/UDP
// only) with a datagram from a to the subnet's broadcast address, on a
// port c does not admit a on: c's address has a /24 prefix, as a Docker
// container's has, so c's stack takes datagrams to 10.9.0.255 on a socket
// bound to 0.0.0.0. No container owns 10.9.0.255, so no ingress policy
// is looked up for it: Ward's ruleset must stop it otherwise (the inet
// table's unclassified addresses, the bridge table's destination check),
// in a broadcast frame and in a frame to c's MAC address alone. Without
// Ward's ruleset (negative control) the datagram arrives.
func TestSubnetBroadcast(t *testing.T) {
	requireLab(t)
	t.Parallel()
	plan := planFor(t, "testdata/spoof/spoof.yaml")
	l := startLab(t, plan.Hosts)
	a, c := hostEth0(t, l, "spoof/a"), hostEth0(t, l, "spoof/c")
	if err := l.InHost("spoof/c", func() error {
		eth := &netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: c.index}}
		return netlink.AddrReplace(eth, &netlink.Addr{
			IPNet:     &net.IPNet{IP: net.IPv4(10, 9, 0, 3).To4(), Mask: net.CIDRMask(24, 32)},
			Broadcast: net.IPv4(10, 9, 0, 255).To4(), Flags: unix.IFA_F_NODAD,
		})
	}); err != nil {
		t.Fatal(err)
	}
	const port = 7000 // no grant of c admits a on it
	conn := udpAny(t, l, "spoof/c", port)
	bcastMAC := net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	n := 0
	attack := func(dst netip.Addr, dstMAC net.HardwareAddr) bool {
		t.Helper()
		n++
		marker := fmt.Appendf(nil, "ward-bcast-%d-%d", os.Getpid(), n)
		f, err := ethframe.UDP(a.mac, dstMAC, netip.MustParseAddrPort("10.9.0.1:40000"), netip.AddrPortFrom(dst, port), marker)
		if err != nil {
			t.Fatal(err)
		}
		sendRaw(t, l, "spoof/a", a, f)
		return got(conn, marker, testTimeout)
	}
	subnet := netip.MustParseAddr("10.9.0.255")

	if err := l.Load(plan.Ruleset); err != nil {
		t.Fatal(err)
	}
	if attack(subnet, bcastMAC) {
		t.Errorf("a's datagram to the subnet broadcast %s:%d reached c", subnet, port)
	}
	if attack(subnet, c.mac) {
		t.Errorf("a's datagram to the subnet broadcast %s:%d, in a frame to c's MAC address, reached c", subnet, port)
	}

	// Without Ward's tables (negative control), it arrives.
	if err := l.Load(&firewall.Ruleset{}); err != nil {
		t.Fatal(err)
	}
	if !attack(subnet, bcastMAC) {
		t.Errorf("without Ward's ruleset, a's datagram to %s:%d did not reach c: the test cannot see the attack", subnet, port)
	}
}

// capture opens a packet socket on host id's eth0 that sees every frame
// the interface receives, addressed to it or not.
func capture(t *testing.T, l *lab.Lab, id string, e eth0Of) int {
	t.Helper()
	fd := -1
	if err := l.InHost(id, func() (err error) {
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(ethframe.Htons(unix.ETH_P_ALL)))
		if err != nil {
			return err
		}
		return unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: ethframe.Htons(unix.ETH_P_ALL), Ifindex: e.index})
	}); err != nil {
		t.Fatalf("%s: %v", id, err)
	}
	tv := unix.NsecToTimeval(int64(50 * time.Millisecond))
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Close(fd) })
	return fd
}

// TestForwardingTableSpoof attacks the bridge's forwarding database in
// the spoof scenario: once c has resolved b's address, a sends frames
// with b's MAC address as their Ethernet source and a's own IP address as
// their IP source (which the binding of a's port admits), so the bridge
// learns b's MAC address on a's port, and c then sends b datagrams: the
// bridge forwards them to a, which reads them off its interface
// (interception of c's traffic for b, past every policy). With the plan's
// ruleset no frame for b leaves on a's port: a never sees c's datagrams.
// Without the bridge table (negative control) it does.
func TestForwardingTableSpoof(t *testing.T) {
	requireLab(t)
	t.Parallel()
	plan := planFor(t, "testdata/spoof/spoof.yaml")
	l := startLab(t, plan.Hosts)
	a, b, c := hostEth0(t, l, "spoof/a"), hostEth0(t, l, "spoof/b"), hostEth0(t, l, "spoof/c")
	sniff := capture(t, l, "spoof/a", a)
	n := 0
	// One family at a time: the destination check binds IPv4 and IPv6
	// destinations alike.
	for _, fam := range []struct{ net, c, b string }{{"udp4", "10.9.0.3", "10.9.0.2"}, {"udp6", "fd00:9::3", "fd00:9::2"}} {
		var conn *net.UDPConn
		if err := l.InHost("spoof/c", func() (err error) {
			conn, err = net.ListenUDP(fam.net, net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(fam.c), 0)))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		bIP := netip.MustParseAddr(fam.b)
		bAddr := net.UDPAddrFromAddrPort(netip.AddrPortFrom(bIP, 9))
		// intercept poisons the forwarding database, has c send b a
		// datagram and reports whether a's interface saw it.
		poison, err := ethframe.UDP(b.mac, c.mac, netip.MustParseAddrPort("10.9.0.1:40000"), netip.MustParseAddrPort("10.9.0.3:54"), []byte("poison"))
		if err != nil {
			t.Fatal(err)
		}
		intercept := func() bool { return interceptFDB(t, l, "spoof/a", a, sniff, poison, conn, bAddr, &n) }
		resolve := func() { resolveNeighbour(t, l, "spoof/c", conn, bIP, b.mac) }

		// Without MAC addresses, which would drop a's frame as it enters
		// (TestMACSpoof): the destination check alone.
		if err := l.Load(withoutMACs(plan.Ruleset)); err != nil {
			t.Fatal(err)
		}
		resolve()
		if intercept() {
			t.Errorf("%s: with the bridge table, a read c's datagram for b off its interface after claiming b's MAC address", fam.net)
		}

		noBridge := *withoutBridgeTable(plan.Ruleset)
		if err := l.Load(&noBridge); err != nil {
			t.Fatal(err)
		}
		resolve()
		if !intercept() {
			t.Errorf("%s: without the bridge table, a never saw c's datagram for b: the test cannot see the hole", fam.net)
		}
	}
}

// interceptFDB has attacker (whose eth0 is ae, watched by sniff) send
// poison, a frame with the victim's MAC address as its Ethernet source, so
// that the bridge learns that address on the attacker's port, then has
// conn send the victim (to) a datagram, and reports whether the
// attacker's interface saw it, in 5 tries.
func interceptFDB(t *testing.T, l *lab.Lab, attacker string, ae eth0Of, sniff int, poison []byte, conn *net.UDPConn, to *net.UDPAddr, n *int) bool {
	t.Helper()
	for range 5 {
		*n++
		sendRaw(t, l, attacker, ae, poison)
		marker := fmt.Appendf(nil, "ward-fdb-%d-%d", os.Getpid(), *n)
		if _, err := conn.WriteToUDP(marker, to); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 2048)
		for deadline := time.Now().Add(testTimeout); time.Now().Before(deadline); {
			if k, _, err := unix.Recvfrom(sniff, buf, 0); err == nil && bytes.Contains(buf[:k], marker) {
				return true
			}
		}
	}
	return false
}

// resolveNeighbour has host id (through conn, one of its sockets) resolve
// ip to mac, the victim's, so that the bridge knows the victim's port.
func resolveNeighbour(t *testing.T, l *lab.Lab, id string, conn *net.UDPConn, ip netip.Addr, mac net.HardwareAddr) {
	t.Helper()
	to := net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 9))
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, err := conn.WriteToUDP([]byte("resolve"), to); err != nil {
			t.Fatal(err)
		}
		if neighbour(t, l, id, ip) == mac.String() {
			return
		}
	}
	t.Fatalf("%s did not resolve %s to %s", id, ip, mac)
}
