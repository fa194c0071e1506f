package source

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/wardsec/ward/watch/event"
)

func readLines(t testing.TB, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		out = append(out, bytes.Clone(sc.Bytes()))
	}
	return out
}

// TestHubbleDifferential: the fast decoder and encoding/json (through
// HubbleRecord) agree on every committed and generated line.
func TestHubbleDifferential(t *testing.T) {
	lines := readLines(t, "testdata/hubble.jsonl")
	lines = append(lines, readLines(t, "testdata/bench.jsonl")...)
	lines = append(lines, genHubble(rand.New(rand.NewPCG(1, 2)), 2000)...)
	fast := NewHubble()
	flows := 0
	for i, line := range lines {
		var a, b event.Event
		emitA, lostA, errA := fast.Decode(line, &a)
		emitB, lostB, errB := HubbleReference{}.Decode(line, &b)
		if (errA != nil) != (errB != nil) {
			t.Fatalf("line %d: fast err %v, reference err %v\n%s", i+1, errA, errB, line)
		}
		if errA != nil {
			continue
		}
		if emitA != emitB || lostA != lostB {
			t.Fatalf("line %d: emit/lost %v/%d vs %v/%d", i+1, emitA, lostA, emitB, lostB)
		}
		if d := cmp.Diff(b, a, eventCmp); emitA && d != "" {
			t.Fatalf("line %d: fast vs reference (-ref +fast):\n%+v\n%+v\n%s", i+1, b, a, line)
		}
		if emitA {
			flows++
		}
	}
	if flows < 2000 {
		t.Fatalf("only %d flows compared", flows)
	}
}

// TestHubbleFields pins what the committed example lines decode to.
func TestHubbleFields(t *testing.T) {
	lines := readLines(t, "testdata/hubble.jsonl")
	h := NewHubble()
	var got []string
	for _, line := range lines {
		var e event.Event
		emit, lost, err := h.Decode(line, &e)
		switch {
		case err != nil:
			got = append(got, "error: "+err.Error())
		case !emit:
			got = append(got, fmt.Sprintf("no event, lost %d", lost))
		default:
			got = append(got, fmt.Sprintf("%s %s %s %s:%d > %s:%d %s icmp=%d/%d reply=%v %s/%s > %s/%s node=%q reason=%q dir=%s",
				e.When().Format("15:04:05.000000000"), e.Verdict, e.Proto, e.Src, e.SrcPort, e.Dst, e.DstPort, e.Flags, e.ICMPType, e.ICMPCode,
				e.Reply, e.SrcNamespace, e.SrcName, e.DstNamespace, e.DstName, e.Node, e.Reason, e.Direction))
		}
	}
	want := []string{
		`12:12:18.510175415 DROPPED TCP 10.244.1.60:44916 > 10.244.1.5:80 SYN icmp=0/0 reply=false default/xwing > default/deathstar-7848d6c4d5-th9v2 node="kind-kind/kind-worker" reason="POLICY_DENIED" dir=unknown`,
		`12:12:19.000000000 FORWARDED TCP 10.244.1.5:80 > 10.244.1.60:44916 RST|ACK icmp=0/0 reply=true default/deathstar-7848d6c4d5-th9v2 > / node="kind-kind/kind-worker" reason="" dir=ingress`,
		`10:12:20.500000000 FORWARDED UDP 10.244.1.60:53211 > 10.96.0.10:53  icmp=0/0 reply=false shop/web-1 > / node="" reason="" dir=egress`,
		`12:12:21.000000001 FORWARDED ICMPv6 fd00::1:0 > fd00::2:0  icmp=128/0 reply=false shop/web-é"q\ > / node="" reason="" dir=unknown`,
		`12:12:22.000000000 ERROR ICMP 10.0.0.9:0 > 10.0.0.10:0  icmp=8/0 reply=false / > / node="" reason="CT_NO_MAP_FOUND" dir=unknown`,
		`no event, lost 0`,
		`no event, lost 42`,
		`12:12:25.000000000 AUDIT SCTP 192.168.1.7:1000 > 203.0.113.9:2000  icmp=0/0 reply=false / > / node="" reason="" dir=unknown`,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Error(d)
	}
}

