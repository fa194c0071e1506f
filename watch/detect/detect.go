package detect

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/wardsec/ward/assertion"
	"github.com/wardsec/ward/ipset"
	"github.com/wardsec/ward/netpol"
	"github.com/wardsec/ward/portset"
	"github.com/wardsec/ward/watch/event"
	"github.com/wardsec/ward/watch/identity"
)

// Observation is an event with its endpoints resolved.
type Observation struct {
	E              *event.Event
	Src, Dst       *identity.Workload
	SrcRes, DstRes identity.Resolution
	// SrcNode, DstNode: the end is a node's own address
	// (identity.Table.Node).
	SrcNode, DstNode bool
}

// Stats counts what the detectors saw.
type Stats struct {
	Events uint64
	// Judged counts flows checked against the policy engine; Unjudged
	// those that could not be (an end of unknown identity, or known only
	// to an inventory the engine does not model).
	Judged, Unjudged uint64
	// Clamped counts events dated beyond the clock's MaxSkew.
	Clamped uint64
	// Untracked counts new keys refused by full window tables.
	Untracked uint64
	// Tracked is the keys held in window tables now.
	Tracked int
	// DroppedEvidence counts evidence refused because MaxIncidents were
	// open.
	DroppedEvidence uint64
}

type pairKey struct{ src, dst ip16 }

// connKey is a TCP connection: client and server address and port.
type connKey struct {
	client, server ip16
	cport, sport   uint16
}

// acceptedFor is how long a connection whose SYN|ACK was seen is
// remembered, so that its reset by the server is not taken for a
// refusal; endedFor how long once its FIN or RST was seen (records of
// one packet from two nodes come apart).
const (
	acceptedFor = time.Hour
	endedFor    = time.Minute
)

// accepted is a connection whose SYN|ACK was seen: when last, and
// whether it ended.
type accepted struct {
	at    int64
	ended bool
}

type portKey struct {
	src  ip16
	port uint32 // proto<<16 | port
}

type scanPorts struct {
	last    int64 // the newest attempt
	ports   smallSet[uint32]
	alerted bool
}

type scanHosts struct {
	last    int64
	hosts   smallSet[ip16]
	alerted bool
}

// smallSet is a set of distinct values with the time each was last seen,
// the first few held inline: most keys of a scan table see one or two
// values, and a million keys must not mean a million allocations for the
// collector to scan. Values not seen within a window leave it, so the
// window slides: a scan cannot hide by straddling the boundary of a
// window that its own first probe began (Zeek's tumbling windows miss
// 14 ports before such a boundary and 14 after it).
type smallSet[T comparable] struct {
	inl  [2]timed[T]
	n    int32
	more []timed[T]
}

type timed[T comparable] struct {
	v T
	t int64
}

func (s *smallSet[T]) len() int { return int(s.n) }

func (s *smallSet[T]) at(i int) *timed[T] {
	if i < len(s.inl) {
		return &s.inl[i]
	}
	return &s.more[i-len(s.inl)]
}

// expire removes the values last seen win or longer before t.
func (s *smallSet[T]) expire(t, win int64) {
	k := 0
	for i := 0; i < int(s.n); i++ {
		if x := *s.at(i); t-x.t < win {
			*s.at(k) = x
			k++
		}
	}
	s.n = int32(k) // #nosec G115 -- at most the set's bound
	if k > len(s.inl) {
		s.more = s.more[:k-len(s.inl)]
	} else {
		s.more = s.more[:0]
	}
}

// has reports whether v was seen within win before t.
func (s *smallSet[T]) has(v T, t, win int64) bool {
	for i := 0; i < int(s.n); i++ {
		if x := s.at(i); x.v == v {
			return t-x.t < win
		}
	}
	return false
}

// add records v as seen at t, first removing the values last seen win
// or longer before t, and reports whether v was new; the set holds at
// most bound values (then every value counts as new: the count only grows
// past the threshold).
func (s *smallSet[T]) add(v T, t, win int64, bound int) bool {
	s.expire(t, win)
	for i := 0; i < int(s.n); i++ {
		if x := s.at(i); x.v == v {
			x.t = max(x.t, t)
			return false
		}
	}
	switch {
	case int(s.n) >= bound:
		return true
	case int(s.n) < len(s.inl):
		s.inl[s.n] = timed[T]{v, t}
	default:
		s.more = append(s.more, timed[T]{v, t})
	}
	s.n++
	return true
}

// udpRecent is how many of a pair's latest UDP datagrams are kept, and
// udpAnswer how long after one an ICMP port unreachable may answer it
// (either way: records of two nodes merged may come out of order).
const (
	udpRecent = 8
	udpAnswer = 3 * time.Second
)

// udpSent is the UDP destination ports a source sent datagrams to on one
// destination lately, for the ICMP port unreachables that answer them:
// Hubble reports a UDP probe of a closed port as FORWARDED and the
// unreachable as an ICMP flow that names no port.
type udpSent struct {
	sent [udpRecent]udpDatagram
	next uint8
	last int64
}

type udpDatagram struct {
	t        int64
	port     uint16
	answered bool
}

// answer marks the latest datagram the unreachable at t may answer and
// returns its port, preferring a datagram to a port not failed already
// (refused: counted by the port-scan window). Taking the latest alone, a
// scanner that sent each probe of a closed port followed by a datagram
// to an open one (which draws no unreachable) had every unreachable
// answer the open port: its scan of a thousand ports counted one.
func (u *udpSent) answer(t int64, refused func(port uint16) bool) (uint16, bool) {
	best, fresh := -1, false
	for i := range u.sent {
		d := &u.sent[i]
		if d.t == 0 || d.answered || d.t-t > int64(udpAnswer) || t-d.t > int64(udpAnswer) {
			continue
		}
		f := !refused(d.port)
		if best < 0 || f && !fresh || f == fresh && d.t > u.sent[best].t {
			best, fresh = i, f
		}
	}
	if best < 0 {
		return 0, false
	}
	u.sent[best].answered = true
	return u.sent[best].port, true
}

// record adds a datagram to port at t; a port still awaiting its answer
// is only dated anew.
func (u *udpSent) record(port uint16, t int64) {
	u.last = max(u.last, t)
	for i := range u.sent {
		if d := &u.sent[i]; d.t != 0 && d.port == port && !d.answered {
			d.t = max(d.t, t)
			return
		}
	}
	u.sent[u.next%udpRecent] = udpDatagram{t: t, port: port}
	u.next++
}

