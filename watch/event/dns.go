package event

import (
	"encoding/json"
	"strconv"
	"strings"
)

// DNS is a DNS query as a resolver's log or Hubble's DNS visibility
// records it. No answer record is carried.
type DNS struct {
	// Query is the name asked for, ASCII lower-cased, without its
	// trailing dot ("" for the root).
	Query string
	// QType is the type asked for; 0 when the source did not say.
	QType QType
	// Rcode is the response code (0 NOERROR, 3 NXDOMAIN, ...), or
	// RcodeUnknown when the record carries no answer.
	Rcode int32
	// Response is true for a record of the server's answer that repeats a
	// query reported already (Hubble's RESPONSE records): detectors count
	// queries, not both halves of an exchange.
	Response bool
	// Size is the response's size in bytes; 0 when unknown.
	Size int
}

// MarshalJSON renders the record for alert evidence: the type and
// response code by name, unknown ones left out.
func (d *DNS) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Query    string `json:"query"`
		QType    string `json:"qtype,omitempty"`
		Rcode    string `json:"rcode,omitempty"`
		Response bool   `json:"response,omitempty"`
		Size     int    `json:"size,omitempty"`
	}{d.Query, d.QType.String(), RcodeName(d.Rcode), d.Response, d.Size})
}

// RcodeUnknown is DNS.Rcode when no answer is known (a request).
const RcodeUnknown = -1

// QType is a DNS query type (RFC 1035 and later).
type QType uint16

// Query types the detectors and decoders name.
const (
	TypeA      QType = 1
	TypeNS     QType = 2
	TypeCNAME  QType = 5
	TypeSOA    QType = 6
	TypeNULL   QType = 10
	TypePTR    QType = 12
	TypeMX     QType = 15
	TypeTXT    QType = 16
	TypeAAAA   QType = 28
	TypeSRV    QType = 33
	TypeNAPTR  QType = 35
	TypeOPT    QType = 41
	TypeDS     QType = 43
	TypeRRSIG  QType = 46
	TypeNSEC   QType = 47
	TypeDNSKEY QType = 48
	TypeSVCB   QType = 64
	TypeHTTPS  QType = 65
	TypeIXFR   QType = 251
	TypeAXFR   QType = 252
	TypeANY    QType = 255
	TypeCAA    QType = 257
)

var qtypeNames = map[QType]string{
	TypeA: "A", TypeNS: "NS", TypeCNAME: "CNAME", TypeSOA: "SOA", TypeNULL: "NULL", TypePTR: "PTR",
	TypeMX: "MX", TypeTXT: "TXT", TypeAAAA: "AAAA", TypeSRV: "SRV", TypeNAPTR: "NAPTR", TypeOPT: "OPT",
	TypeDS: "DS", TypeRRSIG: "RRSIG", TypeNSEC: "NSEC", TypeDNSKEY: "DNSKEY", TypeSVCB: "SVCB",
	TypeHTTPS: "HTTPS", TypeIXFR: "IXFR", TypeAXFR: "AXFR", TypeANY: "ANY", TypeCAA: "CAA",
}

// String is the type's mnemonic, "TYPEn" for others (RFC 3597), "" for 0.
func (q QType) String() string {
	if q == 0 {
		return ""
	}
	if n, ok := qtypeNames[q]; ok {
		return n
	}
	return "TYPE" + strconv.Itoa(int(q))
}

// ParseQType reads a mnemonic (upper case, as resolvers print them) or
// the RFC 3597 form TYPEn. Other names are not an error: ok is false and
// the type is 0 (unknown), so that a type named by a newer resolver does
// not make its records bad.
func ParseQType(s string) (q QType, ok bool) {
	for t, n := range qtypeNames {
		if n == s {
			return t, true
		}
	}
	if rest, found := strings.CutPrefix(s, "TYPE"); found && len(rest) > 0 && len(rest) <= 5 && rest[0] != '0' {
		if n, err := strconv.ParseUint(rest, 10, 16); err == nil {
			return QType(n), true
		}
	}
	return 0, false
}

// ZoneTransfer reports AXFR and IXFR.
func (q QType) ZoneTransfer() bool { return q == TypeAXFR || q == TypeIXFR }

// rcodeNames are the response codes of RFC 1035, 2136 and 6891 as
// resolvers print them.
var rcodeNames = [...]string{"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
	"YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE"}

// ParseRcode reads a response code's name (NOERROR, NXDOMAIN, ...) or
// its number.
func ParseRcode(s string) (int32, bool) {
	for i, n := range rcodeNames {
		if n == s {
			return int32(i), true // #nosec G115 -- a small index
		}
	}
	switch s {
	case "BADVERS", "BADSIG":
		return 16, true
	}
	if n, err := strconv.ParseUint(s, 10, 12); err == nil { // rcodes are 12 bits with EDNS
		return int32(n), true // #nosec G115 -- at most 4095
	}
	return 0, false
}

// RcodeName is the name of a response code, its number for others, ""
// for RcodeUnknown.
func RcodeName(r int32) string {
	switch {
	case r == RcodeUnknown:
		return ""
	case r >= 0 && int(r) < len(rcodeNames):
		return rcodeNames[r]
	}
	return strconv.Itoa(int(r))
}
