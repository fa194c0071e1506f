package ipset

import (
	"fmt"
	"math/bits"
	"net/netip"
	"sort"
	"strings"
)

// Range is the inclusive interval From..To of addresses of one family.
type Range struct {
	From, To netip.Addr
}

// FromPrefix returns the range of addresses covered by p.
func FromPrefix(p netip.Prefix) Range {
	p = p.Masked()
	a := toU128(p.Addr())
	width := p.Addr().BitLen()
	host := width - p.Bits()
	var mask u128
	if host > 0 {
		mask = u128{^uint64(0), ^uint64(0)}.shr(uint(128 - host))
	}
	return Range{From: p.Addr(), To: fromU128(a.or(mask), p.Addr().Is4())}
}

// ParsePrefix parses a CIDR such as "10.0.0.0/8" or "fd00::/64". Host bits
// must be zero, as the Kubernetes API requires for ipBlock CIDRs.
func ParsePrefix(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(strings.TrimSpace(s))
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("ipset: invalid CIDR %q", s)
	}
	if p.Addr().Is4In6() {
		return netip.Prefix{}, fmt.Errorf("ipset: invalid CIDR %q: IPv4-mapped IPv6 is not allowed", s)
	}
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("ipset: invalid CIDR %q: host bits set (did you mean %s?)", s, p.Masked())
	}
	return p, nil
}

// Contains reports whether a lies in r.
func (r Range) Contains(a netip.Addr) bool {
	return a.BitLen() == r.From.BitLen() && r.From.Compare(a) <= 0 && a.Compare(r.To) <= 0
}

// ContainsRange reports whether o lies wholly in r.
func (r Range) ContainsRange(o Range) bool { return r.Contains(o.From) && r.Contains(o.To) }

// Prefixes returns the smallest list of CIDRs whose union is r, in order.
func (r Range) Prefixes() []netip.Prefix {
	is4 := r.From.Is4()
	width := r.From.BitLen()
	lo, hi := toU128(r.From), toU128(r.To)
	var out []netip.Prefix
	for {
		// The largest block starting at lo: limited by lo's alignment and by hi.
		host := lo.trailingZeros()
		if host > width {
			host = width
		}
		for host > 0 {
			end := lo.or(u128{^uint64(0), ^uint64(0)}.shr(uint(128 - host)))
			if end.cmp(hi) <= 0 {
				break
			}
			host--
		}
		out = append(out, netip.PrefixFrom(fromU128(lo, is4), width-host))
		end := lo
		if host > 0 {
			end = lo.or(u128{^uint64(0), ^uint64(0)}.shr(uint(128 - host)))
		}
		if end.cmp(hi) >= 0 {
			return out
		}
		lo = end.add1()
	}
}

func (r Range) String() string {
	ps := r.Prefixes()
	if len(ps) == 1 {
		return ps[0].String()
	}
	return r.From.String() + "-" + r.To.String()
}

// Set is a sorted union of disjoint, non-adjacent ranges. IPv4 ranges sort
// before IPv6 ones. The zero value is the empty set.
type Set struct{ r []Range }

// Of returns the union of rs.
func Of(rs ...Range) Set {
	c := append([]Range(nil), rs...)
	sort.Slice(c, func(i, j int) bool { return c[i].From.Less(c[j].From) })
	out := c[:0]
	for _, r := range c {
		if n := len(out); n > 0 && out[n-1].To.BitLen() == r.From.BitLen() {
			last := &out[n-1]
			if next := last.To.Next(); r.From.Compare(last.To) <= 0 || (next.IsValid() && next == r.From) {
				if r.To.Compare(last.To) > 0 {
					last.To = r.To
				}
				continue
			}
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		return Set{}
	}
	return Set{r: out}
}

// Ranges returns the ranges of s; the caller must not modify them.
func (s Set) Ranges() []Range { return s.r }

// Empty reports whether s holds no address.
func (s Set) Empty() bool { return len(s.r) == 0 }

// Contains reports whether a lies in s.
func (s Set) Contains(a netip.Addr) bool {
	i := sort.Search(len(s.r), func(i int) bool {
		t := s.r[i].To
		return t.BitLen() > a.BitLen() || (t.BitLen() == a.BitLen() && t.Compare(a) >= 0)
	})
	return i < len(s.r) && s.r[i].Contains(a)
}

// Prefixes returns the CIDRs covering s, in order.
func (s Set) Prefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, r := range s.r {
		out = append(out, r.Prefixes()...)
	}
	return out
}

// String lists the CIDRs of s separated by commas.
func (s Set) String() string {
	ps := s.Prefixes()
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.String()
	}
	return strings.Join(parts, ", ")
}

