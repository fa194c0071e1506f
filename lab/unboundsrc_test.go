package lab_test

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/internal/ethframe"
	"github.com/wardsec/ward/lab"
)

// inRouter runs f on a thread in l's router namespace (sockets it opens
// stay there); the thread is never unlocked, so it ends with its
// goroutine rather than going back to the runtime.
func inRouter(t *testing.T, l *lab.Lab, f func() error) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		h, err := netns.GetFromPath(filepath.Join(lab.NetnsDir, l.Name()+"-r"))
		if err != nil {
			done <- err
			return
		}
		defer h.Close()
		if err := netns.Set(h); err != nil {
			done <- err
			return
		}
		done <- f()
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// icmpv6Code is ethframe.ICMPv6 with a code other than 0: the message's
// code set and its checksum computed again.
func icmpv6Code(t *testing.T, srcMAC, dstMAC net.HardwareAddr, src, dst netip.Addr, typ, code byte, body []byte) []byte {
	t.Helper()
	f, err := ethframe.ICMPv6(srcMAC, dstMAC, src, dst, typ, body)
	if err != nil {
		t.Fatal(err)
	}
	msg := f[14+40:]
	msg[1], msg[2], msg[3] = code, 0, 0
	s, d := src.As16(), dst.As16()
	pseudo := binary.BigEndian.AppendUint32(slices.Concat(s[:], d[:]), uint32(len(msg))) // #nosec G115 -- under 1500
	pseudo = append(pseudo, 0, 0, 0, unix.IPPROTO_ICMPV6)
	binary.BigEndian.PutUint16(msg[2:4], ethframe.Checksum(slices.Concat(pseudo, msg)))
	return f
}

