package lab_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/lab"
	"github.com/wardsec/ward/portset"
)

// hostSender opens a UDP socket of family network ("udp4", "udp6") in
// the host's namespace (the lab's router), bound to the bridge
// (SO_BINDTODEVICE: no scope needed, whichever namespace resolves it)
// and allowed to broadcast, as any process of the host can send to a
// multicast or link-local address on the bridge (IP_MULTICAST_IF, a
// scope) or broadcast on it (IP_PKTINFO).
func hostSender(t *testing.T, l *lab.Lab, network string) *net.UDPConn {
	t.Helper()
	return hostSenderOn(t, l, network, lab.BridgeName)
}

// hostSenderOn is hostSender through bridge dev.
func hostSenderOn(t *testing.T, l *lab.Lab, network, dev string) *net.UDPConn {
	t.Helper()
	var conn *net.UDPConn
	inRouter(t, l, func() (err error) {
		if conn, err = net.ListenUDP(network, nil); err != nil {
			return err
		}
		raw, err := conn.SyscallConn()
		if err != nil {
			return err
		}
		var serr error
		if err := raw.Control(func(fd uintptr) {
			if serr = unix.SetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE, dev); serr == nil {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_BROADCAST, 1)
			}
		}); err != nil {
			return err
		}
		return serr
	})
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// udp6Any opens a UDP socket of host id bound to [::]:port, IPv6 only,
// which also takes datagrams to its link-local address and to the
// multicast groups its interface joined (ff02::1).
func udp6Any(t *testing.T, l *lab.Lab, id string, port uint16) *net.UDPConn {
	t.Helper()
	var conn *net.UDPConn
	if err := l.InHost(id, func() (err error) {
		conn, err = net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6unspecified, Port: int(port)})
		return err
	}); err != nil {
		t.Fatalf("%s: %v", id, err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// TestHostGroupAndLinkLocal attacks the spoof scenario (c admits a on
// 54/UDP and b on 53/UDP only: not the host) from the host's own stack,
// as any process of the host or a hostNetwork container can, with
// datagrams to c's port 7000 addressed to the all-hosts group
// (224.0.0.1), the limited broadcast (255.255.255.255), all nodes
// (ff02::1) and c's link-local IPv6 address. The inet table's chain
// output judges the host's packets by the ingress of their destination
// address, whose maps hold no group or link-local address, and the
// host's frames cross the bridge's output hook, not its forward hook
// where the port marks judge a container's broadcast: each reached c's
// socket past its ingress. With the bridge table's chain output
// (bridgeHostRules) none does, while the group datagrams still reach a,
// whose ingress is not isolated. Without Ward's ruleset (negative
// control) every one reaches c.
func TestHostGroupAndLinkLocal(t *testing.T) {
	requireLab(t)
	t.Parallel()
	plan := planFor(t, "testdata/spoof/spoof.yaml")
	hostGroupAttack(t, plan, plan.Ruleset, true)
}

// TestHostGroupNoBind is TestHostGroupAndLinkLocal with the ruleset
// `ward fw --no-bind` compiles: the ports known, not bound to addresses
// (Ruleset.Unbound). Its bridge table had no chain output, so the host's
// group and link-local datagrams reached c past its ingress; the host's
// group rules need the ports alone (set group_open), and now judge them
// as with the bindings. The host's unicast to a and b's to c:53, which
// the policies allow, still arrive.
func TestHostGroupNoBind(t *testing.T) {
	requireLab(t)
	t.Parallel()
	plan := planFor(t, "testdata/spoof/spoof.yaml")
	rs, err := firewall.Compile(plan.Engine, plan.Inventory, firewall.Options{NoBind: true})
	if err != nil {
		t.Fatal(err)
	}
	if !rs.Unbound || len(rs.Bindings) == 0 {
		t.Fatalf("NoBind: Unbound %v, %d bindings; want the ports known, not bound", rs.Unbound, len(rs.Bindings))
	}
	hostGroupAttack(t, plan, rs, true)
}

// TestHostGroupUnknownPorts is TestHostGroupAndLinkLocal with an
// inventory that names the network's bridge but none of the containers'
// ports (an inventory file without interfaces): no bridge table, so
// nothing judged the host's group and link-local datagrams, which reached
// c past its ingress. The inet table's chain output cannot tell the
// receiving ports apart: on a named bridge where some container's
// ingress is isolated (c's), it drops them all (chain host_group), a's
// group datagrams too, while discovery, the host's unicast to a and b's
// to c:53 still flow.
func TestHostGroupUnknownPorts(t *testing.T) {
	requireLab(t)
	t.Parallel()
	plan := planFor(t, "testdata/spoof/spoof.yaml")
	inv := *plan.Inventory
	inv.Containers = nil
	for _, c := range plan.Inventory.Containers {
		cc := *c
		cc.Interfaces, cc.MACs = nil, nil
		inv.Containers = append(inv.Containers, &cc)
	}
	inv.UnknownPorts = nil
	for _, n := range inv.Networks {
		if n.Bridge != lab.BridgeName {
			t.Fatalf("network %s: bridge %q, want the lab's %s", n.Name, n.Bridge, lab.BridgeName)
		}
	}
	rs, err := firewall.Compile(plan.Engine, &inv, firewall.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs.Bindings) != 0 {
		t.Fatalf("%d bindings; want none (no port known)", len(rs.Bindings))
	}
	hostGroupAttack(t, plan, rs, false)
}

// hostGroupAttack runs TestHostGroupAndLinkLocal's attack against rs, a
// ruleset of the spoof scenario's plan: none of the host's group or
// link-local datagrams to c's denied port 7000 reaches c, the group ones
// reach a (not isolated), the host's unicast datagrams to a and b's to
// c:53 arrive; without Ward's ruleset every one reaches c. The group
// datagrams reach a, whose ingress is not isolated, when groupToA, and
// must not otherwise (its port cannot be told from c's).
func hostGroupAttack(t *testing.T, plan *lab.Plan, rs *firewall.Ruleset, groupToA bool) {
	t.Helper()
	l := startLab(t, plan.Hosts)
	c := hostEth0(t, l, "spoof/c")
	hostOnBridge(t, l)
	const port = 7000
	o := firewall.NewOracle(plan.Engine, plan.Inventory, firewall.Options{})
	for _, pair := range [][2]string{{"10.9.0.254", "10.9.0.3"}, {"fd00:9::fe", "fd00:9::3"}} {
		if o.Allows(firewall.Output, netip.MustParseAddr(pair[0]), netip.MustParseAddr(pair[1]), portset.UDP, port) {
			t.Fatalf("engine allows the host's %s -> %s on %d/UDP; the test needs a denied port", pair[0], pair[1], port)
		}
	}
	hosts := map[string]*lab.Host{}
	for _, h := range plan.Hosts {
		hosts[h.ID] = h
	}
	a, b, ch := hosts["spoof/a"], hosts["spoof/b"], hosts["spoof/c"]
	if a == nil || b == nil || ch == nil {
		t.Fatalf("hosts %v: want spoof/a, spoof/b and spoof/c", plan.Hosts)
	}
	for _, fam := range []int{4, 6} {
		if !o.Allows(firewall.Forward, hostAddr(t, b, fam), hostAddr(t, ch, fam), portset.UDP, 53) {
			t.Fatalf("engine denies b -> c on 53/UDP (IPv%d); the test needs an allowed pair", fam)
		}
	}
	c4, c6 := udpAny(t, l, "spoof/c", port), udp6Any(t, l, "spoof/c", port)
	a4, a6 := udpAny(t, l, "spoof/a", port), udp6Any(t, l, "spoof/a", port)
	s4, s6 := hostSender(t, l, "udp4"), hostSender(t, l, "udp6")
	type variant struct {
		name string
		from *net.UDPConn
		to   *net.UDPAddr
		c, a *net.UDPConn // the sockets it reaches; a nil when not a group
	}
	group := func(ip string) *net.UDPAddr {
		return &net.UDPAddr{IP: net.ParseIP(ip), Port: port}
	}
	variants := []variant{
		{name: "IPv4 all-hosts 224.0.0.1", from: s4, to: group("224.0.0.1"), c: c4, a: a4},
		{name: "IPv4 limited broadcast 255.255.255.255", from: s4, to: group("255.255.255.255"), c: c4, a: a4},
		{name: "IPv6 all-nodes ff02::1", from: s6, to: group("ff02::1"), c: c6, a: a6},
		{name: "IPv6 link-local unicast to c", from: s6, to: &net.UDPAddr{IP: c.ll.AsSlice(), Port: port}, c: c6},
	}
	n := 0
	sendTo := func(what string, from *net.UDPConn, to *net.UDPAddr, dst *net.UDPConn) bool {
		t.Helper()
		n++
		marker := fmt.Appendf(nil, "ward-hostgroup-%d-%d", os.Getpid(), n)
		for range 3 { // the first may wait for neighbour discovery
			_, err := from.WriteToUDP(marker, to)
			if errors.Is(err, unix.EPERM) {
				return false // dropped by the inet table's chain output
			}
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
		}
		return got(dst, marker, testTimeout)
	}
	send := func(v variant, dst *net.UDPConn) bool {
		t.Helper()
		return sendTo(v.name, v.from, v.to, dst)
	}

	if err := l.Load(rs); err != nil {
		t.Fatal(err)
	}
	for _, v := range variants {
		if send(v, v.c) {
			t.Errorf("%s: the host's datagram to port %d, which c's ingress denies the host, reached c", v.name, port)
		}
		if v.a != nil && send(v, v.a) != groupToA {
			t.Errorf("%s: the host's datagram to port %d reached a (not isolated): %v, want %v", v.name, port, !groupToA, groupToA)
		}
	}
	// What the policies allow still flows: the host's unicast to a (its
	// address resolved by ARP and neighbour discovery), and b's to c:53.
	for _, u := range []struct {
		fam  int
		from *net.UDPConn
		dst  *net.UDPConn
	}{{4, s4, a4}, {6, s6, a6}} {
		to := net.UDPAddrFromAddrPort(netip.AddrPortFrom(hostAddr(t, a, u.fam), port))
		if !sendTo(fmt.Sprintf("IPv%d unicast to a", u.fam), u.from, to, u.dst) {
			t.Errorf("IPv%d: the host's unicast datagram to a:%d, which a's ingress admits, did not arrive", u.fam, port)
		}
		delivered, err := l.Spoof(context.Background(), b, hostAddr(t, b, u.fam), ch, hostAddr(t, ch, u.fam), 53)
		if err != nil {
			t.Fatal(err)
		}
		if !delivered {
			t.Errorf("IPv%d: b's datagram to c:53, which c admits, did not arrive", u.fam)
		}
	}

	// Without Ward's tables (negative control), every one arrives.
	if err := l.Load(&firewall.Ruleset{}); err != nil {
		t.Fatal(err)
	}
	for _, v := range variants {
		if !send(v, v.c) {
			t.Errorf("%s: without Ward's ruleset, the host's datagram to c:%d did not arrive: the test cannot see the attack", v.name, port)
		}
	}
}

// TestHostGroupOtherBridge loads the spoof scenario's rulesets (bound,
// and --no-bind) on a host with a second bridge that no inventory names,
// as libvirt's virbr0 or LXC's lxcbr0, whose port leads to a guest (a
// second interface of c's namespace, wo1, with a socket bound to it).
// The bridge table's hooks see every bridge of the host, and its chain
// output dropped the host's group datagrams to every port not in
// group_open, that bridge's too: its guests lost the host's broadcast
// and multicast (DHCP replies to 255.255.255.255 among them). Now the
// host's datagrams to 255.255.255.255, 224.0.0.1 and ff02::1 through
// that bridge reach the guest, while those through the lab's bridge
// still do not reach c, whose ingress is isolated.
func TestHostGroupOtherBridge(t *testing.T) {
	requireLab(t)
	t.Parallel()
	plan := planFor(t, "testdata/spoof/spoof.yaml")
	unbound, err := firewall.Compile(plan.Engine, plan.Inventory, firewall.Options{NoBind: true})
	if err != nil {
		t.Fatal(err)
	}
	l := startLab(t, plan.Hosts)
	hostEth0(t, l, "spoof/c")
	hostOnBridge(t, l)
	const other, port, guestPort = "wother0", 7000, 7001
	// The other bridge, in the host's namespace, and its port: a veth
	// whose peer goes to c's namespace.
	inRouter(t, l, func() error {
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: other}}
		if err := netlink.LinkAdd(br); err != nil {
			return err
		}
		veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "wo0", MasterIndex: br.Attrs().Index}, PeerName: "wo1"}
		if err := netlink.LinkAdd(veth); err != nil {
			return err
		}
		for _, p := range []string{"10.99.0.1/24", "fd00:99::1/64"} {
			addr, err := netlink.ParseAddr(p)
			if err != nil {
				return err
			}
			addr.Flags = unix.IFA_F_NODAD
			if err := netlink.AddrAdd(br, addr); err != nil {
				return err
			}
		}
		for _, n := range []netlink.Link{br, veth} {
			if err := netlink.LinkSetUp(n); err != nil {
				return err
			}
		}
		peer, err := netlink.LinkByName("wo1")
		if err != nil {
			return err
		}
		var ns int
		if err := l.InHost("spoof/c", func() error {
			h, err := netns.Get()
			ns = int(h)
			return err
		}); err != nil {
			return err
		}
		defer unix.Close(ns)
		return netlink.LinkSetNsFd(peer, ns)
	})
	t.Cleanup(func() {
		inRouter(t, l, func() error {
			br, err := netlink.LinkByName(other)
			if err != nil {
				return err
			}
			return netlink.LinkDel(br) // wo0 and wo1 go with c's namespace
		})
	})
	// The guest's sockets, bound to wo1.
	guest := func(network string) *net.UDPConn {
		var conn *net.UDPConn
		if err := l.InHost("spoof/c", func() error {
			wo1, err := netlink.LinkByName("wo1")
			if err != nil {
				return err
			}
			for _, p := range []string{"10.99.0.2/24", "fd00:99::2/64"} {
				addr, err := netlink.ParseAddr(p)
				if err != nil {
					return err
				}
				addr.Flags = unix.IFA_F_NODAD
				if err := netlink.AddrAdd(wo1, addr); err != nil && !errors.Is(err, unix.EEXIST) {
					return err
				}
			}
			if err := netlink.LinkSetUp(wo1); err != nil {
				return err
			}
			lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
				var serr error
				if err := c.Control(func(fd uintptr) {
					serr = unix.SetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE, "wo1")
				}); err != nil {
					return err
				}
				return serr
			}}
			pc, err := lc.ListenPacket(context.Background(), network, fmt.Sprintf(":%d", guestPort))
			if err != nil {
				return err
			}
			conn = pc.(*net.UDPConn)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		return conn
	}
	g4, g6 := guest("udp4"), guest("udp6")
	c4, c6 := udpAny(t, l, "spoof/c", port), udp6Any(t, l, "spoof/c", port)
	o4, o6 := hostSenderOn(t, l, "udp4", other), hostSenderOn(t, l, "udp6", other)
	s4, s6 := hostSender(t, l, "udp4"), hostSender(t, l, "udp6")
	n := 0
	sendTo := func(from *net.UDPConn, ip string, p int, dst *net.UDPConn) bool {
		t.Helper()
		n++
		marker := fmt.Appendf(nil, "ward-hostgroup-other-%d-%d", os.Getpid(), n)
		for range 3 {
			if _, err := from.WriteToUDP(marker, &net.UDPAddr{IP: net.ParseIP(ip), Port: p}); err != nil {
				t.Fatalf("%s: %v", ip, err)
			}
		}
		return got(dst, marker, testTimeout)
	}
	groups := []struct {
		ip            string
		other, bridge *net.UDPConn
		guest, c      *net.UDPConn
	}{
		{"255.255.255.255", o4, s4, g4, c4},
		{"224.0.0.1", o4, s4, g4, c4},
		{"ff02::1", o6, s6, g6, c6},
	}
	for _, rs := range []struct {
		name string
		rs   *firewall.Ruleset
	}{{"bound", plan.Ruleset}, {"--no-bind", unbound}} {
		if err := l.Load(rs.rs); err != nil {
			t.Fatal(err)
		}
		for _, g := range groups {
			if !sendTo(g.other, g.ip, guestPort, g.guest) {
				t.Errorf("%s: the host's datagram to %s through %s, a bridge Ward does not manage, did not reach its guest", rs.name, g.ip, other)
			}
			if sendTo(g.bridge, g.ip, port, g.c) {
				t.Errorf("%s: the host's datagram to %s:%d through %s reached c, whose ingress is isolated", rs.name, g.ip, port, lab.BridgeName)
			}
		}
	}
}
