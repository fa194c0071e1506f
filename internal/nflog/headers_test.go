package nflog

import (
	"encoding/binary"
	"net/netip"
	"testing"
)

func v4(proto byte, frag uint16, l4 []byte) []byte {
	b := make([]byte, 20, 20+len(l4))
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:], uint16(20+len(l4)))
	binary.BigEndian.PutUint16(b[6:], frag)
	b[8], b[9] = 64, proto
	copy(b[12:], []byte{192, 0, 2, 1, 198, 51, 100, 7})
	return append(b, l4...)
}

func v6(next byte, rest []byte) []byte {
	b := make([]byte, 40, 40+len(rest))
	b[0] = 0x60
	binary.BigEndian.PutUint16(b[4:], uint16(len(rest)))
	b[6], b[7] = next, 64
	src, dst := netip.MustParseAddr("2001:db8::1").As16(), netip.MustParseAddr("2001:db8::2").As16()
	copy(b[8:], src[:])
	copy(b[24:], dst[:])
	return append(b, rest...)
}

func tcp(sp, dp uint16, flags byte) []byte {
	b := make([]byte, 20)
	binary.BigEndian.PutUint16(b, sp)
	binary.BigEndian.PutUint16(b[2:], dp)
	b[12], b[13] = 0x50, flags
	return b
}

func udp(sp, dp uint16) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint16(b, sp)
	binary.BigEndian.PutUint16(b[2:], dp)
	return b
}

func ext(next byte, units byte) []byte { // an 8+8*units-byte option header
	b := make([]byte, 8+8*int(units))
	b[0], b[1] = next, units
	return b
}

func concat(bs ...[]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

func TestParseHeaders(t *testing.T) {
	a4, b4 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("198.51.100.7")
	a6, b6 := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
	fragHdr := func(next byte, off uint16) []byte {
		b := make([]byte, 8)
		b[0] = next
		binary.BigEndian.PutUint16(b[2:], off<<3)
		return b
	}
	ah := make([]byte, 16) // AH with payload length 2: (2+2)*4 = 16 bytes
	ah[0], ah[1] = 6, 2
	for _, c := range []struct {
		name string
		pkt  []byte
		want Headers
		err  bool
	}{
		{"v4 tcp syn", v4(6, 0x4000, tcp(40000, 5432, TCPSyn)), Headers{Src: a4, Dst: b4, Proto: 6, SrcPort: 40000, DstPort: 5432, TCPFlags: TCPSyn, Length: 40}, false},
		{"v4 udp", v4(17, 0, udp(53, 33000)), Headers{Src: a4, Dst: b4, Proto: 17, SrcPort: 53, DstPort: 33000, Length: 28}, false},
		{"v4 icmp echo", v4(1, 0, []byte{8, 0, 0, 0}), Headers{Src: a4, Dst: b4, Proto: 1, ICMPType: 8, Length: 24}, false},
		{"v4 later fragment has no ports", v4(6, 0x2000|185, tcp(1, 2, 0)), Headers{Src: a4, Dst: b4, Proto: 6, Fragment: true, Length: 40}, false},
		{"v4 first fragment has ports", v4(17, 0x2000, udp(1, 2)), Headers{Src: a4, Dst: b4, Proto: 17, SrcPort: 1, DstPort: 2, Length: 28}, false},
		{"v4 options", func() []byte {
			p := v4(17, 0, nil)
			p[0] = 0x46 // IHL 6: 4 bytes of options
			p = append(p, 1, 1, 1, 1)
			return append(p, udp(7, 8)...)
		}(), Headers{Src: a4, Dst: b4, Proto: 17, SrcPort: 7, DstPort: 8, Length: 20}, false},
		{"v4 truncated transport", v4(6, 0, []byte{0x9c, 0x40}), Headers{Src: a4, Dst: b4, Proto: 6, Length: 22}, false},
		{"v4 short", v4(6, 0, nil)[:19], Headers{}, true},
		{"v4 ihl beyond copy", func() []byte { p := v4(6, 0, nil); p[0] = 0x4f; return p }(), Headers{}, true},
		{"v4 ihl below minimum", func() []byte { p := v4(6, 0, tcp(1, 2, 0)); p[0] = 0x44; return p }(), Headers{}, true},
		{"v6 tcp", v6(6, tcp(1234, 443, TCPSyn|TCPAck)), Headers{Src: a6, Dst: b6, Proto: 6, SrcPort: 1234, DstPort: 443, TCPFlags: TCPSyn | TCPAck, Length: 60}, false},
		{"v6 hop-by-hop then dest opts then udp", v6(0, concat(ext(60, 0), ext(17, 1), udp(5, 6))), Headers{Src: a6, Dst: b6, Proto: 17, SrcPort: 5, DstPort: 6, Length: 40 + 8 + 16 + 8}, false},
		{"v6 first fragment", v6(44, concat(fragHdr(6, 0), tcp(9, 10, TCPSyn))), Headers{Src: a6, Dst: b6, Proto: 6, SrcPort: 9, DstPort: 10, TCPFlags: TCPSyn, Length: 68}, false},
		{"v6 later fragment", v6(44, concat(fragHdr(6, 100), tcp(9, 10, TCPSyn))), Headers{Src: a6, Dst: b6, Proto: 6, Fragment: true, Length: 68}, false},
		{"v6 AH then tcp", v6(51, concat(ah, tcp(11, 12, TCPRst))), Headers{Src: a6, Dst: b6, Proto: 6, SrcPort: 11, DstPort: 12, TCPFlags: TCPRst, Length: 76}, false},
		{"v6 icmpv6", v6(58, []byte{128, 0, 0, 0}), Headers{Src: a6, Dst: b6, Proto: 58, ICMPType: 128, Length: 44}, false},
		{"v6 option header cut by the copy", v6(0, []byte{6, 4, 0, 0}), Headers{Src: a6, Dst: b6, Proto: 0, Cut: true, Length: 44}, false},
		{"v6 short", v6(6, nil)[:39], Headers{}, true},
		{"empty", nil, Headers{}, true},
		{"not IP", []byte{0x20, 0, 0, 0}, Headers{}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseHeaders(c.pkt)
			if (err != nil) != c.err {
				t.Fatalf("err %v, want error %v", err, c.err)
			}
			if got != c.want {
				t.Errorf("got  %+v\nwant %+v", got, c.want)
			}
		})
	}
}

