package detect

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardsec/ward/watch/event"
)

// refDetect is a plain reference of the port-scan sliding windows and
// the SYN-flood slots:
// ordinary maps of every key ever seen, nothing swept, nothing reused.
// It shares no code with the bounded tables, their sweeps and free lists.
type refDetect struct {
	cfg    Config
	opened map[string]int64 // "detector src > dst" -> first alert time
	ports  map[string]*refWindow
	hosts  map[string]*refWindow
	syn    map[string]*refFlood
}

// refWindow is when each value was last seen.
type refWindow struct {
	seen map[string]int64
}

// count records v at t and returns the values seen within the window
// that ends at t.
func (w *refWindow) count(v string, t int64, length time.Duration) int {
	w.seen[v] = max(w.seen[v], t)
	n := 0
	for _, at := range w.seen {
		if t-at < int64(length) {
			n++
		}
	}
	return n
}

// refFlood keeps every packet time of a pair since its anchor (its
// first packet, again after a window without one).
type refFlood struct {
	anchor int64
	times  []int64
}

// count adds a packet at t and returns the packets in the five slots of
// window/5 (numbered from the anchor) that end with t's.
func (f *refFlood) count(t int64, window time.Duration) int {
	if len(f.times) == 0 || t-f.times[len(f.times)-1] >= int64(window) {
		f.anchor, f.times = t, nil
	}
	f.times = append(f.times, t)
	slot := func(x int64) int64 { return (x - f.anchor) / (int64(window) / 5) }
	n := 0
	for _, x := range f.times {
		if slot(x) > slot(t)-5 {
			n++
		}
	}
	return n
}

func (r *refDetect) window(m map[string]*refWindow, k string) *refWindow {
	if m[k] == nil {
		m[k] = &refWindow{seen: map[string]int64{}}
	}
	return m[k]
}

func (r *refDetect) open(name string, t int64) {
	if _, ok := r.opened[name]; !ok {
		r.opened[name] = t
	}
}

func (r *refDetect) observe(e *event.Event) {
	if e.Failed() {
		scanner, target, port := e.Src, e.Dst, e.DstPort
		if e.Reply {
			scanner, target, port = e.Dst, e.Src, e.SrcPort
		}
		pp := fmt.Sprintf("%d/%s", port, e.Proto)
		// Every address here is external: IPv6 scanners count by /64.
		who := scanner.String()
		if scanner.Is6() {
			who = netip.PrefixFrom(scanner, 64).Masked().String()
		}
		if r.window(r.ports, who+">"+target.String()).count(pp, e.Time, r.cfg.PortScan.Window) >= r.cfg.PortScan.DistinctPorts {
			r.open(fmt.Sprintf("port-scan %s > %s", who, target), e.Time)
		}
		if r.window(r.hosts, who+">"+pp).count(target.String(), e.Time, r.cfg.PortScan.Window) >= r.cfg.PortScan.DistinctHosts {
			r.open(fmt.Sprintf("port-scan %s > port %s", who, pp), e.Time)
		}
	}
	if e.Proto == event.TCP && e.Flags.IsSYN() && !e.Reply {
		// IPv6 flooders count by /64 too.
		who := e.Src.String()
		if e.Src.Is6() {
			who = netip.PrefixFrom(e.Src, 64).Masked().String()
		}
		k := who + ">" + e.Dst.String()
		if r.syn[k] == nil {
			r.syn[k] = &refFlood{}
		}
		if float64(r.syn[k].count(e.Time, r.cfg.SYNFlood.Window)) >= float64(r.cfg.SYNFlood.PPS)*r.cfg.SYNFlood.Window.Seconds() {
			r.open(fmt.Sprintf("syn-flood %s > %s", who, e.Dst), e.Time)
		}
	}
}

