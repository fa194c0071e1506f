package nflog

import (
	"encoding/binary"
	"errors"
	"net/netip"
)

// Headers are the fields of a logged packet's IP and transport headers
// that a flow is made of.
type Headers struct {
	Src, Dst netip.Addr
	// Proto is the transport protocol (IPPROTO_TCP, _UDP, _SCTP, _ICMP,
	// _ICMPV6, ...), after IPv6 extension headers.
	Proto uint8
	// SrcPort and DstPort are TCP, UDP and SCTP ports.
	SrcPort, DstPort uint16
	// TCPFlags are the TCP header's flag bits (FIN 0x01, SYN 0x02, RST
	// 0x04, PSH 0x08, ACK 0x10, URG 0x20, ECE 0x40, CWR 0x80).
	TCPFlags uint8
	// ICMPType and ICMPCode are ICMP's and ICMPv6's.
	ICMPType, ICMPCode uint8
	// Fragment is set for a non-first fragment: it has no transport
	// header, so the ports are zero.
	Fragment bool
	// Cut is set when the copy ends within IPv6 extension headers: the
	// transport protocol and ports are not known (Proto is the last
	// extension header's).
	Cut bool
	// Length is the IP packet's total length from its header.
	Length int
}

// TCP flag bits of Headers.TCPFlags.
const (
	TCPFin = 0x01
	TCPSyn = 0x02
	TCPRst = 0x04
	TCPAck = 0x10
)

var errShort = errors.New("nflog: packet shorter than its headers")

// ParseHeaders reads the IP header at the start of payload and, when the
// copy reaches it, the transport header. A payload too short for the IP
// header, or not IPv4 or IPv6, is an error; one too short for the
// transport header leaves the ports zero.
func ParseHeaders(payload []byte) (Headers, error) {
	if len(payload) < 1 {
		return Headers{}, errShort
	}
	var h Headers
	var l4 []byte
	switch payload[0] >> 4 {
	case 4:
		if len(payload) < 20 {
			return Headers{}, errShort
		}
		ihl := int(payload[0]&0x0f) * 4
		if ihl < 20 || len(payload) < ihl {
			return Headers{}, errShort
		}
		h.Length = int(binary.BigEndian.Uint16(payload[2:]))
		h.Proto = payload[9]
		h.Src = netip.AddrFrom4([4]byte(payload[12:16]))
		h.Dst = netip.AddrFrom4([4]byte(payload[16:20]))
		if binary.BigEndian.Uint16(payload[6:])&0x1fff != 0 {
			h.Fragment = true
			return h, nil
		}
		l4 = payload[ihl:]
	case 6:
		if len(payload) < 40 {
			return Headers{}, errShort
		}
		h.Length = 40 + int(binary.BigEndian.Uint16(payload[4:]))
		h.Src = netip.AddrFrom16([16]byte(payload[8:24]))
		h.Dst = netip.AddrFrom16([16]byte(payload[24:40]))
		next, rest := payload[6], payload[40:]
		// Extension headers (RFC 8200 4.1), however many: each takes
		// 8 bytes or more of the copy, whose end ends the walk. (A cap
		// on their number let a probe behind a long chain pass as
		// portless traffic of protocol 60.)
	walk:
		for {
			switch next {
			case 0, 43, 60: // hop-by-hop, routing, destination options
				if len(rest) < 8 {
					h.Proto, h.Cut = next, true
					return h, nil
				}
				n := 8 + int(rest[1])*8
				if len(rest) < n {
					h.Proto, h.Cut = next, true
					return h, nil
				}
				next, rest = rest[0], rest[n:]
				continue
			case 44: // fragment
				if len(rest) < 8 {
					h.Proto, h.Cut = next, true
					return h, nil
				}
				if binary.BigEndian.Uint16(rest[2:])&0xfff8 != 0 {
					h.Proto, h.Fragment = rest[0], true
					return h, nil
				}
				next, rest = rest[0], rest[8:]
				continue
			case 51: // authentication header: length in 4-octet units, minus 2
				if len(rest) < 8 {
					h.Proto, h.Cut = next, true
					return h, nil
				}
				n := (int(rest[1]) + 2) * 4
				if len(rest) < n {
					h.Proto, h.Cut = next, true
					return h, nil
				}
				next, rest = rest[0], rest[n:]
				continue
			}
			break walk
		}
		h.Proto, l4 = next, rest
	default:
		return Headers{}, errors.New("nflog: not an IPv4 or IPv6 packet")
	}
	switch h.Proto {
	case 6: // TCP
		if len(l4) >= 14 {
			h.SrcPort = binary.BigEndian.Uint16(l4)
			h.DstPort = binary.BigEndian.Uint16(l4[2:])
			h.TCPFlags = l4[13]
		}
	case 17, 132, 136: // UDP, SCTP, UDP-Lite
		if len(l4) >= 4 {
			h.SrcPort = binary.BigEndian.Uint16(l4)
			h.DstPort = binary.BigEndian.Uint16(l4[2:])
		}
	case 1, 58: // ICMP, ICMPv6
		if len(l4) >= 2 {
			h.ICMPType, h.ICMPCode = l4[0], l4[1]
		}
	}
	return h, nil
}
