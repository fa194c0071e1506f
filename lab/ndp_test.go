package lab_test

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/internal/ethframe"
	"github.com/wardsec/ward/lab"
)

// eth0Of is a host's eth0: its index, MAC and link-local address.
type eth0Of struct {
	index int
	mac   net.HardwareAddr
	ll    netip.Addr
}

func hostEth0(t *testing.T, l *lab.Lab, id string) eth0Of {
	t.Helper()
	var e eth0Of
	// The kernel adds the link-local address when the link comes up and
	// takes packets to it once duplicate address detection is done (a
	// second or so): wait for that.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		err := l.InHost(id, func() error {
			ifi, err := net.InterfaceByName("eth0")
			if err != nil {
				return err
			}
			e.index, e.mac = ifi.Index, ifi.HardwareAddr
			addrs, err := netlink.AddrList(&netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: ifi.Index}}, netlink.FAMILY_V6)
			if err != nil {
				return err
			}
			for _, a := range addrs {
				if ip, ok := netip.AddrFromSlice(a.IP); ok && ip.IsLinkLocalUnicast() && a.Flags&unix.IFA_F_TENTATIVE == 0 {
					e.ll = ip
				}
			}
			if !e.ll.IsValid() {
				return fmt.Errorf("eth0 has no usable link-local address")
			}
			return nil
		})
		switch {
		case err == nil:
			return e
		case time.Now().After(deadline):
			t.Fatalf("%s: %v", id, err)
		}
	}
}

