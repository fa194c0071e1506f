package portset

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Protocol is a transport protocol NetworkPolicy can name.
type Protocol uint8

// The protocols NetworkPolicy v1 knows, in output order.
const (
	TCP Protocol = iota
	UDP
	SCTP
	numProtocols
)

// Protocols lists every protocol in output order.
var Protocols = [...]Protocol{TCP, UDP, SCTP}

func (p Protocol) String() string {
	switch p {
	case TCP:
		return "TCP"
	case UDP:
		return "UDP"
	case SCTP:
		return "SCTP"
	}
	return "Protocol(" + strconv.Itoa(int(p)) + ")"
}

// ParseProtocol parses "TCP", "UDP" or "SCTP" (case-insensitive).
func ParseProtocol(s string) (Protocol, error) {
	switch strings.ToUpper(s) {
	case "TCP":
		return TCP, nil
	case "UDP":
		return UDP, nil
	case "SCTP":
		return SCTP, nil
	}
	return 0, fmt.Errorf("portset: unknown protocol %q (want TCP, UDP or SCTP)", s)
}

// MinPort and MaxPort bound the port numbers a Set can hold.
const (
	MinPort = 1
	MaxPort = 65535
)

// Range is an inclusive interval of ports of one protocol.
type Range struct {
	Proto  Protocol
	Lo, Hi uint16
}

func (r Range) String() string {
	if r.Lo == r.Hi {
		return fmt.Sprintf("%d/%s", r.Lo, r.Proto)
	}
	return fmt.Sprintf("%d-%d/%s", r.Lo, r.Hi, r.Proto)
}

// Set is an immutable set of (protocol, port) pairs. The zero value is the
// empty set. Sets are values: share them freely.
type Set struct {
	// r is sorted by (Proto, Lo), disjoint and non-adjacent.
	r []Range
}

// All is every port of every protocol.
var All = Set{r: []Range{{TCP, MinPort, MaxPort}, {UDP, MinPort, MaxPort}, {SCTP, MinPort, MaxPort}}}

// Of returns the set holding the given ranges, which may overlap and come in
// any order. Ranges with Lo > Hi or port 0 are clipped or dropped.
func Of(rs ...Range) Set {
	if len(rs) == 0 {
		return Set{}
	}
	c := make([]Range, 0, len(rs))
	for _, r := range rs {
		if r.Lo < MinPort {
			r.Lo = MinPort
		}
		if r.Lo > r.Hi || r.Proto >= numProtocols {
			continue
		}
		c = append(c, r)
	}
	sort.Slice(c, func(i, j int) bool {
		if c[i].Proto != c[j].Proto {
			return c[i].Proto < c[j].Proto
		}
		return c[i].Lo < c[j].Lo
	})
	return Set{r: normalize(c)}
}

// Port returns the set holding one port.
func Port(p Protocol, port uint16) Set { return Of(Range{p, port, port}) }

// AllOf returns every port of protocol p.
func AllOf(p Protocol) Set { return Of(Range{p, MinPort, MaxPort}) }

