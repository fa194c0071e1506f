package lab

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mdlayher/netlink"
	"github.com/ti-mo/conntrack"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/portset"
)

// The kinds of live flows.
const (
	LiveTCP  = "tcp"
	LiveUDP  = "udp"
	LiveICMP = "icmp"  // echo requests one way, the kernel's replies the other
	LiveRaw  = "ip253" // raw IP protocol 253 (RFC 3692, for experiments) both ways
)

// LiveKinds lists the kinds of live flows StartFlows opens per pair.
var LiveKinds = [...]string{LiveTCP, LiveUDP, LiveICMP, LiveRaw}

// rawProto is the IP protocol number of LiveRaw flows.
const rawProto = 253

// liveInterval is how often each end of a live flow sends.
const liveInterval = 20 * time.Millisecond

// LiveFlow is a flow that both ends keep sending on, opened by A towards
// B: a TCP connection whose ends each write a byte every 20 ms, UDP
// datagrams B answers to A's port, ICMP echo requests (B's kernel
// replies), or raw IP protocol 253 packets both ways. The first packet
// goes from A to B, so that conntrack tracks the flow in that direction.
type LiveFlow struct {
	Kind         string
	A, B         *Host
	AAddr, BAddr netip.Addr
	// Port is B's port (TCP, UDP), 0 for the others.
	Port uint16
	// SrcPort is A's port (TCP, UDP).
	SrcPort uint16

	toB, toA deliveries
	stop     func()
}

// deliveries records the packets of one direction that arrive. Every
// packet carries the time it was sent (the sender and the receiver are
// this process), so that what counts is when a packet left, not when a
// busy reader got to it: a packet sent after a ruleset denying its flow
// was applied must never arrive.
type deliveries struct {
	n    atomic.Int64
	last atomic.Int64 // the latest send time (unix nanoseconds) of an arrived packet
}

func (d *deliveries) add(sent int64) {
	d.n.Add(1)
	for {
		old := d.last.Load()
		if sent <= old || d.last.CompareAndSwap(old, sent) {
			return
		}
	}
}

// Last returns the send time of the latest packet from A that reached B
// (toB true), or from B that reached A, and how many did; zero when none
// did.
func (f *LiveFlow) Last(toB bool) (time.Time, int64) {
	d := &f.toA
	if toB {
		d = &f.toB
	}
	n := d.n.Load()
	if n == 0 {
		return time.Time{}, 0
	}
	return time.Unix(0, d.last.Load()), n
}

// stamp is a payload: marker, then the send time.
func stamp(marker []byte) []byte {
	return binary.BigEndian.AppendUint64(slices.Clone(marker), uint64(time.Now().UnixNano())) // #nosec G115 -- a time after 1970
}

// stamped returns the send time a payload carries after marker.
func stamped(b, marker []byte) (int64, bool) {
	if len(b) < len(marker)+8 || !bytes.Equal(b[:len(marker)], marker) {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(b[len(marker):])), true // #nosec G115 -- what stamp wrote
}

func (f *LiveFlow) String() string {
	return fmt.Sprintf("%s %s -> %s (%s -> %s)", f.Kind, f.A.ID, f.B.ID, netip.AddrPortFrom(f.AAddr, f.SrcPort), netip.AddrPortFrom(f.BAddr, f.Port))
}

// Flows are live flows of a lab; Close stops them.
type Flows struct {
	List []*LiveFlow
	wg   sync.WaitGroup
	once sync.Once
	done chan struct{}
}

// Close stops every flow and waits for its goroutines.
func (fs *Flows) Close() {
	fs.once.Do(func() {
		close(fs.done)
		for _, f := range fs.List {
			if f.stop != nil {
				f.stop()
			}
		}
		fs.wg.Wait()
	})
}

