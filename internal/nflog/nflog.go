package nflog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/mdlayher/netlink"
	"github.com/ti-mo/netfilter"
	"golang.org/x/sys/unix"
)

// The nfnetlink_log protocol (include/uapi/linux/netfilter/nfnetlink_log.h).
// No library on the module proxy speaks it (florianl/go-nflog is not
// served), so the few messages are built here on ti-mo/netfilter's
// nfgenmsg encoding, which conntrack events already use.
const (
	msgPacket = 0 // NFULNL_MSG_PACKET
	msgConfig = 1 // NFULNL_MSG_CONFIG

	cfgCmd     = 1 // NFULA_CFG_CMD
	cfgMode    = 2 // NFULA_CFG_MODE
	cfgBufSize = 3 // NFULA_CFG_NLBUFSIZ
	cfgTimeout = 4 // NFULA_CFG_TIMEOUT (1/100 s)
	cfgQThresh = 5 // NFULA_CFG_QTHRESH
	cfgFlags   = 6 // NFULA_CFG_FLAGS

	cmdBind   = 1 // NFULNL_CFG_CMD_BIND
	cmdUnbind = 2 // NFULNL_CFG_CMD_UNBIND

	copyPacket = 2 // NFULNL_COPY_PACKET

	flagSeq = 1 // NFULNL_CFG_F_SEQ

	attrPacketHdr = 1  // NFULA_PACKET_HDR
	attrMark      = 2  // NFULA_MARK
	attrTimestamp = 3  // NFULA_TIMESTAMP
	attrInDev     = 4  // NFULA_IFINDEX_INDEV
	attrOutDev    = 5  // NFULA_IFINDEX_OUTDEV
	attrPhysIn    = 6  // NFULA_IFINDEX_PHYSINDEV
	attrPhysOut   = 7  // NFULA_IFINDEX_PHYSOUTDEV
	attrPayload   = 9  // NFULA_PAYLOAD
	attrPrefix    = 10 // NFULA_PREFIX
	attrSeq       = 12 // NFULA_SEQ
)

// DefaultCopyRange is how many bytes of each packet the kernel copies by
// default: enough for an IPv6 header, extension headers and a TCP header
// with options.
const DefaultCopyRange = 256

// Config says which group to read and how.
type Config struct {
	// Group is the nflog group the rules log to (nft `log group N`).
	Group uint16
	// NetNS is a network namespace file descriptor to read in; 0 is the
	// caller's namespace.
	NetNS int
	// CopyRange is how many bytes of each packet to copy (DefaultCopyRange
	// when 0).
	CopyRange uint32
	// ReadBuffer is the socket's receive buffer in bytes (the kernel's
	// default when 0). A larger buffer loses fewer packets to bursts.
	ReadBuffer int
}

// Packet is one logged packet.
type Packet struct {
	// Time is the kernel's timestamp of the packet, or the time it was
	// read when the kernel gave none.
	Time time.Time
	// Family is the netfilter family of the hook that logged it
	// (unix.NFPROTO_INET, _IPV4, _IPV6, _BRIDGE).
	Family uint8
	// HWProtocol is the packet's link-layer protocol (ETH_P_IP, ETH_P_IPV6).
	HWProtocol uint16
	// Hook is the netfilter hook number (NF_INET_FORWARD, ...).
	Hook uint8
	// Prefix is the log rule's prefix.
	Prefix string
	// Mark is the packet's mark.
	Mark uint32
	// InDev, OutDev, PhysInDev and PhysOutDev are interface indexes (0
	// when absent); the Phys ones are a bridge's ports.
	InDev, OutDev, PhysInDev, PhysOutDev uint32
	// Seq is the instance-local sequence number: a gap in it is a packet
	// the kernel could not deliver to this socket.
	Seq uint32
	// Payload is the start of the network-layer packet (up to CopyRange
	// bytes).
	Payload []byte
}

// ErrLost reports that the socket's buffer overflowed: the kernel dropped
// log messages (counted in Conn.Overruns, and in Conn.Lost as soon as the
// next packet shows how many). Reading may go on.
var ErrLost = errors.New("nflog: receive buffer overrun, log messages lost")

// Conn reads one nflog group.
type Conn struct {
	c        *netlink.Conn
	group    uint16
	pending  []Packet
	lost     atomic.Uint64
	overruns atomic.Uint64
	lastSeq  uint32
	seqSeen  bool
}

// Open binds the group and starts copying packets to the returned Conn.
// It needs CAP_NET_ADMIN. Only one socket can bind a group at a time in a
// namespace: a second Open of the same group fails with EBUSY.
func Open(cfg Config) (*Conn, error) {
	c, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: cfg.NetNS})
	if err != nil {
		return nil, fmt.Errorf("nflog: %w", err)
	}
	n := &Conn{c: c, group: cfg.Group}
	if cfg.ReadBuffer > 0 {
		if err := c.SetReadBuffer(cfg.ReadBuffer); err != nil {
			_ = c.Close()
			return nil, fmt.Errorf("nflog: read buffer: %w", err)
		}
	}
	rng := cfg.CopyRange
	if rng == 0 {
		rng = DefaultCopyRange
	}
	mode := make([]byte, 6) // struct nfulnl_msg_config_mode
	binary.BigEndian.PutUint32(mode, rng)
	mode[4] = copyPacket
	attrs := []netfilter.Attribute{
		{Type: cfgCmd, Data: []byte{cmdBind}},
		{Type: cfgMode, Data: mode},
		{Type: cfgTimeout, Data: netfilter.Uint32Bytes(0)}, // deliver at once
		{Type: cfgQThresh, Data: netfilter.Uint32Bytes(1)},
		{Type: cfgFlags, Data: netfilter.Uint16Bytes(flagSeq)},
	}
	if err := n.config(attrs); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("nflog: bind group %d: %w", cfg.Group, err)
	}
	return n, nil
}

