package kernel

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"time"

	"github.com/mdlayher/netlink"
	"github.com/ti-mo/conntrack"
	"github.com/ti-mo/netfilter"
	"golang.org/x/sys/unix"

	"github.com/wardsec/ward/watch/event"
)

// DefaultReadBuffer is the netlink receive buffer the sources ask for: at
// 20,000 new connections a second (three events each with updates, ~250
// bytes of netlink message per event), about half a second of events.
const DefaultReadBuffer = 16 << 20

// Conntrack is a Source of the connections the kernel's connection
// tracking sees in one network namespace: a ConnNew event when one
// starts, ConnEnd (with packet and byte counts in both directions) when
// it is destroyed, and ConnUpdate for state changes when Updates is set.
// It needs CAP_NET_ADMIN.
//
// Every event the kernel could not queue (the socket's buffer was full)
// is counted exactly, from the socket's drop count, and reported to the
// sink as a Problem with Lost set.
type Conntrack struct {
	// NetNS is the network namespace's file descriptor (0: the caller's).
	NetNS int
	// Node names the host in events ("" is left empty).
	Node string
	// Clock stamps events the kernel gives no timestamp (the system clock
	// when nil).
	Clock event.Clock
	// Updates also delivers ConnUpdate events (TCP state changes): about
	// twice the events of New and End alone.
	Updates bool
	// NoAccounting leaves net.netfilter.nf_conntrack_acct and
	// nf_conntrack_timestamp as they are; by default Run turns both on in
	// the namespace, so that ended connections carry their counts and
	// times.
	NoAccounting bool
	// ReadBuffer is the socket's receive buffer (DefaultReadBuffer if 0).
	ReadBuffer int
	// NoKeepTracking does not add Run's table that keeps connection
	// tracking on (see Run).
	NoKeepTracking bool

	// ready, when set, is closed once the socket listens (tests).
	ready chan struct{}
}

// Name returns "conntrack" and the node.
func (c *Conntrack) Name() string {
	if c.Node == "" {
		return "conntrack"
	}
	return "conntrack:" + c.Node
}

// Run delivers events until ctx is done (then it returns ctx.Err()) or
// the sink fails.
//
// The kernel tracks connections in a namespace only while something there
// uses connection tracking (Docker's NAT, ward fw's ruleset): deleting
// ward fw's table on a host without Docker would blind the source exactly
// when enforcement is gone. So Run adds a table of its own
// (`table inet ward_watch_<pid>`, one counting rule on new connections)
// that keeps tracking on while it runs, and deletes it when it returns.
func (c *Conntrack) Run(ctx context.Context, sink event.Sink) error {
	if !c.NoKeepTracking {
		undo, err := keepTracking(c.NetNS)
		if err != nil {
			return fmt.Errorf("%s: keep connection tracking on: %w", c.Name(), err)
		}
		defer undo()
	}
	if !c.NoAccounting {
		for _, s := range []string{"net/netfilter/nf_conntrack_acct", "net/netfilter/nf_conntrack_timestamp"} {
			if err := sysctl(c.NetNS, s, "1"); err != nil {
				return fmt.Errorf("%s: enable %s: %w", c.Name(), s, err)
			}
		}
	}
	nl, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: c.NetNS})
	if err != nil {
		return fmt.Errorf("%s: %w", c.Name(), err)
	}
	defer nl.Close()
	groups := []netfilter.NetlinkGroup{netfilter.GroupCTNew, netfilter.GroupCTDestroy}
	if c.Updates {
		groups = append(groups, netfilter.GroupCTUpdate)
	}
	for _, g := range groups {
		if err := nl.JoinGroup(uint32(g)); err != nil {
			return fmt.Errorf("%s: join %v: %w", c.Name(), g, err)
		}
	}
	rc, err := nl.SyscallConn()
	if err != nil {
		return fmt.Errorf("%s: %w", c.Name(), err)
	}
	size := c.ReadBuffer
	if size <= 0 {
		size = DefaultReadBuffer
	}
	if err := forceReadBuffer(rc, size); err != nil {
		return fmt.Errorf("%s: receive buffer: %w", c.Name(), err)
	}
	drops, err := newDropCounter(c.NetNS, rc)
	if err != nil {
		return fmt.Errorf("%s: drop counter: %w", c.Name(), err)
	}
	defer drops.close()
	lastDrops, _ := drops.read()

	clock := c.Clock
	if clock == nil {
		clock = event.SystemClock{}
	}
	// The kernel signals an overrun once (ENOBUFS) and then drops
	// silently until the queue has drained, so the drop count is read at
	// each ENOBUFS, every DropCheck while events flow or not, and at the
	// end: every loss is reported within DropCheck.
	report := func() {
		n, err := drops.read()
		if err != nil {
			sink.Problem(event.Problem{Source: c.Name(), Err: fmt.Errorf("netlink drop count: %w", err)})
			return
		}
		if n > lastDrops {
			sink.Problem(event.Problem{Source: c.Name(), Err: errors.New("netlink receive buffer overrun: conntrack events lost"), Lost: n - lastDrops})
			lastDrops = n
		}
	}
	defer report()
	// Cancelling wakes a blocked Receive at once (otherwise within
	// DropCheck).
	stop := context.AfterFunc(ctx, func() { _ = nl.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	if c.ready != nil {
		close(c.ready)
	}
	d := ctDecoder{node: c.Node, clock: clock}
	batch := make([]event.Event, 0, event.BatchSize)
	nextCheck := time.Now().Add(DropCheck)
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := nl.SetReadDeadline(nextCheck); err != nil {
			return fmt.Errorf("%s: %w", c.Name(), err)
		}
		msgs, err := nl.Receive()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(nextCheck) {
			report()
			nextCheck = time.Now().Add(DropCheck)
		}
		if err != nil {
			switch {
			case errors.Is(err, unix.ENOBUFS):
				report()
			case errors.Is(err, os.ErrDeadlineExceeded):
			default:
				return fmt.Errorf("%s: %w", c.Name(), err)
			}
			continue
		}
		batch = batch[:0]
		for _, m := range msgs {
			var e event.Event
			ok, err := d.message(m, &e)
			if err != nil {
				sink.Problem(event.Problem{Source: c.Name(), Err: err})
				continue
			}
			if ok {
				batch = append(batch, e)
			}
		}
		if len(batch) > 0 {
			if err := sink.Deliver(batch); err != nil {
				return err
			}
		}
	}
}

