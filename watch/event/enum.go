package event

import (
	"strconv"
	"strings"
)

// Origin is the kind of source an event came from.
type Origin uint8

// Origins.
const (
	OriginUnknown   Origin = iota
	OriginHubble           // Hubble flow export (JSON lines)
	OriginProxy            // `ward proxy` audit records
	OriginConntrack        // Linux conntrack events
	OriginNFLog            // packets logged by `ward fw` rules (nflog)
	OriginCoreDNS          // CoreDNS log plugin lines
)

var originNames = [...]string{"unknown", "hubble", "proxy", "conntrack", "nflog", "coredns"}

func (o Origin) String() string { return enumName(originNames[:], uint8(o)) }

// Kind is what an event reports.
type Kind uint8

// Kinds.
const (
	// Flow is a packet-level record: a Hubble flow, a logged packet.
	Flow Kind = iota
	// ConnNew, ConnUpdate and ConnEnd follow a connection (conntrack).
	ConnNew
	ConnUpdate
	ConnEnd
	// Request is an L7 request (Event.L7 is set) or a resolver's record
	// of a DNS query (Event.DNS is set).
	Request
)

var kindNames = [...]string{"flow", "conn-new", "conn-update", "conn-end", "request"}

func (k Kind) String() string { return enumName(kindNames[:], uint8(k)) }

// Verdict is what the observer did with the traffic.
type Verdict uint8

// Verdicts (Hubble's names, shared by every source).
const (
	VerdictUnknown Verdict = iota
	Forwarded              // passed (or, for conntrack, a connection that exists)
	Dropped                // dropped by policy or a firewall
	Error                  // dropped for an error
	Audit                  // would have been dropped; policy in audit mode
	Redirected             // sent to a proxy
	Traced                 // observed at a trace point
	Translated             // address translated
)

var verdictNames = [...]string{"UNKNOWN", "FORWARDED", "DROPPED", "ERROR", "AUDIT", "REDIRECTED", "TRACED", "TRANSLATED"}

func (v Verdict) String() string { return enumName(verdictNames[:], uint8(v)) }

// Passed reports whether traffic with this verdict reached its
// destination (or would have, for Audit).
func (v Verdict) Passed() bool {
	return v == Forwarded || v == Audit || v == Redirected || v == Traced || v == Translated
}

// ParseVerdict maps Hubble's verdict names (VERDICT_UNKNOWN included).
func ParseVerdict(s string) (Verdict, bool) {
	for i, n := range verdictNames {
		if s == n {
			return Verdict(i), true
		}
	}
	if s == "VERDICT_UNKNOWN" {
		return VerdictUnknown, true
	}
	return VerdictUnknown, false
}

// Proto is the IP protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6,
// 132 SCTP); 0 when unknown.
type Proto uint8

// Protocols.
const (
	ProtoUnknown Proto = 0
	ICMP         Proto = 1
	TCP          Proto = 6
	UDP          Proto = 17
	ICMPv6       Proto = 58
	SCTP         Proto = 132
)

// IsICMP reports whether p is ICMP or ICMPv6.
func (p Proto) IsICMP() bool { return p == ICMP || p == ICMPv6 }

func (p Proto) String() string {
	switch p {
	case ICMP:
		return "ICMP"
	case TCP:
		return "TCP"
	case UDP:
		return "UDP"
	case ICMPv6:
		return "ICMPv6"
	case SCTP:
		return "SCTP"
	case ProtoUnknown:
		return "unknown"
	}
	return "proto-" + portString(uint16(p))
}

// Direction is the direction of traffic relative to the observed
// endpoint (Hubble's traffic_direction).
type Direction uint8

// Directions.
const (
	DirectionUnknown Direction = iota
	Ingress
	Egress
)

var directionNames = [...]string{"unknown", "ingress", "egress"}

func (d Direction) String() string { return enumName(directionNames[:], uint8(d)) }

// TCPFlags is a set of TCP flags.
type TCPFlags uint16

// TCP flags, in header bit order (NS last).
const (
	FIN TCPFlags = 1 << iota
	SYN
	RST
	PSH
	ACK
	URG
	ECE
	CWR
	NS
)

var flagNames = [...]string{"FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR", "NS"}

// FlagByName returns the flag named n (Hubble's upper-case names).
func FlagByName(n string) (TCPFlags, bool) {
	for i, f := range flagNames {
		if f == n {
			return 1 << i, true
		}
	}
	return 0, false
}

// String renders the set as "SYN|ACK".
func (f TCPFlags) String() string {
	var b strings.Builder
	for i, n := range flagNames {
		if f&(1<<i) != 0 {
			if b.Len() > 0 {
				b.WriteByte('|')
			}
			b.WriteString(n)
		}
	}
	return b.String()
}

// IsSYN reports a connection-opening segment: SYN without ACK.
func (f TCPFlags) IsSYN() bool { return f&(SYN|ACK) == SYN }

func enumName(names []string, i uint8) string {
	if int(i) < len(names) {
		return names[i]
	}
	return "invalid-" + strconv.Itoa(int(i))
}
