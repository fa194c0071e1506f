package detect

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardsec/ward/assertion"
	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/netpol"
	"github.com/wardsec/ward/watch/event"
	"github.com/wardsec/ward/watch/identity"
)

var t0 = time.Date(2026, 12, 6, 7, 0, 0, 0, time.UTC)

type fixture struct {
	engine *netpol.Engine
	table  *identity.Table
}

func loadShop(t testing.TB) fixture {
	t.Helper()
	set, err := manifest.Load(manifest.Options{}, "testdata/shop.yaml")
	if err != nil {
		t.Fatal(err)
	}
	eng, err := netpol.Compile(set)
	if err != nil {
		t.Fatal(err)
	}
	return fixture{eng, identity.FromManifests(set, netip.MustParsePrefix("10.244.0.0/16"), netip.MustParsePrefix("10.99.0.0/16"))}
}

// ev builds a flow: "src > dst:port" with options.
func ev(at time.Duration, src, dst string, dport uint16, p event.Proto, v event.Verdict, f event.TCPFlags) event.Event {
	return event.Event{Time: t0.Add(at).UnixNano(), Origin: event.OriginHubble, Kind: event.Flow,
		Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst), SrcPort: 40000, DstPort: dport,
		Proto: p, Verdict: v, Flags: f}
}

func dropped(e event.Event) event.Event { e.Reason = "POLICY_DENIED"; return e }

// echo makes an ICMP flow an echo request (type 0, an echo reply, opens
// nothing).
func echo(e event.Event) event.Event { e.ICMPType = 8; return e }

// run feeds events through identity and the detectors and returns each
// incident's last report: "detector src > dst count", sorted.
func run(t *testing.T, fx fixture, cfg Config, clock event.Clock, evs []event.Event) ([]string, map[string][]*Alert, *Detectors) {
	t.Helper()
	return runWith(t, fx, cfg, clock, evs, nil)
}

func runWith(t *testing.T, fx fixture, cfg Config, clock event.Clock, evs []event.Event, setup func(*Detectors)) ([]string, map[string][]*Alert, *Detectors) {
	t.Helper()
	reports := map[string][]*Alert{}
	d := New(cfg, fx.engine, clock, func(a *Alert) {
		if _, err := json.Marshal(a); err != nil {
			t.Fatal(err)
		}
		c := *a // copy now: the alert changes as it grows
		c.Samples = slices.Clone(a.Samples)
		reports[a.ID] = append(reports[a.ID], &c)
	})
	if setup != nil {
		setup(d)
	}
	obs := make([]Observation, len(evs))
	for i := range evs {
		e := &evs[i]
		o := Observation{E: e}
		o.Src, o.SrcRes = fx.table.Resolve(e.Src, e.Time)
		o.Dst, o.DstRes = fx.table.Resolve(e.Dst, e.Time)
		o.SrcNode, o.DstNode = fx.table.Node(e.Src, e.Time), fx.table.Node(e.Dst, e.Time)
		obs[i] = o
	}
	for len(obs) > 0 {
		n := min(len(obs), event.BatchSize)
		d.Observe(obs[:n])
		obs = obs[n:]
	}
	d.Close()
	var out []string
	for _, rs := range reports {
		last := rs[len(rs)-1]
		if last.State != Closed {
			t.Errorf("incident %s: last report %s, want closed", last.ID, last.State)
		}
		src := last.Source.Workload
		if src == "" {
			src = last.Source.Address
		}
		if src == "" {
			src = last.Source.Group
		}
		dst := last.Dest.Group
		if dst == "" {
			dst = last.Dest.Workload
		}
		if dst == "" {
			dst = last.Dest.Address
		}
		out = append(out, fmt.Sprintf("%s %s > %s %d", last.Detector, src, dst, last.Count))
	}
	slices.Sort(out)
	return out, reports, d
}

