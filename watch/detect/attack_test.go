package detect

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/netpol"
	"github.com/wardsec/ward/watch/event"
	"github.com/wardsec/ward/watch/identity"
)

// TestPingSweep: a ping sweep (echo requests to many hosts, dropped or
// unanswered) is a host scan, as a port sweep is; ICMP other than a
// request (an error message, a reply) is no probe.
func TestPingSweep(t *testing.T) {
	fx := loadShop(t)
	const scanner = "198.51.100.9"
	sweep := func(n int, p event.Proto, typ uint8, conntrack bool) []event.Event {
		var evs []event.Event
		for h := range n {
			e := dropped(ev(time.Duration(h)*time.Second, scanner, fmt.Sprintf("10.244.7.%d", h+1), 0, p, event.Dropped, 0))
			if p == event.ICMPv6 {
				e.Src, e.Dst = netip.MustParseAddr("2001:db8::9"), netip.MustParseAddr(fmt.Sprintf("fd00::7:%x", h+1))
			}
			e.ICMPType = typ
			if conntrack {
				// conntrack: an echo that got no reply ends unanswered.
				e.Origin, e.Kind, e.Verdict, e.Reason = event.OriginConntrack, event.ConnEnd, event.Forwarded, event.ReasonNotEstablished
				e.Packets = 1
			}
			evs = append(evs, e)
		}
		return evs
	}
	for _, tc := range []struct {
		name string
		evs  []event.Event
		want []string
	}{
		{"echo to 25 hosts, dropped", sweep(25, event.ICMP, 8, false), []string{"port-scan 198.51.100.9 > ICMP requests 25"}},
		{"echo to 25 hosts, unanswered (conntrack)", sweep(25, event.ICMP, 8, true), []string{"port-scan 198.51.100.9 > ICMP requests 25"}},
		{"timestamp requests to 25 hosts", sweep(25, event.ICMP, 13, false), []string{"port-scan 198.51.100.9 > ICMP requests 25"}},
		{"ICMPv6 echo to 25 hosts", sweep(25, event.ICMPv6, 128, false), []string{"port-scan 2001:db8::9 > ICMPv6 requests 25"}},
		{"echo and timestamp requests to 25 hosts (nmap -PE -PP)", func() []event.Event {
			evs := sweep(25, event.ICMP, 8, false)
			for i := range evs {
				if i%2 == 1 {
					evs[i].ICMPType = 13
				}
			}
			return evs
		}(), []string{"port-scan 198.51.100.9 > ICMP requests 25"}},
		{"echo to 24 hosts is below", sweep(24, event.ICMP, 8, false), nil},
		{"unreachables to 25 hosts are no probes", sweep(25, event.ICMP, 3, false), nil},
		// An echo reply sweep maps hosts through stateless filters: a
		// reply no request asked for is a probe too.
		{"unasked echo replies to 25 hosts", sweep(25, event.ICMP, 0, false), []string{"port-scan 198.51.100.9 > ICMP requests 25"}},
		{"unasked ICMPv6 echo replies to 25 hosts", sweep(25, event.ICMPv6, 129, false), []string{"port-scan 2001:db8::9 > ICMPv6 requests 25"}},
		{"echo replies to 25 hosts that asked", func() []event.Event {
			var evs []event.Event
			for _, e := range sweep(25, event.ICMP, 0, false) {
				req := e
				req.Src, req.Dst, req.ICMPType, req.Verdict, req.Time = e.Dst, e.Src, 8, event.Forwarded, e.Time-int64(time.Millisecond)
				evs = append(evs, req, e)
			}
			return evs
		}(), func() []string {
			// No probe; the requests, from cluster addresses no
			// manifest names to the internet, are unexpected egress.
			var want []string
			for h := range 25 {
				want = append(want, fmt.Sprintf("unexpected-egress 10.244.7.%d > 198.51.100.0/24 1", h+1))
			}
			slices.Sort(want)
			return want
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _, _ := run(t, fx, Default(), event.NewManualClock(t0.Add(time.Hour)), slices.Clone(tc.evs))
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("alerts\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// TestIncidentFloodCannotMaskCritical: an attacker who opens
// limits.maxIncidents cheap incidents (egress to many /24s) must not keep
// a critical policy violation from being reported: the oldest less
// severe incident is closed (and reported) to make room. Evidence that
// still finds no room raises detector-saturated.
func TestIncidentFloodCannotMaskCritical(t *testing.T) {
	fx := loadShop(t)
	cfg := Default()
	cfg.Limits.MaxIncidents = 5
	var evs []event.Event
	for i := range 5 {
		evs = append(evs, ev(time.Duration(i)*time.Second, "10.244.0.20", fmt.Sprintf("198.51.%d.7", 10+i), 443, event.TCP, event.Forwarded, event.SYN))
	}
	evs = append(evs, ev(10*time.Second, "10.244.1.5", "10.244.0.30", 5432, event.TCP, event.Forwarded, event.SYN))
	got, _, d := run(t, fx, cfg, nil, evs)
	if !slices.Contains(got, "policy-violation dev/Pod/tool > shop/Pod/db-0 1") {
		t.Errorf("alerts %q: the policy violation was not reported", got)
	}
	if n := len(got); n != 6 {
		t.Errorf("alerts %q, want the 5 egress incidents and the violation", got)
	}
	if d.Stats().DroppedEvidence != 0 {
		t.Errorf("dropped evidence %d, want 0", d.Stats().DroppedEvidence)
	}

	// All critical: a sixth critical incident finds no room; that is
	// reported, not silent.
	evs = nil
	for i := range 6 {
		// web into its ipBlock's except: a violation for each address.
		evs = append(evs, ev(time.Duration(i)*time.Second, "10.244.0.10", fmt.Sprintf("203.0.113.%d", 200+i), 443, event.TCP, event.Forwarded, event.SYN))
	}
	evs = append(evs, ev(10*time.Minute-time.Second, "10.244.0.10", "10.244.0.20", 8080, event.TCP, event.Forwarded, event.SYN))
	got, _, d = run(t, fx, cfg, nil, evs)
	if d.Stats().DroppedEvidence == 0 || !slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, "detector-saturated") }) {
		t.Errorf("alerts %q, dropped %d: want detector-saturated for the dropped evidence", got, d.Stats().DroppedEvidence)
	}
}

// TestScanFromOneSlash64: an external IPv6 scanner that sources every
// probe from another address of its /64 is counted as one scanner; two
// /64s are two.
func TestScanFromOneSlash64(t *testing.T) {
	fx := loadShop(t)
	var ports, hosts, split []event.Event
	for p := range 15 {
		src := fmt.Sprintf("2001:db8:1:2::%x", p+1)
		ports = append(ports, ev(time.Duration(p)*time.Second, src, "fd00::10", uint16(1000+p), event.TCP, event.Dropped, event.SYN))
		// Half the probes from another /64: neither reaches 15.
		if p%2 == 1 {
			src = fmt.Sprintf("2001:db8:1:3::%x", p+1)
		}
		split = append(split, ev(time.Duration(p)*time.Second, src, "fd00::10", uint16(1000+p), event.TCP, event.Dropped, event.SYN))
	}
	for h := range 25 {
		hosts = append(hosts, ev(time.Duration(h)*time.Second, fmt.Sprintf("2001:db8:1:2:%x::1", h), fmt.Sprintf("fd00::7:%x", h+1), 22, event.TCP, event.Dropped, event.SYN))
	}
	for _, tc := range []struct {
		name string
		evs  []event.Event
		want string
	}{
		{"15 ports, 15 addresses", ports, "port-scan 2001:db8:1:2::/64 > shop/Pod/web-1 15"},
		{"25 hosts, 25 addresses", hosts, "port-scan 2001:db8:1:2::/64 > port 22/TCP 25"},
		{"two /64s", split, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, reports, _ := run(t, fx, Default(), event.NewManualClock(t0.Add(time.Hour)), slices.Clone(tc.evs))
			var got []string
			for _, rs := range reports {
				a := rs[len(rs)-1]
				dst := a.Dest.Group
				if dst == "" {
					dst = a.Dest.Workload
				}
				got = append(got, fmt.Sprintf("%s %s > %s %d", a.Detector, a.Source.Group, dst, a.Count))
			}
			if strings.Join(got, "\n") != tc.want {
				t.Errorf("alerts\n%s\nwant\n%s", strings.Join(got, "\n"), tc.want)
			}
		})
	}
}

// TestUnknownProtocolUnjudged: a flow that passed with no transport the
// source names (a tunnel protocol in Hubble) cannot be judged; it is
// counted unjudged, not silently taken as allowed.
func TestUnknownProtocolUnjudged(t *testing.T) {
	fx := loadShop(t)
	e := ev(0, "10.244.1.5", "10.244.0.30", 0, event.ProtoUnknown, event.Forwarded, 0)
	_, _, d := run(t, fx, Default(), nil, []event.Event{e})
	if st := d.Stats(); st.Unjudged != 1 || st.Judged != 0 {
		t.Errorf("judged %d, unjudged %d: want the flow counted unjudged", st.Judged, st.Unjudged)
	}
}

// TestIncidentEvictionOrder: eviction closes the oldest incident of the
// lowest severity, and the queues behind it stay bounded by the open
// incidents however many open and close.
func TestIncidentEvictionOrder(t *testing.T) {
	var closed []string
	in := newIncidents(Incidents{Idle: time.Minute, MaxDuration: time.Hour, Samples: 1}, 5, func(a *Alert) {
		if a.State == Closed {
			closed = append(closed, a.Dest.Address)
		}
	})
	at := func(s int) int64 { return t0.Add(time.Duration(s) * time.Second).UnixNano() }
	add := func(s int, sev, dst string) {
		in.advance(at(s))
		in.add(at(s), &evidence{detector: "x", severity: sev, src: Peer{Address: "a"}, dst: Peer{Address: dst}, count: 1})
	}
	for i := range 4 {
		add(i, Low, fmt.Sprintf("low%d", i))
	}
	add(4, Medium, "medium")
	add(5, Critical, "crit1")
	add(6, High, "high")
	if fmt.Sprint(closed) != "[low0 low1]" || in.Open() != 5 || in.Dropped != 0 {
		t.Fatalf("closed %q, open %d, dropped %d: want the oldest lows evicted", closed, in.Open(), in.Dropped)
	}
	// Many incidents open and close by idling: the queues stay bounded.
	for i := range 5000 {
		add(100+i*120, Low, fmt.Sprintf("churn%d", i))
	}
	if n := len(in.byAge[0]); n > 2*in.bySev[0]+65 {
		t.Errorf("low queue holds %d for %d open", n, in.bySev[0])
	}
}

// TestFloodAcrossWindowBoundary: flood windows tumbled from a pair's
// first packet, which the sender chooses: one packet to start a window,
// a burst just below the threshold as it ends and another as the next
// begins put almost twice the threshold into 0.4 s unseen. Counted in
// sliding slots, the bursts are one flood; a steady rate just below the
// threshold stays below it however long it lasts.
func TestFloodAcrossWindowBoundary(t *testing.T) {
	fx := loadShop(t)
	const attacker, web = "198.51.100.7", "10.244.0.10"
	packet := func(at time.Duration, icmp bool) event.Event {
		if icmp {
			e := dropped(ev(at, attacker, web, 0, event.ICMP, event.Dropped, 0))
			e.ICMPType = 8
			return e
		}
		return dropped(ev(at, attacker, web, 443, event.TCP, event.Dropped, event.SYN))
	}
	straddle := func(limit int, icmp bool) []event.Event {
		evs := []event.Event{packet(0, icmp)}
		for i := range limit - 2 { // the window's first packet and these: one short
			evs = append(evs, packet(4800*time.Millisecond+time.Duration(i)*200*time.Millisecond/time.Duration(limit), icmp))
		}
		for i := range limit - 1 {
			evs = append(evs, packet(5000*time.Millisecond+time.Duration(i)*200*time.Millisecond/time.Duration(limit), icmp))
		}
		return evs
	}
	steady := func(pps int, d time.Duration, icmp bool) []event.Event {
		var evs []event.Event
		for i := range int(d.Seconds()) * pps {
			evs = append(evs, packet(time.Duration(i)*time.Second/time.Duration(pps), icmp))
		}
		return evs
	}
	alertCases(t, fx, []alertCase{
		{"SYN bursts either side of a window boundary", straddle(4000, false), "syn-flood 198.51.100.7 > shop/Pod/web-1 7997"},
		{"ICMP bursts either side of a window boundary", straddle(500, true), "icmp-flood 198.51.100.7 > shop/Pod/web-1 997"},
		{"SYNs at 799 pps for 30 s", steady(799, 30*time.Second, false), ""},
		{"ICMP at 99 pps for 30 s", steady(99, 30*time.Second, true), ""},
	})
}

// TestScanAcrossWindowBoundary: scan windows tumbled from the scanner's
// first failed attempt (as Zeek's do): one probe to start a window, 13
// ports as it ends and 14 as the next begins were 28 ports in two
// seconds unseen, and so were 24 + 24 hosts. The window slides: ports and
// hosts count while seen within the last 5 minutes.
func TestScanAcrossWindowBoundary(t *testing.T) {
	fx := loadShop(t)
	const scanner, db = "198.51.100.9", "10.244.0.30"
	probe := func(at time.Duration, dst string, port int) event.Event {
		return dropped(ev(at, scanner, dst, uint16(port), event.TCP, event.Dropped, event.SYN))
	}
	ports := []event.Event{probe(0, db, 1000)}
	for p := range 13 {
		ports = append(ports, probe(299*time.Second+time.Duration(p)*10*time.Millisecond, db, 2000+p))
	}
	for p := range 14 {
		ports = append(ports, probe(300*time.Second+time.Duration(p)*10*time.Millisecond, db, 3000+p))
	}
	hosts := []event.Event{probe(0, "10.244.9.1", 22)}
	for h := range 23 {
		hosts = append(hosts, probe(299*time.Second+time.Duration(h)*10*time.Millisecond, fmt.Sprintf("10.244.9.%d", h+2), 22))
	}
	for h := range 24 {
		hosts = append(hosts, probe(300*time.Second+time.Duration(h)*10*time.Millisecond, fmt.Sprintf("10.244.8.%d", h+2), 22))
	}
	alertCases(t, fx, []alertCase{
		{"ports either side of a window boundary", ports, "port-scan 198.51.100.9 > shop/Pod/db-0 27"},
		{"hosts either side of a window boundary", hosts, "port-scan 198.51.100.9 > port 22/TCP 47"},
	})
}

// TestUDPScanHubble: Hubble reports a UDP probe of a closed port as
// FORWARDED and the host's answer as an ICMP port unreachable that names
// no port, so a UDP scan seen through Hubble raised nothing. Each
// unreachable now fails the latest datagram it may answer (of a port
// none answered yet, if any): 15 ports answered so are a scan, sent one
// at a time or five at once, or each followed by a datagram to an open
// port (which took every unreachable when the latest datagram did); a
// client retrying one dead port, or unreachables that answer nothing,
// are not.
func TestUDPScanHubble(t *testing.T) {
	fx := loadShop(t)
	const scanner, target = "198.51.100.9", "10.244.7.1"
	udp := func(at time.Duration, port int) event.Event {
		return ev(at, scanner, target, uint16(port), event.UDP, event.Forwarded, 0)
	}
	unreachable := func(at time.Duration, v6 bool) event.Event {
		e := ev(at, target, scanner, 0, event.ICMP, event.Forwarded, 0)
		e.ICMPType, e.ICMPCode = 3, 3
		if v6 {
			e.Proto, e.ICMPType, e.ICMPCode = event.ICMPv6, 1, 4
			e.Src, e.Dst = netip.MustParseAddr("fd00::7:1"), netip.MustParseAddr("2001:db8::9")
		}
		return e
	}
	var oneByOne, allAtOnce, retries, stray, v6, decoy []event.Event
	for p := range 15 {
		// Each probe followed by a datagram to an open port (DNS,
		// which draws no unreachable): the unreachable still answers
		// the probe, but for the first (taken for port 53's).
		at := time.Duration(p) * time.Second
		decoy = append(decoy, udp(at, 1000+p), udp(at+time.Millisecond, 53), unreachable(at+5*time.Millisecond, false))
	}
	for p := range 15 {
		at := time.Duration(p) * time.Second
		oneByOne = append(oneByOne, udp(at, 1000+p), unreachable(at+5*time.Millisecond, false))
		retries = append(retries, udp(at, 53), unreachable(at+5*time.Millisecond, false))
		stray = append(stray, unreachable(at, false))
		d := udp(at, 1000+p)
		d.Src, d.Dst = netip.MustParseAddr("2001:db8::9"), netip.MustParseAddr("fd00::7:1")
		v6 = append(v6, d, unreachable(at+5*time.Millisecond, true))
	}
	for g := range 3 { // five probes in flight at a time, as nmap sends them
		at := time.Duration(g) * time.Second
		for p := range 5 {
			allAtOnce = append(allAtOnce, udp(at+time.Duration(p)*time.Millisecond, 1000+5*g+p))
		}
		for p := range 5 {
			allAtOnce = append(allAtOnce, unreachable(at+20*time.Millisecond+time.Duration(p)*time.Millisecond, false))
		}
	}
	alertCases(t, fx, []alertCase{
		{"15 ports, one at a time", oneByOne, "port-scan 198.51.100.9 > 10.244.7.1 15"},
		{"15 ports, five at once", allAtOnce, "port-scan 198.51.100.9 > 10.244.7.1 15"},
		{"ICMPv6", v6, "port-scan 2001:db8::9 > fd00::7:1 15"},
		{"each probe followed by a datagram to an open port", decoy, "port-scan 198.51.100.9 > 10.244.7.1 15"},
		{"a client retrying one dead port", retries, ""},
		// No port scan; but a pod's unreachables answering nothing
		// are packets of its own to the internet (unrelatedError).
		{"unreachables answering nothing", stray, "unexpected-egress 10.244.7.1 > 198.51.100.0/24 15"},
	})
}

// alertCase is a stream of events and the alerts it raises, one line
// each ("detector src > dst count"), "" for none.
type alertCase struct {
	name string
	evs  []event.Event
	want string
}

func alertCases(t *testing.T, fx fixture, cases []alertCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, _, _ := run(t, fx, Default(), event.NewManualClock(t0.Add(time.Hour)), tc.evs)
			if strings.Join(got, "\n") != tc.want {
				t.Errorf("alerts\n%s\nwant\n%s", strings.Join(got, "\n"), tc.want)
			}
		})
	}
}

