package event

import (
	"context"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
)

// BatchSize is the largest batch a source delivers at once: big enough to
// amortise the interface call, small enough to stay in cache.
const BatchSize = 256

// Event is one observation of network activity: a flow or packet record,
// a connection's start, update or end, or an L7 request.
//
// Src and Dst are the endpoints that actually talked: for a connection
// whose destination was translated (a Kubernetes Service, a Docker
// published port), Dst is the translated address (the workload reached)
// and PreDNAT holds the address the client dialled; when the source was
// translated on the way out (masquerade), PostSNAT holds the address the
// peer saw. Both are the zero AddrPort when nothing was translated.
type Event struct {
	// Time is when the event happened, in Unix nanoseconds (UTC).
	Time int64
	// ID identifies the event across processes, for deduplication.
	ID uint64

	Src, Dst         netip.Addr
	PreDNAT          netip.AddrPort
	PostSNAT         netip.AddrPort
	SrcPort, DstPort uint16

	// Packets and Bytes count the original direction (client to server),
	// ReplyPackets and ReplyBytes the reply direction. 0 means unknown:
	// a Hubble flow record stands for one packet (see Weight).
	Packets, Bytes           uint64
	ReplyPackets, ReplyBytes uint64

	Flags     TCPFlags
	Origin    Origin
	Kind      Kind
	Verdict   Verdict
	Proto     Proto
	Direction Direction
	// Reply is true when the record travels from server to client (Hubble's
	// is_reply): its Src is the connection's responder.
	Reply    bool
	ICMPType uint8
	ICMPCode uint8

	// Names the source itself attaches to the endpoints (Hubble's
	// namespace and pod_name), interned; "" when the source has none. The
	// identity stage resolves addresses independently and prefers its own
	// inventory.
	SrcNamespace, SrcName string
	DstNamespace, DstName string
	// Node is the host or node that observed the event (interned).
	Node string
	// Reason is why a packet was dropped or how a request ended: Hubble's
	// drop_reason_desc, a proxy record's outcome (interned).
	Reason string
	// Rule names the rule that decided, when the source knows it: a
	// `ward fw` nflog prefix, a proxy record's rule (interned).
	Rule string

	// L7 is set for Kind Request only.
	L7 *L7
	// DNS is set for a DNS query or response: a Hubble flow with DNS
	// visibility (Kind Flow) or a resolver's log line (Kind Request).
	DNS *DNS
}

// L7 is an application-layer request as `ward proxy` records it. No
// header, cookie, query or body is ever carried.
type L7 struct {
	Method    string
	Path      string
	Status    int
	Decision  string // "allow" or "deny"
	Principal string // the authenticated identity (a SPIFFE ID), when known
	RequestID string
	Route     string
	WAF       string
}

// Weight is the number of packets an event stands for in rate detectors:
// Packets, or 1 when the source does not count them.
func (e *Event) Weight() uint64 {
	if e.Packets == 0 {
		return 1
	}
	return e.Packets
}

// Failed reports whether the event shows a connection attempt that did
// not succeed: dropped or rejected by a firewall or policy, refused by the
// peer (a reset in reply), or ended with no reply at all. Port-scan
// detection counts these.
func (e *Event) Failed() bool {
	switch {
	case e.Verdict == Dropped || e.Verdict == Error:
		return true
	case e.Proto == TCP && e.Reply && e.Flags&RST != 0 && e.Flags&ACK != 0 && e.ReplyBytes == 0:
		// A refused SYN is answered by RST|ACK.
		return true
	case e.Kind == ConnEnd && e.ReplyPackets == 0 && e.Packets > 0:
		return true
	case e.Kind == ConnEnd && e.Reason == ReasonNotEstablished:
		return true
	}
	return false
}

// ReasonNotEstablished is the Reason of a ConnEnd whose connection never
// got an answer in kind: a TCP connection that never completed its
// handshake (refused with a reset, or unanswered), or another protocol's
// flow that saw no reply (conntrack's view, counters or not).
const ReasonNotEstablished = "not established"

