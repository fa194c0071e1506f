package event

import (
	"encoding/json"
	"time"
)

// jsonEvent is the JSON form of an Event, as alerts carry it in their
// evidence: empty fields are left out.
type jsonEvent struct {
	Time         string `json:"time"`
	ID           string `json:"id,omitempty"`
	Origin       string `json:"origin"`
	Kind         string `json:"kind"`
	Verdict      string `json:"verdict,omitempty"`
	Proto        string `json:"proto,omitempty"`
	Src          string `json:"src,omitempty"`
	Dst          string `json:"dst,omitempty"`
	PreDNAT      string `json:"preDNAT,omitempty"`
	PostSNAT     string `json:"postSNAT,omitempty"`
	Flags        string `json:"flags,omitempty"`
	ICMPType     *uint8 `json:"icmpType,omitempty"`
	ICMPCode     *uint8 `json:"icmpCode,omitempty"`
	Reply        bool   `json:"reply,omitempty"`
	Direction    string `json:"direction,omitempty"`
	Packets      uint64 `json:"packets,omitempty"`
	Bytes        uint64 `json:"bytes,omitempty"`
	ReplyPackets uint64 `json:"replyPackets,omitempty"`
	ReplyBytes   uint64 `json:"replyBytes,omitempty"`
	SrcWorkload  string `json:"srcPod,omitempty"`
	DstWorkload  string `json:"dstPod,omitempty"`
	Node         string `json:"node,omitempty"`
	Reason       string `json:"reason,omitempty"`
	Rule         string `json:"rule,omitempty"`
	L7           *L7    `json:"l7,omitempty"`
	DNS          *DNS   `json:"dns,omitempty"`
}

// MarshalJSON renders the event for people and tools (alert evidence);
// it is not a wire format for sources.
func (e Event) MarshalJSON() ([]byte, error) {
	j := jsonEvent{
		Time:         e.When().Format(time.RFC3339Nano),
		Origin:       e.Origin.String(),
		Kind:         e.Kind.String(),
		Flags:        e.Flags.String(),
		Reply:        e.Reply,
		Packets:      e.Packets,
		Bytes:        e.Bytes,
		ReplyPackets: e.ReplyPackets,
		ReplyBytes:   e.ReplyBytes,
		Node:         e.Node,
		Reason:       e.Reason,
		Rule:         e.Rule,
		L7:           e.L7,
		DNS:          e.DNS,
	}
	if e.ID != 0 {
		j.ID = uint64Hex(e.ID)
	}
	if e.Verdict != VerdictUnknown {
		j.Verdict = e.Verdict.String()
	}
	if e.Proto != ProtoUnknown {
		j.Proto = e.Proto.String()
	}
	if e.Direction != DirectionUnknown {
		j.Direction = e.Direction.String()
	}
	if e.Src.IsValid() {
		j.Src = Endpoint(e.Src, e.SrcPort)
	}
	if e.Dst.IsValid() {
		j.Dst = Endpoint(e.Dst, e.DstPort)
	}
	if e.PreDNAT.IsValid() {
		j.PreDNAT = e.PreDNAT.String()
	}
	if e.PostSNAT.IsValid() {
		j.PostSNAT = e.PostSNAT.String()
	}
	if e.Proto.IsICMP() {
		t, c := e.ICMPType, e.ICMPCode
		j.ICMPType, j.ICMPCode = &t, &c
	}
	if e.SrcName != "" {
		j.SrcWorkload = e.SrcNamespace + "/" + e.SrcName
	}
	if e.DstName != "" {
		j.DstWorkload = e.DstNamespace + "/" + e.DstName
	}
	return json.Marshal(j)
}

func uint64Hex(v uint64) string {
	const digits = "0123456789abcdef"
	var b [16]byte
	for i := 15; i >= 0; i-- {
		b[i] = digits[v&15]
		v >>= 4
	}
	return string(b[:])
}