// StartFlows opens, for every ordered pair of hosts, a TCP and a UDP flow
// over every family both have and an ICMP flow over IPv4, and for every
// unordered pair a raw IP flow over IPv4 from the host listed first (raw
// IP has no ports: conntrack sees the two directions as one flow), and waits
// until packets have crossed both ways on each, which the loaded ruleset
// must allow (load an allow-all ruleset first). The caller must Close
// the flows.
func (l *Lab) StartFlows(ctx context.Context, hosts []*Host) (*Flows, error) {
	fs := &Flows{done: make(chan struct{})}
	for i, a := range hosts {
		for j, b := range hosts {
			if i == j {
				continue
			}
			for _, fam := range firewall.Families {
				aa, ok1 := firstOf(a.Addrs, fam)
				ba, ok2 := firstOf(b.Addrs, fam)
				if !ok1 || !ok2 {
					continue
				}
				for _, kind := range LiveKinds {
					if (kind == LiveICMP || kind == LiveRaw) && fam != firewall.IPv4 || kind == LiveRaw && j < i {
						continue
					}
					f := &LiveFlow{Kind: kind, A: a, B: b, AAddr: aa, BAddr: ba}
					if err := l.openFlow(fs, f); err != nil {
						fs.Close()
						return nil, fmt.Errorf("lab: live flow %s: %w", f, err)
					}
					fs.List = append(fs.List, f)
				}
			}
		}
	}
	l.progress("lab: %s: %d live flows open (TCP, UDP, ICMP, IP protocol %d), both ends sending every %s", l.name, len(fs.List), rawProto, liveInterval)
	deadline := time.Now().Add(5 * time.Second)
	for _, f := range fs.List {
		for {
			_, nb := f.Last(true)
			_, na := f.Last(false)
			if nb > 0 && na > 0 {
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				fs.Close()
				return nil, fmt.Errorf("lab: live flow %s: no packets both ways (%d to B, %d to A) within 5s: the loaded ruleset must allow it", f, nb, na)
			}
			time.Sleep(liveInterval)
		}
	}
	return fs, nil
}