// normalize merges overlapping and adjacent ranges of a sorted slice in place.
func normalize(c []Range) []Range {
	out := c[:0]
	for _, r := range c {
		if n := len(out); n > 0 && out[n-1].Proto == r.Proto && uint32(r.Lo) <= uint32(out[n-1].Hi)+1 {
			if r.Hi > out[n-1].Hi {
				out[n-1].Hi = r.Hi
			}
			continue
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// Empty reports whether s holds nothing.
func (s Set) Empty() bool { return len(s.r) == 0 }

// IsAll reports whether s holds every port of every protocol.
func (s Set) IsAll() bool { return s.Equal(All) }

// Ranges returns the ranges of s in order. The caller must not modify them.
func (s Set) Ranges() []Range { return s.r }

// Contains reports whether s holds port on protocol p.
func (s Set) Contains(p Protocol, port uint16) bool {
	i := sort.Search(len(s.r), func(i int) bool {
		r := s.r[i]
		return r.Proto > p || (r.Proto == p && r.Hi >= port)
	})
	return i < len(s.r) && s.r[i].Proto == p && s.r[i].Lo <= port
}

// Equal reports whether s and t hold the same pairs.
func (s Set) Equal(t Set) bool {
	if len(s.r) != len(t.r) {
		return false
	}
	for i := range s.r {
		if s.r[i] != t.r[i] {
			return false
		}
	}
	return true
}

func less(a, b Range) bool {
	return a.Proto < b.Proto || (a.Proto == b.Proto && a.Lo < b.Lo)
}

// Union returns s ∪ t.
func (s Set) Union(t Set) Set {
	switch {
	case len(t.r) == 0:
		return s
	case len(s.r) == 0:
		return t
	}
	c := make([]Range, 0, len(s.r)+len(t.r))
	i, j := 0, 0
	for i < len(s.r) || j < len(t.r) {
		if j == len(t.r) || (i < len(s.r) && less(s.r[i], t.r[j])) {
			c = append(c, s.r[i])
			i++
		} else {
			c = append(c, t.r[j])
			j++
		}
	}
	return Set{r: normalize(c)}
}

// Intersect returns s ∩ t.
func (s Set) Intersect(t Set) Set {
	var c []Range
	i, j := 0, 0
	for i < len(s.r) && j < len(t.r) {
		a, b := s.r[i], t.r[j]
		if a.Proto != b.Proto {
			if a.Proto < b.Proto {
				i++
			} else {
				j++
			}
			continue
		}
		lo, hi := max(a.Lo, b.Lo), min(a.Hi, b.Hi)
		if lo <= hi {
			c = append(c, Range{a.Proto, lo, hi})
		}
		if a.Hi < b.Hi {
			i++
		} else {
			j++
		}
	}
	return Set{r: c}
}

// Subtract returns s \ t.
func (s Set) Subtract(t Set) Set {
	var c []Range
	j := 0
	for _, a := range s.r {
		lo := uint32(a.Lo)
		for j < len(t.r) && (t.r[j].Proto < a.Proto || (t.r[j].Proto == a.Proto && t.r[j].Hi < a.Lo)) {
			j++
		}
		for k := j; k < len(t.r) && t.r[k].Proto == a.Proto && t.r[k].Lo <= a.Hi; k++ {
			b := t.r[k]
			if uint32(b.Lo) > lo {
				c = append(c, Range{a.Proto, uint16(lo), b.Lo - 1}) // #nosec G115 -- lo lies in b.Lo-1..65535 here, as the loop keeps it below a.Hi+1
			}
			if uint32(b.Hi)+1 > lo {
				lo = uint32(b.Hi) + 1
			}
		}
		if lo <= uint32(a.Hi) {
			c = append(c, Range{a.Proto, uint16(lo), a.Hi}) // #nosec G115 -- lo <= a.Hi, checked on the line above
		}
	}
	return Set{r: c}
}

// Key returns a compact string that is equal for equal sets, for use as a
// map key.
func (s Set) Key() string {
	var b strings.Builder
	for _, r := range s.r {
		b.WriteByte(byte(r.Proto))
		b.WriteByte(byte(r.Lo >> 8))
		b.WriteByte(byte(r.Lo)) // #nosec G115 -- deliberate truncation: the low byte of a port
		b.WriteByte(byte(r.Hi >> 8))
		b.WriteByte(byte(r.Hi)) // #nosec G115 -- deliberate truncation: the low byte of a port
	}
	return b.String()
}

// String formats s for people: "all", "none", or a comma-separated list such
// as "80/TCP, 8000-8080/TCP, 53/UDP". A protocol allowed on every port reads
// "TCP" (all ports).
func (s Set) String() string {
	if len(s.r) == 0 {
		return "none"
	}
	if s.IsAll() {
		return "all"
	}
	parts := make([]string, 0, len(s.r))
	for _, r := range s.r {
		if r.Lo == MinPort && r.Hi == MaxPort {
			parts = append(parts, "all/"+r.Proto.String())
			continue
		}
		parts = append(parts, r.String())
	}
	return strings.Join(parts, ", ")
}

// ByProtocol returns the ranges of s as inclusive [lo, hi] pairs keyed by
// protocol name ("TCP", "UDP", "SCTP"): the shape of Ward's JSON output.
func (s Set) ByProtocol() map[string][][2]int {
	m := make(map[string][][2]int)
	for _, r := range s.r {
		k := r.Proto.String()
		m[k] = append(m[k], [2]int{int(r.Lo), int(r.Hi)})
	}
	return m
}

// Parse parses a port list such as "80/TCP", "53/udp", "8000-8080/TCP" or
// "443" (TCP implied). Several may be joined with commas.
func Parse(s string) (Set, error) {
	var rs []Range
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			return Set{}, fmt.Errorf("portset: empty port in %q", s)
		}
		r, err := parseOne(f)
		if err != nil {
			return Set{}, err
		}
		rs = append(rs, r)
	}
	return Of(rs...), nil
}

func parseOne(f string) (Range, error) {
	proto := TCP
	num := f
	if i := strings.IndexByte(f, '/'); i >= 0 {
		p, err := ParseProtocol(f[i+1:])
		if err != nil {
			return Range{}, err
		}
		proto, num = p, f[:i]
	}
	lo, hi := num, num
	if i := strings.IndexByte(num, '-'); i >= 0 {
		lo, hi = num[:i], num[i+1:]
	}
	l, err := parsePort(lo)
	if err != nil {
		return Range{}, fmt.Errorf("portset: %q: %w", f, err)
	}
	h, err := parsePort(hi)
	if err != nil {
		return Range{}, fmt.Errorf("portset: %q: %w", f, err)
	}
	if h < l {
		return Range{}, fmt.Errorf("portset: %q: range ends before it starts", f)
	}
	return Range{proto, l, h}, nil
}

func parsePort(s string) (uint16, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < MinPort || n > MaxPort {
		return 0, fmt.Errorf("port %q is not a number in 1-65535", s)
	}
	return uint16(n), nil
}

// MarshalJSON writes s as an object from protocol name to a list of
// inclusive [from, to] port ranges: {"TCP": [[80, 80], [8000, 8080]]}. The
// empty set is {}.
func (s Set) MarshalJSON() ([]byte, error) {
	b := []byte{'{'}
	for i, r := range s.r {
		if i == 0 || s.r[i-1].Proto != r.Proto {
			if i > 0 {
				b = append(b, "],"...)
			}
			b = append(b, '"')
			b = append(b, r.Proto.String()...)
			b = append(b, `":[`...)
		} else {
			b = append(b, ',')
		}
		b = append(b, '[')
		b = strconv.AppendInt(b, int64(r.Lo), 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(r.Hi), 10)
		b = append(b, ']')
	}
	if len(s.r) > 0 {
		b = append(b, ']')
	}
	return append(b, '}'), nil
}

// UnmarshalJSON reads the form MarshalJSON writes.
func (s *Set) UnmarshalJSON(b []byte) error {
	var m map[string][][2]int
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("portset: %w", err)
	}
	var rs []Range
	for name, list := range m {
		p, err := ParseProtocol(name)
		if err != nil {
			return err
		}
		for _, lh := range list {
			if lh[0] < MinPort || lh[1] > MaxPort || lh[1] < lh[0] {
				return fmt.Errorf("portset: invalid range [%d, %d]", lh[0], lh[1])
			}
			rs = append(rs, Range{p, uint16(lh[0]), uint16(lh[1])}) // #nosec G115 -- both bounds are checked to lie in 1..65535 above
		}
	}
	*s = Of(rs...)
	return nil
}