// acceptance remembers the TCP connections flow records show a server
// accepting (its SYN|ACK passing) until they end.
func (d *Detectors) acceptance(e *event.Event, t int64) {
	if e.Kind != event.Flow || e.Proto != event.TCP || !e.Verdict.Passed() {
		return
	}
	switch {
	case e.Reply && e.Flags&(event.SYN|event.ACK|event.RST) == event.SYN|event.ACK:
		k := connKey{client: key16(e.Dst), server: key16(e.Src), cport: e.DstPort, sport: e.SrcPort}
		if a := d.accepted.get(k); a != nil {
			*a = accepted{at: max(a.at, t)}
		}
	case e.Flags&(event.FIN|event.RST) != 0:
		k := connKey{client: key16(e.Src), server: key16(e.Dst), cport: e.SrcPort, sport: e.DstPort}
		if e.Reply {
			k = connKey{client: key16(e.Dst), server: key16(e.Src), cport: e.DstPort, sport: e.SrcPort}
		}
		if a := d.accepted.find(k); a != nil && !a.ended {
			*a = accepted{at: max(a.at, t), ended: true}
		}
	}
}

// aborted tells a server's reset of a connection it had accepted from a
// refusal: both are RST|ACK in reply, but only a refused connection
// never saw the server's SYN|ACK.
func (d *Detectors) aborted(e *event.Event, t int64) bool {
	if e.Kind != event.Flow || e.Proto != event.TCP || !e.Reply || e.Flags&event.RST == 0 || !e.Verdict.Passed() {
		return false
	}
	a := d.accepted.find(connKey{client: key16(e.Dst), server: key16(e.Src), cport: e.DstPort, sport: e.SrcPort})
	return a != nil && t-a.at < int64(acceptedFor)
}

// portUnreachable reports an ICMP or ICMPv6 port unreachable.
func portUnreachable(e *event.Event) bool {
	return e.Proto == event.ICMP && e.ICMPType == 3 && e.ICMPCode == 3 ||
		e.Proto == event.ICMPv6 && e.ICMPType == 1 && e.ICMPCode == 4
}

// udpProbes keeps the UDP datagrams flow records show passing, and turns
// a port unreachable that answers one into the failed attempt it is.
// Conntrack sources need none of this: a UDP connection that ends
// without a reply is failed already.
func (d *Detectors) udpProbes(o *Observation, t int64) {
	e := o.E
	switch {
	case e.Kind != event.Flow || !e.Verdict.Passed():
	case e.Proto == event.UDP && !e.Reply:
		if st := d.udp.get(pairKey{key16(e.Src), key16(e.Dst)}); st != nil {
			st.record(e.DstPort, t)
		}
	case portUnreachable(e):
		// From the probed host back to the prober.
		st := d.udp.find(pairKey{key16(e.Dst), key16(e.Src)})
		if st == nil {
			return
		}
		// The ports the port-scan window holds as failed already for
		// this prober and host, counted by the keys portScan uses.
		prober, _ := scannerKey(e.Dst, o.Dst, o.DstRes)
		failed := d.ports.find(pairKey{prober, endKey(e.Src, o.Src, o.SrcRes)})
		win := int64(d.cfg.PortScan.Window)
		port, ok := st.answer(t, func(p uint16) bool {
			return failed != nil && failed.ports.has(uint32(event.UDP)<<16|uint32(p), t, win)
		})
		if !ok {
			return
		}
		probe := &event.Event{Time: e.Time, ID: e.ID, Kind: event.Flow, Origin: e.Origin, Proto: event.UDP,
			Src: e.Dst, Dst: e.Src, DstPort: port, Verdict: e.Verdict, Reason: "ICMP port unreachable", Node: e.Node}
		d.portScan(&Observation{E: probe, Src: o.Dst, SrcRes: o.DstRes, Dst: o.Src, DstRes: o.SrcRes}, t)
	}
}

// floodSlots is the number of slots a flood window is counted in. A
// window counted whole from its first packet (tumbling) let a sender
// that chose when windows begin put almost twice the threshold in a
// fraction of a second: a burst just before one window ended and another
// just after. Counted over the last floodSlots slots of window/floodSlots
// each, it slides: any interval of one window holding twice the
// threshold, or one of 4/5 of a window holding the threshold, alerts.
const floodSlots = 5

// flood is one (source, destination) pair's packet count. Slots are
// numbered from anchor (the pair's first packet, again after a window
// without one), so that a flood at exactly the threshold from its first
// packet fills the first window's five slots as a tumbling window would.
type flood struct {
	anchor  int64
	slot    int64 // the newest slot counted
	last    int64 // the newest packet's time
	counts  [floodSlots]uint64
	since   int64  // the alert's or the last report's time
	extra   uint64 // packets after the alert, reported a window later
	alerted bool
	// The ends as the alert resolved them, so that later reports join
	// its incident.
	srcW, dstW *identity.Workload
	srcR, dstR identity.Resolution
	// The addresses of the alert's packet: a pod's key is no address.
	srcA, dstA ip16
}

// add counts w packets at t, anchored afresh after a window without
// any, and returns the packets in the last floodSlots slots and when the
// oldest of those slots began (at the anchor at the earliest).
func (f *flood) add(t, window int64, w uint64) (sum uint64, from int64) {
	slot := window / floodSlots
	if slot <= 0 {
		slot = 1
	}
	if f.last == 0 || t-f.last >= window {
		*f = flood{anchor: t}
	}
	n := (t - f.anchor) / slot
	if n < f.slot { // out of order: counted in the newest slot
		n = f.slot
	}
	for s := f.slot + 1; s <= n && s <= f.slot+floodSlots; s++ {
		f.counts[s%floodSlots] = 0
	}
	f.slot, f.last = n, max(f.last, t)
	f.counts[n%floodSlots] += w
	for _, c := range f.counts {
		sum += c
	}
	return sum, max(f.anchor, f.anchor+(n-floodSlots+1)*slot)
}

// Detectors runs every enabled detector over observations. It is not
// safe for concurrent use: one pipeline feeds it.
type Detectors struct {
	cfg    Config
	clock  event.Clock
	engine *netpol.Engine
	inc    *incidentSet

	known     ipset.Set // policy ipBlocks and egress.allow
	allowed   map[[2]*netpol.Endpoint]portset.Set
	ports     *table[pairKey, scanPorts]
	hosts     *table[portKey, scanHosts]
	syn, icmp *table[pairKey, flood]
	udp       *table[pairKey, udpSent]
	// accepted is the TCP connections a server answered with SYN|ACK
	// lately (the time of the answer).
	accepted *table[connKey, accepted]
	// asked is the ICMP requests (echo, timestamp, ...) that passed
	// lately, by requester, responder and request type: when last.
	asked     *table[askKey, int64]
	dnsNames  *table[dnsKey, dnsNames]
	now       int64
	clockNow  int64
	swept     int64
	untracked uint64
	// droppedSeen is the evidence dropped at maxIncidents already
	// reported by detector-saturated.
	droppedSeen uint64
	stats       Stats
	floodLimit  [2]uint64
	base        *baseline
	assertions  []*assertion.Assertion
	assertFile  string
}

