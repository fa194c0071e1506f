package ethframe

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"golang.org/x/sys/unix"
)

// UDP builds an Ethernet frame from srcMAC to dstMAC holding an
// IPv4 or IPv6 packet (src's family, without options or extension
// headers) with a UDP datagram from src to dst carrying payload (at most
// 1392 bytes), with valid IPv4 header and UDP checksums: what an
// AF_PACKET socket of type SOCK_RAW sends as is, whatever the sender's
// own addresses. Package lab sends it to prove anti-spoofing; so does the
// test server of package dockerinv, from inside a Docker container.
func UDP(srcMAC, dstMAC net.HardwareAddr, src, dst netip.AddrPort, payload []byte) ([]byte, error) {
	if len(srcMAC) != 6 || len(dstMAC) != 6 {
		return nil, fmt.Errorf("MAC addresses %s, %s: want 6 bytes each", srcMAC, dstMAC)
	}
	if !src.Addr().IsValid() || !dst.Addr().IsValid() || src.Addr().Is4() != dst.Addr().Is4() {
		return nil, fmt.Errorf("%s -> %s: want two addresses of one family", src, dst)
	}
	ulen := 8 + len(payload)
	if ulen > 1400 {
		return nil, fmt.Errorf("payload of %d bytes: too long", len(payload))
	}
	n := uint16(ulen) // #nosec G115 -- at most 1408, checked above
	udp := make([]byte, ulen)
	binary.BigEndian.PutUint16(udp[0:2], src.Port())
	binary.BigEndian.PutUint16(udp[2:4], dst.Port())
	binary.BigEndian.PutUint16(udp[4:6], n)
	copy(udp[8:], payload)

	s, d := src.Addr().AsSlice(), dst.Addr().AsSlice()
	// The pseudo-header: addresses, protocol and UDP length (RFC 768,
	// RFC 8200 8.1).
	pseudo := slices.Concat(s, d)
	var ip []byte
	if src.Addr().Is4() {
		pseudo = binary.BigEndian.AppendUint16(append(pseudo, 0, unix.IPPROTO_UDP), n)
		ip = make([]byte, 20)
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[2:4], 20+n)
		binary.BigEndian.PutUint16(ip[6:8], 0x4000) // don't fragment
		ip[8] = 64
		ip[9] = unix.IPPROTO_UDP
		copy(ip[12:16], s)
		copy(ip[16:20], d)
		binary.BigEndian.PutUint16(ip[10:12], Checksum(ip))
	} else {
		pseudo = append(binary.BigEndian.AppendUint32(pseudo, uint32(n)), 0, 0, 0, unix.IPPROTO_UDP)
		ip = make([]byte, 40)
		ip[0] = 0x60
		binary.BigEndian.PutUint16(ip[4:6], n)
		ip[6] = unix.IPPROTO_UDP
		ip[7] = 64
		copy(ip[8:24], s)
		copy(ip[24:40], d)
	}
	sum := Checksum(slices.Concat(pseudo, udp))
	if sum == 0 {
		sum = 0xffff // 0 means "no checksum", which IPv6 forbids
	}
	binary.BigEndian.PutUint16(udp[6:8], sum)
	eth := make([]byte, 14)
	copy(eth[0:6], dstMAC)
	copy(eth[6:12], srcMAC)
	binary.BigEndian.PutUint16(eth[12:14], EtherType(src.Addr()))
	return slices.Concat(eth, ip, udp), nil
}

// ICMPv6 builds an Ethernet frame from srcMAC to dstMAC holding an IPv6
// packet from src to dst (hop limit 255, as neighbour discovery requires
// of its messages, RFC 4861) with an ICMPv6 message of type typ and code
// 0 whose body (what follows the checksum, at most 1392 bytes) is body,
// with a valid checksum: a router advertisement or an echo request a host
// sends as is, whatever its own stack would allow.
func ICMPv6(srcMAC, dstMAC net.HardwareAddr, src, dst netip.Addr, typ byte, body []byte) ([]byte, error) {
	if len(srcMAC) != 6 || len(dstMAC) != 6 {
		return nil, fmt.Errorf("MAC addresses %s, %s: want 6 bytes each", srcMAC, dstMAC)
	}
	if !src.Is6() || !dst.Is6() || src.Is4In6() || dst.Is4In6() {
		return nil, fmt.Errorf("%s -> %s: want two IPv6 addresses", src, dst)
	}
	if len(body) > 1392 {
		return nil, fmt.Errorf("body of %d bytes: too long", len(body))
	}
	msg := slices.Concat([]byte{typ, 0, 0, 0}, body)
	n := uint16(len(msg)) // #nosec G115 -- at most 1396, checked above
	s, d := src.As16(), dst.As16()
	pseudo := append(binary.BigEndian.AppendUint32(slices.Concat(s[:], d[:]), uint32(n)), 0, 0, 0, unix.IPPROTO_ICMPV6)
	binary.BigEndian.PutUint16(msg[2:4], Checksum(slices.Concat(pseudo, msg)))
	ip := make([]byte, 40)
	ip[0] = 0x60
	binary.BigEndian.PutUint16(ip[4:6], n)
	ip[6] = unix.IPPROTO_ICMPV6
	ip[7] = 255
	copy(ip[8:24], s[:])
	copy(ip[24:40], d[:])
	eth := make([]byte, 14)
	copy(eth[0:6], dstMAC)
	copy(eth[6:12], srcMAC)
	binary.BigEndian.PutUint16(eth[12:14], unix.ETH_P_IPV6)
	return slices.Concat(eth, ip, msg), nil
}

