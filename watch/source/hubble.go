package source

import (
	"bytes"
	"errors"
	"fmt"
	"math"

	"github.com/wardsec/ward/watch/event"
)

// The Hubble flow export, the fields Ward reads: one JSON object a line,
// as `hubble observe -o json` and Hubble's flow exporter write them
// (protojson with proto field names: enums are strings, 64-bit numbers
// are strings, fields at their default value are left out). These types
// are the reference decoding: encoding/json into them is what the fast
// decoder is measured and differentially tested against.
type (
	// HubbleRecord is one line.
	HubbleRecord struct {
		Flow       *HubbleFlow `json:"flow"`
		NodeName   string      `json:"node_name"`
		Time       string      `json:"time"`
		LostEvents *HubbleLost `json:"lost_events"`
	}
	// HubbleFlow is a flow.
	HubbleFlow struct {
		Time             string          `json:"time"`
		UUID             string          `json:"uuid"`
		Verdict          string          `json:"verdict"`
		DropReasonDesc   string          `json:"drop_reason_desc"`
		IP               *HubbleIP       `json:"IP"`
		L4               *HubbleL4       `json:"l4"`
		Source           *HubbleEndpoint `json:"source"`
		Destination      *HubbleEndpoint `json:"destination"`
		NodeName         string          `json:"node_name"`
		TrafficDirection string          `json:"traffic_direction"`
		IsReply          *bool           `json:"is_reply"`
		L7               *HubbleL7       `json:"l7"`
	}
	// HubbleL7 is Cilium's Layer7 message: the proxy's record of a
	// request or response. Ward reads its DNS part.
	HubbleL7 struct {
		Type string     `json:"type"`
		DNS  *HubbleDNS `json:"dns"`
	}
	// HubbleDNS is Cilium's DNS message (flow.proto). Ward reads the
	// query, its types and the response code.
	HubbleDNS struct {
		Query  string   `json:"query"`
		Rcode  uint32   `json:"rcode"`
		Qtypes []string `json:"qtypes"`
	}
	// HubbleIP is the network layer.
	HubbleIP struct {
		Source      string `json:"source"`
		Destination string `json:"destination"`
		IPVersion   string `json:"ipVersion"`
	}
	// HubbleL4 is the transport layer: one of its fields is set.
	HubbleL4 struct {
		TCP    *HubbleTCP  `json:"TCP"`
		UDP    *HubblePort `json:"UDP"`
		SCTP   *HubblePort `json:"SCTP"`
		ICMPv4 *HubbleICMP `json:"ICMPv4"`
		ICMPv6 *HubbleICMP `json:"ICMPv6"`
	}
	// HubbleTCP is a TCP segment.
	HubbleTCP struct {
		SourcePort      uint32          `json:"source_port"`
		DestinationPort uint32          `json:"destination_port"`
		Flags           map[string]bool `json:"flags"`
	}
	// HubblePort is a UDP or SCTP header.
	HubblePort struct {
		SourcePort      uint32 `json:"source_port"`
		DestinationPort uint32 `json:"destination_port"`
	}
	// HubbleICMP is an ICMP header.
	HubbleICMP struct {
		Type uint32 `json:"type"`
		Code uint32 `json:"code"`
	}
	// HubbleEndpoint is one side of a flow as Cilium knows it.
	HubbleEndpoint struct {
		ID        uint32   `json:"ID"`
		Identity  uint32   `json:"identity"`
		Namespace string   `json:"namespace"`
		Labels    []string `json:"labels"`
		PodName   string   `json:"pod_name"`
	}
	// HubbleLost reports events Hubble lost (its ring buffer overflowed).
	HubbleLost struct {
		Source        string `json:"source"`
		NumEventsLost uint64 `json:"num_events_lost,string"`
	}
)

// Hubble decodes Hubble flow export lines. The zero value is not ready:
// use NewHubble.
type Hubble struct {
	s      scanner
	intern *event.Interner
	line   []byte
}

// NewHubble returns a decoder with its own interner.
func NewHubble() *Hubble {
	return &Hubble{intern: event.NewInterner(1<<16, 256)}
}

// hubbleFields is what a line gave, checked once the line is read.
type hubbleFields struct {
	flow     bool
	lost     uint64
	outerT   []byte
	flowT    []byte
	src, dst []byte
	uuid     []byte
}