// u128 is an address as a 128-bit unsigned number.
type u128 struct{ hi, lo uint64 }

func toU128(a netip.Addr) u128 {
	b := a.As16()
	if a.Is4() {
		v4 := a.As4()
		return u128{0, uint64(v4[0])<<24 | uint64(v4[1])<<16 | uint64(v4[2])<<8 | uint64(v4[3])}
	}
	var x u128
	for i := 0; i < 8; i++ {
		x.hi = x.hi<<8 | uint64(b[i])
		x.lo = x.lo<<8 | uint64(b[i+8])
	}
	return x
}

func fromU128(x u128, is4 bool) netip.Addr {
	if is4 {
		return netip.AddrFrom4([4]byte{byte(x.lo >> 24), byte(x.lo >> 16), byte(x.lo >> 8), byte(x.lo)}) // #nosec G115 -- deliberate truncation: extracting the bytes of an address
	}
	var b [16]byte
	for i := 7; i >= 0; i-- {
		b[i] = byte(x.hi)   // #nosec G115 -- deliberate truncation: extracting the bytes of an address
		b[i+8] = byte(x.lo) // #nosec G115 -- deliberate truncation: extracting the bytes of an address
		x.hi >>= 8
		x.lo >>= 8
	}
	return netip.AddrFrom16(b)
}

func (x u128) or(y u128) u128 { return u128{x.hi | y.hi, x.lo | y.lo} }

func (x u128) shr(n uint) u128 {
	switch {
	case n >= 128:
		return u128{}
	case n >= 64:
		return u128{0, x.hi >> (n - 64)}
	case n == 0:
		return x
	}
	return u128{x.hi >> n, x.lo>>n | x.hi<<(64-n)}
}

func (x u128) cmp(y u128) int {
	switch {
	case x.hi < y.hi || (x.hi == y.hi && x.lo < y.lo):
		return -1
	case x == y:
		return 0
	}
	return 1
}

func (x u128) add1() u128 {
	lo := x.lo + 1
	hi := x.hi
	if lo == 0 {
		hi++
	}
	return u128{hi, lo}
}

func (x u128) trailingZeros() int {
	if x.lo != 0 {
		return bits.TrailingZeros64(x.lo)
	}
	if x.hi != 0 {
		return 64 + bits.TrailingZeros64(x.hi)
	}
	return 128
}

// Subtract returns s with every address of t removed.
func (s Set) Subtract(t Set) Set {
	var out []Range
	for _, a := range s.r {
		cur := a
		alive := true
		for _, b := range t.r {
			if !alive {
				break
			}
			if b.To.BitLen() != cur.From.BitLen() || b.To.Less(cur.From) || cur.To.Less(b.From) {
				continue
			}
			if cur.From.Less(b.From) {
				out = append(out, Range{cur.From, b.From.Prev()})
			}
			if b.To.Less(cur.To) {
				cur.From = b.To.Next()
			} else {
				alive = false
			}
		}
		if alive {
			out = append(out, cur)
		}
	}
	return Of(out...)
}

// Union returns s ∪ t.
func (s Set) Union(t Set) Set {
	return Of(append(append([]Range(nil), s.r...), t.r...)...)
}

// Describe formats s for people as compactly as it can: per address
// family, either its CIDRs or, when shorter, the smallest CIDR covering
// them "except" the CIDRs missing from it. For example the set
// 0.0.0.0/0 minus 10.0.0.0/8 reads "0.0.0.0/0 except 10.0.0.0/8" rather
// than as the eight CIDRs that make it up.
func (s Set) Describe() string {
	var parts []string
	for _, fam := range []int{32, 128} {
		var rs []Range
		for _, r := range s.r {
			if r.From.BitLen() == fam {
				rs = append(rs, r)
			}
		}
		if len(rs) == 0 {
			continue
		}
		plain := Set{r: rs}
		cover := coverOf(rs[0].From, rs[len(rs)-1].To)
		holes := Of(FromPrefix(cover)).Subtract(plain)
		hp, pp := holes.Prefixes(), plain.Prefixes()
		if len(hp) > 0 && len(hp) < len(pp) {
			parts = append(parts, cover.String()+" except "+holes.String())
		} else {
			parts = append(parts, plain.String())
		}
	}
	return strings.Join(parts, "; ")
}

// coverOf returns the longest prefix containing both a and b.
func coverOf(a, b netip.Addr) netip.Prefix {
	for bits := a.BitLen(); bits >= 0; bits-- {
		p := netip.PrefixFrom(a, bits).Masked()
		if p.Contains(b) {
			return p
		}
	}
	return netip.PrefixFrom(a, 0).Masked()
}