func TestDetectors(t *testing.T) {
	fx := loadShop(t)
	const (
		web, api, db, tool = "10.244.0.10", "10.244.0.20", "10.244.0.30", "10.244.1.5"
		internet           = "198.51.100.7"
	)
	var scan14, scan15, slowScan, sweep, flood, flood1, icmp, v6scan []event.Event
	for p := range 15 {
		e := dropped(ev(time.Duration(p)*time.Second, tool, db, uint16(1000+p), event.TCP, event.Dropped, event.SYN))
		scan15 = append(scan15, e)
		if p < 14 {
			scan14 = append(scan14, e)
		}
		slow := e
		slow.Time = t0.Add(time.Duration(p) * 25 * time.Second).UnixNano()
		slowScan = append(slowScan, slow)
		v6 := ev(time.Duration(p)*time.Second, "fd00::99", "fd00::10", uint16(2000+p), event.TCP, event.Dropped, event.SYN)
		v6scan = append(v6scan, v6)
	}
	for h := range 25 {
		// Refusals: RST|ACK from each target back to the scanner.
		e := ev(time.Duration(h)*time.Second, fmt.Sprintf("10.99.0.%d", h+1), tool, 40000, event.TCP, event.Forwarded, event.RST|event.ACK)
		e.SrcPort, e.Reply = 22, true
		sweep = append(sweep, e)
	}
	for i := range 4000 {
		e := dropped(ev(time.Duration(i)*time.Second*5/4000, internet, web, 443, event.TCP, event.Dropped, event.SYN))
		flood = append(flood, e)
		if i < 3999 {
			flood1 = append(flood1, e)
		}
	}
	for i := range 500 {
		e := dropped(ev(time.Duration(i)*time.Millisecond*9, internet, web, 0, event.ICMP, event.Dropped, 0))
		e.ICMPType = 8
		icmp = append(icmp, e)
	}
	for _, tc := range []struct {
		name string
		evs  []event.Event
		want []string
	}{
		{"allowed flow", []event.Event{ev(0, web, api, 8080, event.TCP, event.Forwarded, event.SYN)}, nil},
		{"allowed flow, replies and mid-stream segments are not connections", []event.Event{
			ev(0, web, api, 8080, event.TCP, event.Forwarded, event.SYN),
			func() event.Event {
				e := ev(0, api, web, 40000, event.TCP, event.Forwarded, event.SYN|event.ACK)
				e.Reply = true
				return e
			}(),
			ev(0, web, api, 8080, event.TCP, event.Forwarded, event.ACK),
		}, nil},
		{"violation: forbidden flow got through", []event.Event{ev(0, tool, db, 5432, event.TCP, event.Forwarded, event.SYN)},
			[]string{"policy-violation dev/Pod/tool > shop/Pod/db-0 1"}},
		{"violation: ICMP where only ports are allowed", []event.Event{echo(ev(0, web, api, 0, event.ICMP, event.Forwarded, 0))},
			[]string{"policy-violation shop/Pod/web-1 > shop/Pod/api-1 1"}},
		{"stale rule: allowed flow dropped by policy", []event.Event{dropped(ev(0, web, api, 8080, event.TCP, event.Dropped, event.SYN))},
			[]string{"policy-stale-drop shop/Pod/web-1 > shop/Pod/api-1 1"}},
		{"a drop for another reason is no policy matter", []event.Event{func() event.Event {
			e := ev(0, web, api, 8080, event.TCP, event.Dropped, event.SYN)
			e.Reason = "CT_NO_MAP_FOUND"
			return e
		}()}, nil},
		{"denied and dropped: as intended", []event.Event{dropped(ev(0, tool, db, 5432, event.TCP, event.Dropped, event.SYN))}, nil},
		{"unexpected egress", []event.Event{ev(0, api, internet, 443, event.TCP, event.Forwarded, event.SYN)},
			[]string{"unexpected-egress shop/Pod/api-1 > 198.51.100.0/24 1"}},
		{"egress inside an ipBlock", []event.Event{ev(0, web, "203.0.113.5", 443, event.TCP, event.Forwarded, event.SYN)}, nil},
		{"egress into an ipBlock's except", []event.Event{ev(0, web, "203.0.113.200", 443, event.TCP, event.Forwarded, event.SYN)},
			[]string{"policy-violation shop/Pod/web-1 > 203.0.113.200 1", "unexpected-egress shop/Pod/web-1 > 203.0.113.0/24 1"}},
		{"unknown cluster address: not egress, not judged", []event.Event{ev(0, api, "10.99.3.3", 443, event.TCP, event.Forwarded, event.SYN)}, nil},
		// A pod the manifests do not know (created after they were
		// read) reaching the internet is unexpected egress all the same.
		{"egress from an unknown cluster address", []event.Event{ev(0, "10.244.3.7", internet, 443, event.TCP, event.Forwarded, event.SYN)},
			[]string{"unexpected-egress 10.244.3.7 > 198.51.100.0/24 1"}},
		{"port scan: 15 ports", scan15, []string{"port-scan dev/Pod/tool > shop/Pod/db-0 15"}},
		{"port scan: 14 ports is below", scan14, nil},
		{"port scan: 15 ports over 6 minutes: no 5 minutes hold 15", slowScan, nil},
		{"port scan over IPv6", v6scan, []string{"port-scan fd00::99 > shop/Pod/web-1 15"}},
		{"host sweep: 25 hosts refuse port 22", sweep, []string{"port-scan dev/Pod/tool > port 22/TCP 25"}},
		{"SYN flood: 800 pps over 5 s", flood, []string{"syn-flood 198.51.100.7 > shop/Pod/web-1 4000"}},
		{"SYN flood: one SYN short", flood1, nil},
		{"ICMP flood: 100 pps over 5 s", icmp, []string{"icmp-flood 198.51.100.7 > shop/Pod/web-1 500"}},
		{"invalid addresses are ignored", []event.Event{{Time: t0.UnixNano(), Proto: event.TCP, Flags: event.SYN, Verdict: event.Forwarded}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evs := slices.Clone(tc.evs)
			got, _, _ := run(t, fx, Default(), event.NewManualClock(t0.Add(time.Hour)), evs)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("alerts\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// TestIncidentGrouping: 100 forbidden connections are one incident,
// reported when it opens, when its evidence doubles, and when it closes;
// after it has been idle, new evidence opens a new one.
func TestIncidentGrouping(t *testing.T) {
	fx := loadShop(t)
	var evs []event.Event
	for i := range 100 {
		e := ev(time.Duration(i)*time.Second, "10.244.1.5", "10.244.0.30", 5432, event.TCP, event.Forwarded, event.SYN)
		e.SrcPort = uint16(30000 + i)
		evs = append(evs, e)
	}
	evs = append(evs, ev(time.Hour, "10.244.1.5", "10.244.0.30", 5432, event.TCP, event.Forwarded, event.SYN))
	got, reports, _ := run(t, fx, Default(), nil, evs)
	want := []string{"policy-violation dev/Pod/tool > shop/Pod/db-0 1", "policy-violation dev/Pod/tool > shop/Pod/db-0 100"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("incidents %q, want %q", got, want)
	}
	for _, rs := range reports {
		if rs[len(rs)-1].Count != 100 {
			continue
		}
		var states []string
		for _, r := range rs {
			states = append(states, fmt.Sprintf("%s:%d", r.State, r.Count))
		}
		if s := strings.Join(states, " "); s != "open:1 update:2 update:4 update:8 update:16 update:32 update:64 closed:100" {
			t.Errorf("reports %s", s)
		}
		a := rs[len(rs)-1]
		if len(a.Samples) != 5 || a.Explanation == nil || a.Explanation.Allowed {
			t.Errorf("closing report: %d samples, explanation %+v", len(a.Samples), a.Explanation)
		}
		if a.First != "2026-12-06T07:00:00Z" || a.Last != "2026-12-06T07:01:39Z" {
			t.Errorf("first %s last %s", a.First, a.Last)
		}
	}
}

// TestForgedTime: an event dated a year ahead is clamped to the clock and
// does not expire the scan window.
func TestForgedTime(t *testing.T) {
	fx := loadShop(t)
	var evs []event.Event
	for p := range 15 {
		evs = append(evs, dropped(ev(time.Duration(p)*time.Second, "10.244.1.5", "10.244.0.30", uint16(1000+p), event.TCP, event.Dropped, event.SYN)))
		if p == 7 {
			evs = append(evs, ev(365*24*time.Hour, "10.244.0.10", "10.244.0.20", 8080, event.TCP, event.Forwarded, event.SYN))
		}
	}
	got, _, d := run(t, fx, Default(), event.NewManualClock(t0.Add(10*time.Second)), evs)
	if fmt.Sprint(got) != "[port-scan dev/Pod/tool > shop/Pod/db-0 15]" {
		t.Errorf("alerts %q", got)
	}
	if d.Stats().Clamped != 1 {
		t.Errorf("clamped %d, want 1", d.Stats().Clamped)
	}
}

// TestSaturation: at limits.maxTracked, new keys are counted and alerted.
func TestSaturation(t *testing.T) {
	fx := loadShop(t)
	cfg := Default()
	cfg.Limits.MaxTracked = 10
	var evs []event.Event
	for i := range 20 {
		evs = append(evs, dropped(ev(time.Duration(i)*time.Second, fmt.Sprintf("198.51.100.%d", i+1), "10.244.0.10", 443, event.TCP, event.Dropped, event.SYN)))
	}
	evs = append(evs, ev(10*time.Second, "10.244.0.10", "10.244.0.20", 8080, event.TCP, event.Forwarded, event.SYN))
	got, _, d := run(t, fx, cfg, nil, evs)
	if len(got) != 1 || !strings.HasPrefix(got[0], "detector-saturated") {
		t.Errorf("alerts %q, want one detector-saturated", got)
	}
	if d.Stats().Untracked == 0 {
		t.Error("no untracked keys counted")
	}
}

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig("watch.yaml", []byte("portScan:\n  distinctPorts: 20\n  window: 1m\nclusterCIDRs: [10.244.0.0/16]\negress:\n  allow: [192.0.2.0/24]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.PortScan.DistinctPorts != 20 || c.PortScan.Window != time.Minute || c.PortScan.DistinctHosts != 25 || c.SYNFlood.PPS != 800 ||
		len(c.ClusterCIDRs) != 1 || c.Egress.Allow[0] != netip.MustParsePrefix("192.0.2.0/24") {
		t.Errorf("config %+v", c)
	}
	for _, tc := range []struct{ in, want string }{
		{"portScan:\n  distinctPort: 20\n", "watch.yaml:2: field distinctPort not found (want enabled, window, distinctPorts, distinctHosts)"},
		{"synFlood:\n  pps: many\n", "watch.yaml:2: cannot unmarshal"},
		{"synFlood:\n  pps: 0\n", "watch.yaml:2: synFlood.pps: must be at least 1, not 0"},
		{"icmpFlood:\n  window: -5s\n", "watch.yaml:2: icmpFlood.window: must be a positive duration"},
		{"clusterCIDRs: [10.244.0.0/33]\n", "watch.yaml:1:"},
		{"portScan: {}\n---\nsynFlood: {}\n", "watch.yaml:3: a second YAML document"},
		{"portScan: [\n", "watch.yaml:"},
		// A second document that does not parse was not read at all.
		{"portScan: {}\n---\n[\n", "watch.yaml:"},
		{"portScan: {}\n---\n---\nsynFlood: {}\n", "watch.yaml:4: a second YAML document"},
	} {
		_, err := ParseConfig("watch.yaml", []byte(tc.in))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want %q...", tc.in, err, tc.want)
		}
	}
}

// TestParseConfigTrailingSeparator: a `---` that ends the file, with
// nothing, a comment or a null after it, opens no second document
// (before: "a second YAML document", at a line past the end of a file
// without a final line break; found by FuzzParseConfig).
func TestParseConfigTrailingSeparator(t *testing.T) {
	for _, in := range []string{"{}\n---", "portScan: {window: 1m}\n---\n", "portScan: {window: 1m}\n--- # end\n", "portScan: {window: 1m}\n---\n~\n"} {
		if _, err := ParseConfig("watch.yaml", []byte(in)); err != nil {
			t.Errorf("%q: %v", in, err)
		}
	}
}

// TestAssertions: ward.yaml's intents judge observed flows too.
func TestAssertions(t *testing.T) {
	fx := loadShop(t)
	cfg, err := assertion.ReadFile("testdata/ward.yaml", 0)
	if err != nil {
		t.Fatal(err)
	}
	const web, api, db, tool = "10.244.0.10", "10.244.0.20", "10.244.0.30", "10.244.1.5"
	for _, tc := range []struct {
		name string
		evs  []event.Event
		want []string
	}{
		{"deny assertion broken", []event.Event{ev(0, tool, db, 5432, event.TCP, event.Forwarded, event.SYN)},
			[]string{"assertion-violated dev/Pod/tool > shop/Pod/db-0 1", "policy-violation dev/Pod/tool > shop/Pod/db-0 1"}},
		{"deny assertion, another port", []event.Event{ev(0, tool, db, 22, event.TCP, event.Forwarded, event.SYN)},
			[]string{"policy-violation dev/Pod/tool > shop/Pod/db-0 1"}},
		{"deny assertion, ICMP is no port of it", []event.Event{echo(ev(0, tool, db, 0, event.ICMP, event.Forwarded, 0))},
			[]string{"policy-violation dev/Pod/tool > shop/Pod/db-0 1"}},
		{"allow assertion, flow dropped by policy", []event.Event{dropped(ev(0, web, api, 8080, event.TCP, event.Dropped, event.SYN))},
			[]string{"assertion-violated shop/Pod/web-1 > shop/Pod/api-1 1", "policy-stale-drop shop/Pod/web-1 > shop/Pod/api-1 1"}},
		{"allow assertion kept", []event.Event{ev(0, web, api, 8080, event.TCP, event.Forwarded, event.SYN)}, nil},
		{"deny assertion to a CIDR", []event.Event{ev(0, web, "198.51.100.7", 443, event.TCP, event.Forwarded, event.SYN)},
			[]string{"assertion-violated shop/Pod/web-1 > 198.51.100.7 1", "policy-violation shop/Pod/web-1 > 198.51.100.7 1", "unexpected-egress shop/Pod/web-1 > 198.51.100.0/24 1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, reports, _ := runWith(t, fx, Default(), nil, slices.Clone(tc.evs), func(d *Detectors) { d.CheckAssertions("testdata/ward.yaml", cfg.Assertions) })
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("alerts\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			for _, rs := range reports {
				if a := rs[0]; a.Detector == AssertionName && !strings.Contains(a.Summary, "testdata/ward.yaml:") {
					t.Errorf("summary %q does not name the assertion's file and line", a.Summary)
				}
			}
		})
	}
}
