package source

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/wardsec/ward/watch/event"
)

// HubbleReference decodes Hubble lines with encoding/json into
// HubbleRecord and converts that to an Event: the simple, slow reference
// the fast Hubble decoder is tested and measured against. It shares no
// decoding code with Hubble.
type HubbleReference struct{}

// Decode implements Decoder.
func (HubbleReference) Decode(line []byte, e *event.Event) (bool, uint64, error) {
	var rec HubbleRecord
	if err := json.Unmarshal(line, &rec); err != nil {
		return false, 0, err
	}
	var lost uint64
	if rec.LostEvents != nil {
		lost = rec.LostEvents.NumEventsLost
	}
	if rec.Flow == nil {
		return false, lost, nil
	}
	if err := rec.Event(line, e); err != nil {
		return false, lost, err
	}
	return true, lost, nil
}

// Event converts a decoded record holding a flow; line is the raw record
// (the event's ID when the flow has no uuid).
func (rec *HubbleRecord) Event(line []byte, e *event.Event) error {
	f := rec.Flow
	ts := f.Time
	if ts == "" {
		ts = rec.Time
	}
	if ts == "" {
		return errors.New("flow without a time")
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return fmt.Errorf("bad time %q", ts)
	}
	if err := inRange(t, ts); err != nil {
		return err
	}
	e.Time = t.UnixNano()
	if f.IP == nil || f.IP.Source == "" || f.IP.Destination == "" {
		return errors.New("flow without IP source and destination")
	}
	if e.Src, err = netip.ParseAddr(f.IP.Source); err != nil {
		return fmt.Errorf("bad address %q", f.IP.Source)
	}
	if e.Dst, err = netip.ParseAddr(f.IP.Destination); err != nil {
		return fmt.Errorf("bad address %q", f.IP.Destination)
	}
	e.Src, e.Dst = e.Src.Unmap(), e.Dst.Unmap()
	e.Origin, e.Kind = event.OriginHubble, event.Flow
	if f.Verdict != "" {
		v, ok := event.ParseVerdict(f.Verdict)
		if !ok {
			return fmt.Errorf("unknown verdict %q", f.Verdict)
		}
		e.Verdict = v
	}
	e.Reason = f.DropReasonDesc
	e.Node = rec.NodeName
	if f.NodeName != "" {
		e.Node = f.NodeName
	}
	switch f.TrafficDirection {
	case "INGRESS":
		e.Direction = event.Ingress
	case "EGRESS":
		e.Direction = event.Egress
	case "", "TRAFFIC_DIRECTION_UNKNOWN":
	default:
		return fmt.Errorf("unknown traffic_direction %q", f.TrafficDirection)
	}
	if f.IsReply != nil {
		e.Reply = *f.IsReply
	}
	if f.Source != nil {
		e.SrcNamespace, e.SrcName = f.Source.Namespace, f.Source.PodName
	}
	if f.Destination != nil {
		e.DstNamespace, e.DstName = f.Destination.Namespace, f.Destination.PodName
	}
	if l4 := f.L4; l4 != nil {
		port := func(p uint32) (uint16, error) {
			if p > 65535 {
				return 0, fmt.Errorf("port %d out of range", p)
			}
			return uint16(p), nil
		}
		var sp, dp uint32
		switch {
		case l4.TCP != nil:
			e.Proto, sp, dp = event.TCP, l4.TCP.SourcePort, l4.TCP.DestinationPort
			for name, on := range l4.TCP.Flags {
				fl, ok := event.FlagByName(name)
				if !ok {
					return fmt.Errorf("unknown TCP flag %q", name)
				}
				if on {
					e.Flags |= fl
				}
			}
		case l4.UDP != nil:
			e.Proto, sp, dp = event.UDP, l4.UDP.SourcePort, l4.UDP.DestinationPort
		case l4.SCTP != nil:
			e.Proto, sp, dp = event.SCTP, l4.SCTP.SourcePort, l4.SCTP.DestinationPort
		case l4.ICMPv4 != nil || l4.ICMPv6 != nil:
			ic := l4.ICMPv4
			e.Proto = event.ICMP
			if ic == nil {
				ic, e.Proto = l4.ICMPv6, event.ICMPv6
			}
			if ic.Type > 255 || ic.Code > 255 {
				return fmt.Errorf("ICMP type or code out of range")
			}
			e.ICMPType, e.ICMPCode = uint8(ic.Type), uint8(ic.Code)
		}
		if e.SrcPort, err = port(sp); err != nil {
			return err
		}
		if e.DstPort, err = port(dp); err != nil {
			return err
		}
	}
	if f.L7 != nil && f.L7.DNS != nil {
		d, err := f.L7.dnsRecord()
		if err != nil {
			return err
		}
		e.DNS = d
	}
	if f.UUID != "" {
		e.ID = event.ID(event.OriginHubble, []byte(f.UUID))
	} else {
		e.ID = event.ID(event.OriginHubble, line)
	}
	return nil
}

// dnsRecord converts the DNS part of an L7 record.
func (l *HubbleL7) dnsRecord() (*event.DNS, error) {
	d := &event.DNS{Rcode: event.RcodeUnknown}
	switch l.Type {
	case "RESPONSE":
		d.Response = true
	case "", "REQUEST", "SAMPLE", "UNKNOWN_L7_TYPE":
	default:
		return nil, fmt.Errorf("unknown l7 type %q", l.Type)
	}
	q := l.DNS.Query
	if len(q) > MaxQuery {
		return nil, fmt.Errorf("DNS query name longer than %d bytes", MaxQuery)
	}
	d.Query = strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, strings.TrimSuffix(q, "."))
	for i, name := range l.DNS.Qtypes {
		q, _ := event.ParseQType(name)
		if i == 0 || d.QType == 0 || q.ZoneTransfer() && !d.QType.ZoneTransfer() {
			d.QType = q
		}
	}
	if d.Response {
		if l.DNS.Rcode > 1<<12-1 {
			return nil, fmt.Errorf("DNS rcode %d out of range", l.DNS.Rcode)
		}
		d.Rcode = int32(l.DNS.Rcode) // #nosec G115 -- at most 4095, checked above
	}
	return d, nil
}