// TestICMPErrorsAreNotOpenings: Cilium marks a packet of a flow's
// related traffic (conntrack RELATED: an ICMP error answering a
// datagram) is_reply false, as its datapath knows no reply but CT_REPLY.
// Every ICMP record not marked reply was judged as the opening of a
// connection from the host that answered: a probe of a closed UDP port
// made the probed pod "reach" the prober, a critical policy-violation
// against an innocent pod (its ingress isolated or not), and an
// unexpected-egress to any external prober. Echo and other replies
// without is_reply (a drop, an exporter that leaves it out) were judged
// so too. ICMP errors and replies are no openings; requests still are.
func TestICMPErrorsAreNotOpenings(t *testing.T) {
	fx := loadShop(t)
	const tool, web, api, outside = "10.244.1.5", "10.244.0.10", "10.244.0.20", "198.51.100.9"
	icmp := func(at time.Duration, src, dst string, typ, code uint8) event.Event {
		e := ev(at, src, dst, 0, event.ICMP, event.Forwarded, 0)
		e.ICMPType, e.ICMPCode = typ, code
		return e
	}
	icmp6 := func(at time.Duration, src, dst string, typ, code uint8) event.Event {
		e := icmp(at, src, dst, typ, code)
		e.Proto = event.ICMPv6
		return e
	}
	alertCases(t, fx, []alertCase{
		{"a pod's port unreachable to a pod that probed it", []event.Event{
			ev(0, web, tool, 53, event.UDP, event.Forwarded, 0), // web-egress allows 53/UDP anywhere
			icmp(time.Millisecond, tool, web, 3, 3),
		}, ""},
		{"a pod's port unreachable to an external prober", []event.Event{
			ev(0, outside, tool, 9999, event.UDP, event.Forwarded, 0),
			icmp(time.Millisecond, tool, outside, 3, 3),
		}, ""},
		{"time exceeded, fragmentation needed, parameter problem", []event.Event{
			ev(0, web, tool, 53, event.UDP, event.Forwarded, 0),
			icmp(time.Millisecond, tool, web, 11, 0), icmp(time.Second, tool, web, 3, 4), icmp(2*time.Second, tool, web, 12, 0),
		}, ""},
		{"an error answering a reply", []event.Event{
			ev(0, tool, outside, 53, event.UDP, event.Forwarded, 0),
			func() event.Event {
				e := ev(time.Millisecond, outside, tool, 40000, event.UDP, event.Forwarded, 0)
				e.Reply = true
				return e
			}(),
			icmp(2*time.Millisecond, tool, outside, 3, 3),
		}, "unexpected-egress dev/Pod/tool > 198.51.100.0/24 1"}, // the DNS query itself
		{"an error from a router (the node, the internet)", []event.Event{
			icmp(0, outside, tool, 11, 0), icmp(time.Second, outside, web, 3, 4),
		}, ""},
		{"echo reply without is_reply", []event.Event{
			icmp(0, api, tool, 8, 0), icmp(time.Millisecond, tool, api, 0, 0),
		}, ""},
		{"ICMPv6 errors", []event.Event{
			// An echo reply answering no request is judged:
			// TestUnaskedICMPRepliesAreOpenings.
			icmp6(0, "fd00::1:5", "fd00::10", 1, 4), icmp6(time.Second, "fd00::1:5", "fd00::10", 2, 0),
		}, ""},
		{"an echo request is still judged", []event.Event{icmp(0, tool, web, 8, 0)},
			"policy-violation dev/Pod/tool > shop/Pod/web-1 1"},
	})
}

