package lab

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"time"

	"github.com/wardsec/ward/internal/ethframe"
	"golang.org/x/sys/unix"
)

// spoofMarker starts the payload of every frame Spoof sends, followed by
// a random nonce: what the destination's packet socket looks for.
const spoofMarker = "ward-lab-spoof "

// spoofResend is how often Spoof sends its frame again until it is seen
// or the timeout passes.
const spoofResend = 50 * time.Millisecond

// Spoof sends, from host from's eth0, raw Ethernet frames (from's own MAC
// address to to's) carrying a UDP datagram from src to dst:port, src being
// any address (another host's: a spoofed source) and dst one of to's,
// of the same family, and reports whether the datagram reached to's eth0
// within the lab's timeout, as seen by a packet socket there. The frames
// bypass from's IP stack (its routes, its addresses): only the router,
// its bridge table (anti-spoofing) and its inet ruleset, decide.
func (l *Lab) Spoof(ctx context.Context, from *Host, src netip.Addr, to *Host, dst netip.Addr, port uint16) (delivered bool, err error) {
	if to != nil && l.hosts[to.ID] != nil && !slices.Contains(l.hosts[to.ID].host.Addrs, dst) {
		return false, fmt.Errorf("lab: spoof: %s is not an address of %s", dst, to.ID)
	}
	return l.Send(ctx, Frame{From: from, Src: src, To: to, Dst: dst, Port: port})
}

// Frame is a UDP datagram a host sends as a raw Ethernet frame from its
// eth0, bypassing its own IP stack, and the host whose eth0 watches for
// it.
type Frame struct {
	From *Host
	// Src is the source address: any (another host's for a spoof, a
	// link-local one).
	Src netip.Addr
	To  *Host
	// Dst is the destination address, of Src's family: one of To's, a
	// link-local one of To's eth0, or a broadcast or multicast address
	// (sent to its group MAC address, which reaches every port).
	Dst  netip.Addr
	Port uint16
	// Tagged adds an IEEE 802.1Q tag of VLAN VLAN (0: a priority tag).
	Tagged bool
	VLAN   uint16
	// ToMAC sends a frame to a broadcast or multicast address to To's
	// own MAC address rather than the group's: the bridge delivers it to
	// To's port alone, and To's stack still takes it.
	ToMAC bool
}

func (f Frame) String() string {
	s := fmt.Sprintf("%s -> %s udp/%d", f.Src, f.Dst, f.Port)
	if f.Tagged {
		s += fmt.Sprintf(" (VLAN %d)", f.VLAN)
	}
	return s
}

// Send sends f again and again until it is seen at To's eth0 (true) or
// the lab's timeout passes (false).
func (l *Lab) Send(ctx context.Context, f Frame) (delivered bool, err error) {
	return l.send(ctx, f, l.opts.timeout())
}

