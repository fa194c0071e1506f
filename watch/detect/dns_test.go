package detect

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/google/go-cmp/cmp"

	"github.com/wardsec/ward/watch/event"
	"github.com/wardsec/ward/watch/identity"
)

// query is a resolver's record of a query (as the CoreDNS source makes
// it: no destination address).
func query(at time.Duration, src, name string, qt event.QType) event.Event {
	return event.Event{Time: t0.Add(at).UnixNano(), Origin: event.OriginCoreDNS, Kind: event.Request, Verdict: event.Forwarded,
		Src: netip.MustParseAddr(src), SrcPort: 40000, Proto: event.UDP,
		DNS: &event.DNS{Query: name, QType: qt, Rcode: 0, Size: 100}}
}

// names are n distinct names under domain, one every step from at.
func names(at, step time.Duration, src, domain string, n int) []event.Event {
	var evs []event.Event
	for i := range n {
		evs = append(evs, query(at+time.Duration(i)*step, src, fmt.Sprintf("x%d.%s", i, domain), event.TypeA))
	}
	return evs
}

func TestDNSTunnel(t *testing.T) {
	fx := loadShop(t)
	const tool, web = "10.244.1.5", "10.244.0.10"
	label := func(n int) string { return strings.Repeat("a", n-len(".evil.example")) + ".evil.example" }
	cluster := names(0, time.Second, tool, "shop.svc.cluster.local", 30)
	cluster = append(cluster, query(0, tool, label(200)+".shop.svc.cluster.local", event.TypeA))
	cluster = append(cluster, names(0, time.Second, tool, "evil.example.shop.svc.cluster.local", 20)...) // search-path expansions
	for _, tc := range []struct {
		name string
		cfg  func(*Config)
		evs  []event.Event
		want []string
	}{
		{"8 distinct names: below", nil, names(0, time.Second, tool, "evil.example", 8), nil},
		{"9 distinct names: a tunnel", nil, names(0, time.Second, tool, "evil.example", 9),
			[]string{"dns-tunnel dev/Pod/tool > evil.example 9"}},
		{"20 distinct names: one incident, every name counted", nil, names(0, time.Second, tool, "evil.example", 20),
			[]string{"dns-tunnel dev/Pod/tool > evil.example 20"}},
		{"the same 8 names again and again", nil, append(names(0, time.Second, tool, "evil.example", 8), names(time.Minute, time.Second, tool, "evil.example", 8)...), nil},
		{"registered domain: under a public suffix", nil, names(0, time.Second, tool, "t.evil.co.uk", 9),
			[]string{"dns-tunnel dev/Pod/tool > evil.co.uk 9"}},
		{"names in any case are one name", nil, append(names(0, time.Second, tool, "evil.example", 8), query(time.Minute, tool, "X0.EVIL.example", event.TypeA)), nil},
		{"9 names from two clients: below for each", nil, append(names(0, time.Second, tool, "evil.example", 5), names(0, time.Second, web, "evil.example", 4)...), nil},
		{"9 names within the window, sliding (one every 7 minutes)", nil, names(0, 7*time.Minute, tool, "evil.example", 9),
			[]string{"dns-tunnel dev/Pod/tool > evil.example 9"}},
		{"9 names over more than the window", nil, names(0, 8*time.Minute, tool, "evil.example", 9), nil},
		{"90 characters: below", nil, []event.Event{query(0, tool, label(90), event.TypeTXT)}, nil},
		{"91 characters: a tunnel", nil, []event.Event{query(0, tool, label(91), event.TypeTXT)},
			[]string{"dns-tunnel dev/Pod/tool > evil.example 1"}},
		{"cluster names and search-path expansions are exempt", nil, cluster, nil},
		{"another cluster domain (51 names, one long)", func(c *Config) { c.DNSTunnel.ClusterDomain = "corp.internal" }, cluster,
			[]string{"dns-tunnel dev/Pod/tool > cluster.local 52"}},
		{"an exempt domain", func(c *Config) { c.DNSTunnel.Exempt = []string{"amazonaws.com"} },
			append(names(0, time.Second, tool, "s3.amazonaws.com", 20), query(0, tool, label(120)+".amazonaws.com", event.TypeA)), nil},
		{"reverse lookups are exempt by default", nil, func() []event.Event {
			var evs []event.Event
			for i := range 20 {
				evs = append(evs, query(time.Duration(i)*time.Second, tool, fmt.Sprintf("%d.0.244.10.in-addr.arpa", i), event.TypePTR),
					query(time.Duration(i)*time.Second, tool, fmt.Sprintf("%x.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa", i%16), event.TypePTR))
			}
			return append(evs, query(time.Minute, tool, "10.in-addr.arpa", event.TypeSOA), query(time.Minute, tool, "in-addr.arpa", event.TypeNS))
		}(), nil},
		// A reverse zone delegated to the tunnel's author (any owner of
		// an address block can have its reverse zone delegated): labels
		// of data under it name no address, and were exempt.
		{"data under a reverse zone: a tunnel", nil, names(0, time.Second, tool, "113.0.203.in-addr.arpa", 9),
			[]string{"dns-tunnel dev/Pod/tool > 203.in-addr.arpa 9"}},
		{"data under an IPv6 reverse zone: a tunnel", nil, append(names(0, time.Second, tool, "8.b.d.0.1.0.0.2.ip6.arpa", 8),
			query(0, tool, strings.Repeat("6d", 23)+"."+strings.Repeat("6e", 23)+".8.b.d.0.1.0.0.2.ip6.arpa", event.TypeTXT)),
			[]string{"dns-tunnel dev/Pod/tool > 2.ip6.arpa 10"}}, // 9 names, one of them long
		{"octets out of range under a reverse zone: a tunnel", nil, func() []event.Event {
			var evs []event.Event
			for i := range 9 {
				evs = append(evs, query(time.Duration(i)*time.Second, tool, fmt.Sprintf("%d.113.0.203.in-addr.arpa", 300+i), event.TypePTR))
			}
			return evs
		}(), []string{"dns-tunnel dev/Pod/tool > 203.in-addr.arpa 9"}},
		{"responses repeat queries: not counted", nil, func() []event.Event {
			evs := names(0, time.Second, tool, "evil.example", 9)
			for i := range evs {
				d := *evs[i].DNS
				d.Response = true
				evs[i].DNS = &d
			}
			return evs
		}(), nil},
		{"disabled", func(c *Config) { c.DNSTunnel.Enabled = false }, append(names(0, time.Second, tool, "evil.example", 20), query(0, tool, label(120), event.TypeA)), nil},
		{"empty labels do not make each name a domain", nil, func() []event.Event {
			var evs []event.Event
			for i := range 9 {
				evs = append(evs, query(time.Duration(i)*time.Second, tool, fmt.Sprintf("x%d..evil.example", i), event.TypeA))
			}
			return evs
		}(), []string{"dns-tunnel dev/Pod/tool > evil.example 9"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Default()
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			got, _, _ := run(t, fx, cfg, nil, tc.evs)
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestDNSZoneTransfer(t *testing.T) {
	fx := loadShop(t)
	const tool = "10.244.1.5"
	for _, tc := range []struct {
		name string
		cfg  func(*Config)
		evs  []event.Event
		want []string
	}{
		{"AXFR of the cluster domain", nil, []event.Event{query(0, tool, "cluster.local", event.TypeAXFR)},
			[]string{"dns-zone-transfer dev/Pod/tool > cluster.local 1"}},
		{"IXFR", nil, []event.Event{query(0, tool, "example.com", event.TypeIXFR), query(time.Second, tool, "example.com", event.TypeIXFR)},
			[]string{"dns-zone-transfer dev/Pod/tool > example.com 2"}},
		{"an A query", nil, []event.Event{query(0, tool, "cluster.local", event.TypeA), query(0, tool, "example.com", event.TypeSOA)}, nil},
		{"the answer to an AXFR is not a second one", nil, func() []event.Event {
			q := query(0, tool, "cluster.local", event.TypeAXFR)
			r := q
			r.DNS = &event.DNS{Query: "cluster.local", QType: event.TypeAXFR, Rcode: 5, Response: true}
			return []event.Event{q, r}
		}(), []string{"dns-zone-transfer dev/Pod/tool > cluster.local 1"}},
		{"disabled", func(c *Config) { c.DNSZoneTransfer.Enabled = false }, []event.Event{query(0, tool, "cluster.local", event.TypeAXFR)}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Default()
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			got, _, _ := run(t, fx, cfg, nil, tc.evs)
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

// TestDNSHubbleFlows: DNS records on Hubble flows (with a destination)
// are judged the same, and their flows still by the other detectors.
func TestDNSHubbleFlows(t *testing.T) {
	fx := loadShop(t)
	var evs []event.Event
	for i, e := range names(0, time.Second, "10.244.1.5", "evil.example", 9) {
		e.Origin, e.Kind = event.OriginHubble, event.Flow
		e.Dst, e.DstPort, e.SrcPort = netip.MustParseAddr("10.99.0.10"), 53, uint16(40000+i) // #nosec G115 -- small
		evs = append(evs, e)
	}
	got, reports, _ := run(t, fx, Default(), nil, evs)
	if !slices.Contains(got, "dns-tunnel dev/Pod/tool > evil.example 9") {
		t.Errorf("alerts %v, want dns-tunnel", got)
	}
	for _, rs := range reports {
		a := rs[0]
		if a.Detector != TunnelName {
			continue
		}
		if a.Severity != High || a.Source.Address != "10.244.1.5" || a.Dest.Identity != "domain" || len(a.Samples) == 0 || !strings.Contains(a.Summary, "9 distinct names under evil.example within 1h0m0s") {
			t.Errorf("report %+v", a)
		}
	}
}

// TestDNSTunnelBounded: the clients and domains tracked are bounded by
// limits.maxTracked; more is reported as saturation, never memory.
func TestDNSTunnelBounded(t *testing.T) {
	fx := loadShop(t)
	cfg := Default()
	cfg.Limits.MaxTracked = 4
	var evs []event.Event
	for i := range 50 {
		evs = append(evs, query(time.Duration(i)*time.Millisecond, "10.244.1.5", fmt.Sprintf("a.d%d.example", i), event.TypeA))
	}
	// Well after, so that a sweep reports the refused keys.
	evs = append(evs, query(10*time.Second, "10.244.1.5", "a.d0.example", event.TypeA))
	got, _, d := run(t, fx, cfg, nil, evs)
	if st := d.Stats(); st.Untracked != 46 || d.dnsNames.len() > 4 {
		t.Errorf("untracked %d, tracked %d", st.Untracked, d.dnsNames.len())
	}
	if !slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, SaturatedName) }) {
		t.Errorf("alerts %v, want detector-saturated", got)
	}
}

func TestDNSConfig(t *testing.T) {
	c, err := ParseConfig("w.yaml", []byte("dnsTunnel:\n  clusterDomain: Cluster.Local.\n  exempt: [AmazonAWS.com., akamaiedge.net]\n  distinctNames: 12\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.DNSTunnel.ClusterDomain != "cluster.local" || !slices.Equal(c.DNSTunnel.Exempt, []string{"amazonaws.com", "akamaiedge.net"}) ||
		c.DNSTunnel.DistinctNames != 12 || c.DNSTunnel.MaxName != 90 || c.DNSTunnel.Window != time.Hour || !c.DNSZoneTransfer.Enabled {
		t.Errorf("%+v %+v", c.DNSTunnel, c.DNSZoneTransfer)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"dnsTunnel:\n  exempt: [\"*.amazonaws.com\"]\n", "w.yaml:2: dnsTunnel.exempt: \"*.amazonaws.com\" is not a domain name"},
		{"dnsTunnel:\n  distinctNames: 0\n", "w.yaml:2: dnsTunnel.distinctNames: must be at least 1"},
		{"dnsTunnel:\n  maxName: -1\n", "w.yaml:2: dnsTunnel.maxName: must be at least 1"},
		{"dnsTunnel:\n  window: 0s\n", "w.yaml:2: dnsTunnel.window: must be a positive duration"},
		{"dnsZoneTransfer: {enabled: true, level: 3}\n", "w.yaml:1"},
	} {
		if _, err := ParseConfig("w.yaml", []byte(tc.yaml)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.yaml, err, tc.want)
		}
	}
}

// TestDNSNameEscaped: a DNS label may hold any byte. A query name with a
// line break and a terminal escape sequence forged a second alert line
// in -o text and could rewrite the operator's screen; summaries escape
// every byte that is not printable ASCII, and backslashes, so that the
// name reads back unambiguously.
func TestDNSNameEscaped(t *testing.T) {
	fx := loadShop(t)
	evil := "x\n2026-12-06T07:00:00Z critical policy-violation \x1b[2J\\x0a." + strings.Repeat("a", 80) + ".evil.example"
	_, reports, _ := run(t, fx, Default(), event.NewManualClock(t0.Add(time.Hour)), []event.Event{query(0, "10.244.1.5", evil, event.TypeTXT)})
	n := 0
	for _, rs := range reports {
		for _, a := range rs {
			n++
			if strings.ContainsFunc(a.Summary, func(r rune) bool { return r < 0x20 || r >= 0x7f }) {
				t.Errorf("summary holds a control or non-ASCII character: %q", a.Summary)
			}
		}
	}
	if n == 0 {
		t.Fatal("no alert for a 170-character name")
	}
	for _, tc := range []struct{ in, printable, line string }{
		{"a.b", "a.b", "a.b"},
		{"a\nb\x1b[2J\\x", `a\x0ab\x1b[2J\x5cx`, `a\x0ab\x1b[2J\x`},
		{"é\u2028", `\xc3\xa9\xe2\x80\xa8`, `\xc3\xa9\xe2\x80\xa8`},
	} {
		if got := Printable(tc.in); got != tc.printable {
			t.Errorf("Printable(%q) = %q, want %q", tc.in, got, tc.printable)
		}
		if got := SafeLine(tc.in); got != tc.line {
			t.Errorf("SafeLine(%q) = %q, want %q", tc.in, got, tc.line)
		}
	}
}

// TestPodKeyUnforgeable: a pod is counted by a key in 100::/64 hashed
// from its name. Unseeded, the key was any sender's to compute: queries
// from that address (100::/64 is discard-only, not unroutable to a
// resolver) were counted as web-1's, and web-1's one query made it the
// tunnel.
func TestPodKeyUnforgeable(t *testing.T) {
	fx := loadShop(t)
	const web = "10.244.0.10"
	w, r := fx.table.Resolve(netip.MustParseAddr(web), t0.UnixNano())
	if r != identity.Resolved || w.Pod == "" {
		t.Fatalf("%s resolves to %+v (%v), want a pod", web, w, r)
	}
	var d xxhash.Digest // the key as anyone could compute it
	d.Reset()
	_, _ = d.WriteString(w.ID() + "\x00" + w.Pod)
	var k [16]byte
	k[0] = 0x01
	binary.BigEndian.PutUint64(k[8:], d.Sum64())
	forger := netip.AddrFrom16(k).String()
	evs := append(names(0, time.Second, forger, "evil.example", 8), query(time.Minute, web, "x8.evil.example", event.TypeA))
	if got, _, _ := run(t, fx, Default(), event.NewManualClock(t0.Add(time.Hour)), evs); len(got) != 0 {
		t.Errorf("alerts\n%s\nwant none: 8 names from %s, 1 from web-1", strings.Join(got, "\n"), forger)
	}
}
