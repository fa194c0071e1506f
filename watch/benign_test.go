package watch

import (
	"context"
	"io"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/netpol"
	"github.com/wardsec/ward/portset"
	"github.com/wardsec/ward/watch/detect"
	"github.com/wardsec/ward/watch/event"
	"github.com/wardsec/ward/watch/identity"
)

// sliceSource delivers a fixed list of events.
type sliceSource struct{ evs []event.Event }

func (s *sliceSource) Name() string { return "generated" }

func (s *sliceSource) Run(ctx context.Context, sink event.Sink) error {
	for evs := s.evs; len(evs) > 0; {
		n := min(len(evs), event.BatchSize)
		if err := sink.Deliver(evs[:n]); err != nil {
			return err
		}
		evs = evs[n:]
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

// conversation is a client workload calling a server's port, as the
// policies allow.
type conversation struct {
	src, dst netip.Addr
	proto    event.Proto
	port     uint16
}

// shopTraffic is the bundled example shop (examples/shop) with addresses
// given as ward lab gives them, and every conversation its policies allow
// to a port its server declares: ordinary east-west traffic.
func shopTraffic(t *testing.T) (*netpol.Engine, *identity.Table, []conversation) {
	t.Helper()
	set, err := manifest.Load(manifest.Options{Skip: func(p string) bool { return strings.HasSuffix(p, "ward.yaml") }}, "../examples/shop")
	if err != nil {
		t.Fatal(err)
	}
	inv, err := firewall.FromManifests(set, firewall.DefaultPool)
	if err != nil {
		t.Fatal(err)
	}
	model, err := inv.Set(set)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := netpol.Compile(model)
	if err != nil {
		t.Fatal(err)
	}
	var convs []conversation
	for _, src := range eng.Endpoints() {
		if src.IsExternal() || len(src.IPs) == 0 {
			continue
		}
		for _, dst := range eng.Endpoints() {
			if dst.IsExternal() || dst == src || len(dst.IPs) == 0 {
				continue
			}
			allowed := eng.Allowed(src, dst)
			for _, p := range dst.Workload.Ports {
				proto, pp := event.TCP, portset.TCP
				switch p.Protocol {
				case corev1.ProtocolUDP:
					proto, pp = event.UDP, portset.UDP
				case corev1.ProtocolSCTP:
					continue
				}
				if allowed.Contains(pp, uint16(p.Port)) { // #nosec G115 -- container ports fit
					convs = append(convs, conversation{src.IPs[0], dst.IPs[0], proto, uint16(p.Port)}) // #nosec G115 -- container ports fit
				}
			}
		}
	}
	slices.SortFunc(convs, func(a, b conversation) int {
		return strings.Compare(a.src.String()+a.dst.String(), b.src.String()+b.dst.String())
	})
	convs = slices.Compact(convs)
	if len(convs) < 5 {
		t.Fatalf("only %d conversations in the shop", len(convs))
	}
	return eng, identity.FromManifests(model), convs
}

// hours generates each conversation every 15 to 45 s (jittered, with a
// fixed seed) from start for d: a connection (the client's SYN and the
// server's SYN|ACK as Hubble shows them) each time.
func hours(convs []conversation, start time.Time, d time.Duration, seed uint64) []event.Event {
	r := rand.New(rand.NewPCG(seed, 7)) // #nosec G404 -- generated test traffic
	var evs []event.Event
	for i, c := range convs {
		for at := time.Duration(r.Int64N(int64(15 * time.Second))); at < d; at += 15*time.Second + time.Duration(r.Int64N(int64(30*time.Second))) {
			t := start.Add(at).UnixNano()
			sport := uint16(32768 + (i*977+len(evs))%28000) // #nosec G115 -- below 65536
			syn := event.Event{Time: t, Origin: event.OriginHubble, Kind: event.Flow, Verdict: event.Forwarded,
				Src: c.src, Dst: c.dst, SrcPort: sport, DstPort: c.port, Proto: c.proto, Node: "node-1"}
			rep := syn
			rep.Time, rep.Src, rep.Dst, rep.SrcPort, rep.DstPort, rep.Reply = t+int64(200*time.Microsecond), c.dst, c.src, c.port, sport, true
			if c.proto == event.TCP {
				syn.Flags, rep.Flags = event.SYN, event.SYN|event.ACK
			}
			evs = append(evs, syn, rep)
		}
	}
	slices.SortStableFunc(evs, func(a, b event.Event) int { return int(a.Time - b.Time) })
	return evs
}

// TestBenignHours: the shop's ordinary traffic, a first hour learned as
// the baseline and a second hour like it, raises no alert from any
// detector; the same second hour with one conversation the first hour
// did not have raises new-peer for it, and nothing else.
func TestBenignHours(t *testing.T) {
	eng, tab, convs := shopTraffic(t)
	start := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	run := func(evs []event.Event) Summary {
		p, err := New(Options{Config: detect.Default(), Table: tab, Engine: eng, Alerts: io.Discard})
		if err != nil {
			t.Fatal(err)
		}
		sum, err := Run(context.Background(), p, &sliceSource{evs})
		if err != nil {
			t.Fatal(err)
		}
		return sum
	}
	// The first hour's first event starts the learning: the second hour
	// starts a minute after the first ends, so that none of it falls in
	// the learning window.
	first, second := hours(convs, start, time.Hour, 1), hours(convs, start.Add(time.Hour+time.Minute), time.Hour, 2)
	sum := run(append(slices.Clone(first), second...))
	t.Logf("%d conversations, %d events, %d judged by the policies", len(convs), sum.Events, sum.Judged)
	if len(sum.Alerts) != 0 || sum.Unjudged != 0 || sum.Judged == 0 {
		t.Errorf("two benign hours: alerts %v, judged %d, unjudged %d", sum.Alerts, sum.Judged, sum.Unjudged)
	}

	// Control: one conversation kept out of the first hour.
	held := convs[len(convs)/2]
	firstWithout := slices.DeleteFunc(slices.Clone(first), func(e event.Event) bool {
		return (e.Src == held.src && e.Dst == held.dst && e.DstPort == held.port) || (e.Src == held.dst && e.Dst == held.src && e.SrcPort == held.port)
	})
	sum = run(append(firstWithout, second...))
	if sum.Alerts[detect.NewPeerName] != 1 {
		t.Errorf("a conversation new in the second hour: alerts %v, want one new-peer", sum.Alerts)
	}
	for d, n := range sum.Alerts {
		if n > 0 && d != detect.NewPeerName && d != detect.NewListenerName {
			t.Errorf("the held-back conversation raised %s", d)
		}
	}
}
