package detect

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/wardsec/ward/watch/event"
	"github.com/wardsec/ward/watch/identity"
)

// Baseline learns, for Learn from the first event, which listeners answer
// (a workload, a protocol and a port) and which peers talk (a source, a
// destination, a protocol and a port), as StackRox's network baseline
// does (one hour by default). After that, a connection to a listener not
// learned raises new-listener, and one between peers not learned raises
// new-peer, once each: the listener or peer then joins the baseline.
// Workloads are named by their identity (all pods of a Deployment are one
// workload, so a restart with new addresses is nothing new); external
// ends by their /24 (IPv4) or /64 (IPv6).
type Baseline struct {
	Enabled     bool          `yaml:"enabled"`
	Learn       time.Duration `yaml:"learn"`
	NewListener bool          `yaml:"newListener"`
	NewPeer     bool          `yaml:"newPeer"`
}

// Names of the baseline detectors.
const (
	NewListenerName = "new-listener"
	NewPeerName     = "new-peer"
)

// ListenerKey is a learned listener: a workload (its ID), a protocol and
// a port (0 for ICMP).
type ListenerKey struct {
	Workload string
	Proto    event.Proto
	Port     uint16
}

// PeerKey is a learned conversation: a source and a destination (workload
// IDs, or "external 203.0.113.0/24"), a protocol and a port.
type PeerKey struct {
	Src, Dst string
	Proto    event.Proto
	Port     uint16
}

// BaselineSnapshot is learned baseline state, to keep it across runs: the
// time learning started (zero before the first event) and the listeners
// and peers learned. Baseline returns it whole; BaselineChanges returns
// what was learned since its last call.
type BaselineSnapshot struct {
	Start     time.Time
	Listeners []ListenerKey
	Peers     []PeerKey
}

// Empty reports whether the snapshot holds nothing.
func (s *BaselineSnapshot) Empty() bool {
	return s.Start.IsZero() && len(s.Listeners) == 0 && len(s.Peers) == 0
}

// baseline is the learned state.
type baseline struct {
	start     int64 // the first event's time; 0 before it
	listeners map[ListenerKey]struct{}
	peers     map[PeerKey]struct{}
	untracked uint64
	// track, when set, records changes for BaselineChanges.
	track   bool
	changed BaselineSnapshot
}

func newBaseline() *baseline {
	return &baseline{listeners: map[ListenerKey]struct{}{}, peers: map[PeerKey]struct{}{}}
}

// Baseline returns the learned baseline whole (keys in no set order).
func (d *Detectors) Baseline() BaselineSnapshot {
	b := d.base
	s := BaselineSnapshot{Listeners: make([]ListenerKey, 0, len(b.listeners)), Peers: make([]PeerKey, 0, len(b.peers))}
	if b.start != 0 {
		s.Start = time.Unix(0, b.start).UTC()
	}
	for k := range b.listeners {
		s.Listeners = append(s.Listeners, k)
	}
	for k := range b.peers {
		s.Peers = append(s.Peers, k)
	}
	return s
}

// RestoreBaseline takes up a baseline learned before (by an earlier run):
// learning goes on from its start, not from this run's first event, and
// what it holds is neither learned again nor alerted. Keys beyond
// limits.maxTracked are left out and counted as untracked. Call it before
// the first Observe.
func (d *Detectors) RestoreBaseline(s BaselineSnapshot) {
	b := d.base
	if !s.Start.IsZero() && (b.start == 0 || s.Start.UnixNano() < b.start) {
		b.start = s.Start.UnixNano()
	}
	for _, k := range s.Listeners {
		if _, ok := b.listeners[k]; !ok {
			if !d.remember(len(b.listeners)) {
				b.untracked++
				continue
			}
			b.listeners[k] = struct{}{}
		}
	}
	for _, k := range s.Peers {
		if _, ok := b.peers[k]; !ok {
			if !d.remember(len(b.peers)) {
				b.untracked++
				continue
			}
			b.peers[k] = struct{}{}
		}
	}
}