// Checksum is the Internet checksum of b (RFC 1071).
func Checksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// Datagram is a UDP datagram and the addresses of its packet.
type Datagram struct {
	Src, Dst netip.AddrPort
	Payload  []byte
}

// ParseUDP returns the UDP datagram an IPv4 or IPv6 packet (no IPv6
// extension header) holds, if it holds one.
func ParseUDP(pkt []byte) (Datagram, bool) {
	var d Datagram
	var src, dst netip.Addr
	var l4 []byte
	switch {
	case len(pkt) >= 20 && pkt[0]>>4 == 4:
		ihl := int(pkt[0]&0x0f) * 4
		total := int(binary.BigEndian.Uint16(pkt[2:4]))
		if ihl < 20 || total < ihl || total > len(pkt) || pkt[9] != unix.IPPROTO_UDP {
			return d, false
		}
		src, dst = netip.AddrFrom4([4]byte(pkt[12:16])), netip.AddrFrom4([4]byte(pkt[16:20]))
		l4 = pkt[ihl:total]
	case len(pkt) >= 40 && pkt[0]>>4 == 6:
		plen := int(binary.BigEndian.Uint16(pkt[4:6]))
		if pkt[6] != unix.IPPROTO_UDP || 40+plen > len(pkt) {
			return d, false
		}
		src, dst = netip.AddrFrom16([16]byte(pkt[8:24])), netip.AddrFrom16([16]byte(pkt[24:40]))
		l4 = pkt[40 : 40+plen]
	default:
		return d, false
	}
	if len(l4) < 8 {
		return d, false
	}
	ulen := int(binary.BigEndian.Uint16(l4[4:6]))
	if ulen < 8 || ulen > len(l4) {
		return d, false
	}
	d.Src = netip.AddrPortFrom(src, binary.BigEndian.Uint16(l4[0:2]))
	d.Dst = netip.AddrPortFrom(dst, binary.BigEndian.Uint16(l4[2:4]))
	d.Payload = l4[8:ulen]
	return d, true
}

// EtherType is the Ethernet type of packets of a's family.
func EtherType(a netip.Addr) uint16 {
	if a.Is4() {
		return unix.ETH_P_IP
	}
	return unix.ETH_P_IPV6
}

// Htons converts v to network byte order, as AF_PACKET sockets take
// protocol numbers.
func Htons(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return binary.NativeEndian.Uint16(b[:])
}

// Tag returns frame with an IEEE 802.1Q tag of VLAN id vid (0 to 4094;
// 0 is a priority tag) inserted after its MAC addresses.
func Tag(frame []byte, vid uint16) ([]byte, error) {
	if len(frame) < 14 {
		return nil, fmt.Errorf("frame of %d bytes: no Ethernet header", len(frame))
	}
	if vid > 4094 {
		return nil, fmt.Errorf("VLAN id %d: want 0 to 4094", vid)
	}
	tag := binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(nil, unix.ETH_P_8021Q), vid)
	return slices.Concat(frame[:12], tag, frame[12:]), nil
}

// GroupMAC returns the Ethernet destination of a broadcast or multicast
// IP address: ff:ff:ff:ff:ff:ff for 255.255.255.255, 01:00:5e and the low
// 23 bits of an IPv4 multicast address (RFC 1112), 33:33 and the low 32
// bits of an IPv6 multicast address (RFC 2464); false for any other
// address.
func GroupMAC(a netip.Addr) (net.HardwareAddr, bool) {
	switch {
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, true
	case a.Is4() && a.IsMulticast():
		b := a.As4()
		return net.HardwareAddr{0x01, 0x00, 0x5e, b[1] & 0x7f, b[2], b[3]}, true
	case a.Is6() && a.IsMulticast():
		b := a.As16()
		return net.HardwareAddr{0x33, 0x33, b[12], b[13], b[14], b[15]}, true
	}
	return nil, false
}
