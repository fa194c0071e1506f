package fleet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/wardsec/ward/watch/event"
)

// Version is the first byte of every encoded event. Decode refuses any
// other: a consumer older than its publishers says so instead of
// misreading.
const Version = 1

// MaxString bounds each string field on the wire; the publisher truncates
// nothing (its sources bound their lines), the decoder refuses longer.
const MaxString = 64 << 10

// maxFlags is every TCP flag event knows.
const maxFlags = event.NS<<1 - 1

// named reports whether an enumeration value has a name in package event
// (whose String gives "invalid-N" to others): Decode refuses the rest, and
// a value added there is accepted here with no change.
func named(s fmt.Stringer) bool { return !strings.HasPrefix(s.String(), "invalid-") }

// address tags.
const (
	addrNone = 0
	addrV4   = 4
	addrV6   = 6
	addrZone = 7 // IPv6 with a zone
)

// Append appends the encoding of e to b: the version byte, then every
// field of event.Event in a fixed order, integers as varints (the ID as 8
// fixed bytes: it is a hash), addresses as a tag and their bytes, strings
// as a length and their bytes, then a presence byte (bit 0: L7, bit 1:
// DNS) and the fields of each record present. A consumer older than DNS
// refuses an event carrying it (presence byte 2 or 3) as a bad record
// rather than misreading it.
// A typical conntrack or Hubble event takes 40 to 70 bytes.
func Append(b []byte, e *event.Event) []byte {
	b = append(b, Version)
	b = binary.AppendVarint(b, e.Time)
	b = binary.LittleEndian.AppendUint64(b, e.ID)
	b = appendAddr(b, e.Src)
	b = appendAddr(b, e.Dst)
	b = appendAddr(b, e.PreDNAT.Addr())
	b = binary.AppendUvarint(b, uint64(e.PreDNAT.Port()))
	b = appendAddr(b, e.PostSNAT.Addr())
	b = binary.AppendUvarint(b, uint64(e.PostSNAT.Port()))
	b = binary.AppendUvarint(b, uint64(e.SrcPort))
	b = binary.AppendUvarint(b, uint64(e.DstPort))
	b = binary.AppendUvarint(b, e.Packets)
	b = binary.AppendUvarint(b, e.Bytes)
	b = binary.AppendUvarint(b, e.ReplyPackets)
	b = binary.AppendUvarint(b, e.ReplyBytes)
	b = binary.AppendUvarint(b, uint64(e.Flags))
	var reply byte
	if e.Reply {
		reply = 1
	}
	b = append(b, byte(e.Origin), byte(e.Kind), byte(e.Verdict), byte(e.Proto), byte(e.Direction), reply, e.ICMPType, e.ICMPCode)
	for _, s := range [...]string{e.SrcNamespace, e.SrcName, e.DstNamespace, e.DstName, e.Node, e.Reason, e.Rule} {
		b = appendString(b, s)
	}
	var present byte
	if e.L7 != nil {
		present |= hasL7
	}
	if e.DNS != nil {
		present |= hasDNS
	}
	b = append(b, present)
	if l := e.L7; l != nil {
		b = appendString(b, l.Method)
		b = appendString(b, l.Path)
		b = binary.AppendVarint(b, int64(l.Status))
		for _, s := range [...]string{l.Decision, l.Principal, l.RequestID, l.Route, l.WAF} {
			b = appendString(b, s)
		}
	}
	if d := e.DNS; d != nil {
		var resp byte
		if d.Response {
			resp = 1
		}
		b = appendString(b, d.Query)
		b = binary.AppendUvarint(b, uint64(d.QType))
		b = binary.AppendVarint(b, int64(d.Rcode))
		b = append(b, resp)
		b = binary.AppendVarint(b, int64(d.Size))
	}
	return b
}

// The presence byte's bits.
const (
	hasL7  = 1
	hasDNS = 2
)