// openFlow opens f's sockets in A's and B's namespaces and starts its
// senders and readers.
func (l *Lab) openFlow(fs *Flows, f *LiveFlow) error {
	aw, bw := l.hosts[f.A.ID].worker, l.hosts[f.B.ID].worker
	var conns []net.Conn
	var pconns []net.PacketConn
	f.stop = func() {
		for _, c := range conns {
			_ = c.Close()
		}
		for _, c := range pconns {
			_ = c.Close()
		}
	}
	tick := func(send func() error) {
		fs.wg.Add(1)
		go func() {
			defer fs.wg.Done()
			t := time.NewTicker(liveInterval)
			defer t.Stop()
			for {
				select {
				case <-fs.done:
					return
				case <-t.C:
					if err := send(); err != nil && errors.Is(err, net.ErrClosed) {
						return
					}
				}
			}
		}()
	}
	read := func(fn func() error) {
		fs.wg.Add(1)
		go func() {
			defer fs.wg.Done()
			for {
				if err := fn(); err != nil && (errors.Is(err, net.ErrClosed) || errors.Is(err, errStop)) {
					return
				}
			}
		}()
	}
	network := func(base string) string {
		if f.AAddr.Is4() {
			return base + "4"
		}
		return base + "6"
	}
	switch f.Kind {
	case LiveTCP:
		var ln *net.TCPListener
		if err := bw.do(func() (err error) {
			ln, err = net.ListenTCP(network("tcp"), net.TCPAddrFromAddrPort(netip.AddrPortFrom(f.BAddr, 0)))
			return err
		}); err != nil {
			return err
		}
		defer ln.Close()
		f.Port = uint16(ln.Addr().(*net.TCPAddr).Port) // #nosec G115 -- a port
		var ac *net.TCPConn
		if err := aw.do(func() (err error) {
			d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(f.AAddr, 0)), Timeout: 5 * time.Second}
			c, err := d.Dial(network("tcp"), netip.AddrPortFrom(f.BAddr, f.Port).String())
			if err == nil {
				ac = c.(*net.TCPConn)
			}
			return err
		}); err != nil {
			return err
		}
		conns = append(conns, ac)
		f.SrcPort = uint16(ac.LocalAddr().(*net.TCPAddr).Port) // #nosec G115 -- a port
		if err := ln.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
			return err
		}
		bc, err := ln.AcceptTCP()
		if err != nil {
			return err
		}
		conns = append(conns, bc)
		for _, end := range []struct {
			c   *net.TCPConn
			got *deliveries
		}{{ac, &f.toA}, {bc, &f.toB}} {
			c, got := end.c, end.got
			tick(func() error {
				_ = c.SetWriteDeadline(time.Now().Add(liveInterval))
				_, err := c.Write(stamp(nil))
				return err
			})
			read(func() error {
				buf := make([]byte, 8)
				_, err := io.ReadFull(c, buf)
				if err == nil {
					got.add(int64(binary.BigEndian.Uint64(buf))) // #nosec G115 -- what stamp wrote
				}
				if err != nil && !errors.Is(err, net.ErrClosed) {
					// A reset or end of stream: the flow is over.
					select {
					case <-fs.done:
						return errStop
					case <-time.After(liveInterval):
					}
				}
				return err
			})
		}
	case LiveUDP, LiveRaw:
		var ac, bc net.PacketConn
		listen := func(addr netip.Addr) (net.PacketConn, error) {
			if f.Kind == LiveUDP {
				return net.ListenUDP(network("udp"), net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, 0)))
			}
			return net.ListenPacket(network("ip")+fmt.Sprintf(":%d", rawProto), addr.String())
		}
		if err := aw.do(func() (err error) { ac, err = listen(f.AAddr); return err }); err != nil {
			return err
		}
		pconns = append(pconns, ac)
		if err := bw.do(func() (err error) { bc, err = listen(f.BAddr); return err }); err != nil {
			return err
		}
		pconns = append(pconns, bc)
		var toB, toA net.Addr
		if f.Kind == LiveUDP {
			f.SrcPort = uint16(ac.LocalAddr().(*net.UDPAddr).Port) // #nosec G115 -- a port
			f.Port = uint16(bc.LocalAddr().(*net.UDPAddr).Port)    // #nosec G115 -- a port
			toB, toA = net.UDPAddrFromAddrPort(netip.AddrPortFrom(f.BAddr, f.Port)), net.UDPAddrFromAddrPort(netip.AddrPortFrom(f.AAddr, f.SrcPort))
		} else {
			toB, toA = &net.IPAddr{IP: f.BAddr.AsSlice()}, &net.IPAddr{IP: f.AAddr.AsSlice()}
		}
		payload := []byte("ward-lab-live")
		tick(func() error { _, err := ac.WriteTo(stamp(payload), toB); return err })
		// B answers only once A's first packet is in: the flow is
		// tracked from A to B.
		tick(func() error {
			if f.toB.n.Load() == 0 {
				return nil
			}
			_, err := bc.WriteTo(stamp(payload), toA)
			return err
		})
		for _, end := range []struct {
			c    net.PacketConn
			from netip.Addr
			got  *deliveries
		}{{ac, f.BAddr, &f.toA}, {bc, f.AAddr, &f.toB}} {
			c, from, got := end.c, end.from, end.got
			read(func() error {
				buf := make([]byte, 256)
				n, src, err := c.ReadFrom(buf)
				if err != nil {
					return err
				}
				if fromAddr(src) != from {
					return nil
				}
				// A raw IPv4 socket reads the IP header too.
				if i := bytes.Index(buf[:n], payload); i >= 0 {
					if sent, ok := stamped(buf[i:n], payload); ok {
						got.add(sent)
					}
				}
				return nil
			})
		}
	case LiveICMP:
		var ac, bc net.PacketConn
		if err := aw.do(func() (err error) { ac, err = net.ListenPacket("ip4:icmp", f.AAddr.String()); return err }); err != nil {
			return err
		}
		pconns = append(pconns, ac)
		if err := bw.do(func() (err error) { bc, err = net.ListenPacket("ip4:icmp", f.BAddr.String()); return err }); err != nil {
			return err
		}
		pconns = append(pconns, bc)
		id := uint16(time.Now().UnixNano()) // #nosec G115 -- any 16 bits
		var seq atomic.Uint32
		to := &net.IPAddr{IP: f.BAddr.AsSlice()}
		tick(func() error {
			_, err := ac.WriteTo(echo(8, id, uint16(seq.Add(1))), to) // #nosec G115 -- wraps
			return err
		})
		for _, end := range []struct {
			c    net.PacketConn
			typ  byte // 8 echo request (at B), 0 echo reply (at A)
			from netip.Addr
			got  *deliveries
		}{{ac, 0, f.BAddr, &f.toA}, {bc, 8, f.AAddr, &f.toB}} {
			c, typ, from, got := end.c, end.typ, end.from, end.got
			read(func() error {
				buf := make([]byte, 256)
				n, src, err := c.ReadFrom(buf)
				if err != nil {
					return err
				}
				if n >= 8 && buf[0] == typ && binary.BigEndian.Uint16(buf[4:6]) == id && fromAddr(src) == from {
					if sent, ok := stamped(buf[8:n], echoMarker); ok {
						got.add(sent)
					}
				}
				return nil
			})
		}
	default:
		return fmt.Errorf("unknown kind %q", f.Kind)
	}
	return nil
}