// CheckAssertions makes observed flows answer to ward.yaml's assertions
// (read from file): a flow that got through where an assertion says
// deny, or was dropped by policy where one says allow, raises
// assertion-violated, whatever the policies say.
func (d *Detectors) CheckAssertions(file string, as []*assertion.Assertion) {
	d.assertFile, d.assertions = file, as
}

// New returns detectors with cfg's thresholds; engine (nil: no policy
// detectors and no ipBlocks for egress) judges flows, emit receives each
// alert report (synchronously: render it before returning, the Alert
// changes as the incident grows), clock (nil: event time only) bounds
// forged timestamps.
func New(cfg Config, engine *netpol.Engine, clock event.Clock, emit func(*Alert)) *Detectors {
	d := &Detectors{
		cfg: cfg, clock: clock, engine: engine,
		inc:     newIncidents(cfg.Incidents, cfg.Limits.MaxIncidents, emit),
		allowed: map[[2]*netpol.Endpoint]portset.Set{},
		ports:   newTable[pairKey, scanPorts](cfg.Limits.MaxTracked),
		hosts:   newTable[portKey, scanHosts](cfg.Limits.MaxTracked),
		syn:     newTable[pairKey, flood](cfg.Limits.MaxTracked),
		icmp:    newTable[pairKey, flood](cfg.Limits.MaxTracked),
		udp:     newTable[pairKey, udpSent](cfg.Limits.MaxTracked),

		accepted: newTable[connKey, accepted](cfg.Limits.MaxTracked),
		asked:    newTable[askKey, int64](cfg.Limits.MaxTracked),
		base:     newBaseline(),

		dnsNames: newTable[dnsKey, dnsNames](cfg.Limits.MaxTracked),
	}
	d.floodLimit[0] = uint64(float64(cfg.SYNFlood.PPS) * cfg.SYNFlood.Window.Seconds())
	d.floodLimit[1] = uint64(float64(cfg.ICMPFlood.PPS) * cfg.ICMPFlood.Window.Seconds())
	d.SetEngine(engine)
	return d
}

// SetEngine makes the detectors judge with engine from now on (the
// policies or the inventory changed while ward watch runs).
func (d *Detectors) SetEngine(engine *netpol.Engine) {
	d.engine = engine
	d.allowed = map[[2]*netpol.Endpoint]portset.Set{}
	var known []ipset.Range
	for _, p := range d.cfg.Egress.Allow {
		known = append(known, ipset.FromPrefix(p))
	}
	d.known = ipset.Of(known...)
	if engine != nil {
		d.known = d.known.Union(policyBlocks(engine))
	}
}

// policyBlocks is every address some egress ipBlock admits: cidr minus
// except, over every policy.
func policyBlocks(e *netpol.Engine) ipset.Set {
	var s ipset.Set
	for _, p := range e.Set().Policies {
		for _, r := range p.Spec.Egress {
			for _, peer := range r.To {
				b := peer.IPBlock
				if b == nil {
					continue
				}
				c, err := netip.ParsePrefix(b.CIDR)
				if err != nil {
					continue // the loader rejected it already
				}
				blk := ipset.Of(ipset.FromPrefix(c.Masked()))
				for _, ex := range b.Except {
					if x, err := netip.ParsePrefix(ex); err == nil {
						blk = blk.Subtract(ipset.Of(ipset.FromPrefix(x.Masked())))
					}
				}
				s = s.Union(blk)
			}
		}
	}
	return s
}

// Observe judges a batch of observations.
func (d *Detectors) Observe(obs []Observation) {
	if d.clock != nil {
		d.clockNow = d.clock.Now().UnixNano()
	}
	for i := range obs {
		d.observe(&obs[i])
	}
}

func (d *Detectors) observe(o *Observation) {
	e := o.E
	d.stats.Events++
	// A resolver's log names the client only: DNS queries are judged
	// without a destination address.
	if !e.Src.IsValid() || !e.Dst.IsValid() && e.DNS == nil {
		return
	}
	t := e.Time
	if d.clock != nil && t > d.clockNow+int64(d.cfg.Limits.MaxSkew) {
		t = d.clockNow
		d.stats.Clamped++
	}
	d.advance(t)
	if e.ForgedSource() {
		d.spoofed(o, t)
		return
	}
	if e.DNS != nil {
		d.dns(o, t)
		if !e.Dst.IsValid() {
			return
		}
	}
	if d.cfg.PortScan.Enabled {
		d.acceptance(e, t)
		if e.Failed() && !d.aborted(e, t) {
			d.portScan(o, t)
		}
		d.udpProbes(o, t)
	}
	if d.cfg.SYNFlood.Enabled && e.Proto == event.TCP && (e.Kind == event.Flow && e.Flags.IsSYN() && !e.Reply || e.Kind == event.ConnNew) {
		d.flood(0, o, t)
	}
	if d.cfg.ICMPFlood.Enabled && e.Proto.IsICMP() && (e.Kind == event.Flow || e.Kind == event.ConnNew) {
		d.flood(1, o, t)
	}
	d.requests(o, t)
	if !opening(e) && !d.unasked(e, t) && !d.unrelatedError(o, t) {
		if e.Kind == event.Flow && e.Proto == event.ProtoUnknown && !e.Reply && e.Verdict.Passed() && d.cfg.Policy.Enabled && d.engine != nil {
			// A flow of a protocol the source does not name (Hubble
			// has no l4 for GRE, ESP, IP-in-IP): not judged, so
			// counted as such, never taken as allowed.
			d.stats.Unjudged++
		}
		return
	}
	if d.cfg.Baseline.Enabled {
		d.observeBaseline(o, t)
	}
	// An unknown source is a cluster address all the same (a pod
	// created after the manifests were read, a node): the ipBlocks
	// judge every source alike, and a pod of no known workload reaching
	// the internet went unreported. A node's own address is no pod's:
	// its traffic (the kubelet's, image pulls, a hostNetwork pod's) is
	// the host's, which NetworkPolicies and their ipBlocks do not govern.
	if d.cfg.Egress.Enabled && o.DstRes == identity.External && o.SrcRes != identity.External && !(o.SrcNode && o.SrcRes == identity.Unknown) && e.Verdict.Passed() {
		d.egress(o, t)
	}
	if d.cfg.Policy.Enabled && d.engine != nil {
		d.policy(o, t)
	}
}

