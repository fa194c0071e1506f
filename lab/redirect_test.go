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
)

// icmp4Frame is an Ethernet frame carrying the ICMP message msg (its
// checksum set here) in an IPv4 packet from src to dst, as a raw socket
// with IP_HDRINCL or a packet socket can send it whatever its own address.
func icmp4Frame(srcMAC, dstMAC net.HardwareAddr, src, dst netip.Addr, msg []byte) []byte {
	msg = slices.Clone(msg)
	msg[2], msg[3] = 0, 0
	binary.BigEndian.PutUint16(msg[2:4], ethframe.Checksum(msg))
	ip := []byte{0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, unix.IPPROTO_ICMP, 0, 0}
	binary.BigEndian.PutUint16(ip[2:4], uint16(20+len(msg))) // #nosec G115 -- under 1500
	s, d := src.As4(), dst.As4()
	ip = slices.Concat(ip, s[:], d[:])
	binary.BigEndian.PutUint16(ip[10:12], ethframe.Checksum(ip))
	return slices.Concat(dstMAC, srcMAC, []byte{0x08, 0x00}, ip, msg)
}

// TestForgedRedirect replays a man-in-the-middle attack by ICMP redirect
// on the ruleset `ward fw --no-bind` compiles (nothing binds a port's
// sources): c reaches 198.51.100.7 (an address of the host, the lab's
// router) through its gateway 10.9.0.254 with a connected UDP socket, and
// a, forging the gateway's address, sends c a host redirect quoting that
// datagram and naming itself (10.9.0.1) the better next hop. Conntrack
// marks it related to c's connection, and the forward chain's
// established,related accept passed it to c, though c's ingress admits
// nothing of a's but 54/UDP: c's kernel (accept_redirects) then sent its
// traffic for 198.51.100.7 to a. Ward's forward chain drops ICMP redirects
// to managed addresses before that accept; without Ward's ruleset
// (negative control) the redirect takes.
func TestForgedRedirect(t *testing.T) {
	requireLab(t)
	t.Parallel()
	plan := planFor(t, "testdata/spoof/spoof.yaml")
	rs, err := firewall.Compile(plan.Engine, plan.Inventory, firewall.Options{NoBind: true})
	if err != nil {
		t.Fatal(err)
	}
	if !rs.Unbound {
		t.Fatal("NoBind: the ruleset binds ports; the test needs them unbound")
	}
	hosts := map[string]*lab.Host{}
	for _, h := range plan.Hosts {
		hosts[h.ID] = h
	}
	a, c := hosts["spoof/a"], hosts["spoof/c"]
	if a == nil || c == nil {
		t.Fatalf("hosts %v: want spoof/a and spoof/c", plan.Hosts)
	}
	l := startLab(t, plan.Hosts)
	ae, ce := hostEth0(t, l, a.ID), hostEth0(t, l, c.ID)
	_, router := hostOnBridge(t, l)
	gw, dst := netip.MustParseAddr("10.9.0.254"), netip.MustParseAddr("198.51.100.7")
	a4, c4 := hostAddr(t, a, 4), hostAddr(t, c, 4)
	// The destination: an address of the host's, on its lo.
	inRouter(t, l, func() error {
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		return netlink.AddrAdd(lo, &netlink.Addr{IPNet: &net.IPNet{IP: dst.AsSlice(), Mask: net.CIDRMask(32, 32)}})
	})
	// c: a host that accepts redirects (not forwarding), its route to
	// dst through the gateway, a's MAC address known (a redirect to a
	// next hop without a valid neighbour entry is not applied at once).
	if err := l.InHost(c.ID, func() error {
		for _, s := range []struct{ path, val string }{
			{"/proc/sys/net/ipv4/conf/all/forwarding", "0"},
			{"/proc/sys/net/ipv4/conf/all/accept_redirects", "1"},
			{"/proc/sys/net/ipv4/conf/eth0/accept_redirects", "1"},
			{"/proc/sys/net/ipv4/conf/all/shared_media", "1"},
			{"/proc/sys/net/ipv4/conf/eth0/shared_media", "1"},
		} {
			if err := os.WriteFile(s.path, []byte(s.val), 0o600); err != nil {
				return err
			}
		}
		eth, err := netlink.LinkByName("eth0")
		if err != nil {
			return err
		}
		if err := netlink.RouteAdd(&netlink.Route{LinkIndex: eth.Attrs().Index, Dst: &net.IPNet{IP: dst.AsSlice(), Mask: net.CIDRMask(32, 32)},
			Gw: gw.AsSlice(), Flags: int(netlink.FLAG_ONLINK)}); err != nil {
			return fmt.Errorf("route to %s via %s: %w", dst, gw, err)
		}
		return netlink.NeighSet(&netlink.Neigh{LinkIndex: eth.Attrs().Index, Family: unix.AF_INET, State: netlink.NUD_PERMANENT,
			IP: a4.AsSlice(), HardwareAddr: ae.mac})
	}); err != nil {
		t.Fatal(err)
	}
	// nextHop is c's next hop for dst.
	nextHop := func() netip.Addr {
		t.Helper()
		var hop netip.Addr
		if err := l.InHost(c.ID, func() error {
			routes, err := netlink.RouteGet(dst.AsSlice())
			if err != nil || len(routes) == 0 {
				return fmt.Errorf("route to %s: %v (%d routes)", dst, err, len(routes))
			}
			hop, _ = netip.AddrFromSlice(routes[0].Gw)
			hop = hop.Unmap()
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return hop
	}
	n := 0
	// redirected opens c's connected socket to dst:9 (its datagram
	// reaches the host: conntrack knows the connection), has a send c the
	// forged redirect quoting it, and reports whether c's next hop for
	// dst became a.
	redirected := func() bool {
		t.Helper()
		var conn *net.UDPConn
		if err := l.InHost(c.ID, func() (err error) {
			conn, err = net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst, 9)))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		n++
		marker := fmt.Appendf(nil, "ward-redirect-%d-%d", os.Getpid(), n)
		if _, err := conn.Write(marker); err != nil {
			t.Fatal(err)
		}
		if !got(router, marker, testTimeout) {
			t.Fatalf("c's datagram to %s:9 did not reach the host", dst)
		}
		if hop := nextHop(); hop != gw {
			t.Fatalf("c's next hop for %s is %s before the redirect, want %s", dst, hop, gw)
		}
		lport := conn.LocalAddr().(*net.UDPAddr).AddrPort().Port()
		f, err := ethframe.UDP(ce.mac, ae.mac, netip.AddrPortFrom(c4, lport), netip.AddrPortFrom(dst, 9), marker)
		if err != nil {
			t.Fatal(err)
		}
		quoted := f[14 : 14+20+8]
		redirect := slices.Concat([]byte{5, 1, 0, 0}, a4.AsSlice(), quoted) // redirect for the host, via a
		sendRaw(t, l, a.ID, ae, icmp4Frame(ae.mac, ce.mac, gw, c4, redirect))
		for deadline := time.Now().Add(testTimeout); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if nextHop() == a4 {
				return true
			}
		}
		return false
	}
	if err := l.Load(rs); err != nil {
		t.Fatal(err)
	}
	if redirected() {
		t.Errorf("--no-bind: a's redirect, forged from the gateway's address, made a c's next hop for %s", dst)
	}
	// Negative control: without Ward's ruleset the redirect takes.
	if err := l.Load(&firewall.Ruleset{}); err != nil {
		t.Fatal(err)
	}
	if !redirected() {
		t.Errorf("without Ward's ruleset, a's redirect did not change c's next hop for %s: the test cannot see the attack", dst)
	}
}