func appendAddr(b []byte, a netip.Addr) []byte {
	switch {
	case !a.IsValid():
		return append(b, addrNone)
	case a.Is4():
		v := a.As4()
		return append(append(b, addrV4), v[:]...)
	case a.Zone() != "":
		v := a.As16()
		return appendString(append(append(b, addrZone), v[:]...), a.Zone())
	default:
		v := a.As16()
		return append(append(b, addrV6), v[:]...)
	}
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// ErrVersion is returned for a message of another encoding version.
var ErrVersion = errors.New("unknown encoding version")

// Decoder decodes events, interning their strings (node, namespace, pod
// names, reasons and rules repeat in every event). It is not safe for
// concurrent use.
type Decoder struct {
	in *event.Interner
}

// NewDecoder returns a Decoder.
func NewDecoder() *Decoder { return &Decoder{in: event.NewInterner(1<<14, 256)} }

// Decode decodes one encoded event into e. Any input that is not exactly
// one event of this Version is an error saying what is wrong and at which
// byte; e is then partly filled and must not be used.
func (d *Decoder) Decode(b []byte, e *event.Event) error {
	r := reader{b: b}
	if v := r.byte(); r.err == nil && v != Version {
		return fmt.Errorf("%w %d (this ward reads %d)", ErrVersion, v, Version)
	}
	*e = event.Event{}
	e.Time = r.varint()
	e.ID = r.uint64()
	e.Src = r.addr(d)
	e.Dst = r.addr(d)
	if a, p := r.addr(d), r.port(); a.IsValid() || p != 0 {
		e.PreDNAT = netip.AddrPortFrom(a, p)
	}
	if a, p := r.addr(d), r.port(); a.IsValid() || p != 0 {
		e.PostSNAT = netip.AddrPortFrom(a, p)
	}
	e.SrcPort = r.port()
	e.DstPort = r.port()
	e.Packets = r.uvarint()
	e.Bytes = r.uvarint()
	e.ReplyPackets = r.uvarint()
	e.ReplyBytes = r.uvarint()
	flags := r.uvarint()
	e.Flags = event.TCPFlags(flags & 0xffff) // checked against maxFlags below
	e.Origin = event.Origin(r.byte())
	e.Kind = event.Kind(r.byte())
	e.Verdict = event.Verdict(r.byte())
	e.Proto = event.Proto(r.byte())
	e.Direction = event.Direction(r.byte())
	reply := r.byte()
	e.Reply = reply == 1
	e.ICMPType = r.byte()
	e.ICMPCode = r.byte()
	if r.err != nil {
		return r.err
	}
	switch {
	case flags > uint64(maxFlags):
		return fmt.Errorf("TCP flags %#x out of range", flags)
	case !named(e.Origin):
		return fmt.Errorf("origin %d out of range", e.Origin)
	case !named(e.Kind):
		return fmt.Errorf("kind %d out of range", e.Kind)
	case !named(e.Verdict):
		return fmt.Errorf("verdict %d out of range", e.Verdict)
	case !named(e.Direction):
		return fmt.Errorf("direction %d out of range", e.Direction)
	case reply > 1:
		return fmt.Errorf("reply flag %d is not 0 or 1", reply)
	}
	e.SrcNamespace = r.str(d)
	e.SrcName = r.str(d)
	e.DstNamespace = r.str(d)
	e.DstName = r.str(d)
	e.Node = r.str(d)
	e.Reason = r.str(d)
	e.Rule = r.str(d)
	present := r.byte()
	if r.err == nil && present&^(hasL7|hasDNS) != 0 {
		return fmt.Errorf("presence byte %d has bits other than L7 (1) and DNS (2)", present)
	}
	if present&hasL7 != 0 {
		l := &event.L7{}
		l.Method = r.str(d)
		l.Path = r.plain()
		status := r.varint()
		if r.err == nil && (status < -1<<31 || status > 1<<31-1) {
			return fmt.Errorf("L7 status %d out of range", status)
		}
		l.Status = int(status)
		l.Decision = r.str(d)
		l.Principal = r.str(d)
		l.RequestID = r.plain()
		l.Route = r.str(d)
		l.WAF = r.str(d)
		e.L7 = l
	}
	if present&hasDNS != 0 {
		q := &event.DNS{}
		q.Query = r.plain()
		qtype := r.uvarint()
		rcode := r.varint()
		resp := r.byte()
		size := r.varint()
		switch {
		case r.err != nil:
		case qtype > 0xffff:
			return fmt.Errorf("DNS type %d out of range", qtype)
		case rcode < event.RcodeUnknown || rcode > 0xfff:
			return fmt.Errorf("DNS rcode %d out of range", rcode)
		case resp > 1:
			return fmt.Errorf("DNS response flag %d is not 0 or 1", resp)
		case size < 0 || size > 0xffff:
			return fmt.Errorf("DNS size %d out of range", size)
		}
		q.QType = event.QType(qtype) // #nosec G115 -- checked above
		q.Rcode = int32(rcode)       // #nosec G115 -- checked above
		q.Response = resp == 1
		q.Size = int(size)
		e.DNS = q
	}
	if r.err != nil {
		return r.err
	}
	if r.off != len(b) {
		return fmt.Errorf("%d bytes after the event at byte %d", len(b)-r.off, r.off)
	}
	return nil
}

// reader reads b; the first error sticks and every later read returns
// zero values.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("truncated or malformed %s at byte %d", what, r.off)
	}
}