func (d *Detectors) advance(t int64) {
	if t > d.now {
		d.now = t
		d.inc.advance(t)
	}
	if d.sweepNow()-d.swept >= int64(d.sweepEvery()) {
		d.sweep()
	}
}

// sweepNow is the time windows expire by: the detectors' time, but never
// past the clock's. An event dated ahead of the clock within
// limits.maxSkew (a node whose clock runs fast, a fleet publisher
// forging times) moved the detectors' time ahead, and every sweep then
// deleted each scan window idle for less than the skew short of its
// length and every flood's: sent every 5 s dated 5 minutes ahead, such
// events kept every port scan and flood from reaching its threshold.
func (d *Detectors) sweepNow() int64 {
	if d.clock != nil && d.clockNow < d.now {
		return d.clockNow
	}
	return d.now
}

// Now is the detectors' time: the latest event time seen (clamped), or
// the latest AdvanceTo.
func (d *Detectors) Now() time.Time { return time.Unix(0, d.now).UTC() }

// AdvanceTo moves the detectors' time to t when no event has: windows
// expire and idle incidents close as if time had passed in the stream.
// A live pipeline calls it when its input is quiet; an earlier t does
// nothing.
func (d *Detectors) AdvanceTo(t time.Time) {
	if d.clock != nil {
		d.clockNow = d.clock.Now().UnixNano()
	}
	d.advance(t.UnixNano())
}

// opening reports an event that opens a connection (or is a datagram
// from its sender): what policies judge.
func opening(e *event.Event) bool {
	switch e.Kind {
	case event.ConnNew:
		return true
	case event.Flow:
		if e.Reply {
			return false
		}
		if e.Proto == event.TCP {
			return e.Flags.IsSYN()
		}
		if e.Proto.IsICMP() && icmpAnswer(e) {
			// Cilium marks a connection's related traffic (an ICMP
			// error) is_reply false: by its type it opens nothing.
			return false
		}
		return e.Proto != event.ProtoUnknown
	}
	return false
}

// icmpAnswer reports an ICMP message that answers another packet, so
// never opens a connection: an error (destination unreachable, source
// quench, redirect, time exceeded, parameter problem; ICMPv6's types
// below 128) or a reply (echo, timestamp, information, address mask;
// ICMPv6 echo reply). A reply answers only a request (see unasked).
func icmpAnswer(e *event.Event) bool {
	if e.Proto == event.ICMPv6 {
		return e.ICMPType < 128 || e.ICMPType == 129
	}
	switch e.ICMPType {
	case 0, 3, 4, 5, 11, 12, 14, 16, 18:
		return true
	}
	return false
}

// askedFor is how long after an ICMP request a reply to it is taken for
// its answer (either way: records of two nodes come apart); Cilium's
// and Linux's conntrack forget an ICMP flow after 30 s.
const askedFor = time.Minute

// askKey is an ICMP request: requester, responder and request type.
type askKey struct {
	requester, responder ip16
	proto                event.Proto
	typ                  uint8
}

// requestOf is the request type an ICMP reply answers (0 when e is no
// reply).
func requestOf(e *event.Event) uint8 {
	if e.Proto == event.ICMPv6 {
		if e.ICMPType == 129 {
			return 128
		}
		return 0
	}
	switch e.ICMPType {
	case 0:
		return 8
	case 14, 16, 18:
		return e.ICMPType - 1
	}
	return 0
}

// requests remembers the ICMP requests flow records show passing, for
// the replies that answer them, and the packets that passed to a pod,
// for the ICMP errors the pod may answer them with (unrelatedError).
func (d *Detectors) requests(o *Observation, t int64) {
	e := o.E
	if e.Kind != event.Flow || !e.Verdict.Passed() {
		return
	}
	// UDP and ICMP only: a pod answers TCP (and SCTP) with resets,
	// not ICMP errors, and TCP's volume must not fill the table.
	if (e.Proto == event.UDP || e.Proto.IsICMP()) && podLike(o.DstRes, o.DstNode) && e.Src != e.Dst && !icmpError(e) {
		if a := d.asked.get(askKey{key16(e.Src), key16(e.Dst), event.ProtoUnknown, 0}); a != nil {
			*a = max(*a, t)
		}
	}
	if !e.Proto.IsICMP() || e.Reply || !icmpProbe(e) {
		return
	}
	if a := d.asked.get(askKey{key16(e.Src), key16(e.Dst), e.Proto, e.ICMPType}); a != nil {
		*a = max(*a, t)
	}
}

// podLike reports an end that is a pod's: resolved, or a cluster
// address of unknown owner that is no node's.
func podLike(r identity.Resolution, node bool) bool {
	return r == identity.Resolved || r == identity.Unknown && !node
}

// icmpError reports an ICMP error message (destination unreachable,
// source quench, redirect, time exceeded, parameter problem; ICMPv6's
// types below 128): an answer that is no reply to a request.
func icmpError(e *event.Event) bool {
	return e.Proto.IsICMP() && icmpAnswer(e) && requestOf(e) == 0
}

// unrelatedError reports an ICMP error not marked is_reply that a pod
// sent to an address from which nothing passed to it within askedFor:
// it answers nothing and is judged as a flow of its own. A pod is no
// router: its errors answer packets it received. Exempt by their type,
// errors carrying a tunnel (any payload rides in a destination
// unreachable, or an ICMPv6 type below 128) got through policies that
// deny ICMP unjudged, as no opening, not even counted. Errors from
// routers (nodes, external addresses), and dropped ones, are not
// judged.
func (d *Detectors) unrelatedError(o *Observation, t int64) bool {
	e := o.E
	if e.Kind != event.Flow || e.Reply || !e.Verdict.Passed() || !icmpError(e) || !podLike(o.SrcRes, o.SrcNode) {
		// A dropped error got nowhere: a firewall drops errors its
		// conntrack relates to nothing (state invalid), which is no
		// stale rule.
		return false
	}
	a := d.asked.find(askKey{key16(e.Dst), key16(e.Src), event.ProtoUnknown, 0})
	return a == nil || t-*a >= int64(askedFor) || *a-t >= int64(askedFor)
}