// TestUnaskedICMPRepliesAreOpenings: an ICMP reply answering no request
// is a flow of its own (Cilium's conntrack finds no request for it and
// judges it new, is_reply false). Exempt by its type, echo replies sent
// as a sweep (a scan through stateless filters) or carrying a tunnel
// (ptunnel's replies) got through policies denying ICMP unjudged.
func TestUnaskedICMPRepliesAreOpenings(t *testing.T) {
	fx := loadShop(t)
	const tool, web, api = "10.244.1.5", "10.244.0.10", "10.244.0.20"
	icmp := func(at time.Duration, src, dst string, typ uint8) event.Event {
		e := ev(at, src, dst, 0, event.ICMP, event.Forwarded, 0)
		e.ICMPType = typ
		return e
	}
	alertCases(t, fx, []alertCase{
		{"an echo reply no request asked for", []event.Event{icmp(0, tool, web, 0)},
			"policy-violation dev/Pod/tool > shop/Pod/web-1 1"},
		{"a timestamp reply no request asked for", []event.Event{icmp(0, tool, web, 14)},
			"policy-violation dev/Pod/tool > shop/Pod/web-1 1"},
		{"an echo reply to another pair's request", []event.Event{
			icmp(0, api, tool, 8), icmp(time.Millisecond, tool, web, 0),
		}, "policy-violation dev/Pod/tool > shop/Pod/web-1 1"},
		{"an echo reply long after the request", []event.Event{
			icmp(0, api, tool, 8), icmp(10*time.Minute, tool, api, 0),
		}, "policy-violation dev/Pod/tool > shop/Pod/api-1 1"},
		{"an ICMPv6 echo reply no request asked for", []event.Event{func() event.Event {
			e := icmp(0, "fd00::1:5", "fd00::10", 129)
			e.Proto = event.ICMPv6
			return e
		}()}, "policy-violation fd00::1:5 > shop/Pod/web-1 1"},
		{"an echo reply to a request just before", []event.Event{
			icmp(0, api, tool, 8), icmp(time.Millisecond, tool, api, 0),
		}, ""},
	})
}

