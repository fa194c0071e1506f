package lab_test

import (
	"encoding/binary"
	"errors"
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

// portUnreachable is the ICMP (IPv4) or ICMPv6 port unreachable error
// about the UDP datagram from src to dst: the datagram's IP header and UDP
// header quoted after the error's own 8 bytes, as a host's stack writes
// it when nothing listens on dst.
func portUnreachable(t *testing.T, src, dst netip.AddrPort) []byte {
	t.Helper()
	mac := net.HardwareAddr{2, 0, 0, 0, 0, 1}
	f, err := ethframe.UDP(mac, mac, src, dst, []byte("ward-icmp-err"))
	if err != nil {
		t.Fatal(err)
	}
	pkt := f[14:]
	if src.Addr().Is4() {
		msg := slices.Concat([]byte{3, 3, 0, 0, 0, 0, 0, 0}, pkt[:20+8]) // destination unreachable, port
		binary.BigEndian.PutUint16(msg[2:4], ethframe.Checksum(msg))
		return msg
	}
	return slices.Concat([]byte{1, 4, 0, 0, 0, 0, 0, 0}, pkt[:40+8]) // destination unreachable, port
}

// TestForgedICMPError replays, in the spoof scenario, an attack on
// another pair's connection: b holds a connected UDP socket to c:53 (c
// admits b there), and a, with a raw socket and its own address, sends b
// a port unreachable quoting b's datagram to c. Conntrack marks the error
// related to b's connection whoever sends it, and the forward chain
// accepts related packets before any policy: b's socket would fail with
// ECONNREFUSED. Ward's ruleset drops it (icmp_err_v4, icmp_err_v6: a
// container's errors must quote a packet to itself), while c's own port
// unreachable about the same datagram, from c's address, still arrives.
// The negative controls, Ward's ruleset without the jumps to those chains
// and no ruleset at all, let a's error through. Over IPv4 and IPv6.
func TestForgedICMPError(t *testing.T) {
	requireLab(t)
	t.Parallel()
	plan := planFor(t, "testdata/spoof/spoof.yaml")
	hosts := map[string]*lab.Host{}
	for _, h := range plan.Hosts {
		hosts[h.ID] = h
	}
	b, c := hosts["spoof/b"], hosts["spoof/c"]
	if b == nil || c == nil || hosts["spoof/a"] == nil {
		t.Fatalf("hosts %v: want spoof/a, spoof/b and spoof/c", plan.Hosts)
	}
	addr := func(h *lab.Host, fam int) netip.Addr { return hostAddr(t, h, fam) }
	l := startLab(t, plan.Hosts)

	// refused opens b's connected socket to c:53, checks that c's
	// listener answers it (conntrack then knows the connection), has
	// host from send b a port unreachable quoting b's datagram (from
	// its own address: the kernel writes the IP header of a raw socket's
	// packets), and reports whether b's socket then fails with
	// ECONNREFUSED.
	refused := func(t *testing.T, from string, fam int) bool {
		t.Helper()
		return refusedAfter(t, l, b.ID, addr(b, fam), addr(c, fam), func(msg []byte) {
			if err := l.InHost(from, func() error {
				domain, proto := unix.AF_INET6, unix.IPPROTO_ICMPV6
				var to unix.Sockaddr = &unix.SockaddrInet6{Addr: addr(b, fam).As16()}
				if fam == 4 {
					domain, proto = unix.AF_INET, unix.IPPROTO_ICMP
					to = &unix.SockaddrInet4{Addr: addr(b, fam).As4()}
				}
				fd, err := unix.Socket(domain, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
				if err != nil {
					return err
				}
				defer unix.Close(fd)
				for range 3 {
					if err := unix.Sendto(fd, msg, 0, to); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				t.Fatalf("send from %s: %v", from, err)
			}
		})
	}

	check := func(t *testing.T, rs *firewall.Ruleset, forged bool) {
		t.Helper()
		if err := l.Load(rs); err != nil {
			t.Fatal(err)
		}
		for _, fam := range []int{4, 6} {
			if got := refused(t, "spoof/a", fam); got != forged {
				t.Errorf("IPv%d: a's port unreachable about b's connection to c:53 refused b's socket: %v, want %v", fam, got, forged)
			}
			if !refused(t, c.ID, fam) {
				t.Errorf("IPv%d: c's own port unreachable about b's datagram did not reach b's socket", fam)
			}
		}
	}
	t.Run("ward", func(t *testing.T) { check(t, plan.Ruleset, false) })
	// Negative controls: without the jumps to the error chains (through
	// their maps by source address), and
	// without Ward's tables, the forged error refuses b's socket: the
	// test sees the attack.
	noJumps := func(rules []firewall.Rule) []firewall.Rule {
		return slices.DeleteFunc(rules, func(r firewall.Rule) bool { return r.VMap != nil && r.ICMP != 0 })
	}
	rs := withChain(t, plan.Ruleset, firewall.ChainForward, noJumps)
	if len(rs.Chain(firewall.ChainForward).Rules) != len(plan.Ruleset.Chain(firewall.ChainForward).Rules)-2 {
		t.Fatalf("forward chain has not two jumps to the ICMP error chains:\n%s", plan.Ruleset)
	}
	t.Run("without the error chains", func(t *testing.T) { check(t, rs, true) })
	t.Run("without Ward", func(t *testing.T) { check(t, &firewall.Ruleset{}, true) })
}

// refusedAfter opens host id's connected UDP socket from bAddr's family to
// cAddr:53, checks that c's listener answers it (conntrack then knows the
// connection), has send deliver a port unreachable quoting the socket's
// datagram (the ICMP message, without IP header), and reports whether the
// socket then fails with ECONNREFUSED.
func refusedAfter(t *testing.T, l *lab.Lab, id string, bAddr, cAddr netip.Addr, send func(msg []byte)) bool {
	t.Helper()
	network := "udp6"
	if bAddr.Is4() {
		network = "udp4"
	}
	var conn *net.UDPConn
	if err := l.InHost(id, func() (err error) {
		conn, err = net.DialUDP(network, nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(cAddr, 53)))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	buf := make([]byte, 2048)
	if _, err := conn.Write([]byte("ward-icmp-err")); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * testTimeout))
	if _, err := conn.Read(buf); err != nil {
		t.Fatalf("%s's datagram to %s:53 got no answer: %v", id, cAddr, err)
	}
	local := conn.LocalAddr().(*net.UDPAddr).AddrPort()
	send(portUnreachable(t, netip.AddrPortFrom(bAddr, local.Port()), netip.AddrPortFrom(cAddr, 53)))
	_ = conn.SetReadDeadline(time.Now().Add(3 * testTimeout))
	_, err := conn.Read(buf)
	return errors.Is(err, unix.ECONNREFUSED)
}