// unasked reports an ICMP reply (echo, timestamp, ...) not marked
// is_reply that answers no request seen from its destination: it opens
// a flow of its own and is judged. Cilium's conntrack takes a reply
// without its request for a new flow, policy-checked and reported
// is_reply false: unexempted, echo replies sent as a sweep (a scan
// through stateless filters) or carrying a tunnel (ptunnel, icmptunnel)
// got through policies that deny ICMP unjudged.
func (d *Detectors) unasked(e *event.Event, t int64) bool {
	if e.Kind != event.Flow || !e.Proto.IsICMP() || e.Reply {
		return false
	}
	req := requestOf(e)
	if req == 0 {
		return false
	}
	a := d.asked.find(askKey{key16(e.Dst), key16(e.Src), e.Proto, req})
	return a == nil || t-*a >= int64(askedFor) || *a-t >= int64(askedFor)
}

func (d *Detectors) sweepEvery() time.Duration {
	return min(d.cfg.SYNFlood.Window, d.cfg.ICMPFlood.Window, d.cfg.PortScan.Window)
}

// sweep forgets expired windows, reporting flood packets counted after
// an alert, and reports tables that refused keys.
func (d *Detectors) sweep() {
	now := d.sweepNow()
	d.swept = now
	ps, hs := int64(d.cfg.PortScan.Window), int64(d.cfg.PortScan.Window)
	d.ports.sweep(func(_ *pairKey, v *scanPorts) bool { return now-v.last >= ps })
	d.hosts.sweep(func(_ *portKey, v *scanHosts) bool { return now-v.last >= hs })
	d.udp.sweep(func(_ *pairKey, v *udpSent) bool { return now-v.last > int64(udpAnswer) })
	d.asked.sweep(func(_ *askKey, a *int64) bool { return now-*a >= int64(askedFor) })
	d.accepted.sweep(func(_ *connKey, a *accepted) bool {
		return now-a.at >= int64(acceptedFor) || a.ended && now-a.at >= int64(endedFor)
	})
	dw := int64(d.cfg.DNSTunnel.Window)
	d.dnsNames.sweep(func(_ *dnsKey, v *dnsNames) bool { return now-v.last >= dw })
	for i, tb := range []*table[pairKey, flood]{d.syn, d.icmp} {
		w := int64(d.floodWindow(i))
		tb.sweep(func(k *pairKey, v *flood) bool {
			if now-v.since >= w {
				d.flushFlood(i, k, v) // a flood going on is reported once a window
			}
			return now-v.last >= w
		})
	}
	d.saturation(now)
}

// saturation raises detector-saturated for keys the full window tables
// refused and evidence the full incident set dropped since the last
// report.
func (d *Detectors) saturation(now int64) {
	var untracked uint64
	for _, n := range []uint64{d.ports.untracked, d.hosts.untracked, d.syn.untracked, d.icmp.untracked, d.udp.untracked, d.base.untracked, d.dnsNames.untracked, d.accepted.untracked, d.asked.untracked} {
		untracked += n
	}
	if untracked > d.untracked {
		d.inc.add(now, &evidence{
			detector: SaturatedName, severity: High,
			src:       Peer{Group: "detector window tables", Identity: "ward"},
			dst:       Peer{Group: "limits.maxTracked", Identity: "ward"},
			summary:   fmt.Sprintf("window tables full (limits.maxTracked %d): %d new keys not tracked; detections for them are missed", d.cfg.Limits.MaxTracked, untracked),
			count:     untracked - d.untracked,
			threshold: map[string]any{"maxTracked": d.cfg.Limits.MaxTracked},
			observed:  map[string]any{"untracked": untracked},
		})
		d.untracked = untracked
	}
	if n := d.inc.Dropped; n > d.droppedSeen {
		d.inc.add(now, &evidence{
			detector: SaturatedName, severity: High,
			src:       Peer{Group: "detector incidents", Identity: "ward"},
			dst:       Peer{Group: "limits.maxIncidents", Identity: "ward"},
			summary:   fmt.Sprintf("open incidents at limits.maxIncidents (%d), none less severe to close: %d pieces of evidence not reported", d.cfg.Limits.MaxIncidents, n),
			count:     n - d.droppedSeen,
			threshold: map[string]any{"maxIncidents": d.cfg.Limits.MaxIncidents},
			observed:  map[string]any{"droppedEvidence": n},
		})
		d.droppedSeen = d.inc.Dropped
	}
}

// Stats returns the counters.
func (d *Detectors) Stats() Stats {
	s := d.stats
	s.Untracked = d.ports.untracked + d.hosts.untracked + d.syn.untracked + d.icmp.untracked + d.udp.untracked + d.base.untracked + d.dnsNames.untracked + d.accepted.untracked + d.asked.untracked
	s.Tracked = d.ports.len() + d.hosts.len() + d.syn.len() + d.icmp.len() + d.udp.len() + d.dnsNames.len() + d.accepted.len() + d.asked.len()
	s.DroppedEvidence = d.inc.Dropped
	return s
}

// OpenIncidents is the number of incidents open.
func (d *Detectors) OpenIncidents() int { return d.inc.Open() }

// Reported counts alert reports by state (open, update, closed).
func (d *Detectors) Reported() map[string]uint64 { return d.inc.Reported }

// Close ends the input: pending flood counts are reported and every open
// incident is closed.
func (d *Detectors) Close() {
	for i, tb := range []*table[pairKey, flood]{d.syn, d.icmp} {
		tb.sweep(func(k *pairKey, v *flood) bool { d.flushFlood(i, k, v); return true })
	}
	// Keys refused and evidence dropped since the last sweep are
	// reported too: a capture that filled the tables within its last
	// seconds (or all within one sweep interval) ended "no alerts".
	d.saturation(max(d.now, d.swept))
	d.inc.closeAll()
}

// scanner returns who made a failed attempt: a refusal (RST in reply)
// travels from the target back to the scanner.
func scanner(o *Observation) (src, dst netip.Addr, srcW *identity.Workload, srcR identity.Resolution, dstW *identity.Workload, dstR identity.Resolution) {
	e := o.E
	if e.Reply {
		return e.Dst, e.Src, o.Dst, o.DstRes, o.Src, o.SrcRes
	}
	return e.Src, e.Dst, o.Src, o.SrcRes, o.Dst, o.DstRes
}

