package watch

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/wardsec/ward/watch/detect"
	"github.com/wardsec/ward/watch/event"
)

// shopLookups is the shop's ordinary DNS for d from start, as CoreDNS
// logs it: every pod resolves the services it calls (through its search
// path, A and AAAA) and a few external names (api.stripe.com and the
// like, each after the search-path expansions that fail), again as their
// 30 s TTLs expire, and reverse lookups of its peers.
func shopLookups(t *testing.T, convs []conversation, start time.Time, d time.Duration, seed uint64) []event.Event {
	t.Helper()
	eng, _, _ := shopTraffic(t)
	names := map[netip.Addr][2]string{}
	for _, ep := range eng.Endpoints() {
		if ep.Workload == nil {
			continue
		}
		for _, ip := range ep.IPs {
			names[ip] = [2]string{ep.Workload.Name, ep.Workload.Namespace}
		}
	}
	external := []string{"api.stripe.com", "hooks.slack.com", "www.googleapis.com", "oauth2.googleapis.com", "sts.amazonaws.com", "s3.eu-west-1.amazonaws.com"}
	r := rand.New(rand.NewPCG(seed, 53)) // #nosec G404 -- generated test traffic
	var evs []event.Event
	q := func(at time.Duration, src netip.Addr, name string, qt event.QType, rcode int32) {
		evs = append(evs, event.Event{Time: start.Add(at).UnixNano(), Origin: event.OriginCoreDNS, Kind: event.Request,
			Verdict: event.Forwarded, Src: src, SrcPort: uint16(30000 + r.IntN(30000)), Proto: event.UDP, // #nosec G115 -- below 65536
			DNS: &event.DNS{Query: name, QType: qt, Rcode: rcode, Size: 100 + r.IntN(100)}})
	}
	for _, c := range convs {
		own, peer := names[c.src], names[c.dst]
		for at := time.Duration(r.Int64N(int64(30 * time.Second))); at < d; at += 30*time.Second + time.Duration(r.Int64N(int64(5*time.Second))) {
			// "svc.ns" through the search path: the client's namespace first.
			q(at, c.src, fmt.Sprintf("%s.%s.%s.svc.cluster.local", peer[0], peer[1], own[1]), event.TypeA, 3)
			for _, qt := range []event.QType{event.TypeA, event.TypeAAAA} {
				q(at, c.src, fmt.Sprintf("%s.%s.svc.cluster.local", peer[0], peer[1]), qt, 0)
			}
			ext := external[r.IntN(len(external))]
			for _, suffix := range []string{own[1] + ".svc.cluster.local", "svc.cluster.local", "cluster.local"} {
				q(at, c.src, ext+"."+suffix, event.TypeA, 3)
			}
			q(at, c.src, ext, event.TypeA, 0)
			a := c.dst.As4()
			q(at, c.src, fmt.Sprintf("%d.%d.%d.%d.in-addr.arpa", a[3], a[2], a[1], a[0]), event.TypePTR, 0)
		}
	}
	slices.SortStableFunc(evs, func(a, b event.Event) int { return int(a.Time - b.Time) })
	return evs
}

// TestBenignDNS: two hours of the shop's traffic with its ordinary DNS
// raise nothing; the same with one pod tunnelling out through DNS raises
// dns-tunnel for it, and nothing else.
func TestBenignDNS(t *testing.T) {
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
	flows := append(hours(convs, start, time.Hour, 1), hours(convs, start.Add(time.Hour+time.Minute), time.Hour, 2)...)
	lookups := shopLookups(t, convs, start, 2*time.Hour, 3)
	evs := append(slices.Clone(flows), lookups...)
	slices.SortStableFunc(evs, func(a, b event.Event) int { return int(a.Time - b.Time) })
	sum := run(evs)
	t.Logf("%d events, %d DNS queries", sum.Events, len(lookups))
	if len(sum.Alerts) != 0 || len(lookups) < 10000 {
		t.Errorf("two benign hours with DNS: alerts %v (%d queries)", sum.Alerts, len(lookups))
	}

	// Control: one pod exfiltrates through nine names of its own domain.
	src := convs[0].src
	for i := range 9 {
		evs = append(evs, event.Event{Time: start.Add(90*time.Minute + time.Duration(i)*time.Minute).UnixNano(), Origin: event.OriginCoreDNS,
			Kind: event.Request, Verdict: event.Forwarded, Src: src, Proto: event.UDP,
			DNS: &event.DNS{Query: fmt.Sprintf("mfzwizltoq%02d.t.exfil.example", i), QType: event.TypeTXT, Rcode: 0}})
	}
	slices.SortStableFunc(evs, func(a, b event.Event) int { return int(a.Time - b.Time) })
	sum = run(evs)
	if len(sum.Alerts) != 1 || sum.Alerts[detect.TunnelName] != 1 {
		t.Errorf("a tunnel among the shop's lookups: alerts %v, want one dns-tunnel", sum.Alerts)
	}
}