func FuzzParseHeaders(f *testing.F) {
	f.Add(v4(6, 0, tcp(1, 2, TCPSyn)))
	f.Add(v6(0, concat(ext(44, 0), []byte{6, 0, 0, 0, 0, 0, 0, 0}, tcp(3, 4, 0))))
	f.Add(v6(51, []byte{6, 255, 0, 0, 0, 0, 0, 0}))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseHeaders(b)
		if err == nil && !h.Src.IsValid() {
			t.Fatal("no error and no source address")
		}
	})
}

// TestLongExtensionChain: a probe behind more extension headers than a
// real stack sends is still a TCP SYN to its port, not portless traffic
// of protocol 60 (which would make every probe of a port scan the same
// "port").
func TestLongExtensionChain(t *testing.T) {
	var chain []byte
	const n = 12
	for i := range n {
		next := byte(60) // destination options
		if i == n-1 {
			next = 6
		}
		chain = append(chain, next, 0, 1, 4, 0, 0, 0, 0) // PadN
	}
	h, err := ParseHeaders(v6(60, append(chain, tcp(40000, 22, TCPSyn)...)))
	if err != nil {
		t.Fatal(err)
	}
	if h.Proto != 6 || h.DstPort != 22 || h.TCPFlags != TCPSyn {
		t.Errorf("headers %+v, want a TCP SYN to port 22", h)
	}
	// A chain cut by the copy ends the walk.
	h, err = ParseHeaders(v6(60, chain[:8*5+3]))
	if err != nil || h.Proto != 60 || h.DstPort != 0 || !h.Cut {
		t.Errorf("cut chain: %+v, %v", h, err)
	}
}