// TestSummaryCountsBounded: the distinct ports, hosts and names of a
// key are held up to four times the threshold; beyond, the summary said
// a scan of 1,000 ports "made failed connections to 60 ports", a sweep
// of 200 hosts reached "100 hosts", a tunnel of 500 names "32 distinct
// names". A full set now reads "at least".
func TestSummaryCountsBounded(t *testing.T) {
	fx := loadShop(t)
	const tool, db = "10.244.1.5", "10.244.0.30"
	var scan, sweep, tunnel, small []event.Event
	for p := range 1000 {
		scan = append(scan, ev(time.Duration(p)*time.Millisecond, tool, db, uint16(1000+p), event.TCP, event.Dropped, event.SYN))
	}
	for h := range 200 {
		sweep = append(sweep, ev(time.Duration(h)*time.Millisecond, tool, fmt.Sprintf("10.244.9.%d", h), 22, event.TCP, event.Dropped, event.SYN))
	}
	tunnel = names(0, time.Millisecond, tool, "evil.example", 500)
	small = names(0, time.Millisecond, tool, "evil.example", 20)
	for _, tc := range []struct {
		name string
		evs  []event.Event
		want string
	}{
		{"1000 ports", scan, "made failed connections to at least 60 ports of 10.244.0.30"},
		{"200 hosts", sweep, "made failed connections to at least 100 hosts on port 22/TCP"},
		{"500 names", tunnel, "asked for at least 32 distinct names under evil.example"},
		{"20 names: exact", small, "asked for 20 distinct names under evil.example"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, reports, _ := run(t, fx, Default(), event.NewManualClock(t0.Add(time.Hour)), tc.evs)
			found := false
			for _, rs := range reports {
				last := rs[len(rs)-1]
				if last.Detector != PortScanName && last.Detector != TunnelName {
					continue
				}
				found = true
				if !strings.Contains(last.Summary, tc.want) {
					t.Errorf("summary %q, want it to say %q", last.Summary, tc.want)
				}
			}
			if !found {
				t.Error("no alert")
			}
		})
	}
}