// TestWindowsDifferential: on random streams over few addresses (so keys
// collide, windows expire, sweeps run and freed slots are reused), the
// detectors open the incidents the reference does, at the same times.
func TestWindowsDifferential(t *testing.T) {
	cfg := Default()
	cfg.PortScan = PortScan{Enabled: true, Window: 30 * time.Second, DistinctPorts: 3, DistinctHosts: 3}
	cfg.SYNFlood = Flood{Enabled: true, Window: 2 * time.Second, PPS: 2}
	cfg.ICMPFlood.Enabled, cfg.Egress.Enabled, cfg.Policy.Enabled = false, false, false
	cfg.Incidents = Incidents{Idle: 24 * time.Hour, MaxDuration: 24 * time.Hour, Samples: 1}
	addrs := []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.3"),
		netip.MustParseAddr("fd00::1"), netip.MustParseAddr("fd00::2"), netip.MustParseAddr("192.0.2.9")}
	for seed := range uint64(30) {
		r := rand.New(rand.NewPCG(seed, 15))
		got := map[string]int64{}
		d := New(cfg, nil, nil, func(a *Alert) {
			if a.State != Opened {
				return
			}
			dst := a.Dest.Group
			if dst == "" {
				dst = a.Dest.Address
			}
			src := a.Source.Group
			if src == "" {
				src = a.Source.Address
			}
			got[fmt.Sprintf("%s %s > %s", a.Detector, src, dst)] = a.first
		})
		ref := &refDetect{cfg: cfg, opened: map[string]int64{}, ports: map[string]*refWindow{}, hosts: map[string]*refWindow{}, syn: map[string]*refFlood{}}
		tm := time.Date(2026, 12, 6, 7, 0, 0, 0, time.UTC).UnixNano()
		var obs []Observation
		for range 3000 {
			tm += int64(r.IntN(300)) * int64(time.Millisecond)
			e := &event.Event{Time: tm, Kind: event.Flow, Proto: event.TCP,
				Src: addrs[r.IntN(len(addrs))], Dst: addrs[r.IntN(len(addrs))],
				SrcPort: uint16(40000 + r.IntN(3)), DstPort: uint16(20 + r.IntN(6))}
			switch r.IntN(4) {
			case 0:
				e.Flags, e.Verdict = event.SYN, event.Dropped
			case 1:
				e.Flags, e.Verdict = event.SYN, event.Forwarded
			case 2:
				e.Flags, e.Verdict, e.Reply = event.RST|event.ACK, event.Forwarded, true
			default:
				e.Flags, e.Verdict = event.ACK, event.Forwarded
			}
			if e.Src == e.Dst {
				continue
			}
			n := 1
			if r.IntN(6) == 0 {
				// A burst of SYNs on one pair, which may straddle a
				// slot or the window its first packet began.
				e.Flags, e.Verdict, e.Reply, n = event.SYN, event.Dropped, false, 2+r.IntN(3)
			}
			for i := range n {
				if i > 0 {
					c := *e
					tm += int64(r.IntN(40)) * int64(time.Millisecond)
					c.Time = tm
					e = &c
				}
				ref.observe(e)
				obs = append(obs, Observation{E: e})
				if len(obs) == 7 { // odd batch sizes
					d.Observe(obs)
					obs = obs[:0]
				}
			}
		}
		d.Observe(obs)
		floods := 0
		for k := range ref.opened {
			if strings.HasPrefix(k, "syn-flood ") {
				floods++
			}
		}
		if len(ref.opened) < 5 || floods < 3 {
			t.Fatalf("seed %d: the reference opened only %d incidents, %d of them floods: the stream tests little", seed, len(ref.opened), floods)
		}
		if !maps2Equal(got, ref.opened) {
			t.Fatalf("seed %d: detectors and reference disagree:\n%s", seed, diffOpened(got, ref.opened))
		}
	}
}

func maps2Equal(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func diffOpened(got, want map[string]int64) string {
	var out []string
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			out = append(out, fmt.Sprintf("reference %s at %d, detectors %d (present %v)", k, v, g, ok))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			out = append(out, "detectors only: "+k)
		}
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}