func (r *reader) byte() byte {
	if r.err != nil || r.off >= len(r.b) {
		r.fail("byte")
		return 0
	}
	c := r.b[r.off]
	r.off++
	return c
}

func (r *reader) uint64() uint64 {
	if r.err != nil || len(r.b)-r.off < 8 {
		r.fail("event ID")
		return 0
	}
	v := binary.LittleEndian.Uint64(r.b[r.off:])
	r.off += 8
	return v
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		r.fail("integer")
		return 0
	}
	r.off += n
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b[r.off:])
	if n <= 0 {
		r.fail("integer")
		return 0
	}
	r.off += n
	return v
}

func (r *reader) port() uint16 {
	v := r.uvarint()
	if v > 0xffff {
		if r.err == nil {
			r.err = fmt.Errorf("port %d out of range before byte %d", v, r.off)
		}
		return 0
	}
	return uint16(v)
}

// bytes returns the next length-prefixed field, without copying.
func (r *reader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > MaxString || n > uint64(len(r.b)-r.off) { // #nosec G115 -- off never passes len(b): the difference is not negative
		r.fail("string")
		return nil
	}
	s := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return s
}

// str reads a string of the few repeated values and interns it.
func (r *reader) str(d *Decoder) string { return d.in.Intern(r.bytes()) }

// plain reads a string that rarely repeats (a path, a request id).
func (r *reader) plain() string { return string(r.bytes()) }

func (r *reader) addr(d *Decoder) netip.Addr {
	switch tag := r.byte(); tag {
	case addrNone:
		return netip.Addr{}
	case addrV4:
		if r.err != nil || len(r.b)-r.off < 4 {
			r.fail("IPv4 address")
			return netip.Addr{}
		}
		a := netip.AddrFrom4([4]byte(r.b[r.off : r.off+4]))
		r.off += 4
		return a
	case addrV6, addrZone:
		if r.err != nil || len(r.b)-r.off < 16 {
			r.fail("IPv6 address")
			return netip.Addr{}
		}
		a := netip.AddrFrom16([16]byte(r.b[r.off : r.off+16]))
		r.off += 16
		if tag == addrZone {
			z := r.str(d)
			if r.err == nil && z == "" {
				r.err = fmt.Errorf("empty IPv6 zone before byte %d", r.off)
			}
			a = a.WithZone(z)
		}
		return a
	default:
		if r.err == nil {
			r.err = fmt.Errorf("address tag %d at byte %d is none of 0, 4, 6, 7", tag, r.off-1)
		}
		return netip.Addr{}
	}
}