// Decode implements Decoder.
func (h *Hubble) Decode(line []byte, e *event.Event) (bool, uint64, error) {
	h.s.reset(line)
	h.line = line
	var f hubbleFields
	err := h.s.object(func(k []byte) error {
		switch string(k) {
		case "flow":
			if h.s.null() {
				return nil
			}
			f.flow = true
			return h.flow(e, &f)
		case "node_name":
			v, err := h.s.str()
			if e.Node == "" {
				e.Node = h.intern.Intern(v)
			}
			return err
		case "time":
			v, err := h.s.str()
			f.outerT = v
			return err
		case "lost_events":
			return h.s.object(func(k []byte) error {
				if string(k) == "num_events_lost" {
					v, err := h.s.uint(math.MaxUint64, true)
					f.lost = v
					return err
				}
				return h.s.skip()
			})
		}
		return h.s.skip()
	})
	if err == nil {
		err = h.s.end()
	}
	if err != nil {
		return false, 0, err
	}
	if !f.flow {
		if f.lost > 0 {
			return false, f.lost, nil
		}
		return false, 0, nil
	}
	if err := h.finish(e, &f); err != nil {
		return false, f.lost, err
	}
	return true, f.lost, nil
}

func (h *Hubble) finish(e *event.Event, f *hubbleFields) error {
	t := f.flowT
	if t == nil {
		t = f.outerT
	}
	if t == nil {
		return errors.New("flow without a time")
	}
	n, err := parseTime(t)
	if err != nil {
		return err
	}
	e.Time = n
	if f.src == nil || f.dst == nil {
		return errors.New("flow without IP source and destination")
	}
	if e.Src, err = parseAddr(f.src); err != nil {
		return err
	}
	if e.Dst, err = parseAddr(f.dst); err != nil {
		return err
	}
	e.Origin = event.OriginHubble
	e.Kind = event.Flow
	if len(f.uuid) > 0 { // "uuid":"" is no uuid (as the reference reads it), not one shared by every such flow
		e.ID = event.ID(event.OriginHubble, f.uuid)
	} else {
		e.ID = event.ID(event.OriginHubble, h.line)
	}
	return nil
}

func (h *Hubble) flow(e *event.Event, f *hubbleFields) error {
	s := &h.s
	return s.object(func(k []byte) error {
		switch string(k) {
		case "time":
			v, err := s.str()
			f.flowT = v
			return err
		case "uuid":
			v, err := s.str()
			f.uuid = v
			return err
		case "verdict":
			v, err := s.str()
			if err != nil {
				return err
			}
			vd, ok := event.ParseVerdict(unsafeString(v))
			if !ok {
				return fmt.Errorf("unknown verdict %q", v)
			}
			e.Verdict = vd
			return nil
		case "drop_reason_desc":
			v, err := s.str()
			e.Reason = h.intern.Intern(v)
			return err
		case "node_name":
			v, err := s.str()
			e.Node = h.intern.Intern(v)
			return err
		case "traffic_direction":
			v, err := s.str()
			switch string(v) {
			case "INGRESS":
				e.Direction = event.Ingress
			case "EGRESS":
				e.Direction = event.Egress
			case "TRAFFIC_DIRECTION_UNKNOWN":
			default:
				return fmt.Errorf("unknown traffic_direction %q", v)
			}
			return err
		case "is_reply":
			v, err := s.bool()
			e.Reply = v
			return err
		case "IP":
			return s.object(func(k []byte) error {
				switch string(k) {
				case "source":
					v, err := s.str()
					f.src = v
					return err
				case "destination":
					v, err := s.str()
					f.dst = v
					return err
				}
				return s.skip()
			})
		case "l4":
			return h.l4(e)
		case "l7":
			return h.l7(e)
		case "source":
			return h.endpoint(&e.SrcNamespace, &e.SrcName)
		case "destination":
			return h.endpoint(&e.DstNamespace, &e.DstName)
		}
		return s.skip()
	})
}

func (h *Hubble) endpoint(ns, name *string) error {
	s := &h.s
	return s.object(func(k []byte) error {
		switch string(k) {
		case "namespace":
			v, err := s.str()
			*ns = h.intern.Intern(v)
			return err
		case "pod_name":
			v, err := s.str()
			*name = h.intern.Intern(v)
			return err
		}
		return s.skip()
	})
}

