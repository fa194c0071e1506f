package event

import (
	"encoding/json"
	"net/netip"
	"testing"
	"time"
	"unsafe"
)

func TestFailed(t *testing.T) {
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	for _, tc := range []struct {
		name string
		e    Event
		want bool
	}{
		{"dropped", Event{Src: a, Dst: b, Proto: TCP, Flags: SYN, Verdict: Dropped}, true},
		{"forwarded SYN", Event{Src: a, Dst: b, Proto: TCP, Flags: SYN, Verdict: Forwarded}, false},
		{"refused: RST|ACK reply", Event{Src: b, Dst: a, Proto: TCP, Flags: RST | ACK, Reply: true, Verdict: Forwarded}, true},
		{"RST from the client is no refusal", Event{Src: a, Dst: b, Proto: TCP, Flags: RST | ACK, Verdict: Forwarded}, false},
		{"connection ended unanswered", Event{Kind: ConnEnd, Packets: 3, Proto: TCP}, true},
		{"connection ended answered", Event{Kind: ConnEnd, Packets: 3, ReplyPackets: 2, Proto: TCP}, false},
		{"error verdict", Event{Verdict: Error}, true},
	} {
		if got := tc.e.Failed(); got != tc.want {
			t.Errorf("%s: Failed() = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestEnums(t *testing.T) {
	for _, s := range []string{"FORWARDED", "DROPPED", "ERROR", "AUDIT", "REDIRECTED", "TRACED", "TRANSLATED"} {
		v, ok := ParseVerdict(s)
		if !ok || v.String() != s {
			t.Errorf("ParseVerdict(%q) = %v, %v", s, v, ok)
		}
	}
	if _, ok := ParseVerdict("forwarded"); ok {
		t.Error("verdicts are upper case in Hubble's export")
	}
	if f, ok := FlagByName("SYN"); !ok || f != SYN {
		t.Errorf("FlagByName(SYN) = %v %v", f, ok)
	}
	if got := (SYN | ACK).String(); got != "SYN|ACK" {
		t.Errorf("flags = %q", got)
	}
	if !SYN.IsSYN() || (SYN | ACK).IsSYN() {
		t.Error("IsSYN: SYN alone opens a connection")
	}
	if got := Verdict(200).String(); got != "invalid-200" {
		t.Errorf("out-of-range verdict renders %q", got)
	}
	if got := Proto(99).String(); got != "proto-99" {
		t.Errorf("proto 99 = %q", got)
	}
}

func TestInterner(t *testing.T) {
	in := NewInterner(2, 8)
	a := in.Intern([]byte("default"))
	b := in.Intern([]byte("default"))
	if unsafe.StringData(a) != unsafe.StringData(b) {
		t.Error("equal values not shared")
	}
	if in.Intern([]byte("a-very-long-namespace")) != "a-very-long-namespace" || in.Len() != 1 {
		t.Errorf("too long a value must be returned, not kept (len %d)", in.Len())
	}
	in.Intern([]byte("shop"))
	in.Intern([]byte("third"))
	if in.Len() != 2 {
		t.Errorf("held %d strings, limit 2", in.Len())
	}
	if got := testing.AllocsPerRun(100, func() { in.Intern([]byte("shop")) }); got != 0 {
		t.Errorf("a known value allocates %v times", got)
	}
}

func TestMarshalJSON(t *testing.T) {
	e := Event{
		Time: Nanos(time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)), ID: 0xabc,
		Origin: OriginHubble, Verdict: Dropped, Proto: TCP, Flags: SYN,
		Src: netip.MustParseAddr("10.0.0.1"), SrcPort: 40000,
		Dst: netip.MustParseAddr("fd00::2"), DstPort: 80,
		SrcNamespace: "shop", SrcName: "web", Reason: "POLICY_DENIED",
	}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"time":"2026-01-02T03:04:05.000000006Z","id":"0000000000000abc","origin":"hubble","kind":"flow","verdict":"DROPPED","proto":"TCP","src":"10.0.0.1:40000","dst":"[fd00::2]:80","flags":"SYN","srcPod":"shop/web","reason":"POLICY_DENIED"}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
}

func TestIDStable(t *testing.T) {
	// Fixed value: IDs must agree across processes and machines.
	if got := ID(OriginHubble, []byte("uuid-1")); got != ID(OriginHubble, []byte("uuid-1")) || got == ID(OriginProxy, []byte("uuid-1")) {
		t.Error("ID must depend on origin and input only")
	}
}

func TestManualClock(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := NewManualClock(t0)
	c.Advance(5 * time.Second)
	if !c.Now().Equal(t0.Add(5 * time.Second)) {
		t.Errorf("Now = %v", c.Now())
	}
}

// TestForgedSource: only the sources that drop for a forged source say
// so. A record of another source whose reason read INVALID_SOURCE_IP
// (a proxy's outcome, a line of any other log) was taken for a forgery:
// its source named by no detector.
func TestForgedSource(t *testing.T) {
	for _, tc := range []struct {
		name string
		e    Event
		want bool
	}{
		{"ward fw's anti-spoofing", Event{Origin: OriginNFLog, Verdict: Dropped, Rule: RuleSpoof}, true},
		{"Cilium's INVALID_SOURCE_IP", Event{Origin: OriginHubble, Verdict: Dropped, Reason: ReasonInvalidSourceIP}, true},
		{"a proxy's deny with that outcome", Event{Origin: OriginProxy, Kind: Request, Verdict: Dropped, Reason: ReasonInvalidSourceIP}, false},
		{"conntrack", Event{Origin: OriginConntrack, Verdict: Dropped, Reason: ReasonInvalidSourceIP}, false},
		{"a policy drop", Event{Origin: OriginNFLog, Verdict: Dropped, Rule: "ingress c3"}, false},
		{"forwarded", Event{Origin: OriginHubble, Verdict: Forwarded, Reason: ReasonInvalidSourceIP}, false},
	} {
		if got := tc.e.ForgedSource(); got != tc.want {
			t.Errorf("%s: ForgedSource() = %v, want %v", tc.name, got, tc.want)
		}
	}
}
