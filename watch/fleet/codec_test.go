package fleet

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wardsec/ward/watch/event"
)

// full is an event with every field set, L7 included.
func full() event.Event {
	return event.Event{
		Time: 1_765_000_000_123_456_789, ID: 0xfedcba9876543210,
		Src: netip.MustParseAddr("10.1.2.3"), Dst: netip.MustParseAddr("2001:db8::7"),
		PreDNAT:  netip.MustParseAddrPort("[fe80::1%eth0]:8443"),
		PostSNAT: netip.MustParseAddrPort("192.0.2.9:40001"),
		SrcPort:  51234, DstPort: 443,
		Packets: 7, Bytes: 1 << 40, ReplyPackets: 5, ReplyBytes: 3000,
		Flags: event.SYN | event.ACK | event.NS, Origin: event.OriginProxy, Kind: event.Request,
		Verdict: event.Translated, Proto: event.ICMPv6, Direction: event.Egress, Reply: true,
		ICMPType: 128, ICMPCode: 3,
		SrcNamespace: "shop", SrcName: "web-1", DstNamespace: "pay", DstName: "api-0",
		Node: "node-a", Reason: "POLICY_DENIED", Rule: "ward-fw drop 12",
		L7: &event.L7{Method: "POST", Path: "/pay/ü", Status: -503, Decision: "deny",
			Principal: "spiffe://shop/web", RequestID: "r-1", Route: "pay", WAF: "sqli"},
		DNS: &event.DNS{Query: "aGVsbG8.t.example", QType: event.TypeAXFR, Rcode: 3, Response: true, Size: 512},
	}
}

// nonZero fails t for any field of v (recursively through pointers and
// structs) left at its zero value: the round-trip test must cover every
// field, including ones added to event.Event later.
func nonZero(t *testing.T, path string, v reflect.Value) {
	t.Helper()
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			t.Errorf("%s is nil", path)
			return
		}
		nonZero(t, path, v.Elem())
	case reflect.Struct:
		if v.Type().PkgPath() != "github.com/wardsec/ward/watch/event" {
			if v.IsZero() {
				t.Errorf("%s is zero", path)
			}
			return
		}
		for i := range v.NumField() {
			nonZero(t, path+"."+v.Type().Field(i).Name, v.Field(i))
		}
	default:
		if v.IsZero() {
			t.Errorf("%s is zero", path)
		}
	}
}

var addrCmp = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })
var addrPortCmp = cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })

func TestRoundTrip(t *testing.T) {
	f := full()
	nonZero(t, "Event", reflect.ValueOf(f))
	v4 := netip.MustParseAddr("172.16.0.1")
	mapped := netip.MustParseAddr("::ffff:10.0.0.1")
	for _, tc := range []struct {
		name string
		e    event.Event
	}{
		{"every field", f},
		{"zero", event.Event{}},
		{"conntrack", event.Event{Time: 1, ID: 3, Src: v4, Dst: v4, SrcPort: 1, DstPort: 80, Proto: event.TCP,
			Origin: event.OriginConntrack, Kind: event.ConnEnd, Verdict: event.Forwarded, Node: "h1", Reason: event.ReasonNotEstablished}},
		{"v4-mapped v6 stays v6", event.Event{Src: mapped, Dst: netip.IPv6Unspecified()}},
		{"port without address", event.Event{PreDNAT: netip.AddrPortFrom(netip.Addr{}, 9)}},
		{"negative time", event.Event{Time: -5}},
		{"empty L7", event.Event{Kind: event.Request, L7: &event.L7{}}},
		{"DNS without L7", event.Event{Kind: event.Request, Origin: event.OriginCoreDNS,
			DNS: &event.DNS{Query: "api.shop.svc.cluster.local", QType: event.TypeA, Rcode: event.RcodeUnknown}}},
	} {
		b := Append(nil, &tc.e)
		var got event.Event
		if err := NewDecoder().Decode(b, &got); err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if d := cmp.Diff(tc.e, got, addrCmp, addrPortCmp); d != "" {
			t.Errorf("%s: round trip differs (-want +got):\n%s", tc.name, d)
		}
		if got.Src.Is4() != tc.e.Src.Is4() || got.Src.Is4In6() != tc.e.Src.Is4In6() {
			t.Errorf("%s: address family changed: %v to %v", tc.name, tc.e.Src, got.Src)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	f := full()
	good := Append(nil, &f)
	mut := func(fn func(b []byte) []byte) []byte { return fn(bytes.Clone(good)) }
	// Offsets in the full event: version 0, time 1..9, ID 10..17, Src tag 18.
	for _, tc := range []struct {
		name, want string
		b          []byte
	}{
		{"empty", "truncated or malformed byte at byte 0", nil},
		{"version", "unknown encoding version 2 (this ward reads 1)", mut(func(b []byte) []byte { b[0] = 2; return b })},
		{"truncated ID", "truncated or malformed event ID", good[:12]},
		{"address tag", "address tag 9 at byte 18", mut(func(b []byte) []byte { b[18] = 9; return b })},
		{"trailing", "1 bytes after the event", append(bytes.Clone(good), 0)},
		{"presence bits", "presence byte 4 has bits other than", append(Append(nil, &event.Event{})[:len(Append(nil, &event.Event{}))-1], 4)},
		{"truncated end", "truncated or malformed", good[:len(good)-1]},
	} {
		var e event.Event
		err := NewDecoder().Decode(tc.b, &e)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	// Every prefix of a valid message is an error, never a panic.
	for n := range len(good) {
		var e event.Event
		if err := NewDecoder().Decode(good[:n], &e); err == nil {
			t.Errorf("prefix of %d bytes decoded", n)
		}
	}
}

func TestDecodeRanges(t *testing.T) {
	// An event whose enumerations lie outside their ranges is refused.
	for _, tc := range []struct {
		name string
		e    event.Event
		want string
	}{
		{"origin", event.Event{Origin: 99}, "origin 99"},
		{"kind", event.Event{Kind: 9}, "kind 9"},
		{"verdict", event.Event{Verdict: 50}, "verdict 50"},
		{"direction", event.Event{Direction: 3}, "direction 3"},
		{"flags", event.Event{Flags: 1 << 12}, "TCP flags"},
		{"DNS rcode", event.Event{DNS: &event.DNS{Rcode: -2}}, "DNS rcode -2"},
		{"DNS size", event.Event{DNS: &event.DNS{Size: 1 << 16}}, "DNS size 65536"},
	} {
		var e event.Event
		err := NewDecoder().Decode(Append(nil, &tc.e), &e)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

func FuzzDecode(f *testing.F) {
	e := full()
	f.Add(Append(nil, &e))
	f.Add(Append(nil, &event.Event{}))
	f.Add([]byte{Version})
	f.Fuzz(func(t *testing.T, b []byte) {
		var e event.Event
		if err := NewDecoder().Decode(b, &e); err != nil {
			return
		}
		// What decodes re-encodes to an encoding of the same event.
		var again event.Event
		if err := NewDecoder().Decode(Append(nil, &e), &again); err != nil {
			t.Fatalf("decoded %x, its re-encoding does not decode: %v", b, err)
		}
		if d := cmp.Diff(e, again, addrCmp, addrPortCmp); d != "" {
			t.Fatalf("decoded %x, re-encoded differently (-first +second):\n%s", b, d)
		}
	})
}

// TestSize measures the encoding against encoding/json of the same
// events (the figures in docs/performance.md).
func TestSize(t *testing.T) {
	type plain event.Event // no MarshalJSON: every field, as a JSON wire format would carry it
	c := event.Event{Time: 1_765_000_000_123_456_789, ID: 0x8a3f01c2d4e5f607, Src: netip.MustParseAddr("10.0.3.17"), Dst: netip.MustParseAddr("10.0.5.2"),
		SrcPort: 43122, DstPort: 8080, Packets: 6, Bytes: 512, ReplyPackets: 4, ReplyBytes: 2300, Proto: event.TCP,
		Origin: event.OriginConntrack, Kind: event.ConnEnd, Verdict: event.Forwarded, Node: "worker-3"}
	f := full()
	for _, e := range []event.Event{c, f} {
		bin := len(Append(nil, &e))
		j, err := json.Marshal(plain(e))
		if err != nil {
			t.Fatal(err)
		}
		if bin*2 > len(j) {
			t.Errorf("binary %d bytes, JSON %d: the binary encoding should be under half", bin, len(j))
		}
		t.Logf("origin %v: binary %d bytes, JSON %d bytes", e.Origin, bin, len(j))
	}
}