func (h *Hubble) l4(e *event.Event) error {
	s := &h.s
	return s.object(func(k []byte) error {
		switch string(k) {
		case "TCP":
			e.Proto = event.TCP
			return s.object(func(k []byte) error {
				if string(k) == "flags" {
					return s.object(func(k []byte) error {
						on, err := s.bool()
						if err != nil {
							return err
						}
						fl, ok := event.FlagByName(unsafeString(k))
						if !ok {
							return fmt.Errorf("unknown TCP flag %q", k)
						}
						if on {
							e.Flags |= fl
						}
						return nil
					})
				}
				return h.ports(k, e)
			})
		case "UDP", "SCTP":
			e.Proto = event.UDP
			if string(k) == "SCTP" {
				e.Proto = event.SCTP
			}
			return s.object(func(k []byte) error { return h.ports(k, e) })
		case "ICMPv4", "ICMPv6":
			e.Proto = event.ICMP
			if string(k) == "ICMPv6" {
				e.Proto = event.ICMPv6
			}
			return s.object(func(k []byte) error {
				switch string(k) {
				case "type":
					v, err := s.uint(math.MaxUint8, false)
					e.ICMPType = uint8(v) // #nosec G115 -- s.uint rejects values over MaxUint8
					return err
				case "code":
					v, err := s.uint(math.MaxUint8, false)
					e.ICMPCode = uint8(v) // #nosec G115 -- s.uint rejects values over MaxUint8
					return err
				}
				return s.skip()
			})
		}
		return s.skip()
	})
}

func (h *Hubble) ports(k []byte, e *event.Event) error {
	switch string(k) {
	case "source_port":
		v, err := h.s.uint(math.MaxUint16, false)
		e.SrcPort = uint16(v) // #nosec G115 -- s.uint rejects values over MaxUint16
		return err
	case "destination_port":
		v, err := h.s.uint(math.MaxUint16, false)
		e.DstPort = uint16(v) // #nosec G115 -- s.uint rejects values over MaxUint16
		return err
	}
	return h.s.skip()
}

// MaxQuery bounds a DNS query name in a record: a name is at most 255
// bytes on the wire, 1,020 written with every byte escaped (\DDD).
// A longer one is a bad record, never allocated.
const MaxQuery = 1024

// l7 reads Cilium's Layer7 record; only its DNS part makes an event
// field (a pointer: flows without it allocate nothing).
func (h *Hubble) l7(e *event.Event) error {
	s := &h.s
	var (
		seen     bool
		response bool
		query    []byte
		qtype    event.QType
		rcode    uint64
	)
	err := s.object(func(k []byte) error {
		switch string(k) {
		case "type":
			v, err := s.str()
			if err != nil {
				return err
			}
			switch string(v) {
			case "RESPONSE":
				response = true
			case "", "REQUEST", "SAMPLE", "UNKNOWN_L7_TYPE":
				response = false
			default:
				return fmt.Errorf("unknown l7 type %q", v)
			}
			return nil
		case "dns":
			if s.null() {
				return nil
			}
			seen = true
			return s.object(func(k []byte) error {
				switch string(k) {
				case "query":
					v, err := s.str()
					query = v
					return err
				case "rcode":
					v, err := s.uint(math.MaxUint32, false)
					rcode = v
					return err
				case "qtypes":
					qtype = 0
					return s.array(func() error {
						if s.null() {
							return nil
						}
						v, err := s.str()
						if err != nil {
							return err
						}
						q, _ := event.ParseQType(unsafeString(v))
						qtype = pickQType(qtype, q)
						return nil
					})
				}
				return s.skip()
			})
		}
		return s.skip()
	})
	if err != nil || !seen {
		return err
	}
	name, err := h.queryName(query)
	if err != nil {
		return err
	}
	d := &event.DNS{Query: name, QType: qtype, Rcode: event.RcodeUnknown, Response: response}
	if response {
		d.Rcode = int32(rcode) // #nosec G115 -- s.uint bounds it by MaxUint32; rcodes are 12 bits: see the check below
		if rcode > 1<<12-1 {
			return fmt.Errorf("DNS rcode %d out of range", rcode)
		}
	}
	e.DNS = d
	return nil
}

// pickQType keeps the first type a record names, unless a later one is a
// zone transfer: a message asking for several must not hide an AXFR
// behind an A.
func pickQType(have, q event.QType) event.QType {
	if have == 0 || q.ZoneTransfer() && !have.ZoneTransfer() {
		return q
	}
	return have
}

// queryName is the query as Event.DNS holds it: ASCII lower-cased,
// without the trailing dot, copied once.
func (h *Hubble) queryName(q []byte) (string, error) {
	if len(q) > MaxQuery {
		return "", fmt.Errorf("DNS query name longer than %d bytes", MaxQuery)
	}
	q = bytes.TrimSuffix(q, []byte{'.'})
	upper := false
	for _, c := range q {
		if 'A' <= c && c <= 'Z' {
			upper = true
			break
		}
	}
	if !upper {
		return string(q), nil
	}
	start := len(h.s.scratch)
	for _, c := range q {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		h.s.scratch = append(h.s.scratch, c)
	}
	return string(h.s.scratch[start:]), nil
}
