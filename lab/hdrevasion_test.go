package lab_test

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/internal/ethframe"
	"github.com/wardsec/ward/portset"
)

// withIPv4Options inserts opts (a multiple of 4 bytes) after the IPv4
// header of frame (ethframe.UDP's), fixing the header's length and
// checksum; the UDP checksum does not cover them.
func withIPv4Options(t *testing.T, frame, opts []byte) []byte {
	t.Helper()
	if len(opts)%4 != 0 || len(opts) > 40 {
		t.Fatalf("IPv4 options of %d bytes", len(opts))
	}
	h := slices.Concat(frame[14:34], opts)
	h[0] = 0x40 | byte(len(h)/4)                                                          // #nosec G115 -- at most 15
	binary.BigEndian.PutUint16(h[2:4], binary.BigEndian.Uint16(h[2:4])+uint16(len(opts))) // #nosec G115 -- at most 40
	h[10], h[11] = 0, 0
	binary.BigEndian.PutUint16(h[10:12], ethframe.Checksum(h))
	return slices.Concat(frame[:14], h, frame[34:])
}

// ipv6Ext is an IPv6 extension header: its type (the next-header value
// naming it) and its bytes but the first (the next header, filled in).
type ipv6Ext struct {
	typ  byte
	body []byte
}

// padOpts is a hop-by-hop or destination options header holding one
// PadN option: 8 bytes.
var padOpts = []byte{0, 1, 4, 0, 0, 0, 0}

// withIPv6Exts inserts exts after the IPv6 header of frame
// (ethframe.UDP's), chained in order, the last naming the UDP header;
// the UDP checksum does not cover them.
func withIPv6Exts(t *testing.T, frame []byte, exts []ipv6Ext) []byte {
	t.Helper()
	h := slices.Clone(frame[14:54])
	next := h[6]
	var chain []byte
	for i, e := range exts {
		if (len(e.body)+1)%8 != 0 {
			t.Fatalf("extension header %d of %d bytes", e.typ, len(e.body)+1)
		}
		n := next
		if i+1 < len(exts) {
			n = exts[i+1].typ
		}
		chain = append(append(chain, n), e.body...)
	}
	if len(exts) > 0 {
		h[6] = exts[0].typ
	}
	binary.BigEndian.PutUint16(h[4:6], binary.BigEndian.Uint16(h[4:6])+uint16(len(chain))) // #nosec G115 -- a test frame
	return slices.Concat(frame[:14], h, chain, frame[54:])
}