// DropCheck is how often the sources read the kernel's drop count.
const DropCheck = time.Second

// ctDecoder turns conntrack events into Events.
type ctDecoder struct {
	node  string
	clock event.Clock
	idBuf [32]byte
}

// message decodes one netlink message into e. An expectation is no
// event (false); a message that does not decode, or a flow without
// addresses, is an error: a bad record, counted and reported, never
// dropped silently.
func (d *ctDecoder) message(m netlink.Message, e *event.Event) (bool, error) {
	var ev conntrack.Event
	if err := ev.Unmarshal(m); err != nil {
		return false, fmt.Errorf("conntrack message (type %#x, %d bytes): %w", uint16(m.Header.Type), len(m.Data), err)
	}
	if ev.Flow == nil {
		return false, nil // an expectation
	}
	if o := ev.Flow.TupleOrig.IP; !o.SourceAddress.IsValid() || !o.DestinationAddress.IsValid() {
		return false, fmt.Errorf("conntrack %s event without source and destination addresses", ev.Type)
	}
	if !d.decode(&ev, e) {
		return false, fmt.Errorf("conntrack event of unknown type %s", ev.Type)
	}
	return true, nil
}

func (d *ctDecoder) decode(ev *conntrack.Event, e *event.Event) bool {
	f := ev.Flow
	orig, reply := f.TupleOrig, f.TupleReply
	if !orig.IP.SourceAddress.IsValid() || !orig.IP.DestinationAddress.IsValid() {
		return false
	}
	*e = event.Event{Origin: event.OriginConntrack, Node: d.node, Verdict: event.Forwarded}
	switch ev.Type {
	case conntrack.EventNew:
		e.Kind = event.ConnNew
	case conntrack.EventUpdate:
		e.Kind = event.ConnUpdate
	case conntrack.EventDestroy:
		e.Kind = event.ConnEnd
	default:
		return false
	}
	// The client is the original direction's source; the server is who
	// answers: the reply direction's source, which is the translated
	// destination when the connection was DNATed.
	e.Src, e.SrcPort = orig.IP.SourceAddress.Unmap(), orig.Proto.SourcePort
	e.Dst, e.DstPort = orig.IP.DestinationAddress.Unmap(), orig.Proto.DestinationPort
	if reply.IP.SourceAddress.IsValid() {
		rs := netip.AddrPortFrom(reply.IP.SourceAddress.Unmap(), reply.Proto.SourcePort)
		if rs != netip.AddrPortFrom(e.Dst, e.DstPort) {
			e.PreDNAT = netip.AddrPortFrom(e.Dst, e.DstPort)
			e.Dst, e.DstPort = rs.Addr(), rs.Port()
		}
		rd := netip.AddrPortFrom(reply.IP.DestinationAddress.Unmap(), reply.Proto.DestinationPort)
		if rd != netip.AddrPortFrom(e.Src, e.SrcPort) {
			e.PostSNAT = rd
		}
	}
	e.Proto = event.Proto(orig.Proto.Protocol)
	if orig.Proto.ICMPv4 || orig.Proto.ICMPv6 {
		e.ICMPType, e.ICMPCode = orig.Proto.ICMPType, orig.Proto.ICMPCode
		e.SrcPort, e.DstPort = 0, 0
	}
	e.Packets, e.Bytes = f.CountersOrig.Packets, f.CountersOrig.Bytes
	e.ReplyPackets, e.ReplyBytes = f.CountersReply.Packets, f.CountersReply.Bytes
	t := d.clock.Now()
	switch {
	case e.Kind == event.ConnEnd && !f.Timestamp.Stop.IsZero():
		t = f.Timestamp.Stop
	case e.Kind == event.ConnNew && !f.Timestamp.Start.IsZero():
		t = f.Timestamp.Start
	}
	e.Time = event.Nanos(t)
	if e.Kind == event.ConnEnd && notEstablished(f) {
		e.Reason = event.ReasonNotEstablished
	}
	// The kernel's ID of the entry is unique among live entries; with the
	// start time and the kind it names this event on this node.
	b := d.idBuf[:0]
	b = binary.BigEndian.AppendUint32(b, f.ID)
	b = binary.BigEndian.AppendUint64(b, uint64(f.Timestamp.Start.UnixNano())) // #nosec G115 -- bits for a hash
	b = append(b, byte(e.Kind))
	b = append(b, d.node...)
	if f.Timestamp.Start.IsZero() {
		b = binary.BigEndian.AppendUint64(b, uint64(e.Time)) // #nosec G115 -- bits for a hash
	}
	e.ID = event.ID(event.OriginConntrack, b)
	return true
}

// notEstablished: a TCP connection is assured once its handshake
// completes; another protocol's once it saw traffic both ways. Without a
// reply it never was.
func notEstablished(f *conntrack.Flow) bool {
	if !f.Status.SeenReply() {
		return true
	}
	return f.TupleOrig.Proto.Protocol == unix.IPPROTO_TCP && !f.Status.Assured()
}