// errStop ends a reader.
var errStop = errors.New("stop")

func fromAddr(a net.Addr) netip.Addr {
	switch a := a.(type) {
	case *net.UDPAddr:
		return a.AddrPort().Addr().Unmap()
	case *net.IPAddr:
		ip, _ := netip.AddrFromSlice(a.IP)
		return ip.Unmap()
	}
	return netip.Addr{}
}

// echoMarker starts the data of Ward's echo requests, before their send
// time; replies carry it back.
var echoMarker = []byte("ward-lab")

// echo builds an ICMP echo message of type typ (8 request, 0 reply)
// with its checksum and a stamped payload.
func echo(typ byte, id, seq uint16) []byte {
	b := make([]byte, 8, 8+len(echoMarker)+8)
	b[0] = typ
	binary.BigEndian.PutUint16(b[4:6], id)
	binary.BigEndian.PutUint16(b[6:8], seq)
	b = append(b, stamp(echoMarker)...)
	var sum uint32
	for i := 0; i < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	binary.BigEndian.PutUint16(b[2:4], ^uint16(sum))
	return b
}

// Apply loads rs in the router as `ward fw apply` does: the tracked
// connections o (the oracle of rs) denies are deleted
// (firewall.FlushDenied) before the batch that makes rs Ward's table
// and again after it (firewall.ApplyFlushing); the others are kept,
// unlike Load, which forgets every connection. It returns how many connections it ended.
func (l *Lab) Apply(rs *firewall.Ruleset, o *firewall.Oracle) (int, error) {
	ct, err := conntrack.Dial(&netlink.Config{NetNS: int(l.router)})
	if err != nil {
		return 0, fmt.Errorf("lab: conntrack in the router namespace: %w", err)
	}
	defer ct.Close()
	local := func(netip.Addr) bool { return false }
	var n int
	var ferr error
	// Before the replacement (firewall.ApplyFlushing), then once more
	// after it, as `ward fw apply` does.
	if err := firewall.ApplyFlushing(l.nft, rs, func() { n, ferr = firewall.FlushDenied(ct, o, local) }); err != nil {
		return n, fmt.Errorf("lab: load the ruleset in the router namespace: %w", err)
	}
	if ferr != nil {
		return n, fmt.Errorf("lab: %w", ferr)
	}
	m, err := firewall.FlushDenied(ct, o, local)
	n += m
	if err != nil {
		return n, fmt.Errorf("lab: %w", err)
	}
	l.progress("lab: %s: applied a ruleset; %d tracked connections it denies were ended", l.name, n)
	return n, nil
}