// TestSpoofedSourceNotBlamed: `ward fw` drops (and logs, "ward-spoof ")
// a packet whose source address is not its container's; Cilium drops it
// as INVALID_SOURCE_IP. Judged as a
// drop like any other, a container forging api-1's address to probe
// db-0 made api-1 a port scanner (high), a SYN flooder, and db-0's rules
// stale for api-1 on 5432 (the policies allow it); blocking on those
// would block the innocent. Forged packets now raise spoofed-source,
// grouped by destination, and nothing about the address they claim.
func TestSpoofedSourceNotBlamed(t *testing.T) {
	fx := loadShop(t)
	const api, db, gw = "10.244.0.20", "10.244.0.30", "10.244.0.1"
	spoof := func(at time.Duration, src string, port uint16) event.Event {
		e := ev(at, src, db, port, event.TCP, event.Dropped, event.SYN)
		e.Origin, e.Rule, e.Reason, e.Packets = event.OriginNFLog, event.RuleSpoof, "policy denied", 1
		return e
	}
	var scan, flood []event.Event
	for p := range 20 {
		scan = append(scan, spoof(time.Duration(p)*time.Second, api, uint16(5420+p)))
	}
	for i := range 5000 {
		flood = append(flood, spoof(time.Duration(i)*time.Millisecond/2, gw, 5432))
	}
	var hubble []event.Event
	for p := range 20 {
		e := ev(time.Duration(p)*time.Second, api, db, uint16(5420+p), event.TCP, event.Dropped, event.SYN)
		e.Reason = event.ReasonInvalidSourceIP // Cilium's anti-spoofing
		hubble = append(hubble, e)
	}
	real := ev(0, api, db, 22, event.TCP, event.Dropped, event.SYN)
	real.Origin, real.Rule, real.Reason = event.OriginNFLog, "ingress c3", "policy denied"
	alertCases(t, fx, []alertCase{
		{"a scan forging api-1's address", scan, "spoofed-source forged source > shop/Pod/db-0 20"},
		{"a SYN flood forging the gateway's address", flood, "spoofed-source forged source > shop/Pod/db-0 5000"},
		{"Cilium's INVALID_SOURCE_IP drops", hubble, "spoofed-source forged source > shop/Pod/db-0 20"},
		{"a drop by a policy chain is still api-1's", []event.Event{real}, ""},
	})
	_, reports, _ := run(t, fx, Default(), event.NewManualClock(t0.Add(time.Hour)), scan)
	for _, rs := range reports {
		a := rs[len(rs)-1]
		if a.Source.Address != "" || a.Source.Workload != "" || !strings.Contains(a.Summary, "did not send it") {
			t.Errorf("%s: source %+v, summary %q", a.Detector, a.Source, a.Summary)
		}
	}
}

// TestSpoofedSourceNamesSender: ward fw's log of a forged frame names
// the bridge port it came in on, the forging container's. It was
// ignored: every forger of a destination was one "forged source", and the
// one container behind them went unnamed.
func TestSpoofedSourceNamesSender(t *testing.T) {
	fx := loadShop(t)
	const api, db = "10.244.0.20", "10.244.0.30"
	spoof := func(at time.Duration, on string) event.Event {
		e := ev(at, api, db, 5432, event.TCP, event.Dropped, event.SYN)
		e.Origin, e.Rule, e.Reason, e.Packets = event.OriginNFLog, event.RuleSpoof, event.ReasonSpoofedOn+on, 1
		return e
	}
	evs := []event.Event{spoof(0, "veth1a2b (ifindex 17)"), spoof(time.Second, "veth9f0e (ifindex 23)"), spoof(2*time.Second, "veth1a2b (ifindex 17)")}
	got, reports, _ := run(t, fx, Default(), event.NewManualClock(t0.Add(time.Hour)), evs)
	want := "spoofed-source interface veth1a2b (ifindex 17) > shop/Pod/db-0 2\nspoofed-source interface veth9f0e (ifindex 23) > shop/Pod/db-0 1"
	if strings.Join(got, "\n") != want {
		t.Errorf("alerts\n%s\nwant\n%s", strings.Join(got, "\n"), want)
	}
	for _, rs := range reports {
		a := rs[len(rs)-1]
		if a.Source.Address != "" || a.Source.Workload != "" || !strings.Contains(a.Summary, "the sender behind interface veth") {
			t.Errorf("%s: source %+v, summary %q", a.Detector, a.Source, a.Summary)
		}
	}
}

// TestDualStackOneClient: a dual-stack pod (web-1: 10.244.0.10 and
// fd00::10) is one client. Counted by address, it asked for 5 names of
// a tunnel over IPv4 and 4 over IPv6 (9 under one domain: a tunnel) and
// swept 13 hosts on port 22 from one address and 12 from the other (25
// hosts: a sweep), and stayed under both thresholds.
func TestDualStackOneClient(t *testing.T) {
	fx := loadShop(t)
	const v4, v6 = "10.244.0.10", "fd00::10"
	tunnel := append(names(0, time.Second, v4, "evil.example", 5), names(time.Minute, time.Second, v6, "evil.example", 9)[5:]...)
	var sweep []event.Event
	for h := range 25 {
		src, dst := v4, fmt.Sprintf("10.244.9.%d", h)
		if h%2 == 1 {
			src, dst = v6, fmt.Sprintf("fd00::9:%d", h)
		}
		sweep = append(sweep, ev(time.Duration(h)*time.Second, src, dst, 22, event.TCP, event.Dropped, event.SYN))
	}
	// A ping sweep: echo requests over IPv4 to 13 hosts and ICMPv6 echo
	// requests to 12 others; the two protocols were two groups of hosts.
	var ping []event.Event
	for h := range 25 {
		e := dropped(ev(time.Duration(h)*time.Second, v4, fmt.Sprintf("10.244.9.%d", h), 0, event.ICMP, event.Dropped, 0))
		e.ICMPType = 8
		if h%2 == 1 {
			e.Src, e.Dst = netip.MustParseAddr(v6), netip.MustParseAddr(fmt.Sprintf("fd00::9:%d", h))
			e.Proto, e.ICMPType = event.ICMPv6, 128
		}
		ping = append(ping, e)
	}
	other := append(names(0, time.Second, v4, "evil.example", 5), names(time.Minute, time.Second, "10.244.1.5", "evil.example", 9)[5:]...)
	alertCases(t, fx, []alertCase{
		{"a tunnel over both families", tunnel, "dns-tunnel shop/Pod/web-1 > evil.example 9"},
		{"a sweep over both families", sweep, "port-scan shop/Pod/web-1 > port 22/TCP 25"},
		{"two pods are two clients", other, ""},
		{"a ping sweep over both families", ping, "port-scan shop/Pod/web-1 > ICMP requests 25"},
	})
}

