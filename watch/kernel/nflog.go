package kernel

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/internal/nflog"
	"github.com/wardsec/ward/watch/event"
)

// NFLog is a Source of the packets `ward fw --log-group N` drops: each
// logged packet becomes a Flow event with Verdict Dropped and Rule naming
// the chain that dropped it ("ingress c3", "egress c1", "unclassified",
// "published 8080/tcp", "spoof"). Packets logged by other rules to the
// same group become events too, with their prefix as the Rule.
//
// ward fw logs at most --log-rate drops a second per chain (10 by
// default): above that rate, drops are counted in the ruleset's counters
// but not logged, so they reach no Source. Every logged packet the kernel
// could not deliver to this reader is counted and reported as a Problem
// with Lost set. It needs CAP_NET_ADMIN.
type NFLog struct {
	// Group is the nflog group (ward fw --log-group).
	Group uint16
	// NetNS is the network namespace's file descriptor (0: the caller's).
	NetNS int
	// Node names the host in events.
	Node string
	// ReadBuffer is the socket's receive buffer (DefaultReadBuffer if 0).
	ReadBuffer int

	// ready, when set, is closed once the group is bound (tests).
	ready chan struct{}
	// lookup names an interface by index (interfaceName; tests).
	lookup func(int) string
}

// Name returns "nflog:" and the group (and the node).
func (n *NFLog) Name() string {
	s := fmt.Sprintf("nflog:%d", n.Group)
	if n.Node != "" {
		s += "@" + n.Node
	}
	return s
}

// Run delivers events until ctx is done (then it returns ctx.Err()) or
// the sink fails.
func (n *NFLog) Run(ctx context.Context, sink event.Sink) error {
	size := n.ReadBuffer
	if size <= 0 {
		size = DefaultReadBuffer
	}
	c, err := nflog.Open(nflog.Config{Group: n.Group, NetNS: n.NetNS, ReadBuffer: size})
	if err != nil {
		return fmt.Errorf("%s: %w", n.Name(), err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { _ = c.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	if n.ready != nil {
		close(n.ready)
	}
	in := event.NewInterner(4096, 256)
	batch := make([]event.Event, 0, event.BatchSize)
	var reported uint64
	for {
		ps, err := c.Receive()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil && !errors.Is(err, nflog.ErrLost) {
			return fmt.Errorf("%s: %w", n.Name(), err)
		}
		batch = batch[:0]
		for i := range ps {
			var e event.Event
			if err := n.decode(&ps[i], &e, in); err != nil {
				sink.Problem(event.Problem{Source: n.Name(), Err: err})
				if !errors.Is(err, errCut) {
					continue
				}
			}
			batch = append(batch, e)
		}
		// The sequence numbers say how many were lost, once the next
		// packet arrives.
		if lost := c.Lost(); lost > reported {
			sink.Problem(event.Problem{Source: n.Name(), Err: errors.New("nflog: logged packets lost (receive buffer overrun)"), Lost: lost - reported})
			reported = lost
		}
		if len(batch) > 0 {
			if err := sink.Deliver(batch); err != nil {
				return err
			}
		}
	}
}

// decode turns a logged packet into a dropped flow. A packet whose
// headers do not parse is an error: a bad record, counted and reported,
// never a drop skipped silently. A packet whose ports are cut off is
// decoded and errCut.
func (n *NFLog) decode(p *nflog.Packet, e *event.Event, in *event.Interner) error {
	h, err := nflog.ParseHeaders(p.Payload)
	if err != nil {
		return fmt.Errorf("packet %d (%d bytes, prefix %q): %w", p.Seq, len(p.Payload), p.Prefix, err)
	}
	*e = event.Event{
		Time:     event.Nanos(p.Time),
		Origin:   event.OriginNFLog,
		Kind:     event.Flow,
		Verdict:  event.Dropped,
		Src:      h.Src.Unmap(),
		Dst:      h.Dst.Unmap(),
		SrcPort:  h.SrcPort,
		DstPort:  h.DstPort,
		Proto:    event.Proto(h.Proto),
		Flags:    event.TCPFlags(h.TCPFlags),
		ICMPType: h.ICMPType,
		ICMPCode: h.ICMPCode,
		Packets:  1,
		Node:     n.Node,
		Reason:   "policy denied",
	}
	if h.Length > 0 {
		e.Bytes = uint64(h.Length)
	}
	e.Rule = in.Intern([]byte(RuleOfPrefix(p.Prefix)))
	if e.Rule == event.RuleSpoof {
		// The address is forged: the port the frame came in on names
		// the sender (a bridge's port, or the packet's input device).
		dev := p.PhysInDev
		if dev == 0 {
			dev = p.InDev
		}
		if dev != 0 {
			e.Reason = in.Intern([]byte(event.ReasonSpoofedOn + n.ifName(dev)))
		}
	}
	var b [16]byte
	binary.BigEndian.PutUint16(b[:], n.Group)
	binary.BigEndian.PutUint32(b[2:], p.Seq)
	binary.BigEndian.PutUint64(b[6:], uint64(e.Time)) // #nosec G115 -- bits for a hash
	e.ID = event.ID(event.OriginNFLog, append(b[:14], n.Node...))
	if h.Cut {
		return fmt.Errorf("packet %d from %s to %s: %w", p.Seq, e.Src, e.Dst, errCut)
	}
	return nil
}

// ifName names interface index i: by its name when the group is read
// in this process's network namespace (an index of another namespace
// names another interface here), always with its index.
func (n *NFLog) ifName(i uint32) string {
	look := n.lookup
	if look == nil {
		look = interfaceName
	}
	if n.NetNS == 0 {
		if name := look(int(i)); name != "" {
			return fmt.Sprintf("%s (ifindex %d)", name, i)
		}
	}
	return fmt.Sprintf("ifindex %d", i)
}

// interfaceName is the name of the interface of index i in this
// process's network namespace, "" if none.
func interfaceName(i int) string {
	ifi, err := net.InterfaceByIndex(i)
	if err != nil {
		return ""
	}
	return ifi.Name
}

// errCut: a logged drop whose transport header lies beyond the copy
// (behind long IPv6 extension headers) is delivered, without ports, and
// reported: probes padded that way would all look like one port.
var errCut = errors.New("transport header beyond the logged copy (long IPv6 extension headers): ports unknown")

// RuleOfPrefix names the ward fw chain a log prefix comes from
// ("ward-drop ingress c3 " -> "ingress c3", "ward-spoof " -> "spoof"); any
// other prefix is returned trimmed.
func RuleOfPrefix(prefix string) string {
	switch {
	case strings.HasPrefix(prefix, firewall.LogPrefix):
		return strings.TrimSpace(strings.TrimPrefix(prefix, firewall.LogPrefix))
	case prefix == firewall.SpoofLogPrefix:
		return event.RuleSpoof
	}
	return strings.TrimSpace(prefix)
}