// Stage is one ruleset of a tightening sequence and its oracle.
type Stage struct {
	Name    string
	Ruleset *firewall.Ruleset
	Oracle  *firewall.Oracle
}

// StageResult is what one stage did to the live flows.
type StageResult struct {
	Name string `json:"name"`
	// Ended is how many tracked connections the apply ended.
	Ended int `json:"ended"`
	// Denied and Allowed count the live flows the stage's policies deny
	// (both ways) and allow; the others are not judged (see expectAlive).
	Denied  int `json:"denied"`
	Allowed int `json:"allowed"`
	// LastDenied is when, relative to the apply's return, the latest
	// packet of a denied flow that arrived was sent: negative (before the
	// apply), or a problem.
	LastDenied time.Duration `json:"lastDeniedNs"`
	// Problems are the flows that outlived their verdict or stopped
	// although allowed.
	Problems []string `json:"problems"`
}

// TightenResult is a tightening run: the live flows and each stage.
type TightenResult struct {
	Flows  int           `json:"flows"`
	Stages []StageResult `json:"stages"`
}

// Problems counts the flows of every stage that outlived their verdict.
func (r *TightenResult) Problems() int {
	n := 0
	for _, s := range r.Stages {
		n += len(s.Problems)
	}
	return n
}

// DeniedGrace is how long after an apply returns a packet of a flow it
// denies may still be sent and arrive. Zero: the new ruleset and the
// flush of the flow's connection are in place when it returns, so a
// packet sent later must be dropped (one sent earlier and read late is
// not counted: packets carry their send time).
const DeniedGrace = 0

// settle is how long Tighten watches each stage.
const settle = 2 * time.Second

// stallGrace is how much longer an allowed flow that seems stopped at the
// end of settle is watched: on a loaded machine every sender of the lab
// can stall for a second or more at once (seen in CI at load 15), and a
// flow that resumes with packets sent after the apply was not stopped by
// the ruleset. A denied flow gets no such grace.
const stallGrace = 3 * time.Second

