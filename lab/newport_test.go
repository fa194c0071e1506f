package lab_test

import (
	"encoding/binary"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/internal/ethframe"
	"github.com/wardsec/ward/lab"
)

// TestNewPortWindow attacks from a port Ward has not heard of at all: in
// the spoof scenario (c admits b on 53/UDP), a is left out of the
// inventory and its port is neither bound nor among the unknown ports, as
// the port of a container Docker has just attached is until the next sync
// lists it. Before, the bridge table let every frame from such a port
// through, and the inet table judged its datagrams by their source. With
// the lab's bridge named as the networks' (Network.Bridge, what dockerinv
// sets), the ruleset closes every port of it that it does not bind
// (Ruleset.Bridges), and a cannot:
//   - send c a datagram claiming b's address, over IPv4 or IPv6 (bridge
//     table, chain forward);
//   - send the host (the router, given addresses on the bridge) a datagram
//     claiming b's address (inet table, chain prerouting);
//   - teach the host's neighbour cache, by an ARP reply or an IPv6
//     neighbour advertisement, that b's address is at a's MAC address (ARP
//     table; inet prerouting), which would send a the host's traffic for b;
//   - read c's datagrams for b by taking b's MAC address over in the
//     bridge's forwarding database (bridge table, chain forward).
//
// The negative control is the same inventory without the bridge named:
// every attack succeeds.
func TestNewPortWindow(t *testing.T) {
	requireLab(t)
	t.Parallel()
	plan, a, b, c, compile := spoofWithout(t)
	// Without MAC addresses, which would stop the takeover of b's MAC
	// address whether the bridge is named or not (TestMACSpoof): the
	// closed bridge alone.
	closed, open := withoutMACs(compile(nil, true)), withoutMACs(compile(nil, false))
	aPort := a.Container.Interfaces[0]
	if !slices.Equal(closed.Bridges, []string{"br0"}) || len(open.Bridges) != 0 {
		t.Fatalf("bridges %q and %q: want [br0] and none", closed.Bridges, open.Bridges)
	}
	if slices.ContainsFunc(closed.Bindings, func(bd firewall.Binding) bool { return bd.Port == aPort }) {
		t.Fatalf("a's port %s is among the bindings: the test needs it unheard of", aPort)
	}

	l := startLab(t, plan.Hosts)
	ae, be := hostEth0(t, l, a.ID), hostEth0(t, l, b.ID)
	b4, b6 := hostAddr(t, b, 4), hostAddr(t, b, 6)
	r4, r6 := netip.MustParseAddr("10.9.0.254"), netip.MustParseAddr("fd00:9::fe")

	// The host: addresses on the bridge, a UDP socket on port 9, and the
	// bridge's MAC address.
	brMAC, router := hostOnBridge(t, l)

	n := 0
	// toHost has a send the host a datagram from src and reports
	// whether it arrived.
	toHost := func(src, dst netip.Addr) bool {
		t.Helper()
		n++
		marker := []byte("ward-new-port-" + time.Now().Format("150405.000000000") + string(rune('a'+n%26)))
		f, err := ethframe.UDP(ae.mac, brMAC, netip.AddrPortFrom(src, 40000), netip.AddrPortFrom(dst, 9), marker)
		if err != nil {
			t.Fatal(err)
		}
		sendRaw(t, l, a.ID, ae, f)
		return got(router, marker, testTimeout)
	}
	// poisoned has the host resolve b's address, then a claim it for
	// its own MAC address (an ARP reply, or an unsolicited neighbour
	// advertisement with the override flag), and reports whether the
	// host's entry for b then names a's MAC address.
	poisoned := func(ip netip.Addr) bool {
		t.Helper()
		hostNeighbour := func() string { return neighbourIn(t, func(f func() error) { inRouter(t, l, f) }, ip) }
		to := net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 9))
		for deadline := time.Now().Add(2 * time.Second); hostNeighbour() != be.mac.String(); time.Sleep(20 * time.Millisecond) {
			if _, err := router.WriteToUDP([]byte("resolve"), to); err != nil {
				t.Fatal(err)
			}
			if time.Now().After(deadline) {
				t.Fatalf("the host did not resolve %s to b's %s", ip, be.mac)
			}
		}
		// Linux ignores a new address for an entry within a second of
		// its last change (locktime).
		time.Sleep(1100 * time.Millisecond)
		var f []byte
		if ip.Is4() {
			f = arpReply(ae.mac, brMAC, ip, r4)
		} else {
			var err error
			body := slices.Concat([]byte{0x20, 0, 0, 0}, ip.AsSlice(), []byte{2, 1}, ae.mac) // override; target link-layer address
			if f, err = ethframe.ICMPv6(ae.mac, brMAC, ae.ll, r6, 136, body); err != nil {
				t.Fatal(err)
			}
		}
		sendRaw(t, l, a.ID, ae, f)
		time.Sleep(testTimeout)
		return hostNeighbour() == ae.mac.String()
	}
	attempts := []attempt{
		{"a's datagram to c:53 claiming b's IPv4 address", func() bool {
			ok, err := l.Spoof(t.Context(), a, b4, c, hostAddr(t, c, 4), 53)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}},
		{"a's datagram to c:53 claiming b's IPv6 address", func() bool {
			ok, err := l.Spoof(t.Context(), a, b6, c, hostAddr(t, c, 6), 53)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}},
		{"a's datagram to the host claiming b's IPv4 address", func() bool { return toHost(b4, r4) }},
		{"a's datagram to the host claiming b's IPv6 address", func() bool { return toHost(b6, r6) }},
		{"a's ARP reply taking over b's IPv4 address in the host's cache", func() bool { return poisoned(b4) }},
		{"a's neighbour advertisement taking over b's IPv6 address in the host's cache", func() bool { return poisoned(b6) }},
	}
	// a takes b's MAC address in the bridge's forwarding database, and c
	// sends b datagrams (TestUnknownPortSpoof).
	for _, ic := range interceptions(t, l, a, b, c) {
		attempts = append(attempts, attempt{"a reading c's " + ic.net + " datagrams for b after taking b's MAC address", ic.f})
	}

	closedOpen(t, l, closed, open, attempts)
	// With the bridge closed, b's own traffic to the host still flows.
	if err := l.Load(closed); err != nil {
		t.Fatal(err)
	}
	var bConn *net.UDPConn
	if err := l.InHost(b.ID, func() (err error) {
		bConn, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(b4, 0)))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer bConn.Close()
	marker := []byte("ward-new-port-b-to-host")
	if _, err := bConn.WriteToUDP(marker, net.UDPAddrFromAddrPort(netip.AddrPortFrom(r4, 9))); err != nil {
		t.Fatal(err)
	}
	if !got(router, marker, 2*time.Second) {
		t.Errorf("bridge closed: b's own datagram to the host did not arrive")
	}
}

