package ethframe_test

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"slices"
	"testing"

	"github.com/wardsec/ward/internal/ethframe"
)

// TestUDP checks the frames UDP builds, IPv4 and IPv6: their
// layout, and checksums that verify (the one's complement sum of what a
// checksum covers, the checksum included, is 0xffff).
func TestUDP(t *testing.T) {
	srcMAC := net.HardwareAddr{0x02, 0, 0, 0, 0, 1}
	dstMAC := net.HardwareAddr{0x02, 0, 0, 0, 0, 2}
	payload := []byte("ward-test 1")
	sum := func(b []byte) uint32 {
		var s uint32
		for i := 0; i < len(b); i += 2 {
			w := uint32(b[i]) << 8
			if i+1 < len(b) {
				w |= uint32(b[i+1])
			}
			s += w
		}
		for s > 0xffff {
			s = s>>16 + s&0xffff
		}
		return s
	}
	for _, c := range []struct {
		src, dst  string
		etherType uint16
		ipLen     int
	}{
		{"10.0.0.1:4000", "10.0.0.2:53", 0x0800, 20},
		{"[fd00::1]:4000", "[fd00::2]:53", 0x86dd, 40},
	} {
		src, dst := netip.MustParseAddrPort(c.src), netip.MustParseAddrPort(c.dst)
		f, err := ethframe.UDP(srcMAC, dstMAC, src, dst, payload)
		if err != nil {
			t.Fatalf("%s -> %s: %v", src, dst, err)
		}
		if want := 14 + c.ipLen + 8 + len(payload); len(f) != want {
			t.Fatalf("%s -> %s: %d bytes, want %d", src, dst, len(f), want)
		}
		if !bytes.Equal(f[0:6], dstMAC) || !bytes.Equal(f[6:12], srcMAC) || binary.BigEndian.Uint16(f[12:14]) != c.etherType {
			t.Errorf("%s -> %s: Ethernet header % x", src, dst, f[:14])
		}
		ip, udp := f[14:14+c.ipLen], f[14+c.ipLen:]
		pseudo := slices.Concat(src.Addr().AsSlice(), dst.Addr().AsSlice(), []byte{0, 17}, udp[4:6])
		if src.Addr().Is4() {
			if s := sum(ip); s != 0xffff {
				t.Errorf("%s -> %s: IPv4 header checksum does not verify (%#x)", src, dst, s)
			}
		}
		if s := sum(slices.Concat(pseudo, udp)); s != 0xffff {
			t.Errorf("%s -> %s: UDP checksum does not verify (%#x)", src, dst, s)
		}
		if binary.BigEndian.Uint16(udp[0:2]) != src.Port() || binary.BigEndian.Uint16(udp[2:4]) != dst.Port() || !bytes.Equal(udp[8:], payload) {
			t.Errorf("%s -> %s: UDP datagram % x", src, dst, udp)
		}
	}
	v4, v6 := netip.MustParseAddrPort("10.0.0.1:1"), netip.MustParseAddrPort("[fd00::1]:1")
	for _, c := range []struct {
		name     string
		mac      net.HardwareAddr
		src, dst netip.AddrPort
		payload  []byte
	}{
		{"families", srcMAC, v4, v6, payload},
		{"invalid", srcMAC, netip.AddrPort{}, netip.AddrPort{}, payload},
		{"MAC", net.HardwareAddr{1, 2, 3}, v4, v4, payload},
		{"long", srcMAC, v4, v4, make([]byte, 1393)},
	} {
		if _, err := ethframe.UDP(c.mac, dstMAC, c.src, c.dst, c.payload); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
}

func TestTagAndGroupMAC(t *testing.T) {
	src, dst := net.HardwareAddr{2, 0, 0, 0, 0, 1}, net.HardwareAddr{2, 0, 0, 0, 0, 2}
	f, err := ethframe.UDP(src, dst, netip.MustParseAddrPort("10.0.0.1:1000"), netip.MustParseAddrPort("10.0.0.2:53"), []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	tagged, err := ethframe.Tag(f, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(tagged) != len(f)+4 || !bytes.Equal(tagged[12:16], []byte{0x81, 0x00, 0, 0}) || !bytes.Equal(tagged[16:], f[12:]) || !bytes.Equal(tagged[:12], f[:12]) {
		t.Errorf("Tag(f, 0) = % x", tagged[:20])
	}
	if tagged, _ := ethframe.Tag(f, 4094); !bytes.Equal(tagged[14:16], []byte{0x0f, 0xfe}) {
		t.Errorf("Tag(f, 4094): TCI % x", tagged[14:16])
	}
	if _, err := ethframe.Tag(f, 4095); err == nil {
		t.Error("Tag(f, 4095): no error")
	}
	for _, c := range []struct {
		addr string
		want string
	}{
		{"255.255.255.255", "ff:ff:ff:ff:ff:ff"},
		{"224.0.0.251", "01:00:5e:00:00:fb"},
		{"239.255.255.250", "01:00:5e:7f:ff:fa"},
		{"ff02::1", "33:33:00:00:00:01"},
		{"ff02::1:ff00:3", "33:33:ff:00:00:03"},
	} {
		if got, ok := ethframe.GroupMAC(netip.MustParseAddr(c.addr)); !ok || got.String() != c.want {
			t.Errorf("GroupMAC(%s) = %s, %v; want %s", c.addr, got, ok, c.want)
		}
	}
	if _, ok := ethframe.GroupMAC(netip.MustParseAddr("10.0.0.255")); ok {
		t.Error("GroupMAC(10.0.0.255): a unicast address is not a group")
	}
}

// TestICMPv6 checks the frames ICMPv6 builds: the layout, hop limit 255
// (receivers drop neighbour discovery with any other) and a checksum that
// verifies over the pseudo-header; and the errors.
func TestICMPv6(t *testing.T) {
	srcMAC, dstMAC := net.HardwareAddr{2, 0, 0, 0, 0, 1}, net.HardwareAddr{0x33, 0x33, 0, 0, 0, 1}
	src, dst := netip.MustParseAddr("fe80::1"), netip.MustParseAddr("ff02::1")
	body := []byte("ward-test body")
	f, err := ethframe.ICMPv6(srcMAC, dstMAC, src, dst, 134, body)
	if err != nil {
		t.Fatal(err)
	}
	if len(f) != 14+40+4+len(body) || !bytes.Equal(f[0:6], dstMAC) || !bytes.Equal(f[6:12], srcMAC) || binary.BigEndian.Uint16(f[12:14]) != 0x86dd {
		t.Fatalf("frame % x", f)
	}
	ip, msg := f[14:54], f[54:]
	if ip[0] != 0x60 || ip[6] != 58 || ip[7] != 255 || int(binary.BigEndian.Uint16(ip[4:6])) != len(msg) ||
		!bytes.Equal(ip[8:24], src.AsSlice()) || !bytes.Equal(ip[24:40], dst.AsSlice()) {
		t.Errorf("IPv6 header % x", ip)
	}
	if msg[0] != 134 || msg[1] != 0 || !bytes.Equal(msg[4:], body) {
		t.Errorf("ICMPv6 message % x", msg)
	}
	pseudo := slices.Concat(src.AsSlice(), dst.AsSlice(), []byte{0, 0}, ip[4:6], []byte{0, 0, 0, 58})
	var s uint32
	for b := slices.Concat(pseudo, msg, []byte{0}[:len(msg)%2]); len(b) >= 2; b = b[2:] {
		s += uint32(b[0])<<8 | uint32(b[1])
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	if s != 0xffff {
		t.Errorf("ICMPv6 checksum does not verify (%#x)", s)
	}
	for _, c := range []struct {
		name     string
		mac      net.HardwareAddr
		src, dst netip.Addr
		body     []byte
	}{
		{"IPv4", srcMAC, netip.MustParseAddr("10.0.0.1"), dst, body},
		{"mapped", srcMAC, netip.MustParseAddr("::ffff:10.0.0.1"), dst, body},
		{"MAC", net.HardwareAddr{1, 2, 3}, src, dst, body},
		{"long", srcMAC, src, dst, make([]byte, 1393)},
	} {
		if _, err := ethframe.ICMPv6(c.mac, dstMAC, c.src, c.dst, 128, c.body); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
}
