package source

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wardsec/ward/watch/event"
)

// genHubbleDNS makes n Hubble records of Cilium's DNS proxy: requests
// and responses for cluster and external names in mixed case, some
// long, with the fields Cilium adds that Ward skips.
func genHubbleDNS(r *rand.Rand, n int) [][]byte {
	names := []string{"api.shop.svc.cluster.local.", "db.shop.svc.cluster.local.", "Example.COM.", "www.google.com.",
		"s3.eu-west-1.amazonaws.com.", "api.stripe.com", ".", "a\\u00e9b.example.org.",
		"aGVsbG8gd29ybGQgdGhpcyBpcyBhIHR1bm5lbA.c2VjcmV0LWRhdGEtZXhmaWx0cmF0ZWQtb3Zlci1kbnM.t.evil.example."}
	qtypes := []string{`["A"]`, `["AAAA"]`, `["TXT"]`, `["AXFR"]`, `["A","IXFR"]`, `[]`, `["TYPE65280"]`, `["BOGUS"]`, `null`}
	out := make([][]byte, 0, n)
	for i := range n {
		var b strings.Builder
		t := fmt.Sprintf("2026-12-06T07:%02d:%02d.%09dZ", (i/60)%60, i%60, r.IntN(1e9))
		typ := []string{"REQUEST", "RESPONSE", "SAMPLE", "UNKNOWN_L7_TYPE"}[r.IntN(4)]
		fmt.Fprintf(&b, `{"flow":{"time":%q,"uuid":"%08x-0d1c-4b7e-9a51-%012x","verdict":"FORWARDED",`, t, r.Uint32(), r.Uint64()&0xffffffffffff)
		fmt.Fprintf(&b, `"IP":{"source":"10.244.%d.%d","destination":"10.96.0.10","ipVersion":"IPv4"},`, r.IntN(4), 1+r.IntN(250))
		fmt.Fprintf(&b, `"l4":{"UDP":{"source_port":%d,"destination_port":53}},"Type":"L7",`, 1024+r.IntN(60000))
		fmt.Fprintf(&b, `"l7":{"type":%q,"latency_ns":"%d","dns":{"query":"%s","qtypes":%s`, typ, r.IntN(1e7), names[r.IntN(len(names))], qtypes[r.IntN(len(qtypes))])
		if r.IntN(2) == 0 {
			fmt.Fprintf(&b, `,"rcode":%d`, r.IntN(6))
		}
		b.WriteString(`,"ips":["10.96.12.3","fd00::3"],"ttl":30,"cnames":["a.example."],"observation_source":"proxy","rrtypes":["A"]}},`)
		fmt.Fprintf(&b, `"is_reply":%v},"node_name":"kind-kind/kind-worker","time":%q}`, typ == "RESPONSE", t)
		out = append(out, []byte(b.String()))
	}
	return out
}

// TestHubbleDNS pins what Cilium's DNS records decode to, by both
// decoders.
func TestHubbleDNS(t *testing.T) {
	lines := readLines(t, "testdata/hubble-dns.jsonl")
	for _, dec := range []Decoder{NewHubble(), HubbleReference{}} {
		var got []string
		for _, line := range lines {
			var e event.Event
			_, _, err := dec.Decode(line, &e)
			switch {
			case err != nil:
				got = append(got, "error: "+err.Error())
			case e.DNS == nil:
				got = append(got, fmt.Sprintf("%s > %s no DNS", e.Src, e.Dst))
			default:
				d := e.DNS
				got = append(got, fmt.Sprintf("%s > %s %s %q qtype=%s rcode=%d response=%v", e.Src, e.Dst, e.Proto, d.Query, d.QType, d.Rcode, d.Response))
			}
		}
		want := []string{
			`10.244.1.60 > 10.96.0.10 UDP "api.shop.svc.cluster.local" qtype=A rcode=-1 response=false`,
			`10.96.0.10 > 10.244.1.60 UDP "api.shop.svc.cluster.local" qtype=A rcode=0 response=true`,
			`10.96.0.10 > 10.244.1.60 UDP "nosuch.example.com" qtype=AAAA rcode=3 response=true`,
			`10.244.1.61 > 10.96.0.10 TCP "cluster.local" qtype=AXFR rcode=-1 response=false`,
			`10.244.1.61 > 10.96.0.10 UDP "x.example.com" qtype=IXFR rcode=-1 response=false`,
			`10.244.1.61 > 10.96.0.10 UDP "ab.example.com" qtype=TYPE65280 rcode=-1 response=false`,
			`10.244.1.61 > 10.96.0.10 no DNS`,
			`10.244.1.61 > 10.244.2.9 no DNS`,
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("%T (-want +got):\n%s", dec, d)
		}
	}
}