func (d *Detectors) portScan(o *Observation, t int64) {
	e := o.E
	src, dst, sw, sr, dw, dr := scanner(o)
	port := e.DstPort
	if e.Reply {
		port = e.SrcPort
	}
	pp := uint32(e.Proto)<<16 | uint32(port)
	icmp := e.Proto.IsICMP()
	if icmp {
		// No ports: a failed echo (or timestamp, address mask) request
		// counts as a probe of a host, as a ping sweep sends them,
		// whatever its type: counted by type, a sweep alternating
		// echo and timestamp requests (nmap -PE -PP) stayed under the
		// threshold of each.
		// A reply that answers no request probes a host as well (an
		// echo reply sweep maps hosts through stateless filters).
		if !icmpProbe(e) && !d.unasked(e, t) {
			return
		}
		// One group for ICMP and ICMPv6: a dual-stack pod is one
		// source, and a sweep split over both families stayed under
		// the threshold of each.
		pp = uint32(event.ICMP) << 16
	}
	cfg := d.cfg.PortScan
	win := int64(cfg.Window)
	// One external host holds a whole /64: a fresh address for each
	// probe must not buy it a fresh count (scannerKey).
	s, n64 := scannerKey(src, sw, sr)
	dd := endKey(dst, dw, dr)
	who := src.String
	if n64.IsValid() {
		who = n64.String
	}
	var st *scanPorts
	if !icmp {
		st = d.ports.get(pairKey{s, dd})
	}
	if st != nil {
		st.last = max(st.last, t)
		isNew := st.ports.add(pp, t, win, 4*cfg.DistinctPorts)
		if st.ports.len() < cfg.DistinctPorts {
			st.alerted = false // that scan is over; another alerts anew
		}
		if isNew && st.ports.len() >= cfg.DistinctPorts {
			n := uint64(1)
			if !st.alerted {
				st.alerted, n = true, uint64(st.ports.n) // #nosec G115 -- a count, never negative
			}
			d.inc.add(t, &evidence{
				detector: PortScanName, severity: High,
				src: scanPeer(src, sw, sr, n64), dst: peer(dst, dw, dr),
				summary:   fmt.Sprintf("%s made failed connections to %s ports of %s within %s", who(), atLeast(st.ports.len(), 4*cfg.DistinctPorts), dst, cfg.Window),
				count:     n,
				threshold: map[string]any{"distinctPorts": cfg.DistinctPorts, "window": cfg.Window.String()},
				observed:  map[string]any{"distinctPorts": st.ports.len(), "lastPort": fmt.Sprintf("%d/%s", port, e.Proto)},
				sample:    e,
			})
		}
	}
	if st := d.hosts.get(portKey{s, pp}); st != nil {
		st.last = max(st.last, t)
		isNew := st.hosts.add(dd, t, win, 4*cfg.DistinctHosts)
		if st.hosts.len() < cfg.DistinctHosts {
			st.alerted = false
		}
		if isNew && st.hosts.len() >= cfg.DistinctHosts {
			n := uint64(1)
			if !st.alerted {
				st.alerted, n = true, uint64(st.hosts.n) // #nosec G115 -- a count, never negative
			}
			group := fmt.Sprintf("port %d/%s", port, e.Proto)
			if icmp {
				group = fmt.Sprintf("%s requests", e.Proto)
			}
			d.inc.add(t, &evidence{
				detector: PortScanName, severity: High,
				src: scanPeer(src, sw, sr, n64), dst: Peer{Group: group, Identity: "many"},
				summary:   fmt.Sprintf("%s made failed connections to %s hosts on %s within %s", who(), atLeast(st.hosts.len(), 4*cfg.DistinctHosts), group, cfg.Window),
				count:     n,
				threshold: map[string]any{"distinctHosts": cfg.DistinctHosts, "window": cfg.Window.String()},
				observed:  map[string]any{"distinctHosts": st.hosts.len(), "lastHost": dst.String()},
				sample:    e,
			})
		}
	}
}

// atLeast is a count of distinct values held in a set bounded at bound:
// a full set stands for that many or more (the values beyond it are not
// held), and a summary must not claim exactly that many.
func atLeast(n, bound int) string {
	if n >= bound {
		return fmt.Sprintf("at least %d", n)
	}
	return strconv.Itoa(n)
}

// scannerNet is the /64 an external IPv6 scanner is counted by: a host
// is given a /64 (RFC 6177) and may source each probe from another
// address of it. Other scanners are counted by address.
func scannerNet(a netip.Addr, r identity.Resolution) (netip.Prefix, bool) {
	if r != identity.External || !a.Is6() || a.Is4In6() {
		return netip.Prefix{}, false
	}
	p, err := a.Prefix(64)
	return p, err == nil
}

// scannerKey is the key a prober, scanner or flooder at a is counted
// by: its /64 when scannerNet groups it (n64 valid), else its end
// (endKey). Port scans, UDP probes and floods share it, so that each
// counts a scanner as the others do.
func scannerKey(a netip.Addr, w *identity.Workload, r identity.Resolution) (k ip16, n64 netip.Prefix) {
	if n64, agg := scannerNet(a, r); agg {
		return key16(n64.Addr()), n64
	}
	return endKey(a, w, r), netip.Prefix{}
}

// scanPeer is a scanner as reported: grouped by its /64 when counted by
// it (n64 valid).
func scanPeer(a netip.Addr, w *identity.Workload, r identity.Resolution, n64 netip.Prefix) Peer {
	p := peer(a, w, r)
	if n64.IsValid() {
		p.Group = n64.String()
	}
	return p
}

// icmpProbe reports an ICMP request a host sweep sends: echo,
// timestamp, information or address mask (ICMPv6: echo).
func icmpProbe(e *event.Event) bool {
	if e.Proto == event.ICMPv6 {
		return e.ICMPType == 128
	}
	switch e.ICMPType {
	case 8, 13, 15, 17:
		return true
	}
	return false
}

func (d *Detectors) floodWindow(i int) time.Duration {
	if i == 0 {
		return d.cfg.SYNFlood.Window
	}
	return d.cfg.ICMPFlood.Window
}

