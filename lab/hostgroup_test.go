package lab_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"testing"

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
			if serr = unix.SetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE, lab.BridgeName); serr == nil {
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