// TestHubbleDNSDifferential: both decoders agree, DNS included, on the
// committed and generated DNS records.
func TestHubbleDNSDifferential(t *testing.T) {
	lines := append(readLines(t, "testdata/hubble-dns.jsonl"), genHubbleDNS(rand.New(rand.NewPCG(3, 4)), 3000)...)
	fast := NewHubble()
	withDNS := 0
	for i, line := range lines {
		var a, b event.Event
		emitA, _, errA := fast.Decode(line, &a)
		emitB, _, errB := HubbleReference{}.Decode(line, &b)
		if (errA != nil) != (errB != nil) || emitA != emitB {
			t.Fatalf("line %d: fast %v %v, reference %v %v\n%s", i+1, emitA, errA, emitB, errB, line)
		}
		if errA != nil {
			continue
		}
		if d := cmp.Diff(b, a, eventCmp); d != "" {
			t.Fatalf("line %d: fast vs reference (-ref +fast):\n%s\n%s", i+1, d, line)
		}
		if a.DNS != nil {
			withDNS++
		}
	}
	if withDNS < 2900 {
		t.Fatalf("only %d DNS records compared", withDNS)
	}
}

// eventCmp compares events by value, their DNS records by content.
var eventCmp = cmp.Comparer(func(x, y event.Event) bool {
	dx, dy := x.DNS, y.DNS
	x.DNS, y.DNS = nil, nil
	if x != y || (dx == nil) != (dy == nil) {
		return false
	}
	return dx == nil || *dx == *dy
})

// TestHubbleDNSBad: hostile DNS records are errors at their line, and
// what they can make the decoder allocate is bounded.
func TestHubbleDNSBad(t *testing.T) {
	ok := `{"flow":{"time":"2026-12-06T07:00:00Z","verdict":"FORWARDED","IP":{"source":"10.0.0.1","destination":"10.0.0.2"},"l4":{"UDP":{"source_port":1,"destination_port":53}},"l7":{"type":"RESPONSE","dns":{"query":"a.example.","rcode":3,"qtypes":["A"]}}}}`
	long := strings.Repeat("a", MaxQuery+1)
	for _, tc := range []struct{ name, line, want string }{
		{"query name too long", strings.Replace(ok, "a.example.", long, 1), "longer than 1024"},
		{"unknown l7 type", strings.Replace(ok, "RESPONSE", "ANSWER", 1), "unknown l7 type"},
		{"rcode beyond 12 bits", strings.Replace(ok, `"rcode":3`, `"rcode":4096`, 1), "rcode 4096 out of range"},
		{"rcode beyond uint32", strings.Replace(ok, `"rcode":3`, `"rcode":4294967296`, 1), ""},
		{"negative rcode", strings.Replace(ok, `"rcode":3`, `"rcode":-3`, 1), ""},
		{"query not a string", strings.Replace(ok, `"a.example."`, `7`, 1), ""},
		{"qtypes not a list", strings.Replace(ok, `["A"]`, `"A"`, 1), ""},
		{"qtype not a string", strings.Replace(ok, `["A"]`, `[1]`, 1), ""},
		{"qtypes unterminated", strings.Replace(ok, `["A"]`, `["A"`, 1), ""},
		{"dns not an object", strings.Replace(ok, `{"query":"a.example.","rcode":3,"qtypes":["A"]}`, `[]`, 1), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var e event.Event
			emit, _, err := NewHubble().Decode([]byte(tc.line), &e)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one saying %q", err, tc.want)
			}
			if emit || e.DNS != nil {
				t.Error("a bad line gave an event or a DNS record")
			}
			if _, _, rerr := (HubbleReference{}).Decode([]byte(tc.line), &event.Event{}); rerr == nil {
				t.Errorf("the reference accepts it")
			}
		})
	}
	// A record as long as a line may be, most of it qtypes: one DNS
	// record and one name, whatever the line holds.
	many := []byte(strings.Replace(ok, `["A"]`, "["+strings.Repeat(`"AXFR",`, 30000)+`"A"]`, 1))
	h := NewHubble()
	var e event.Event
	allocs := testing.AllocsPerRun(20, func() {
		e = event.Event{}
		if _, _, err := h.Decode(many, &e); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 2 || e.DNS == nil || e.DNS.QType != event.TypeAXFR {
		t.Errorf("%v allocations for a DNS record with 30,000 qtypes (want at most 2: the record and its name); %+v", allocs, e.DNS)
	}
}

// TestHubbleNoAllocsNonDNSL7: a flow with an l7 record that is not DNS
// (HTTP) allocates nothing either.
func TestHubbleNoAllocsNonDNSL7(t *testing.T) {
	lines := readLines(t, "testdata/hubble-dns.jsonl")
	line := lines[len(lines)-1]
	h := NewHubble()
	var e event.Event
	allocs := testing.AllocsPerRun(100, func() {
		e = event.Event{}
		if _, _, err := h.Decode(line, &e); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations, want 0", allocs)
	}
}