// TestAbortIsNoRefusal: a refused SYN is answered by RST|ACK, and so is
// an established connection a server aborts (a close with unread data,
// SO_LINGER 0: Linux resets with RST|ACK). A client whose connections 25
// servers accepted and then aborted (a scraper of 25 pods) was a
// port-scan by host sweep. A reset on a connection whose SYN|ACK was
// seen is no failed attempt; refusals still are.
func TestAbortIsNoRefusal(t *testing.T) {
	fx := loadShop(t)
	const client = "10.244.1.5"
	var aborted, refused []event.Event
	for h := range 25 {
		srv := fmt.Sprintf("10.99.0.%d", h+1)
		at := time.Duration(h) * time.Second
		syn := ev(at, client, srv, 443, event.TCP, event.Forwarded, event.SYN)
		syn.SrcPort = uint16(41000 + h)
		synack := ev(at+time.Millisecond, srv, client, uint16(41000+h), event.TCP, event.Forwarded, event.SYN|event.ACK)
		synack.SrcPort, synack.Reply = 443, true
		rst := synack
		rst.Time += int64(30 * time.Second)
		rst.Flags = event.RST | event.ACK
		aborted = append(aborted, syn, synack, rst)
		refuse := rst
		refuse.Time = synack.Time
		refused = append(refused, syn, refuse)
	}
	alertCases(t, fx, []alertCase{
		{"25 servers abort established connections", aborted, ""},
		{"25 servers refuse", refused, "port-scan dev/Pod/tool > port 443/TCP 25"},
	})
}

// TestDualStackFlood: two dual-stack pods are one pair for the flood
// detectors. Counted by address pair, a SYN flood of 2,500 SYNs over
// IPv4 and 2,500 over IPv6 in 5 s (the threshold is 4,000) raised
// nothing.
func TestDualStackFlood(t *testing.T) {
	f := filepath.Join(t.TempDir(), "pods.yaml")
	pod := func(name, v4, v6 string) string {
		return fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata: {name: %s, namespace: default}\nspec: {containers: [{name: c, image: c:1}]}\nstatus: {phase: Running, podIP: %s, podIPs: [{ip: %s}, {ip: %q}]}\n", name, v4, v4, v6)
	}
	if err := os.WriteFile(f, []byte(pod("a-1", "10.244.0.10", "fd00::10")+"---\n"+pod("b-1", "10.244.0.11", "fd00::11")), 0o600); err != nil {
		t.Fatal(err)
	}
	set, err := manifest.Load(manifest.Options{}, f)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := netpol.Compile(set)
	if err != nil {
		t.Fatal(err)
	}
	fx := fixture{eng, identity.FromManifests(set, netip.MustParsePrefix("10.244.0.0/16"), netip.MustParsePrefix("10.99.0.0/16"))}
	var syns, pings []event.Event
	for i := range 5000 {
		at := time.Duration(i) * time.Millisecond
		src, dst := "10.244.0.10", "10.244.0.11"
		if i%2 == 1 {
			src, dst = "fd00::10", "fd00::11"
		}
		syns = append(syns, ev(at, src, dst, 443, event.TCP, event.Forwarded, event.SYN))
		if i < 600 {
			p := echo(ev(at*8, src, dst, 0, event.ICMP, event.Forwarded, 0))
			if i%2 == 1 {
				p.Proto, p.ICMPType = event.ICMPv6, 128
			}
			pings = append(pings, p)
		}
	}
	for _, tc := range []struct {
		name string
		evs  []event.Event
		want string
	}{
		{"SYNs over both families", syns, "syn-flood default/Pod/a-1 > default/Pod/b-1"},
		{"pings over both families", pings, "icmp-flood default/Pod/a-1 > default/Pod/b-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, reports, _ := run(t, fx, Default(), event.NewManualClock(t0.Add(time.Hour)), tc.evs)
			if len(got) != 1 || !strings.HasPrefix(got[0], tc.want) {
				t.Fatalf("alerts\n%s\nwant one %s", strings.Join(got, "\n"), tc.want)
			}
			for _, rs := range reports {
				for _, a := range rs {
					if strings.Contains(a.Summary, "100::") {
						t.Errorf("summary names a pod's key: %q", a.Summary)
					}
				}
			}
		})
	}
}

// TestStatsCountUntrackedUDP: keys the UDP datagram table refused at
// limits.maxTracked raised detector-saturated but were left out of
// Stats().Untracked, the counter ward watch's metrics report.
func TestStatsCountUntrackedUDP(t *testing.T) {
	fx := loadShop(t)
	cfg := Default()
	cfg.Limits.MaxTracked = 2
	cfg.Baseline.Enabled = false
	var evs []event.Event
	for h := range 3 {
		evs = append(evs, ev(time.Duration(h)*time.Millisecond, "10.244.0.10", fmt.Sprintf("198.51.100.%d", h+1), 53, event.UDP, event.Forwarded, 0))
	}
	_, _, d := run(t, fx, cfg, event.NewManualClock(t0.Add(time.Hour)), evs)
	if s := d.Stats(); s.Untracked != 1 {
		t.Errorf("untracked %d, want 1 (a third pair refused by the UDP table of 2)", s.Untracked)
	}
}

// TestHostNetworkPodsDoNotOwnTheNode: a hostNetwork pod's IP is its
// node's, shared by the node (kubelet's probes), every hostNetwork pod on
// it and the external clients a NodePort masquerades. Claimed by the
// latest such pod to start (kube-proxy here), a kubelet probe of db-0
// raised a critical policy-violation naming kube-proxy, and a scan that
// came in through a NodePort was blamed on it.
func TestHostNetworkPodsDoNotOwnTheNode(t *testing.T) {
	shop, err := os.ReadFile("testdata/shop.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ds := func(name, started string) string {
		return fmt.Sprintf(`---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: %[1]s, namespace: kube-system}
spec:
  selector: {matchLabels: {k8s-app: %[1]s}}
  template:
    metadata: {labels: {k8s-app: %[1]s}}
    spec: {hostNetwork: true, containers: [{name: %[1]s, image: %[1]s:1}]}
---
apiVersion: v1
kind: Pod
metadata:
  name: %[1]s-x2x9q
  namespace: kube-system
  labels: {k8s-app: %[1]s}
  ownerReferences: [{apiVersion: apps/v1, kind: DaemonSet, name: %[1]s, uid: %[1]s, controller: true}]
spec: {hostNetwork: true, nodeName: kind-worker, containers: [{name: %[1]s, image: %[1]s:1}]}
status: {phase: Running, hostIP: 172.18.0.3, podIP: 172.18.0.3, podIPs: [{ip: 172.18.0.3}], startTime: %q}
`, name, started)
	}
	f := filepath.Join(t.TempDir(), "cluster.yaml")
	doc := string(shop) + "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: kube-system}\n" +
		ds("node-exporter", "2026-12-06T06:00:00Z") + ds("kube-proxy", "2026-12-06T06:30:00Z")
	if err := os.WriteFile(f, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	set, err := manifest.Load(manifest.Options{}, f)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := netpol.Compile(set)
	if err != nil {
		t.Fatal(err)
	}
	fx := fixture{eng, identity.FromManifests(set, netip.MustParsePrefix("10.244.0.0/16"), netip.MustParsePrefix("10.99.0.0/16"))}
	const node = "172.18.0.3"
	// kubelet's tcpSocket probe of db-0, as Hubble reports it (Cilium
	// lets the host reach its pods whatever the policies say).
	probe := ev(0, node, "10.244.0.30", 5432, event.TCP, event.Forwarded, event.SYN)
	var scan []event.Event
	for p := range 15 {
		scan = append(scan, dropped(ev(time.Duration(p)*time.Second, node, "10.244.0.30", uint16(1000+p), event.TCP, event.Dropped, event.SYN)))
	}
	for _, tc := range []struct {
		name string
		evs  []event.Event
		want string
	}{
		{"kubelet probe", []event.Event{probe}, ""},
		{"scan through a NodePort", scan, "port-scan " + node + " > shop/Pod/db-0 15"},
		// The node's own connections to the internet (image pulls, the
		// kubelet's) are the host's: NetworkPolicies do not govern
		// them, and each was an unexpected-egress from an address of
		// unknown owner.
		{"the node's own egress", []event.Event{ev(0, node, "151.101.0.1", 443, event.TCP, event.Forwarded, event.SYN), ev(time.Second, node, "198.51.100.7", 123, event.UDP, event.Forwarded, 0)}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _, d := run(t, fx, Default(), event.NewManualClock(t0.Add(time.Hour)), slices.Clone(tc.evs))
			if strings.Join(got, "\n") != tc.want {
				t.Errorf("alerts\n%s\nwant\n%s", strings.Join(got, "\n"), tc.want)
			}
			if tc.name == "kubelet probe" && d.Stats().Unjudged != 1 {
				t.Errorf("unjudged %d, want 1: the node's flow is not judged as a pod's", d.Stats().Unjudged)
			}
		})
	}
}