// sendRaw sends frame from host id's eth0 through an AF_PACKET socket,
// bypassing its stack, three times (a frame that passes arrives once at
// least; one that is dropped never does).
func sendRaw(t *testing.T, l *lab.Lab, id string, e eth0Of, frame []byte) {
	t.Helper()
	if err := l.InHost(id, func() error {
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		proto := uint16(frame[12])<<8 | uint16(frame[13]) // the frame's EtherType
		to := &unix.SockaddrLinklayer{Ifindex: e.index, Protocol: ethframe.Htons(proto), Halen: 6}
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

// icmpv6Socket opens a raw ICMPv6 socket in host id: it receives every
// ICMPv6 message the host's stack takes.
func icmpv6Socket(t *testing.T, l *lab.Lab, id string) int {
	t.Helper()
	fd := -1
	if err := l.InHost(id, func() (err error) {
		fd, err = unix.Socket(unix.AF_INET6, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_ICMPV6)
		return err
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

// received reports whether an ICMPv6 message holding marker reaches fd
// before the timeout.
func received(fd int, marker []byte, timeout time.Duration) bool {
	buf := make([]byte, 2048)
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); {
		if n, _, err := unix.Recvfrom(fd, buf, 0); err == nil && bytes.Contains(buf[:n], marker) {
			return true
		}
	}
	return false
}

// routesVia reports whether host id has a route whose gateway is gw.
func routesVia(t *testing.T, l *lab.Lab, id string, gw netip.Addr, timeout time.Duration) bool {
	t.Helper()
	for deadline := time.Now().Add(timeout); ; time.Sleep(50 * time.Millisecond) {
		found := false
		if err := l.InHost(id, func() error {
			routes, err := netlink.RouteList(nil, netlink.FAMILY_V6)
			for _, r := range routes {
				if ip, ok := netip.AddrFromSlice(r.Gw); ok && ip == gw {
					found = true
				}
			}
			return err
		}); err != nil {
			t.Fatalf("%s: routes: %v", id, err)
		}
		if found || time.Now().After(deadline) {
			return found
		}
	}
}

// TestLinkLocalICMPv6 attacks the spoof scenario (c admits b on 53/UDP
// and a on 54/UDP: no ICMPv6 from a) with raw frames from a:
//
//   - an ICMPv6 echo request from a's link-local address to c's: the
//     inet table's maps hold no link-local address, so only the bridge
//     table can stop it, and it used to stop every protocol but ICMPv6;
//   - a router advertisement from a's link-local address to all nodes:
//     c used to take a for a router (a default route through a, past
//     every address binding).
//
// With the plan's ruleset c's stack takes neither (no echo request on
// c's raw ICMPv6 socket, no route through a) while a neighbour
// solicitation between the same link-local addresses still arrives (the
// socket sees what passes; neighbour discovery works). Without the bridge
// table (negative control) the echo request arrives and c routes through
// a: the test sees both holes.
func TestLinkLocalICMPv6(t *testing.T) {
	requireLab(t)
	t.Parallel()
	plan := planFor(t, "testdata/spoof/spoof.yaml")
	l := startLab(t, plan.Hosts)
	a, c := hostEth0(t, l, "spoof/a"), hostEth0(t, l, "spoof/c")
	sock := icmpv6Socket(t, l, "spoof/c")
	allNodes := netip.MustParseAddr("ff02::1")
	allNodesMAC, _ := ethframe.GroupMAC(allNodes)
	n := 0
	frame := func(typ byte, dstMAC net.HardwareAddr, dst netip.Addr) ([]byte, []byte) {
		t.Helper()
		n++
		marker := fmt.Appendf(nil, "ward-ndp-%d-%d", os.Getpid(), n)
		var body []byte
		switch typ {
		case 128: // echo request: identifier, sequence number, data
			body = slices.Concat([]byte{0, 1, 0, byte(n)}, marker)
		case 135: // neighbour solicitation: reserved, target, and an option of a type no one knows carrying the marker
			target := c.ll.As16()
			opt := append([]byte{200, byte((len(marker) + 2 + 7) / 8)}, marker...)
			opt = append(opt, make([]byte, int(opt[1])*8-len(opt))...)
			body = slices.Concat([]byte{0, 0, 0, 0}, target[:], opt)
		case 134: // router advertisement: hop limit, flags, lifetime 1800 s, reachable and retransmit timers, source link-layer address
			body = slices.Concat([]byte{64, 0, 0x07, 0x08, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1}, a.mac)
		}
		f, err := ethframe.ICMPv6(a.mac, dstMAC, a.ll, dst, typ, body)
		if err != nil {
			t.Fatal(err)
		}
		return f, marker
	}
	type seen struct{ echo, ns, route bool }
	attack := func() seen {
		var s seen
		f, m := frame(128, c.mac, c.ll)
		sendRaw(t, l, "spoof/a", a, f)
		s.echo = received(sock, m, testTimeout)
		f, m = frame(135, c.mac, c.ll)
		sendRaw(t, l, "spoof/a", a, f)
		s.ns = received(sock, m, testTimeout)
		f, _ = frame(134, allNodesMAC, allNodes)
		sendRaw(t, l, "spoof/a", a, f)
		s.route = routesVia(t, l, "spoof/c", a.ll, testTimeout)
		return s
	}

	if err := l.Load(plan.Ruleset); err != nil {
		t.Fatal(err)
	}
	if got, want := attack(), (seen{ns: true}); got != want {
		t.Errorf("with the bridge table: echo request delivered %v, neighbour solicitation delivered %v, c routes through a %v; want %+v",
			got.echo, got.ns, got.route, want)
	}

	noBridge := *withoutBridgeTable(plan.Ruleset)
	if err := l.Load(&noBridge); err != nil {
		t.Fatal(err)
	}
	if got, want := attack(), (seen{echo: true, ns: true, route: true}); got != want {
		t.Errorf("without the bridge table: echo request delivered %v, neighbour solicitation delivered %v, c routes through a %v; want %+v (else the test cannot see the holes)",
			got.echo, got.ns, got.route, want)
	}
}

// neighbour returns host id's neighbour cache entry for ip (IPv4 or
// IPv6): its MAC address, or "" when there is none.
func neighbour(t *testing.T, l *lab.Lab, id string, ip netip.Addr) string {
	t.Helper()
	return neighbourIn(t, func(f func() error) {
		if err := l.InHost(id, f); err != nil {
			t.Fatalf("%s: neighbours: %v", id, err)
		}
	}, ip)
}

// neighbourIn is neighbour in the namespace where in runs its function.
func neighbourIn(t *testing.T, in func(func() error), ip netip.Addr) string {
	t.Helper()
	var mac string
	in(func() error {
		family := netlink.FAMILY_V6
		if ip.Is4() {
			family = netlink.FAMILY_V4
		}
		ns, err := netlink.NeighList(0, family)
		for _, n := range ns {
			if a, ok := netip.AddrFromSlice(n.IP); ok && a.Unmap() == ip && len(n.HardwareAddr) == 6 {
				mac = n.HardwareAddr.String()
			}
		}
		return err
	})
	return mac
}

// TestNeighbourAdvertSpoof attacks the spoof scenario's IPv6 neighbour
// cache: once c has resolved b's address, a sends unsolicited neighbour
// advertisements (override flag), from its own link-local address, to
// all nodes and to c, claiming b's address for a's MAC address. The
// bridge table binds sources, not targets: c took them and sent a its
// packets for b. With the plan's ruleset, c's raw ICMPv6 socket never sees
// them and c's entry for b keeps b's MAC address, while a's advertisements
// for its own global and link-local addresses still arrive. Without the
// bridge table (negative control) the spoofed ones arrive and c's entry
// for b becomes a's MAC address.
func TestNeighbourAdvertSpoof(t *testing.T) {
	requireLab(t)
	t.Parallel()
	plan := planFor(t, "testdata/spoof/spoof.yaml")
	l := startLab(t, plan.Hosts)
	a, b, c := hostEth0(t, l, "spoof/a"), hostEth0(t, l, "spoof/b"), hostEth0(t, l, "spoof/c")
	a6, b6, c6 := netip.MustParseAddr("fd00:9::1"), netip.MustParseAddr("fd00:9::2"), netip.MustParseAddr("fd00:9::3")
	sock := icmpv6Socket(t, l, "spoof/c")
	allNodes := netip.MustParseAddr("ff02::1")
	allNodesMAC, _ := ethframe.GroupMAC(allNodes)
	n := 0
	// advertise sends a's advertisement for target, to all nodes and to
	// c, and reports whether c's socket saw it.
	advertise := func(target netip.Addr) bool {
		t.Helper()
		n++
		marker := fmt.Appendf(nil, "ward-na-%d-%d", os.Getpid(), n)
		opt := append([]byte{200, byte((len(marker) + 2 + 7) / 8)}, marker...)
		opt = append(opt, make([]byte, int(opt[1])*8-len(opt))...)
		tg := target.As16()
		body := slices.Concat([]byte{0x20, 0, 0, 0}, tg[:], []byte{2, 1}, a.mac, opt) // override; target link-layer address: a's
		for _, to := range []struct {
			mac net.HardwareAddr
			ip  netip.Addr
		}{{allNodesMAC, allNodes}, {c.mac, c.ll}} {
			f, err := ethframe.ICMPv6(a.mac, to.mac, a.ll, to.ip, 136, body)
			if err != nil {
				t.Fatal(err)
			}
			sendRaw(t, l, "spoof/a", a, f)
		}
		return received(sock, marker, testTimeout)
	}
	// resolve makes c resolve b's address (a datagram to it) and returns
	// c's entry for it.
	resolve := func() string {
		t.Helper()
		var conn *net.UDPConn
		if err := l.InHost("spoof/c", func() (err error) {
			conn, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(c6, 0)))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if _, err := conn.WriteToUDPAddrPort([]byte("resolve"), netip.AddrPortFrom(b6, 9)); err != nil {
				t.Fatal(err)
			}
			if mac := neighbour(t, l, "spoof/c", b6); mac != "" {
				return mac
			}
		}
		t.Fatalf("c did not resolve %s", b6)
		return ""
	}

	if err := l.Load(plan.Ruleset); err != nil {
		t.Fatal(err)
	}
	if mac := resolve(); mac != b.mac.String() {
		t.Fatalf("c resolved %s to %s, want b's %s", b6, mac, b.mac)
	}
	if advertise(b6) {
		t.Errorf("a's advertisement for b's %s reached c", b6)
	}
	if mac := neighbour(t, l, "spoof/c", b6); mac != b.mac.String() {
		t.Errorf("after a's advertisement, c's entry for %s is %s, want b's %s", b6, mac, b.mac)
	}
	for _, own := range []netip.Addr{a6, a.ll} {
		if !advertise(own) {
			t.Errorf("a's advertisement for its own %s did not reach c", own)
		}
	}

	noBridge := *withoutBridgeTable(plan.Ruleset)
	if err := l.Load(&noBridge); err != nil {
		t.Fatal(err)
	}
	if !advertise(b6) {
		t.Errorf("without the bridge table, a's advertisement for %s did not reach c: the test cannot see the hole", b6)
	}
	if mac := neighbour(t, l, "spoof/c", b6); mac != a.mac.String() {
		t.Errorf("without the bridge table, c's entry for %s is %s, want a's %s (the test cannot see the hole)", b6, mac, a.mac)
	}
}

// TestRouterAdvertNoBind attacks the ruleset of `ward fw --no-bind`
// (ports known, not bound: no prerouting chain, where the bindings drop a
// container's router advertisements): a sends a router advertisement from
// its link-local address to all nodes, which chain forward accepted as
// discovery, and c took a for its default router (a route through a,
// which then reads c's traffic to every address off its subnet). With
// the bridge table's chain forward dropping advertisements from known
// ports, c has no route through a, while a's neighbour solicitation to c
// still arrives; the ruleset of before (the drop deleted from the live
// table) is the negative control.
func TestRouterAdvertNoBind(t *testing.T) {
	requireLab(t)
	t.Parallel()
	plan := planFor(t, "testdata/spoof/spoof.yaml")
	rs, err := firewall.Compile(plan.Engine, plan.Inventory, firewall.Options{NoBind: true})
	if err != nil {
		t.Fatal(err)
	}
	if !rs.Unbound || !strings.Contains(rs.BridgeString(), "icmpv6 type nd-router-advert iifname @ports counter drop") {
		t.Fatalf("the --no-bind ruleset has no drop of router advertisements:\n%s", rs.BridgeString())
	}
	routerAdvert(t, plan, rs, func(l *lab.Lab) { deleteRARule(t, l) })
}

// TestRouterAdvertUnknownPorts is TestRouterAdvertNoBind with an
// inventory that names the bridge but no port (no bridge table): the
// inet table's chain forward drops router advertisements on the named
// bridge; the negative control is the same ruleset without that rule.
func TestRouterAdvertUnknownPorts(t *testing.T) {
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
	rs, err := firewall.Compile(plan.Engine, &inv, firewall.Options{})
	if err != nil {
		t.Fatal(err)
	}
	isRA := func(r firewall.Rule) bool {
		return r.IfName == lab.BridgeName && slices.Equal(r.ICMPv6Types, []string{"nd-router-advert"})
	}
	before := *rs
	before.Chains = nil
	found := false
	for _, c := range rs.Chains {
		cc := *c
		if c.Hook == "forward" {
			found = slices.ContainsFunc(c.Rules, isRA)
			cc.Rules = slices.DeleteFunc(slices.Clone(c.Rules), isRA)
		}
		before.Chains = append(before.Chains, &cc)
	}
	if len(rs.Bindings) != 0 || !found {
		t.Fatalf("%d bindings, drop of router advertisements on %s %v; want no binding and the drop", len(rs.Bindings), lab.BridgeName, found)
	}
	routerAdvert(t, plan, rs, func(l *lab.Lab) {
		if err := l.Load(&before); err != nil {
			t.Fatal(err)
		}
	})
}

// routerAdvert has a send c a router advertisement and a neighbour
// solicitation under rs (c must not route through a; the solicitation
// must arrive), then under the ruleset before() loads (c must route
// through a: last, since the route lasts 30 minutes).
func routerAdvert(t *testing.T, plan *lab.Plan, rs *firewall.Ruleset, before func(*lab.Lab)) {
	t.Helper()
	l := startLab(t, plan.Hosts)
	a, c := hostEth0(t, l, "spoof/a"), hostEth0(t, l, "spoof/c")
	sock := icmpv6Socket(t, l, "spoof/c")
	allNodes := netip.MustParseAddr("ff02::1")
	allNodesMAC, _ := ethframe.GroupMAC(allNodes)
	ra := func() bool {
		t.Helper()
		// Hop limit, flags, lifetime 1800 s, reachable and retransmit
		// timers, source link-layer address.
		body := slices.Concat([]byte{64, 0, 0x07, 0x08, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1}, a.mac)
		f, err := ethframe.ICMPv6(a.mac, allNodesMAC, a.ll, allNodes, 134, body)
		if err != nil {
			t.Fatal(err)
		}
		sendRaw(t, l, "spoof/a", a, f)
		return routesVia(t, l, "spoof/c", a.ll, testTimeout)
	}
	ns := func() bool {
		t.Helper()
		marker := fmt.Appendf(nil, "ward-ra-%d", os.Getpid())
		target := c.ll.As16()
		opt := append([]byte{200, byte((len(marker) + 2 + 7) / 8)}, marker...)
		opt = append(opt, make([]byte, int(opt[1])*8-len(opt))...)
		f, err := ethframe.ICMPv6(a.mac, c.mac, a.ll, c.ll, 135, slices.Concat([]byte{0, 0, 0, 0}, target[:], opt))
		if err != nil {
			t.Fatal(err)
		}
		sendRaw(t, l, "spoof/a", a, f)
		return received(sock, marker, testTimeout)
	}
	if err := l.Load(rs); err != nil {
		t.Fatal(err)
	}
	if ra() {
		t.Errorf("after a's router advertisement, c routes through a")
	}
	if !ns() {
		t.Errorf("a's neighbour solicitation to c did not arrive")
	}
	before(l)
	if !ra() {
		t.Errorf("under the ruleset of before, c does not route through a: the test cannot see the hole")
	}
}

// deleteRARule deletes, from the lab's live bridge table, chain forward's
// drop of router advertisements from known ports (its first rule with
// Ruleset.Unbound).
func deleteRARule(t *testing.T, l *lab.Lab) {
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
	rules, err := conn.GetRules(tb, &nftables.Chain{Name: firewall.BridgeForward, Table: tb})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rules {
		ra, ports := false, false
		for _, e := range r.Exprs {
			switch e := e.(type) {
			case *expr.Cmp:
				ra = ra || bytes.Equal(e.Data, []byte{134})
			case *expr.Lookup:
				ports = ports || e.SetName == firewall.BridgePorts
			}
		}
		if ra && ports {
			if err := conn.DelRule(r); err != nil {
				t.Fatal(err)
			}
			if err := conn.Flush(); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatal("no drop of router advertisements in the bridge table's chain forward")
}