// RuleSpoof is the Rule of a packet `ward fw`'s anti-spoofing dropped
// (nflog prefix "ward-spoof "): its source address is forged, so it
// tells nothing of what that address did.
const RuleSpoof = "spoof"

// ReasonInvalidSourceIP is Cilium's drop reason for a packet whose
// source address is not its endpoint's (drop_reason_desc).
const ReasonInvalidSourceIP = "INVALID_SOURCE_IP"

// ForgedSource reports a packet dropped because its source address was
// forged (`ward fw`'s anti-spoofing, Cilium's INVALID_SOURCE_IP): Src is
// what the sender claimed, not who sent it.
func (e *Event) ForgedSource() bool {
	return e.Verdict == Dropped && (e.Origin == OriginNFLog && e.Rule == RuleSpoof || e.Origin == OriginHubble && e.Reason == ReasonInvalidSourceIP)
}

// ReasonSpoofedOn begins the Reason of a packet `ward fw`'s
// anti-spoofing dropped when the log names the interface (a bridge port:
// the forging container's veth) it came in on; the interface follows.
const ReasonSpoofedOn = "forged source, in on "

// SpoofedOn is the interface a forged packet came in on, as its Reason
// names it ("" when it names none): the real sender's, where Src is
// only what it claimed.
func (e *Event) SpoofedOn() string {
	if !e.ForgedSource() {
		return ""
	}
	s, _ := strings.CutPrefix(e.Reason, ReasonSpoofedOn)
	if len(s) == len(e.Reason) {
		return ""
	}
	return s
}

// When returns the event's time as a time.Time in UTC.
func (e *Event) When() time.Time { return time.Unix(0, e.Time).UTC() }

// Nanos converts t to the representation of Event.Time.
func Nanos(t time.Time) int64 { return t.UnixNano() }

// ID hashes the origin and b (an identity the input gives the event, or
// the raw record) into an Event.ID.
func ID(o Origin, b []byte) uint64 {
	var d xxhash.Digest
	d.Reset()
	_, _ = d.Write([]byte{byte(o)})
	_, _ = d.Write(b)
	return d.Sum64()
}

// Source is an input of events.
type Source interface {
	// Name identifies the source in problems and metrics
	// ("hubble:flows.json", "proxy-audit:-").
	Name() string
	// Run delivers events to sink in batches until the input ends (nil),
	// ctx is done (ctx.Err()) or sink.Deliver fails (that error).
	Run(ctx context.Context, sink Sink) error
}

// Sink receives what sources produce.
type Sink interface {
	// Deliver receives a batch in the source's order. The slice belongs to
	// the source and is reused after Deliver returns.
	Deliver(batch []Event) error
	// Problem reports input that was not turned into events, or events the
	// source knows it lost.
	Problem(p Problem)
}

// Problem is input a source could not use.
type Problem struct {
	// Source is the Source's Name.
	Source string
	// Err says what is wrong; a bad line or record is a *srcpos.Error
	// naming the file and line.
	Err error
	// Lost counts events known to be lost (a netlink ENOBUFS); 0 for a
	// bad record, which stands for itself.
	Lost uint64
}

// Clock gives the time for sources whose input has none and for the
// pipeline's idle flushes.
type Clock interface {
	Now() time.Time
}

// SystemClock is the wall clock.
type SystemClock struct{}

// Now is time.Now.
func (SystemClock) Now() time.Time { return time.Now() }

// ManualClock is a clock that moves only when told: tests replay time
// with it. The zero value stands at the zero time; it is safe for
// concurrent use.
type ManualClock struct {
	mu sync.Mutex
	t  time.Time
}

// NewManualClock returns a ManualClock standing at t.
func NewManualClock(t time.Time) *ManualClock { return &ManualClock{t: t} }

// Now returns the clock's time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Set moves the clock to t.
func (c *ManualClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// Advance moves the clock forward by d.
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Endpoint renders an address and port as host:port (the port left out
// when 0 and the protocol has none).
func Endpoint(a netip.Addr, port uint16) string {
	if port == 0 {
		return a.String()
	}
	return netip.AddrPortFrom(a, port).String()
}

// portString is strconv.Itoa for ports.
func portString(p uint16) string { return strconv.Itoa(int(p)) }