// TestHeaderEvasion attacks the spoof scenario (c admits a on 54/UDP
// only) with datagrams from a to c's port 7000, which no grant admits,
// whose UDP header hides behind IPv4 options or IPv6 extension header
// chains (hop-by-hop and destination options, a routing header of type 0
// with no segment left, an atomic fragment header, a long destination
// options header): a filter that read the ports at a fixed offset, or
// stopped at the first extension header, would judge them as some other
// protocol or port. Each is a frame c's stack takes: without Ward's
// ruleset (negative control) every one reaches c's socket; with it none
// does.
//
// It does not run in parallel with the other lab tests: when it did (go
// test ./lab, under -race), the negative control's IPv6 datagrams with
// extension headers did not reach c, also without any ruleset, while the
// IPv4 ones did; alone, every one arrives. The cause is not found yet
// (kernel state shared between network namespaces is the suspect).
func TestHeaderEvasion(t *testing.T) {
	requireLab(t)
	plan := planFor(t, "testdata/spoof/spoof.yaml")
	l := startLab(t, plan.Hosts)
	a, c := hostEth0(t, l, "spoof/a"), hostEth0(t, l, "spoof/c")
	const port = 7000
	o := firewall.NewOracle(plan.Engine, plan.Inventory, firewall.Options{})
	for _, pair := range [][2]string{{"10.9.0.1", "10.9.0.3"}, {"fd00:9::1", "fd00:9::3"}} {
		if o.Allows(firewall.Forward, netip.MustParseAddr(pair[0]), netip.MustParseAddr(pair[1]), portset.UDP, port) {
			t.Fatalf("engine allows %s -> %s on %d/UDP; the test needs a denied port", pair[0], pair[1], port)
		}
	}
	var conn *net.UDPConn
	if err := l.InHost("spoof/c", func() (err error) {
		conn, err = net.ListenUDP("udp", &net.UDPAddr{Port: port}) // both families
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })

	rh0 := append([]byte{2, 0, 0, 0, 0, 0, 0}, netip.MustParseAddr("fd00:9::3").AsSlice()...) // type 0, no segment left
	atomic := []byte{0, 0, 0, 0x57, 0x44, 0, 1}                                               // offset 0, no more fragments
	// A 64-byte destination options header: six experimental options to
	// skip (RFC 4727: 0x1e), eight bytes each, and a PadN of two.
	long := []byte{7}
	for range 6 {
		long = append(append(long, 0x1e, 8), make([]byte, 8)...)
	}
	long = append(long, 1, 0)
	type variant struct {
		name  string
		src   netip.AddrPort
		dst   netip.Addr
		build func([]byte) []byte
	}
	a4, c4 := netip.MustParseAddrPort("10.9.0.1:40000"), netip.MustParseAddr("10.9.0.3")
	a6, c6 := netip.MustParseAddrPort("[fd00:9::1]:40000"), netip.MustParseAddr("fd00:9::3")
	nops := func(n int) []byte { return append(slices.Repeat([]byte{1}, n-1), 0) }
	variants := []variant{
		{"IPv4, 4 bytes of options", a4, c4, func(f []byte) []byte { return withIPv4Options(t, f, nops(4)) }},
		{"IPv4, 40 bytes of options", a4, c4, func(f []byte) []byte { return withIPv4Options(t, f, nops(40)) }},
		{"IPv4, router alert", a4, c4, func(f []byte) []byte { return withIPv4Options(t, f, []byte{148, 4, 0, 0}) }},
		{"IPv6, hop-by-hop, destination options, routing type 0, destination options", a6, c6, func(f []byte) []byte {
			return withIPv6Exts(t, f, []ipv6Ext{{unix.IPPROTO_HOPOPTS, padOpts}, {unix.IPPROTO_DSTOPTS, padOpts},
				{unix.IPPROTO_ROUTING, rh0}, {unix.IPPROTO_DSTOPTS, padOpts}})
		}},
		{"IPv6, atomic fragment", a6, c6, func(f []byte) []byte {
			return withIPv6Exts(t, f, []ipv6Ext{{unix.IPPROTO_FRAGMENT, atomic}})
		}},
		{"IPv6, hop-by-hop then atomic fragment", a6, c6, func(f []byte) []byte {
			return withIPv6Exts(t, f, []ipv6Ext{{unix.IPPROTO_HOPOPTS, padOpts}, {unix.IPPROTO_FRAGMENT, atomic}})
		}},
		{"IPv6, hop-by-hop, 64 bytes of destination options", a6, c6, func(f []byte) []byte {
			return withIPv6Exts(t, f, []ipv6Ext{{unix.IPPROTO_HOPOPTS, padOpts}, {unix.IPPROTO_DSTOPTS, long}})
		}},
	}
	n := 0
	send := func(v variant, dport uint16) bool {
		t.Helper()
		n++
		marker := fmt.Appendf(nil, "ward-hdr-%d-%d", os.Getpid(), n)
		f, err := ethframe.UDP(a.mac, c.mac, v.src, netip.AddrPortFrom(v.dst, dport), marker)
		if err != nil {
			t.Fatal(err)
		}
		sendRaw(t, l, "spoof/a", a, v.build(f))
		return got(conn, marker, testTimeout)
	}

	if err := l.Load(plan.Ruleset); err != nil {
		t.Fatal(err)
	}
	for _, v := range variants {
		if send(v, port) {
			t.Errorf("%s: a's datagram to c:%d, which c's ingress denies, reached c", v.name, port)
		}
	}

	// Without Ward's tables (negative control), every one arrives: c's
	// stack takes them.
	if err := l.Load(&firewall.Ruleset{}); err != nil {
		t.Fatal(err)
	}
	for _, v := range variants {
		if !send(v, port) {
			t.Errorf("%s: without Ward's ruleset, a's datagram to c:%d did not reach c: the test cannot see the attack", v.name, port)
		}
	}
}