// config sends a config message for the group and waits for its
// acknowledgement, keeping the packets that arrive meanwhile.
func (n *Conn) config(attrs []netfilter.Attribute) error {
	msg, err := netfilter.MarshalNetlink(netfilter.Header{
		SubsystemID: netfilter.NFSubsysULOG,
		MessageType: msgConfig,
		Family:      netfilter.ProtoUnspec,
		ResourceID:  n.group,
		Flags:       netlink.Request | netlink.Acknowledge,
	}, attrs)
	if err != nil {
		return err
	}
	sent, err := n.c.Send(msg)
	if err != nil {
		return err
	}
	for {
		msgs, err := n.c.Receive()
		if err != nil {
			if errors.Is(err, unix.ENOBUFS) {
				n.overruns.Add(1)
				continue
			}
			return err // an error reply (EBUSY, EPERM) arrives as an OpError
		}
		for _, m := range msgs {
			if m.Header.Type == netlink.Error {
				if m.Header.Sequence == sent.Header.Sequence {
					return nil // mdlayher/netlink turns error codes into errors; this is the ack
				}
				continue
			}
			if p, ok := n.decode(m); ok {
				n.pending = append(n.pending, p)
			}
		}
	}
}

// Receive returns the next packets. It blocks until at least one arrives,
// the Conn is closed, or a deadline set with SetReadDeadline passes. After
// ErrLost, the lost messages are counted and Receive can be called again.
func (n *Conn) Receive() ([]Packet, error) {
	if len(n.pending) > 0 {
		p := n.pending
		n.pending = nil
		return p, nil
	}
	for {
		msgs, err := n.c.Receive()
		if err != nil {
			if errors.Is(err, unix.ENOBUFS) {
				n.overruns.Add(1)
				return nil, ErrLost
			}
			return nil, err
		}
		var out []Packet
		for _, m := range msgs {
			if p, ok := n.decode(m); ok {
				out = append(out, p)
			}
		}
		if len(out) > 0 {
			return out, nil
		}
	}
}

// Lost is how many logged packets the kernel could not deliver, counted
// from the gaps in their sequence numbers: a loss is counted when the next
// packet after it arrives.
func (n *Conn) Lost() uint64 { return n.lost.Load() }

// Overruns is how many times a read found that the socket's buffer had
// overflowed (ENOBUFS).
func (n *Conn) Overruns() uint64 { return n.overruns.Load() }

// SetReadDeadline bounds the next Receive.
func (n *Conn) SetReadDeadline(t time.Time) error { return n.c.SetReadDeadline(t) }

// Close unbinds the group and closes the socket.
func (n *Conn) Close() error {
	// Unbinding is best effort: closing the socket releases the group too.
	msg, err := netfilter.MarshalNetlink(netfilter.Header{
		SubsystemID: netfilter.NFSubsysULOG,
		MessageType: msgConfig,
		ResourceID:  n.group,
		Flags:       netlink.Request,
	}, []netfilter.Attribute{{Type: cfgCmd, Data: []byte{cmdUnbind}}})
	if err == nil {
		_, _ = n.c.Send(msg)
	}
	return n.c.Close()
}

// decode reads one packet message; other messages are not packets.
func (n *Conn) decode(m netlink.Message) (Packet, bool) {
	h, attrs, err := netfilter.UnmarshalNetlink(m)
	if err != nil || h.SubsystemID != netfilter.NFSubsysULOG || h.MessageType != msgPacket {
		return Packet{}, false
	}
	p := Packet{Family: uint8(h.Family)}
	hasSeq := false
	for _, a := range attrs {
		switch a.Type {
		case attrPacketHdr:
			if len(a.Data) >= 3 {
				p.HWProtocol = binary.BigEndian.Uint16(a.Data)
				p.Hook = a.Data[2]
			}
		case attrMark:
			p.Mark = u32(a.Data)
		case attrTimestamp:
			if len(a.Data) >= 16 {
				sec := binary.BigEndian.Uint64(a.Data)
				usec := binary.BigEndian.Uint64(a.Data[8:])
				p.Time = time.Unix(int64(sec), int64(usec)*1000) // #nosec G115 -- kernel timestamps fit int64
			}
		case attrInDev:
			p.InDev = u32(a.Data)
		case attrOutDev:
			p.OutDev = u32(a.Data)
		case attrPhysIn:
			p.PhysInDev = u32(a.Data)
		case attrPhysOut:
			p.PhysOutDev = u32(a.Data)
		case attrPayload:
			p.Payload = a.Data
		case attrPrefix:
			s := a.Data
			for i, b := range s {
				if b == 0 {
					s = s[:i]
					break
				}
			}
			p.Prefix = string(s)
		case attrSeq:
			p.Seq, hasSeq = u32(a.Data), true
		}
	}
	if p.Time.IsZero() {
		p.Time = time.Now()
	}
	if hasSeq {
		if n.seqSeen && p.Seq-n.lastSeq > 1 {
			n.lost.Add(uint64(p.Seq - n.lastSeq - 1))
		}
		n.lastSeq, n.seqSeen = p.Seq, true
	}
	return p, true
}

func u32(b []byte) uint32 {
	if len(b) < 4 {
		return 0
	}
	return binary.BigEndian.Uint32(b)
}