// TestFloodFromOneSlash64: an external IPv6 host holds a whole /64 and
// may send each packet from another address of it; the flood detectors
// count it by its /64, as the port-scan detector does. Counted by
// address, 4,000 SYNs in 5 s (the threshold), each from a fresh address,
// were 4,000 pairs of one SYN each, and 500 echo requests so too.
func TestFloodFromOneSlash64(t *testing.T) {
	fx := loadShop(t)
	flood := func(n int, p event.Proto, nets ...string) []event.Event {
		var evs []event.Event
		for i := range n {
			src := fmt.Sprintf("%s::%x:%x", nets[i%len(nets)], i>>16+1, i&0xffff)
			e := dropped(ev(time.Duration(i)*5*time.Second/time.Duration(n), src, "fd00::10", 443, p, event.Dropped, event.SYN))
			if p == event.ICMPv6 {
				e.DstPort, e.Flags, e.ICMPType = 0, 0, 128
			}
			evs = append(evs, e)
		}
		return evs
	}
	for _, tc := range []struct {
		name string
		evs  []event.Event
		want string
	}{
		{"SYNs from one /64", flood(4000, event.TCP, "2001:db8:1:2"), "syn-flood 2001:db8:1:2::/64 > shop/Pod/web-1"},
		{"echo requests from one /64", flood(500, event.ICMPv6, "2001:db8:1:2"), "icmp-flood 2001:db8:1:2::/64 > shop/Pod/web-1"},
		{"SYNs from two /64s", flood(4000, event.TCP, "2001:db8:1:2", "2001:db8:1:3"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, reports, _ := run(t, fx, Default(), event.NewManualClock(t0.Add(time.Hour)), tc.evs)
			var got []string
			for _, rs := range reports {
				a := rs[len(rs)-1]
				got = append(got, fmt.Sprintf("%s %s > %s", a.Detector, a.Source.Group, a.Dest.Workload))
			}
			if strings.Join(got, "\n") != tc.want {
				t.Errorf("alerts\n%s\nwant\n%s", strings.Join(got, "\n"), tc.want)
			}
		})
	}
}

// TestFastClockKeepsWindows: records dated ahead of the clock, within
// limits.maxSkew so not clamped (another node's clock running fast, or a
// fleet publisher forging times), moved the detectors' time ahead, and
// the sweeps deleted by it every window idle for more than the skew
// short of its length: such a record every 5 s, dated 4m50s ahead, kept
// a scan of 15 ports in 140 s (one each 10 s) from ever counting two.
// Windows expire by the clock.
func TestFastClockKeepsWindows(t *testing.T) {
	fx := loadShop(t)
	clock := event.NewManualClock(t0)
	var got []string
	d := New(Default(), fx.engine, clock, func(a *Alert) {
		if a.State == Opened {
			got = append(got, fmt.Sprintf("%s %s > %s", a.Detector, a.Source.Address, a.Dest.Workload))
		}
	})
	observe := func(e event.Event, wall time.Duration) {
		clock.Set(t0.Add(wall))
		o := Observation{E: &e}
		o.Src, o.SrcRes = fx.table.Resolve(e.Src, e.Time)
		o.Dst, o.DstRes = fx.table.Resolve(e.Dst, e.Time)
		d.Observe([]Observation{o})
	}
	const skew = 4*time.Minute + 50*time.Second
	for p := range 15 {
		at := time.Duration(p) * 10 * time.Second
		for _, fast := range []time.Duration{at, at + 5*time.Second} {
			// web-1 reaching api-1 (allowed), reported by a node whose
			// clock runs ahead.
			observe(ev(fast+skew, "10.244.0.10", "10.244.0.20", 8080, event.TCP, event.Forwarded, event.SYN), fast)
		}
		observe(dropped(ev(at, "198.51.100.9", "10.244.0.30", uint16(1000+p), event.TCP, event.Dropped, event.SYN)), at)
	}
	d.Close()
	if want := "port-scan 198.51.100.9 > shop/Pod/db-0"; strings.Join(got, "\n") != want {
		t.Errorf("alerts\n%s\nwant\n%s", strings.Join(got, "\n"), want)
	}
	if c := d.Stats().Clamped; c != 0 {
		t.Errorf("clamped %d, want 0: the records are within limits.maxSkew", c)
	}
}

// TestSaturationReportedAtEnd: keys the full tables refused after the
// last sweep are reported when the input ends. A capture that filled
// the tables within one sweep interval (5 s of event time: a burst of
// spoofed sources, the whole replay) ended with "no alerts" and exit 0
// while the detectors had dropped what they could not track.
func TestSaturationReportedAtEnd(t *testing.T) {
	fx := loadShop(t)
	cfg := Default()
	cfg.Limits.MaxTracked = 4
	var evs []event.Event
	for i := range 50 {
		evs = append(evs, dropped(ev(time.Duration(i)*time.Millisecond, fmt.Sprintf("198.51.100.%d", i+1), "10.244.0.10", 443, event.TCP, event.Dropped, event.SYN)))
	}
	got, _, d := run(t, fx, cfg, nil, evs)
	if d.Stats().Untracked == 0 {
		t.Fatal("no key refused: the test does not saturate the tables")
	}
	if !slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, SaturatedName) }) {
		t.Errorf("alerts %q, want detector-saturated: %d keys were not tracked", got, d.Stats().Untracked)
	}
}