func (d *Detectors) flood(i int, o *Observation, t int64) {
	e := o.E
	tb := d.syn
	if i == 1 {
		tb = d.icmp
	}
	// A pod is one end whatever address it uses: a dual-stack pod's
	// flood split over IPv4 and IPv6 stayed under each pair's threshold.
	// An external IPv6 host holds a whole /64 (as for port scans): a SYN
	// flood sent from a fresh address of it for each packet was as many
	// pairs of one SYN each, all under the threshold.
	src, _ := scannerKey(e.Src, o.Src, o.SrcRes)
	k := pairKey{src, endKey(e.Dst, o.Dst, o.DstRes)}
	st := tb.get(k)
	if st == nil {
		return
	}
	w := e.Weight()
	if e.Kind == event.ConnNew {
		w = 1
	}
	window := int64(d.floodWindow(i))
	if st.last != 0 && t-st.last >= window {
		d.flushFlood(i, &k, st) // the pair's last flood is over
	}
	sum, from := st.add(t, window, w)
	switch {
	case st.alerted && sum < d.floodLimit[i]:
		// Below the threshold again: this flood is over; a new one
		// alerts anew.
		st.extra += w
		d.flushFlood(i, &k, st)
		st.alerted = false
	case st.alerted:
		st.extra += w
	case sum >= d.floodLimit[i]:
		st.alerted, st.since = true, t
		st.srcW, st.srcR, st.dstW, st.dstR = o.Src, o.SrcRes, o.Dst, o.DstRes
		st.srcA, st.dstA = key16(e.Src), key16(e.Dst)
		d.floodEvidence(i, o.Src, o.SrcRes, o.Dst, o.DstRes, e.Src, e.Dst, sum, sum, from, t, e)
	}
}

func (d *Detectors) floodEvidence(i int, sw *identity.Workload, sr identity.Resolution, dw *identity.Workload, dr identity.Resolution, src, dst netip.Addr, n, packets uint64, from, t int64, sample *event.Event) {
	name, cfg, what := SYNFloodName, d.cfg.SYNFlood, "SYNs"
	if i == 1 {
		name, cfg, what = ICMPFloodName, d.cfg.ICMPFlood, "ICMP packets"
	}
	elapsed := time.Duration(t - from)
	n64, _ := scannerNet(src, sr)
	who := src.String()
	if n64.IsValid() {
		who = n64.String()
	}
	d.inc.add(t, &evidence{
		detector: name, severity: High,
		src: scanPeer(src, sw, sr, n64), dst: peer(dst, dw, dr),
		summary:   fmt.Sprintf("%s sent %d %s to %s within %s (threshold %d pps over %s)", who, packets, what, dst, max(elapsed, time.Nanosecond).Round(time.Millisecond), cfg.PPS, cfg.Window),
		count:     n,
		threshold: map[string]any{"pps": cfg.PPS, "window": cfg.Window.String()},
		observed:  map[string]any{"packets": packets, "windowStart": time.Unix(0, from).UTC().Format(time.RFC3339Nano)},
		sample:    sample,
	})
}

// flushFlood reports the packets counted since a flood's alert or last
// report, with the ends as the alert resolved them: reported by address
// alone, they opened an incident of their own beside the alert's.
func (d *Detectors) flushFlood(i int, _ *pairKey, st *flood) {
	if !st.alerted || st.extra == 0 {
		return
	}
	src, dst := st.srcA.addr(), st.dstA.addr()
	n, from := st.extra, st.since
	t := min(max(st.last, from), d.now)
	st.extra, st.since = 0, t
	d.floodEvidence(i, st.srcW, st.srcR, st.dstW, st.dstR, src, dst, n, n, from, t, nil)
}

// spoofed reports a packet dropped for its forged source (ward fw's
// anti-spoofing, Cilium's INVALID_SOURCE_IP). Its source
// is forged: judged as that address's own attempt, a container forging
// another's address (or the gateway's) made it a port scanner, a SYN
// flooder or a victim of stale rules. The incident groups the forgeries
// by destination; the address claimed is named as claimed only.
//
// When the record names the interface the packet came in on (ward fw's
// log of a bridge port: the forging container's veth), that interface
// is the source: the sender is behind it, and incidents are one per
// sender, not one for every forger of a destination.
func (d *Detectors) spoofed(o *Observation, t int64) {
	e := o.E
	src, sender := Peer{Identity: "forged", Group: "forged source"}, "another sender"
	obs := map[string]any{"claimedSource": e.Src.String(), "port": portLabel(e), "reason": dropBy(e)}
	if on := e.SpoofedOn(); on != "" {
		src.Group, sender = "interface "+on, "the sender behind interface "+on
		obs["inInterface"] = on
	}
	d.inc.add(t, &evidence{
		detector: SpoofName, severity: High,
		src: src, dst: peer(e.Dst, o.Dst, o.DstRes),
		summary:  fmt.Sprintf("a packet to %s on %s claiming source %s was dropped as spoofed (%s): %s forged it; %s did not send it", event.Endpoint(e.Dst, e.DstPort), portLabel(e), e.Src, dropBy(e), sender, e.Src),
		count:    1,
		observed: obs,
		sample:   e,
	})
}

func (d *Detectors) egress(o *Observation, t int64) {
	e := o.E
	if d.known.Contains(e.Dst.Unmap()) {
		return
	}
	bits := 24
	if e.Dst.Is6() {
		bits = 64
	}
	group, _ := e.Dst.Prefix(bits)
	d.inc.add(t, &evidence{
		detector: EgressName, severity: Medium,
		src: peer(e.Src, o.Src, o.SrcRes), dst: Peer{Address: e.Dst.String(), Identity: "external", Group: group.String()},
		summary:  fmt.Sprintf("%s reached %s, outside every NetworkPolicy ipBlock and egress.allow", srcLabel(e.Src, o.Src, o.SrcRes), event.Endpoint(e.Dst, e.DstPort)),
		count:    1,
		observed: map[string]any{"lastDestination": event.Endpoint(e.Dst, e.DstPort), "proto": e.Proto.String()},
		sample:   e,
	})
}

// srcLabel names a source in a summary: its workload, else its address
// and that its owner is unknown.
func srcLabel(a netip.Addr, w *identity.Workload, r identity.Resolution) string {
	if r == identity.Resolved && w != nil {
		return w.ID()
	}
	return a.String() + " (unknown workload)"
}