// TrackBaseline makes the detectors record what the baseline learns, for
// BaselineChanges (a store keeping it across runs).
func (d *Detectors) TrackBaseline() { d.base.track = true }

// BaselineChanges returns what the baseline learned since the last call
// (with TrackBaseline): the start when it was set, and the new keys. It
// returns an empty snapshot when nothing changed.
func (d *Detectors) BaselineChanges() BaselineSnapshot {
	b := d.base
	c := b.changed
	b.changed = BaselineSnapshot{}
	return c
}

// endName names one end for the baseline: its workload, else its
// external /24 or /64, else "" (an unknown address is not learned: it
// may be anything).
func endName(a netip.Addr, w *identity.Workload, r identity.Resolution) string {
	switch {
	case r == identity.Resolved && w != nil:
		return w.ID()
	case r == identity.External:
		bits := 24
		if a.Is6() {
			bits = 64
		}
		p, _ := a.Prefix(bits)
		return "external " + p.String()
	}
	return ""
}

// learning reports whether t is within the learning window (starting it
// at the first event).
func (b *baseline) learning(t int64, learn time.Duration) bool {
	if b.start == 0 {
		b.start = t
		if b.track {
			b.changed.Start = time.Unix(0, t).UTC()
		}
	}
	return t-b.start < int64(learn)
}

// observeBaseline learns or judges an opening event that got through.
func (d *Detectors) observeBaseline(o *Observation, t int64) {
	e := o.E
	if !e.Verdict.Passed() || e.Kind == event.Request {
		return
	}
	cfg := d.cfg.Baseline
	b := d.base
	learning := b.learning(t, cfg.Learn)
	dst := endName(e.Dst, o.Dst, o.DstRes)
	src := endName(e.Src, o.Src, o.SrcRes)
	port := e.DstPort
	if e.Proto.IsICMP() {
		port = 0
	}
	if cfg.NewListener && o.DstRes == identity.Resolved && dst != "" {
		k := ListenerKey{dst, e.Proto, port}
		if _, ok := b.listeners[k]; !ok {
			if !d.remember(len(b.listeners)) {
				b.untracked++
			} else {
				b.listeners[k] = struct{}{}
				if b.track {
					b.changed.Listeners = append(b.changed.Listeners, k)
				}
				if !learning {
					d.inc.add(t, &evidence{
						detector: NewListenerName, severity: Low,
						src: peer(e.Src, o.Src, o.SrcRes), dst: peer(e.Dst, o.Dst, o.DstRes),
						summary:   fmt.Sprintf("%s answered on %s, which it did not during the baseline (%s from %s)", dst, portLabel(e), cfg.Learn, time.Unix(0, b.start).UTC().Format(time.RFC3339)),
						count:     1,
						threshold: map[string]any{"learn": cfg.Learn.String()},
						observed:  map[string]any{"port": portLabel(e)},
						sample:    e,
					})
				}
			}
		}
	}
	if cfg.NewPeer && src != "" && dst != "" {
		k := PeerKey{src, dst, e.Proto, port}
		if _, ok := b.peers[k]; !ok {
			if !d.remember(len(b.peers)) {
				b.untracked++
			} else {
				b.peers[k] = struct{}{}
				if b.track {
					b.changed.Peers = append(b.changed.Peers, k)
				}
				if !learning {
					d.inc.add(t, &evidence{
						detector: NewPeerName, severity: Low,
						src: peer(e.Src, o.Src, o.SrcRes), dst: peer(e.Dst, o.Dst, o.DstRes),
						summary:   fmt.Sprintf("%s reached %s on %s, which it did not during the baseline (%s from %s)", src, dst, portLabel(e), cfg.Learn, time.Unix(0, b.start).UTC().Format(time.RFC3339)),
						count:     1,
						threshold: map[string]any{"learn": cfg.Learn.String()},
						observed:  map[string]any{"port": portLabel(e)},
						sample:    e,
					})
				}
			}
		}
	}
}

// remember reports whether a baseline table of n entries may grow.
func (d *Detectors) remember(n int) bool { return n < d.cfg.Limits.MaxTracked }