// TestUnrelatedICMPErrorsAreOpenings: ICMP errors (destination
// unreachable, time exceeded, ICMPv6 types below 128) were never
// openings, whatever they answered: a pod whose policies deny all ICMP
// could send any payload in them (to another pod, to the internet)
// through broken enforcement with no policy-violation, no
// unexpected-egress, not even an unjudged count. A pod is no router:
// an error it sends answers a packet that reached it from the error's
// destination, else it is judged as a flow of its own.
func TestUnrelatedICMPErrorsAreOpenings(t *testing.T) {
	fx := loadShop(t)
	const tool, web, outside = "10.244.1.5", "10.244.0.10", "198.51.100.9"
	icmp := func(at time.Duration, src, dst string, typ uint8) event.Event {
		e := ev(at, src, dst, 0, event.ICMP, event.Forwarded, 0)
		e.ICMPType = typ
		return e
	}
	alertCases(t, fx, []alertCase{
		{"unreachables to a pod that sent nothing", []event.Event{icmp(0, tool, web, 3), icmp(time.Second, tool, web, 11)},
			"policy-violation dev/Pod/tool > shop/Pod/web-1 2"},
		{"unreachables to the internet", []event.Event{icmp(0, tool, outside, 3), icmp(time.Second, tool, outside, 3)},
			"unexpected-egress dev/Pod/tool > 198.51.100.0/24 2"},
		{"an error long after the packet it would answer", []event.Event{
			ev(0, web, tool, 53, event.UDP, event.Forwarded, 0), icmp(10*time.Minute, tool, web, 3),
		}, "policy-violation dev/Pod/tool > shop/Pod/web-1 1"},
		// A pod answers TCP with resets: TCP is not remembered (its
		// volume would fill the table), so an error after it answers
		// nothing.
		{"an error after a TCP connection", []event.Event{
			ev(0, outside, tool, 9999, event.TCP, event.Forwarded, event.SYN), icmp(time.Millisecond, tool, outside, 3),
		}, "unexpected-egress dev/Pod/tool > 198.51.100.0/24 1"},
		{"a dropped error: it got nowhere", []event.Event{func() event.Event {
			e := dropped(icmp(0, tool, web, 3))
			e.Verdict = event.Dropped
			return e
		}()}, ""},
		{"an error answering a dropped packet (it never reached the pod)", []event.Event{
			dropped(ev(0, web, tool, 9999, event.UDP, event.Dropped, 0)), icmp(time.Millisecond, tool, web, 3),
		}, "policy-violation dev/Pod/tool > shop/Pod/web-1 1"},
	})
}

// TestNewPodOutsideIPBlock: a flow from a pod address the manifests do
// not list (a pod known by Hubble's name) was judged as its workload's
// first endpoint, whose known pod IPs an ipBlock may admit: a new pod
// outside that ipBlock reached a pod whose policies deny it, judged
// allowed. It is judged as the endpoint whose pod IPs the ipBlocks treat
// as they treat its address; with none, not judged (counted).
func TestNewPodOutsideIPBlock(t *testing.T) {
	doc := func(web2 string) string {
		return `apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: web:1}]}
---
apiVersion: v1
kind: Pod
metadata: {name: web-5d9c7b-x2x9q, namespace: shop, labels: {app: web}, ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-5d9c7b, uid: a, controller: true}]}
spec: {containers: [{name: web, image: web:1}]}
status: {phase: Running, podIP: 10.244.0.10, startTime: "2026-12-06T06:00:00Z"}
---
apiVersion: v1
kind: Pod
metadata: {name: web-5d9c7b-b7k2m, namespace: shop, labels: {app: web}, ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-5d9c7b, uid: a, controller: true}]}
spec: {containers: [{name: web, image: web:1}]}
status: {phase: Running, podIP: ` + web2 + `, startTime: "2026-12-06T06:00:00Z"}
---
apiVersion: v1
kind: Pod
metadata: {name: db-0, namespace: shop, labels: {app: db}}
spec: {containers: [{name: db, image: db:1}]}
status: {phase: Running, podIP: 10.244.0.30, startTime: "2026-12-06T06:00:00Z"}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Ingress]
  ingress:
  - from: [{ipBlock: {cidr: 10.244.0.0/24}}]
    ports: [{port: 5432}]
`
	}
	for _, tc := range []struct {
		name, web2 string
		endpoints  int
		// outside is the alert a new pod outside the ipBlock raises:
		// none when no known pod of web is outside it (not judged).
		outside       string
		outsideJudged uint64
	}{
		{"one endpoint: every known pod inside the ipBlock", "10.244.0.11", 1, "", 0},
		{"two endpoints: the ipBlock splits the workload", "10.244.1.10", 2, "policy-violation shop/Deployment/web > shop/Pod/db-0 1", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "shop.yaml")
			if err := os.WriteFile(f, []byte(doc(tc.web2)), 0o600); err != nil {
				t.Fatal(err)
			}
			set, err := manifest.Load(manifest.Options{}, f)
			if err != nil {
				t.Fatal(err)
			}
			eng, err := netpol.Compile(set)
			if err != nil {
				t.Fatal(err)
			}
			tab := identity.FromManifests(set, netip.MustParsePrefix("10.244.0.0/16"))
			w := tab.ByPod("shop", "web-5d9c7b-q4z8n") // a pod the dump does not hold
			if w == nil || len(eng.EndpointsOf(w.W)) != tc.endpoints {
				t.Fatalf("web: %v, endpoints %d, want %d", w, len(eng.EndpointsOf(w.W)), tc.endpoints)
			}
			for _, c := range []struct {
				src, want string
				judged    uint64
			}{
				{"10.244.0.77", "", 1}, // inside the ipBlock: allowed
				{"10.244.2.77", tc.outside, tc.outsideJudged},
			} {
				e := ev(0, c.src, "10.244.0.30", 5432, event.TCP, event.Forwarded, event.SYN)
				var got []string
				d := New(Default(), eng, nil, func(a *Alert) {
					if a.State == Closed {
						got = append(got, fmt.Sprintf("%s %s > %s %d", a.Detector, a.Source.Workload, a.Dest.Workload, a.Count))
					}
				})
				o := Observation{E: &e, Src: w, SrcRes: identity.Resolved}
				o.Dst, o.DstRes = tab.Resolve(e.Dst, e.Time)
				d.Observe([]Observation{o})
				d.Close()
				if st := d.Stats(); strings.Join(got, "\n") != c.want || st.Judged != c.judged || st.Judged+st.Unjudged != 1 {
					t.Errorf("%s: alerts %q, judged %d, unjudged %d; want %q, judged %d", c.src, got, st.Judged, st.Unjudged, c.want, c.judged)
				}
			}
		})
	}
}