// endpoint is the engine's endpoint for an address of resolution r.
func (d *Detectors) endpoint(a netip.Addr, w *identity.Workload, r identity.Resolution) *netpol.Endpoint {
	switch r {
	case identity.External:
		ep := d.engine.EndpointOfIP(a)
		if ep != nil && !ep.IsExternal() {
			return nil // the engine knows it as a pod IP the identity table does not: do not guess
		}
		return ep
	case identity.Resolved:
		if w.W == nil {
			return nil
		}
		eps := d.engine.EndpointsOf(w.W)
		ep := d.engine.EndpointOfIP(a)
		switch {
		case ep != nil && ep.Workload == w.W:
			return ep
		case ep != nil && ep.IsExternal():
			// A pod address the manifests do not list (a pod known by
			// Hubble's name): the endpoint whose pod IPs the ipBlocks
			// treat as they treat a (the external class holding a
			// holds them). Judged as the workload's first endpoint, a
			// new pod outside the ipBlock that admits that endpoint's
			// IPs was allowed what the policies deny it. No endpoint
			// so: not judged.
			for _, ep2 := range eps {
				if len(ep2.IPs) > 0 && ep.External.Contains(ep2.IPs[0]) {
					return ep2
				}
			}
			if len(eps) == 1 && len(eps[0].IPs) == 0 && !ep.InIPBlock() {
				// No pod IP known at all (manifests without status):
				// the engine judges the workload as matched by no
				// ipBlock, which is exact only for an address no
				// ipBlock holds. Otherwise a pod an ipBlock admits
				// raised a false policy-violation: not judged
				// (counted), as when no known pod is treated alike.
				return eps[0]
			}
			return nil
		}
		// Another workload's pod IP in the manifests (the address was
		// reused over time).
		for _, ep2 := range eps {
			if slices.Contains(ep2.IPs, a.Unmap()) {
				return ep2
			}
		}
		if len(eps) == 1 {
			return eps[0]
		}
	}
	return nil
}

const maxAllowedCache = 1 << 20

func (d *Detectors) policy(o *Observation, t int64) {
	e := o.E
	passed := e.Verdict.Passed()
	policyDrop := e.Verdict == event.Dropped && (e.Origin == event.OriginNFLog || strings.Contains(e.Reason, "POLICY"))
	if !passed && !(policyDrop && d.cfg.Policy.Drops) {
		return
	}
	if e.Kind == event.Request || e.Src == e.Dst {
		return // the proxy's own decision; a pod talking to itself
	}
	if o.SrcRes == identity.External && o.DstRes == identity.External {
		return
	}
	src := d.endpoint(e.Src, o.Src, o.SrcRes)
	dst := d.endpoint(e.Dst, o.Dst, o.DstRes)
	if src == nil || dst == nil {
		d.stats.Unjudged++
		return
	}
	d.stats.Judged++
	k := [2]*netpol.Endpoint{src, dst}
	allowed, ok := d.allowed[k]
	if !ok {
		allowed = d.engine.Allowed(src, dst)
		if len(d.allowed) < maxAllowedCache {
			d.allowed[k] = allowed
		}
	}
	var ok2 bool
	var q portset.Set
	switch e.Proto {
	case event.TCP, event.UDP, event.SCTP:
		p := portset.TCP
		switch e.Proto {
		case event.UDP:
			p = portset.UDP
		case event.SCTP:
			p = portset.SCTP
		}
		ok2 = allowed.Contains(p, e.DstPort)
		q = portset.Port(p, e.DstPort)
	default:
		// NetworkPolicy ports name TCP, UDP and SCTP only: other
		// protocols pass only where a rule allows every port.
		ok2 = allowed.IsAll()
		q = portset.All
	}
	if len(d.assertions) > 0 {
		d.checkAssertions(o, t, passed, q)
	}
	switch {
	case passed && !ok2:
		d.inc.add(t, &evidence{
			detector: ViolationName, severity: Critical,
			src: peer(e.Src, o.Src, o.SrcRes), dst: peer(e.Dst, o.Dst, o.DstRes),
			summary:  fmt.Sprintf("%s reached %s on %s: the NetworkPolicies deny it (enforcement is broken or bypassed)", src.ID, dst.ID, portLabel(e)),
			count:    1,
			observed: map[string]any{"verdict": e.Verdict.String(), "port": portLabel(e), "allowedPorts": allowed.String()},
			sample:   e,
			explain:  func() *netpol.Explanation { return d.engine.Explain(src, dst, q) },
		})
	case !passed && ok2:
		d.inc.add(t, &evidence{
			detector: StaleRuleName, severity: Medium,
			src: peer(e.Src, o.Src, o.SrcRes), dst: peer(e.Dst, o.Dst, o.DstRes),
			summary:  fmt.Sprintf("%s to %s on %s was dropped by policy (%s), but the NetworkPolicies allow it: stale or broken rules", src.ID, dst.ID, portLabel(e), dropBy(e)),
			count:    1,
			observed: map[string]any{"verdict": e.Verdict.String(), "reason": dropBy(e), "port": portLabel(e), "allowedPorts": allowed.String()},
			sample:   e,
			explain:  func() *netpol.Explanation { return d.engine.Explain(src, dst, q) },
		})
	}
}

func portLabel(e *event.Event) string {
	if e.Proto.IsICMP() || e.Proto == event.ProtoUnknown {
		return e.Proto.String()
	}
	return fmt.Sprintf("%d/%s", e.DstPort, e.Proto)
}

func dropBy(e *event.Event) string {
	if e.Rule != "" {
		return e.Rule
	}
	return e.Reason
}

// selects reports whether an assertion side covers an end of a flow.
func selects(s assertion.Selector, a netip.Addr, w *identity.Workload, r identity.Resolution) bool {
	if s.CIDR.IsValid() {
		return r == identity.External && s.CIDR.Contains(a)
	}
	if r != identity.Resolved {
		return false
	}
	if s.Namespace != "" && w.Namespace != s.Namespace {
		return false
	}
	return s.Labels == nil || s.Labels.Matches(labels.Set(w.Labels))
}

func (d *Detectors) checkAssertions(o *Observation, t int64, passed bool, q portset.Set) {
	e := o.E
	for _, a := range d.assertions {
		if (a.Expect == assertion.Deny) != passed {
			continue // a deny answers to flows that passed, an allow to drops
		}
		if !a.Ports.Empty() && (q.IsAll() || a.Ports.Intersect(q).Empty()) {
			continue // another port, or a protocol without ports
		}
		if !selects(a.From, e.Src, o.Src, o.SrcRes) || !selects(a.To, e.Dst, o.Dst, o.DstRes) {
			continue
		}
		sev, what := Critical, "got through"
		if a.Expect == assertion.Allow {
			sev, what = Medium, "was dropped by policy"
		}
		d.inc.add(t, &evidence{
			detector: AssertionName, severity: sev,
			src: peer(e.Src, o.Src, o.SrcRes), dst: peer(e.Dst, o.Dst, o.DstRes),
			summary:   fmt.Sprintf("%s to %s on %s %s, against assertion %q (%s:%d, expect %s)", e.Src, e.Dst, portLabel(e), what, a.Name, d.assertFile, a.Line, a.Expect),
			count:     1,
			threshold: map[string]any{"assertion": a.Name, "file": d.assertFile, "line": a.Line, "expect": string(a.Expect)},
			observed:  map[string]any{"verdict": e.Verdict.String(), "port": portLabel(e)},
			sample:    e,
		})
	}
}