// arpReply is an Ethernet frame with an ARP reply from srcMAC claiming ip,
// to dstMAC at target.
func arpReply(srcMAC, dstMAC net.HardwareAddr, ip, target netip.Addr) []byte {
	f := make([]byte, 60) // the minimum frame, padded
	copy(f, dstMAC)
	copy(f[6:], srcMAC)
	binary.BigEndian.PutUint16(f[12:], unix.ETH_P_ARP)
	binary.BigEndian.PutUint16(f[14:], 1)      // Ethernet
	binary.BigEndian.PutUint16(f[16:], 0x0800) // IPv4
	f[18], f[19] = 6, 4
	binary.BigEndian.PutUint16(f[20:], 2) // reply
	copy(f[22:], srcMAC)
	copy(f[28:], ip.AsSlice())
	copy(f[32:], dstMAC)
	copy(f[38:], target.AsSlice())
	return f
}

// attempt is an attack, and whether it succeeded.
type attempt struct {
	what string
	f    func() bool
}

// closedOpen loads closed (the bridge named) and makes each attempt,
// which must fail, then open (the negative control: the same inventory
// without the bridge named) and makes them again, which must succeed, or
// the test cannot see the hole. Both without the bridge table's rules
// that also keep a port not bound from a bound address
// (deleteBoundSourceRules, TestUnknownPortBoundSource), so that the
// closed bridge alone is judged.
func closedOpen(t *testing.T, l *lab.Lab, closed, open *firewall.Ruleset, attempts []attempt) {
	t.Helper()
	for _, tc := range []struct {
		name string
		rs   *firewall.Ruleset
		want bool
	}{{"bridge closed", closed, false}, {"without the bridge named", open, true}} {
		if err := l.Load(tc.rs); err != nil {
			t.Fatal(err)
		}
		deleteBoundSourceRules(t, l)
		for _, at := range attempts {
			if got := at.f(); got != tc.want {
				t.Errorf("%s: %s: succeeded %v, want %v", tc.name, at.what, got, tc.want)
			}
		}
	}
}