// TestHubbleBad: odd and hostile lines are errors, never events or
// panics, and the fast decoder agrees with encoding/json that they are.
func TestHubbleBad(t *testing.T) {
	ok := `{"flow":{"time":"2023-08-21T12:12:18Z","verdict":"FORWARDED","IP":{"source":"10.0.0.1","destination":"10.0.0.2"},"l4":{"TCP":{"source_port":1,"destination_port":2}}}}`
	for _, tc := range []struct{ name, line, want string }{
		{"truncated", ok[:len(ok)/2], "truncated"},
		{"truncated in a string", ok[:20], "unterminated string"},
		{"text after", ok + `x`, "text after the record"},
		{"two records", ok + ok, "text after the record"},
		{"bad address", strings.Replace(ok, "10.0.0.1", "10.0.0.300", 1), "bad address"},
		{"address with port", strings.Replace(ok, `"10.0.0.1"`, `"10.0.0.1:80"`, 1), "bad address"},
		{"no IP", strings.Replace(ok, `"IP"`, `"IQ"`, 1), "without IP"},
		{"no time", strings.Replace(ok, `"time"`, `"tyme"`, 1), "without a time"},
		{"bad time", strings.Replace(ok, "12:12:18Z", "25:12:18Z", 1), "bad time"},
		// Unix nanoseconds end in 2262: such a time wrapped to another.
		{"time after 2262", strings.Replace(ok, "2023-08-21T12:12:18Z", "9999-12-31T23:59:59Z", 1), "out of range"},
		{"time before 1678", strings.Replace(ok, "2023-08-21T12:12:18Z", "1000-01-01T00:00:00Z", 1), "out of range"},
		{"time after 2262, with an offset", strings.Replace(ok, "2023-08-21T12:12:18Z", "2300-01-01T00:00:00+01:00", 1), "out of range"},
		{"unknown verdict", strings.Replace(ok, "FORWARDED", "ALLOWED", 1), "unknown verdict"},
		{"port out of range", strings.Replace(ok, `"destination_port":2`, `"destination_port":70000`, 1), "out of range"},
		{"negative port", strings.Replace(ok, `"destination_port":2`, `"destination_port":-2`, 1), "unsigned"},
		{"fractional port", strings.Replace(ok, `"destination_port":2`, `"destination_port":2.5`, 1), "unsigned"},
		{"flow not an object", `{"flow":[1,2]}`, "want"},
		{"deep nesting", `{"x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, "nested deeper"},
		{"bad escape", strings.Replace(ok, `"verdict"`, `"verd\qict"`, 1), "bad escape"},
		{"control character", strings.Replace(ok, "FORWARDED", "FORW\x01ARDED", 1), "control character"},
		{"not JSON", `hello`, "want"},
		{"unknown flag", strings.Replace(ok, `"destination_port":2`, `"destination_port":2,"flags":{"XMAS":true}`, 1), "unknown TCP flag"},
		{"bare number garbage", `{"x":1e}`, "bad number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var e event.Event
			emit, _, err := NewHubble().Decode([]byte(tc.line), &e)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one saying %q", err, tc.want)
			}
			if emit {
				t.Error("a bad line gave an event")
			}
			if _, _, rerr := (HubbleReference{}).Decode([]byte(tc.line), &event.Event{}); rerr == nil && tc.name != "deep nesting" {
				t.Errorf("encoding/json accepts it: the fast decoder must not be stricter on valid input")
			}
		})
	}
}

func TestHubbleNoAllocs(t *testing.T) {
	lines := readLines(t, "testdata/bench.jsonl")
	h := NewHubble()
	var e event.Event
	for _, l := range lines { // warm the interner
		e = event.Event{}
		if _, _, err := h.Decode(l, &e); err != nil {
			t.Fatal(err)
		}
	}
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		e = event.Event{}
		_, _, _ = h.Decode(lines[i%len(lines)], &e)
		i++
	})
	if allocs != 0 {
		t.Errorf("%v allocations per flow, want 0", allocs)
	}
}

func FuzzHubble(f *testing.F) {
	for _, l := range append(readLines(f, "testdata/hubble.jsonl"), readLines(f, "testdata/hubble-dns.jsonl")...) {
		f.Add(l)
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		var a, b event.Event
		emit, _, err := NewHubble().Decode(line, &a)
		if err != nil || !emit {
			return
		}
		// What the fast decoder accepts, encoding/json must read the same
		// way (it is laxer: case-insensitive keys, so only this direction).
		if !utf8.Valid(line) || caseVariantKey(line) {
			// encoding/json replaces invalid UTF-8 (Ward keeps the bytes)
			// and matches keys case-insensitively (Ward, as protojson,
			// exactly).
			return
		}
		if _, _, rerr := (HubbleReference{}).Decode(line, &b); rerr == nil && !cmp.Equal(a, b, eventCmp) {
			t.Errorf("disagree on %q:\n%+v\n%+v", line, a, b)
		}
	})
}

var hubbleKeys = []string{"flow", "node_name", "time", "lost_events", "num_events_lost", "uuid", "verdict", "drop_reason_desc",
	"traffic_direction", "is_reply", "IP", "source", "destination", "l4", "TCP", "UDP", "SCTP", "ICMPv4", "ICMPv6",
	"flags", "source_port", "destination_port", "type", "code", "namespace", "pod_name", "ipVersion", "ID", "identity", "labels",
	"FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR", "NS", "l7", "dns", "query", "rcode", "qtypes"}

// caseVariantKey reports a line naming a key Ward reads in another case.
func caseVariantKey(line []byte) bool {
	s := string(line)
	for _, k := range hubbleKeys {
		s = strings.ReplaceAll(s, `"`+k+`"`, "")
	}
	s = strings.ToLower(s)
	for _, k := range hubbleKeys {
		if strings.Contains(s, `"`+strings.ToLower(k)+`"`) {
			return true
		}
	}
	return strings.ContainsRune(s, '\\') // an escaped key may spell one
}

// TestSpecial checks the eight-byte test against the byte test on every
// special byte at every position, among ordinary and UTF-8 bytes.
func TestSpecial(t *testing.T) {
	fill := []byte("a\xc3\xa9~ \x7f\x80\xff")
	for pos := range 8 {
		for c := range 256 {
			var w [8]byte
			for i := range w {
				w[i] = fill[(i+pos)%len(fill)]
			}
			w[pos] = byte(c)
			want := false
			for _, b := range w {
				want = want || !plain[b]
			}
			if got := special(binary.LittleEndian.Uint64(w[:])) != 0; got != want {
				t.Fatalf("%q: special %v, want %v", w, got, want)
			}
		}
	}
}

// TestNumberLen checks the number grammar against encoding/json.
func TestNumberLen(t *testing.T) {
	for _, n := range []string{"0", "-0", "1", "-12", "10", "1.5", "0.0", "1e5", "1E+5", "1e-05", "-0.5e3", "123456789012345678901234567890",
		"01", "-", "1.", ".5", "1e", "1e+", "+1", "1.2.3", "--1", "0x10", "1_000", "NaN", "1ee5", "00", "-01"} {
		want := json.Valid([]byte(n))
		got := numberLen([]byte(n)) == len(n)
		if got != want {
			t.Errorf("%q: number %v, encoding/json says %v", n, got, want)
		}
	}
}

// TestHubbleMappedAddresses: an IPv4-mapped address is the IPv4 address.
func TestHubbleMappedAddresses(t *testing.T) {
	line := []byte(`{"flow":{"time":"2026-12-06T07:00:00Z","verdict":"FORWARDED","IP":{"source":"::ffff:10.0.0.1","destination":"::ffff:203.0.113.9"},"l4":{"TCP":{"destination_port":443,"flags":{"SYN":true}}}}}`)
	for _, dec := range []Decoder{NewHubble(), HubbleReference{}} {
		var e event.Event
		if _, _, err := dec.Decode(line, &e); err != nil {
			t.Fatal(err)
		}
		if e.Src.String() != "10.0.0.1" || e.Dst.String() != "203.0.113.9" {
			t.Errorf("%T: %s > %s, want the IPv4 addresses", dec, e.Src, e.Dst)
		}
	}
}
