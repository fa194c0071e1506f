package kernel

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mdlayher/netlink"

	"github.com/wardsec/ward/internal/nflog"
	"github.com/wardsec/ward/watch/event"
)

// TestConntrackBadMessages: a conntrack message that does not decode, or
// a flow without addresses, is an error (a bad record the sink counts),
// not an event silently skipped; an expectation is neither. No root
// needed: the messages are crafted.
func TestConntrackBadMessages(t *testing.T) {
	d := ctDecoder{node: "host-a", clock: event.NewManualClock(time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC))}
	const ctNew, expNew = 0x0100, 0x0200 // subsystem << 8 | IPCTNL_MSG_CT_NEW
	nfgen := []byte{2, 0, 0, 0}          // AF_INET, version 0, resource 0
	for _, tc := range []struct {
		name string
		m    netlink.Message
		want string // "" : no event, no error
	}{
		{"truncated netfilter header", netlink.Message{Header: netlink.Header{Type: ctNew}, Data: []byte{2, 0}}, "conntrack message"},
		{"truncated attribute", netlink.Message{Header: netlink.Header{Type: ctNew}, Data: append(nfgen, 0x20, 0, 1, 0, 9)}, "conntrack message"},
		{"flow without tuples", netlink.Message{Header: netlink.Header{Type: ctNew}, Data: nfgen}, "without source and destination"},
		{"expectation", netlink.Message{Header: netlink.Header{Type: expNew}, Data: nfgen}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var e event.Event
			ok, err := d.message(tc.m, &e)
			if ok {
				t.Fatalf("an event from a bad message: %+v", e)
			}
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("error %v, want none", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestNFLogBadPacket: a logged drop whose headers do not parse is an
// error (a bad record), not a drop skipped silently.
func TestNFLogBadPacket(t *testing.T) {
	n := &NFLog{Group: 41, Node: "host-a"}
	in := event.NewInterner(16, 16)
	var e event.Event
	for _, payload := range [][]byte{nil, {0x45, 0}, {0x20, 0, 0, 0}} {
		if err := n.decode(&nflog.Packet{Payload: payload, Prefix: "ward-drop ingress c3 ", Seq: 7}, &e, in); err == nil {
			t.Errorf("payload %x: no error", payload)
		}
	}
	syn := make([]byte, 40)
	syn[0], syn[9] = 0x45, 6
	copy(syn[12:], []byte{192, 0, 2, 1, 198, 51, 100, 7})
	syn[22], syn[23], syn[33] = 0, 22, 0x02
	if err := n.decode(&nflog.Packet{Payload: syn, Prefix: "ward-drop ingress c3 ", Seq: 8}, &e, in); err != nil || e.DstPort != 22 || e.Rule != "ingress c3" {
		t.Errorf("a good packet: %v, %+v", err, e)
	}
}

// TestNFLogCutPacket: a drop whose transport header lies beyond the
// logged copy (an attacker's padding) is still a drop, and is reported.
func TestNFLogCutPacket(t *testing.T) {
	n := &NFLog{Group: 41, Node: "host-a"}
	p := make([]byte, 40+8)
	p[0], p[6] = 0x60, 60 // IPv6, destination options
	p[8+15], p[24+15] = 1, 2
	p[40], p[41] = 6, 255 // next TCP, 2048 bytes of options: beyond the copy
	var e event.Event
	err := n.decode(&nflog.Packet{Payload: p, Prefix: "ward-drop ingress c3 ", Seq: 9}, &e, event.NewInterner(16, 16))
	if !errors.Is(err, errCut) {
		t.Fatalf("error %v, want errCut", err)
	}
	if e.Verdict != event.Dropped || !e.Src.IsValid() || !e.Dst.IsValid() {
		t.Errorf("event %+v: want the drop delivered", e)
	}
}

// TestNFLogSpoofNamesInterface: a frame ward fw's anti-spoofing dropped
// claims a source it does not have; the log names the bridge port it
// came in on, which is the real sender's, and was thrown away: the
// forger was named by no one.
func TestNFLogSpoofNamesInterface(t *testing.T) {
	syn := make([]byte, 40)
	syn[0], syn[9] = 0x45, 6
	copy(syn[12:], []byte{10, 244, 0, 20, 10, 244, 0, 30})
	syn[22], syn[23], syn[33] = 0x15, 0x38, 0x02
	names := map[int]string{17: "veth1a2b", 3: "br0"}
	look := func(i int) string { return names[i] }
	for _, tc := range []struct {
		name         string
		n            NFLog
		p            nflog.Packet
		want, wantOn string
	}{
		{"bridge port", NFLog{lookup: look}, nflog.Packet{Prefix: "ward-spoof ", PhysInDev: 17, InDev: 3},
			"forged source, in on veth1a2b (ifindex 17)", "veth1a2b (ifindex 17)"},
		{"input device", NFLog{lookup: look}, nflog.Packet{Prefix: "ward-spoof ", InDev: 17},
			"forged source, in on veth1a2b (ifindex 17)", "veth1a2b (ifindex 17)"},
		{"another namespace: index only", NFLog{NetNS: 9, lookup: look}, nflog.Packet{Prefix: "ward-spoof ", InDev: 17},
			"forged source, in on ifindex 17", "ifindex 17"},
		{"no interface", NFLog{lookup: look}, nflog.Packet{Prefix: "ward-spoof "}, "policy denied", ""},
		{"a policy drop is no forgery", NFLog{lookup: look}, nflog.Packet{Prefix: "ward-drop ingress c3 ", InDev: 17}, "policy denied", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var e event.Event
			tc.p.Payload = syn
			if err := tc.n.decode(&tc.p, &e, event.NewInterner(16, 16)); err != nil {
				t.Fatal(err)
			}
			if e.Reason != tc.want || e.SpoofedOn() != tc.wantOn {
				t.Errorf("reason %q, spoofed on %q; want %q, %q", e.Reason, e.SpoofedOn(), tc.want, tc.wantOn)
			}
		})
	}
}