// TestUnboundSources attacks through the two IPv6 sources the bridge
// table's prerouting chain lets through from any port, bound or not,
// because neighbour discovery needs them: the unspecified address (a
// duplicate address detection probe) and link-local addresses. Neither
// is in any policy's sets, so what they carry besides neighbour
// discovery is judged by no one: in the spoof scenario (c admits b on
// 53/UDP),
//   - a, bound to its port, sends b a port unreachable from :: quoting
//     b's datagram to c:53 (TestForgedICMPError's attack, from a source
//     that no icmp_err chain judges): conntrack marks it related and b's
//     socket would fail with ECONNREFUSED;
//   - a, on a port no classified container is bound to (quarantined, or
//     not synced yet: its own addresses unclassified, dropped both ways),
//     sends b (whose ingress is not isolated) a datagram from ::, and the
//     host (the bridge's own link-local address, the input hook) datagrams
//     from :: and from a's link-local address: the inet table's egress
//     stage keys on the source address and knows neither.
//
// With Ward's rulesets none arrives, while neighbour discovery from ::
// and from a's link-local address (a neighbour solicitation to all
// nodes) still reaches b. The negative control, without Ward, delivers
// every one of them: the test sees the attacks.
func TestUnboundSources(t *testing.T) {
	requireLab(t)
	t.Parallel()
	// The inventory without a, its port unknown (TestUnknownPortSpoof).
	plan, a, b, c, compile := spoofWithout(t)
	closed := compile(a.Container.Interfaces, false)

	l := startLab(t, plan.Hosts)
	ae, be := hostEth0(t, l, a.ID), hostEth0(t, l, b.ID)
	b6, c6 := hostAddr(t, b, 6), hostAddr(t, c, 6)
	unspec := netip.IPv6Unspecified()

	// The router's bridge: its MAC and link-local address, and a UDP
	// socket on port 9 of every address of the router.
	var brMAC net.HardwareAddr
	var brLL netip.Addr
	var router *net.UDPConn
	inRouter(t, l, func() error {
		for deadline := time.Now().Add(5 * time.Second); !brLL.IsValid(); time.Sleep(20 * time.Millisecond) {
			br, err := netlink.LinkByName("br0")
			if err != nil {
				return err
			}
			brMAC = br.Attrs().HardwareAddr
			addrs, err := netlink.AddrList(br, netlink.FAMILY_V6)
			if err != nil {
				return err
			}
			for _, ad := range addrs {
				if ip, ok := netip.AddrFromSlice(ad.IP); ok && ip.IsLinkLocalUnicast() && ad.Flags&unix.IFA_F_TENTATIVE == 0 {
					brLL = ip
				}
			}
			if time.Now().After(deadline) {
				return errors.New("br0 has no usable link-local address")
			}
		}
		var err error
		router, err = net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6zero, Port: 9})
		return err
	})
	t.Cleanup(func() { _ = router.Close() })
	var bConn *net.UDPConn
	if err := l.InHost(b.ID, func() (err error) {
		bConn, err = net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6zero, Port: 9})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bConn.Close() })
	bICMP := icmpv6Socket(t, l, b.ID)

	// datagram has a send a UDP datagram from src to dst:9 (b's MAC
	// address or the bridge's) and reports whether conn took it.
	n := 0
	datagram := func(src, dst netip.Addr, dstMAC net.HardwareAddr, conn *net.UDPConn) bool {
		t.Helper()
		n++
		marker := []byte("ward-unbound-src-" + string(rune('a'+n%26)) + time.Now().Format("150405.000000000"))
		f, err := ethframe.UDP(ae.mac, dstMAC, netip.AddrPortFrom(src, 40000), netip.AddrPortFrom(dst, 9), marker)
		if err != nil {
			t.Fatal(err)
		}
		sendRaw(t, l, a.ID, ae, f)
		return got(conn, marker, testTimeout)
	}
	// refused opens b's connected socket to c:53, has a send b a port
	// unreachable from :: quoting it, and reports whether b's socket
	// then fails with ECONNREFUSED.
	refused := func() bool {
		t.Helper()
		return refusedAfter(t, l, b.ID, b6, c6, func(msg []byte) {
			sendRaw(t, l, a.ID, ae, icmpv6Code(t, ae.mac, be.mac, unspec, b6, msg[0], msg[1], msg[4:]))
		})
	}
	// solicit has a send all nodes a neighbour solicitation from src
	// and reports whether b's stack took it.
	allNodes := netip.MustParseAddr("ff02::1")
	allNodesMAC, _ := ethframe.GroupMAC(allNodes)
	solicit := func(src netip.Addr) bool {
		t.Helper()
		n++
		target := netip.AddrFrom16([16]byte{0xfe, 0x80, 14: byte(n >> 8), 15: byte(n)})
		body := slices.Concat([]byte{0, 0, 0, 0}, target.AsSlice())
		f, err := ethframe.ICMPv6(ae.mac, allNodesMAC, src, allNodes, 135, body)
		if err != nil {
			t.Fatal(err)
		}
		sendRaw(t, l, a.ID, ae, f)
		return received(bICMP, target.AsSlice(), testTimeout)
	}

	check := func(t *testing.T, rs *firewall.Ruleset, attacks []attempt, want bool) {
		t.Helper()
		if err := l.Load(rs); err != nil {
			t.Fatal(err)
		}
		for _, at := range attacks {
			if got := at.f(); got != want {
				t.Errorf("%s: arrived %v, want %v", at.what, got, want)
			}
		}
		for _, src := range []netip.Addr{unspec, ae.ll} {
			if !solicit(src) {
				t.Errorf("a's neighbour solicitation from %s did not reach b", src)
			}
		}
	}
	bound := []attempt{{"bound a's port unreachable from :: about b's connection to c:53", refused}}
	unknown := []attempt{
		{"unknown a's datagram from :: to b", func() bool { return datagram(unspec, b6, be.mac, bConn) }},
		{"unknown a's datagram from :: to the host's link-local address", func() bool { return datagram(unspec, brLL, brMAC, router) }},
		{"unknown a's datagram from its link-local address to the host's", func() bool { return datagram(ae.ll, brLL, brMAC, router) }},
	}
	t.Run("ward", func(t *testing.T) {
		check(t, plan.Ruleset, bound, false)
		check(t, closed, unknown, false)
	})
	t.Run("without Ward", func(t *testing.T) { check(t, &firewall.Ruleset{}, slices.Concat(bound, unknown), true) })
}
