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

	"golang.org/x/sys/unix"

	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/internal/ethframe"
	"github.com/wardsec/ward/portset"
)

// tcpFrame builds an Ethernet frame from srcMAC to dstMAC holding an
// IPv4 or IPv6 packet with a TCP segment from src to dst with flags,
// sequence number seq and payload, its checksums right.
func tcpFrame(t *testing.T, srcMAC, dstMAC net.HardwareAddr, src, dst netip.AddrPort, flags byte, seq uint32, payload []byte) []byte {
	t.Helper()
	seg := make([]byte, 20, 20+len(payload))
	binary.BigEndian.PutUint16(seg[0:2], src.Port())
	binary.BigEndian.PutUint16(seg[2:4], dst.Port())
	binary.BigEndian.PutUint32(seg[4:8], seq)
	binary.BigEndian.PutUint32(seg[8:12], 0x5744)
	seg[12] = 5 << 4
	seg[13] = flags
	binary.BigEndian.PutUint16(seg[14:16], 65535)
	seg = append(seg, payload...)
	n := uint16(len(seg)) // #nosec G115 -- a test frame
	s, d := src.Addr().AsSlice(), dst.Addr().AsSlice()
	pseudo := slices.Concat(s, d)
	var ip []byte
	if src.Addr().Is4() {
		pseudo = binary.BigEndian.AppendUint16(append(pseudo, 0, unix.IPPROTO_TCP), n)
		ip = make([]byte, 20)
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[2:4], 20+n)
		ip[8], ip[9] = 64, unix.IPPROTO_TCP
		copy(ip[12:16], s)
		copy(ip[16:20], d)
		binary.BigEndian.PutUint16(ip[10:12], ethframe.Checksum(ip))
	} else {
		pseudo = append(binary.BigEndian.AppendUint32(pseudo, uint32(n)), 0, 0, 0, unix.IPPROTO_TCP)
		ip = make([]byte, 40)
		ip[0] = 0x60
		binary.BigEndian.PutUint16(ip[4:6], n)
		ip[6], ip[7] = unix.IPPROTO_TCP, 64
		copy(ip[8:24], s)
		copy(ip[24:40], d)
	}
	binary.BigEndian.PutUint16(seg[16:18], ethframe.Checksum(slices.Concat(pseudo, seg)))
	eth := slices.Concat(dstMAC, srcMAC, binary.BigEndian.AppendUint16(nil, ethframe.EtherType(src.Addr())))
	return slices.Concat(eth, ip, seg)
}

// seen reports whether a frame holding marker arrives on the packet
// socket fd (capture) before the timeout.
func seen(fd int, marker []byte, timeout time.Duration) bool {
	buf := make([]byte, 4096)
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err == nil && bytes.Contains(buf[:n], marker) {
			return true
		}
	}
	return false
}

// TestTCPFlagProbes attacks the spoof scenario (c admits a on 54/UDP
// only) with TCP segments from a to c's TCP listener on 53, which c's
// ingress denies a, that open no connection: ACK, data, FIN, RST, the
// "Xmas" and "null" scans, SYN+ACK, SYN+FIN, SYN+RST, and a SYN with
// data, over IPv4 and IPv6. Conntrack picks some segments of an unknown
// connection up as new (nf_conntrack_tcp_loose) and marks others
// invalid; the ruleset's mid-stream and invalid drops and c's ingress
// stand between them and c's stack, which would answer them (a reset, a
// SYN+ACK) and so tell a scanner the port is there. None may reach c's
// interface; without Ward's ruleset (negative control) each does.
func TestTCPFlagProbes(t *testing.T) {
	requireLab(t)
	t.Parallel()
	plan := planFor(t, "testdata/spoof/spoof.yaml")
	l := startLab(t, plan.Hosts)
	a, c := hostEth0(t, l, "spoof/a"), hostEth0(t, l, "spoof/c")
	const (
		fin, syn, rst, psh, ack, urg = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
		port                         = 53
	)
	pairs := [][2]netip.Addr{
		{netip.MustParseAddr("10.9.0.1"), netip.MustParseAddr("10.9.0.3")},
		{netip.MustParseAddr("fd00:9::1"), netip.MustParseAddr("fd00:9::3")},
	}
	o := firewall.NewOracle(plan.Engine, plan.Inventory, firewall.Options{})
	for _, p := range pairs {
		if o.Allows(firewall.Forward, p[0], p[1], portset.TCP, port) {
			t.Fatalf("engine allows %s -> %s on %d/TCP; the test needs a denied port", p[0], p[1], port)
		}
	}
	probes := []struct {
		name  string
		flags byte
	}{
		{"ACK", ack}, {"ACK+PSH with data", ack | psh}, {"FIN", fin}, {"FIN+ACK", fin | ack}, {"RST", rst},
		{"RST+ACK", rst | ack}, {"Xmas", fin | psh | urg}, {"null", 0}, {"SYN+ACK", syn | ack},
		{"SYN+FIN", syn | fin}, {"SYN+RST", syn | rst}, {"SYN+PSH+URG", syn | psh | urg}, {"SYN", syn},
	}
	fd := capture(t, l, "spoof/c", c)
	n := 0
	send := func(p [2]netip.Addr, flags byte) bool {
		t.Helper()
		n++
		marker := fmt.Appendf(nil, "ward-tcp-%d-%d", os.Getpid(), n)
		f := tcpFrame(t, a.mac, c.mac, netip.AddrPortFrom(p[0], uint16(41000+n)), netip.AddrPortFrom(p[1], port), flags, uint32(n)*1000, marker) // #nosec G115 -- a few dozen
		sendRaw(t, l, "spoof/a", a, f)
		return seen(fd, marker, testTimeout)
	}

	if err := l.Load(plan.Ruleset); err != nil {
		t.Fatal(err)
	}
	for _, p := range pairs {
		for _, pr := range probes {
			if send(p, pr.flags) {
				t.Errorf("%s from %s to %s:%d/TCP, which c's ingress denies, reached c", pr.name, p[0], p[1], port)
			}
		}
	}

	if err := l.Load(&firewall.Ruleset{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range pairs {
		for _, pr := range probes {
			if !send(p, pr.flags) {
				t.Errorf("without Ward's ruleset, %s from %s to %s:%d/TCP did not reach c: the test cannot see the attack", pr.name, p[0], p[1], port)
			}
		}
	}
}