// resumes waits until deadline (or ctx's end) for a packet of f's
// direction toB sent after since, and reports whether one arrived.
func resumes(ctx context.Context, f *LiveFlow, toB bool, since, deadline time.Time) bool {
	for {
		if last, _ := f.Last(toB); last.After(since) {
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// expectAlive says whether f must keep flowing under o (true), must be
// dead both ways (false), or is not judged (ok false): a UDP or raw flow
// whose own direction is denied but whose reverse is allowed may restart
// as a flow of B's, which the policies allow.
func expectAlive(o *firewall.Oracle, f *LiveFlow) (alive, ok bool) {
	var fwd, rev bool
	switch f.Kind {
	case LiveTCP:
		return o.Allows(firewall.Forward, f.AAddr, f.BAddr, portset.TCP, f.Port), true
	case LiveICMP:
		return o.AllowsAnyProtocol(firewall.Forward, f.AAddr, f.BAddr), true
	case LiveUDP:
		fwd, rev = o.Allows(firewall.Forward, f.AAddr, f.BAddr, portset.UDP, f.Port), o.Allows(firewall.Forward, f.BAddr, f.AAddr, portset.UDP, f.SrcPort)
	case LiveRaw:
		fwd, rev = o.AllowsAnyProtocol(firewall.Forward, f.AAddr, f.BAddr), o.AllowsAnyProtocol(firewall.Forward, f.BAddr, f.AAddr)
	}
	if fwd {
		return true, true
	}
	return false, !rev
}

// Tighten loads an allow-all ruleset for plan's hosts, opens live flows
// between them (StartFlows), then applies each stage as `ward fw apply`
// does (Apply) and watches for two seconds: no packet of a flow the
// stage denies may arrive, either way, later than DeniedGrace after the
// apply, and every flow it allows must keep flowing.
func (l *Lab) Tighten(ctx context.Context, plan *Plan, stages []Stage) (*TightenResult, error) {
	open, err := NewPlan(nil, plan.Inventory)
	if err != nil {
		return nil, err
	}
	if err := l.Load(open.Ruleset); err != nil {
		return nil, err
	}
	flows, err := l.StartFlows(ctx, plan.Hosts)
	if err != nil {
		return nil, err
	}
	defer flows.Close()
	res := &TightenResult{Flows: len(flows.List)}
	for _, st := range stages {
		ended, err := l.Apply(st.Ruleset, st.Oracle)
		if err != nil {
			return nil, err
		}
		applied := time.Now()
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("lab: tightening: %w", context.Cause(ctx))
		case <-time.After(settle):
		}
		sr := StageResult{Name: st.Name, Ended: ended}
		seen := false
		for _, f := range flows.List {
			alive, judged := expectAlive(st.Oracle, f)
			if !judged {
				continue
			}
			if alive {
				sr.Allowed++
			} else {
				sr.Denied++
			}
			for _, toB := range []bool{true, false} {
				last, _ := f.Last(toB)
				dir := "A->B"
				if !toB {
					dir = "B->A"
				}
				switch {
				case alive && last.Before(applied.Add(settle/4)) && !resumes(ctx, f, toB, applied.Add(settle/4), applied.Add(settle+stallGrace)):
					sr.Problems = append(sr.Problems, fmt.Sprintf("%s: %s: allowed, but %s stopped: the last packet to arrive was sent %s after the apply", st.Name, f, dir, last.Sub(applied).Round(time.Millisecond)))
				case !alive && last.After(applied.Add(DeniedGrace)):
					sr.Problems = append(sr.Problems, fmt.Sprintf("%s: %s: denied, but %s still delivered a packet sent %s after the apply", st.Name, f, dir, last.Sub(applied).Round(time.Millisecond)))
				}
				if !alive && !last.IsZero() && (!seen || last.Sub(applied) > sr.LastDenied) {
					sr.LastDenied, seen = last.Sub(applied), true
				}
			}
		}
		l.progress("lab: %s: %s: %d connections ended; %d live flows denied, %d allowed, %d outlived their verdict", l.name, st.Name, ended, sr.Denied, sr.Allowed, len(sr.Problems))
		res.Stages = append(res.Stages, sr)
	}
	return res, nil
}

// TighteningStages are the stages `ward lab` runs after allow-all: plan's
// own ruleset, then one denying all ingress and egress in every
// namespace of plan's hosts.
func TighteningStages(plan *Plan) ([]Stage, error) {
	set := &manifest.Set{}
	seen := map[string]bool{}
	for _, h := range plan.Hosts {
		ns := h.Container.Namespace
		if seen[ns] {
			continue
		}
		seen[ns] = true
		set.Policies = append(set.Policies, &manifest.Policy{NetworkPolicy: &networkingv1.NetworkPolicy{
			TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
			ObjectMeta: metav1.ObjectMeta{Name: "ward-lab-deny-all", Namespace: ns},
			Spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{
				networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}},
		}})
	}
	closed, err := NewPlan(set, plan.Inventory)
	if err != nil {
		return nil, err
	}
	return []Stage{
		{"scenario", plan.Ruleset, firewall.NewOracle(plan.Engine, plan.Inventory, firewall.Options{})},
		{"deny-all", closed.Ruleset, firewall.NewOracle(closed.Engine, closed.Inventory, firewall.Options{})},
	}, nil
}