func (l *Lab) send(ctx context.Context, f Frame, timeout time.Duration) (delivered bool, err error) {
	from, to, src, dst, port := f.From, f.To, f.Src, f.Dst, f.Port
	if from == nil || to == nil || l.hosts[from.ID] == nil || l.hosts[to.ID] == nil {
		return false, fmt.Errorf("lab: send: a host is not in the lab")
	}
	if !src.IsValid() || !dst.IsValid() || src.Is4() != dst.Is4() || src.Is4In6() || dst.Is4In6() {
		return false, fmt.Errorf("lab: send: %s -> %s: want two addresses of one family", src, dst)
	}
	sender, receiver := l.hosts[from.ID].worker, l.hosts[to.ID].worker
	srcMAC, srcIndex, err := eth0(sender)
	if err != nil {
		return false, fmt.Errorf("lab: spoof: %s: %w", from.ID, err)
	}
	dstMAC, dstIndex, err := eth0(receiver)
	if err != nil {
		return false, fmt.Errorf("lab: spoof: %s: %w", to.ID, err)
	}
	if group, ok := ethframe.GroupMAC(dst); ok && !f.ToMAC {
		dstMAC = group
	}
	var nonce [8]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return false, fmt.Errorf("lab: spoof: %w", err)
	}
	payload := []byte(spoofMarker + hex.EncodeToString(nonce[:]))
	sport := 32768 + binary.BigEndian.Uint16(nonce[:2])%28232
	frame, err := ethframe.UDP(srcMAC, dstMAC, netip.AddrPortFrom(src, sport), netip.AddrPortFrom(dst, port), payload)
	if err == nil && f.Tagged {
		frame, err = ethframe.Tag(frame, f.VLAN)
	}
	if err != nil {
		return false, fmt.Errorf("lab: spoof: %w", err)
	}
	etherType := ethframe.EtherType(src)

	// Listen first, so that no frame can arrive before the socket is.
	var rx, tx *os.File
	if err := receiver.do(func() (err error) {
		rx, err = packetSocket(unix.SOCK_DGRAM, etherType, dstIndex)
		return err
	}); err != nil {
		return false, fmt.Errorf("lab: spoof: %s: %w", to.ID, err)
	}
	defer rx.Close()
	if err := sender.do(func() (err error) {
		tx, err = packetSocket(unix.SOCK_RAW, 0, 0)
		return err
	}); err != nil {
		return false, fmt.Errorf("lab: spoof: %s: %w", from.ID, err)
	}
	defer tx.Close()
	dstLL := &unix.SockaddrLinklayer{Ifindex: srcIndex, Protocol: ethframe.Htons(etherType), Halen: 6}
	copy(dstLL.Addr[:], dstMAC)

	deadline := time.Now().Add(timeout)
	if err := rx.SetReadDeadline(deadline); err != nil {
		return false, fmt.Errorf("lab: spoof: %w", err)
	}
	defer context.AfterFunc(ctx, func() { _ = rx.SetReadDeadline(time.Now()) })()
	seen := make(chan error, 1)
	go func() { seen <- awaitDatagram(rx, src, payload) }()
	rc, err := tx.SyscallConn()
	if err != nil {
		return false, fmt.Errorf("lab: spoof: %w", err)
	}
	send := func() error {
		var serr error
		if err := rc.Write(func(fd uintptr) bool {
			serr = unix.Sendto(int(fd), frame, 0, dstLL) // #nosec G115 -- a descriptor fits an int
			return !errors.Is(serr, unix.EAGAIN)
		}); err != nil {
			return err
		}
		return serr
	}
	tick := time.NewTicker(spoofResend)
	defer tick.Stop()
	for {
		if err := send(); err != nil {
			_ = rx.SetReadDeadline(time.Now())
			<-seen
			return false, fmt.Errorf("lab: spoof: send from %s: %w", from.ID, err)
		}
		select {
		case err := <-seen:
			switch {
			case ctx.Err() != nil:
				return false, fmt.Errorf("lab: spoof: %w", context.Cause(ctx))
			case errors.Is(err, os.ErrDeadlineExceeded):
				return false, nil
			case err != nil:
				return false, fmt.Errorf("lab: spoof: receive at %s: %w", to.ID, err)
			}
			return true, nil
		case <-tick.C:
		}
	}
}

// eth0 returns the MAC address and index of eth0 in w's namespace.
func eth0(w *worker) (net.HardwareAddr, int, error) {
	var ifi *net.Interface
	if err := w.do(func() (err error) {
		ifi, err = net.InterfaceByName("eth0")
		return err
	}); err != nil {
		return nil, 0, err
	}
	if len(ifi.HardwareAddr) != 6 {
		return nil, 0, fmt.Errorf("eth0 has no Ethernet address (%q)", ifi.HardwareAddr)
	}
	return ifi.HardwareAddr, ifi.Index, nil
}

// packetSocket opens a non-blocking AF_PACKET socket of typ (SOCK_RAW or
// SOCK_DGRAM) in the calling thread's namespace, receiving the frames of
// etherType on interface index when etherType is not 0, none otherwise.
func packetSocket(typ int, etherType uint16, index int) (*os.File, error) {
	fd, err := unix.Socket(unix.AF_PACKET, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, int(ethframe.Htons(etherType)))
	if err != nil {
		return nil, fmt.Errorf("packet socket: %w", err)
	}
	if etherType != 0 {
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: ethframe.Htons(etherType), Ifindex: index}); err != nil {
			_ = unix.Close(fd)
			return nil, fmt.Errorf("bind packet socket: %w", err)
		}
	}
	return os.NewFile(uintptr(fd), "packet socket"), nil // #nosec G115 -- a descriptor the kernel just returned
}

// awaitDatagram reads packets (network headers first) from rx until an
// incoming IPv4 or IPv6 UDP datagram from src whose payload is payload
// arrives (nil), or rx's deadline passes.
func awaitDatagram(rx *os.File, src netip.Addr, payload []byte) error {
	rc, err := rx.SyscallConn()
	if err != nil {
		return err
	}
	buf := make([]byte, 2048)
	for {
		var n int
		var from unix.Sockaddr
		var rerr error
		if err := rc.Read(func(fd uintptr) bool {
			n, from, rerr = unix.Recvfrom(int(fd), buf, 0) // #nosec G115 -- a descriptor fits an int
			return !errors.Is(rerr, unix.EAGAIN)
		}); err != nil {
			return err
		}
		if rerr != nil {
			return rerr
		}
		if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		if d, ok := ethframe.ParseUDP(buf[:n]); ok && d.Src.Addr() == src && bytes.Equal(d.Payload, payload) {
			return nil
		}
	}
}