// TestForgedRedirectV6 is TestForgedRedirect over IPv6: a, forging the
// router's link-local address, sends c a redirect (ICMPv6 type 137, hop
// limit 255) naming its own link-local address the better first hop
// for 2001:db8:77::7, which c reaches through the router. With the
// rulesets of --no-bind and of an inventory without ports (no bridge
// table) it does not change c's route; without Ward's ruleset (negative
// control) it does. Conntrack tracks no redirect (an informational type:
// ct state invalid), so the ruleset before the explicit drop stopped it
// as well: this guards the drop, it does not fail on the older ruleset.
func TestForgedRedirectV6(t *testing.T) {
	requireLab(t)
	t.Parallel()
	plan := planFor(t, "testdata/spoof/spoof.yaml")
	unbound, err := firewall.Compile(plan.Engine, plan.Inventory, firewall.Options{NoBind: true})
	if err != nil {
		t.Fatal(err)
	}
	inv := *plan.Inventory
	inv.Containers = nil
	for _, c := range plan.Inventory.Containers {
		cc := *c
		cc.Interfaces, cc.MACs = nil, nil
		inv.Containers = append(inv.Containers, &cc)
	}
	inv.UnknownPorts = nil
	portless, err := firewall.Compile(plan.Engine, &inv, firewall.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !unbound.Unbound || len(portless.Bindings) != 0 {
		t.Fatalf("rulesets: Unbound %v, %d bindings without ports; want the ports unbound, then none", unbound.Unbound, len(portless.Bindings))
	}
	hosts := map[string]*lab.Host{}
	for _, h := range plan.Hosts {
		hosts[h.ID] = h
	}
	a, c := hosts["spoof/a"], hosts["spoof/c"]
	if a == nil || c == nil {
		t.Fatalf("hosts %v: want spoof/a and spoof/c", plan.Hosts)
	}
	l := startLab(t, plan.Hosts)
	ae, ce := hostEth0(t, l, a.ID), hostEth0(t, l, c.ID)
	hostOnBridge(t, l)
	dst := netip.MustParseAddr("2001:db8:77::7")
	c6 := hostAddr(t, c, 6)
	// The router's link-local address on the bridge.
	var gw netip.Addr
	for deadline := time.Now().Add(5 * time.Second); !gw.IsValid(); time.Sleep(20 * time.Millisecond) {
		inRouter(t, l, func() error {
			br, err := netlink.LinkByName(lab.BridgeName)
			if err != nil {
				return err
			}
			addrs, err := netlink.AddrList(br, netlink.FAMILY_V6)
			if err != nil {
				return err
			}
			for _, ad := range addrs {
				if ip, ok := netip.AddrFromSlice(ad.IP); ok && ip.IsLinkLocalUnicast() && ad.Flags&unix.IFA_F_TENTATIVE == 0 {
					gw = ip
				}
			}
			return nil
		})
		if time.Now().After(deadline) {
			t.Fatal("the bridge has no usable link-local address")
		}
	}
	if err := l.InHost(c.ID, func() error {
		for _, s := range []struct{ path, val string }{
			{"/proc/sys/net/ipv6/conf/all/forwarding", "0"},
			{"/proc/sys/net/ipv6/conf/all/accept_redirects", "1"},
			{"/proc/sys/net/ipv6/conf/eth0/accept_redirects", "1"},
		} {
			if err := os.WriteFile(s.path, []byte(s.val), 0o600); err != nil {
				return err
			}
		}
		eth, err := netlink.LinkByName("eth0")
		if err != nil {
			return err
		}
		return netlink.RouteAdd(&netlink.Route{LinkIndex: eth.Attrs().Index, Dst: &net.IPNet{IP: dst.AsSlice(), Mask: net.CIDRMask(128, 128)}, Gw: gw.AsSlice()})
	}); err != nil {
		t.Fatal(err)
	}
	nextHop := func() netip.Addr {
		t.Helper()
		var hop netip.Addr
		if err := l.InHost(c.ID, func() error {
			routes, err := netlink.RouteGet(dst.AsSlice())
			if err != nil || len(routes) == 0 {
				return fmt.Errorf("route to %s: %v (%d routes)", dst, err, len(routes))
			}
			hop, _ = netip.AddrFromSlice(routes[0].Gw)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return hop
	}
	redirected := func() bool {
		t.Helper()
		if hop := nextHop(); hop != gw {
			t.Fatalf("c's next hop for %s is %s before the redirect, want %s", dst, hop, gw)
		}
		target, d := ae.ll.As16(), dst.As16()
		// Reserved, target, destination, the target's link-layer address.
		body := slices.Concat([]byte{0, 0, 0, 0}, target[:], d[:], []byte{2, 1}, ae.mac)
		f, err := ethframe.ICMPv6(ae.mac, ce.mac, gw, c6, 137, body)
		if err != nil {
			t.Fatal(err)
		}
		sendRaw(t, l, a.ID, ae, f)
		for deadline := time.Now().Add(testTimeout); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if nextHop() == ae.ll {
				return true
			}
		}
		return false
	}
	for _, rs := range []struct {
		name string
		rs   *firewall.Ruleset
	}{{"--no-bind", unbound}, {"no known ports", portless}} {
		if err := l.Load(rs.rs); err != nil {
			t.Fatal(err)
		}
		if redirected() {
			t.Fatalf("%s: a's redirect, forged from the router's link-local address, made a c's first hop for %s", rs.name, dst)
		}
	}
	if err := l.Load(&firewall.Ruleset{}); err != nil {
		t.Fatal(err)
	}
	if !redirected() {
		t.Errorf("without Ward's ruleset, a's redirect did not change c's first hop for %s: the test cannot see the attack", dst)
	}
}
