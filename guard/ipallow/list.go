package ipallow

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
)

// Why this is written by hand: net/netip has addresses and prefixes but no
// set of prefixes, and a linear scan over 10,000 prefixes costs tens of
// microseconds per request. go4.org/netipx's IPSet implements the same
// idea (sorted disjoint ranges, binary search), but it would be this
// library's first dependency outside the standard library, and its
// Contains rejects zoned addresses and does not unmap IPv4-mapped ones,
// which is the opposite of what a deny list needs. The code below is the
// part of it that a lookup needs, about a hundred lines, checked against
// the obvious loop over netip.Prefix.Contains by a differential test and a
// fuzz target.

// ErrInvalidPrefix is wrapped by the error [New] returns for a prefix that
// is not valid.
var ErrInvalidPrefix = errors.New("ipallow: invalid prefix")

// u128 is an address as a number: IPv4 in lo, IPv6 across hi and lo.
type u128 struct{ hi, lo uint64 }

func (a u128) less(b u128) bool {
	return a.hi < b.hi || (a.hi == b.hi && a.lo < b.lo)
}

// next returns a+1; callers never call it on the largest value.
func (a u128) next() u128 {
	if a.lo == ^uint64(0) {
		return u128{a.hi + 1, 0}
	}
	return u128{a.hi, a.lo + 1}
}

// prev returns a-1; callers never call it on zero.
func (a u128) prev() u128 {
	if a.lo == 0 {
		return u128{a.hi - 1, ^uint64(0)}
	}
	return u128{a.hi, a.lo - 1}
}

// span is the inclusive range [first, last].
type span struct{ first, last u128 }

// List is a compiled allow and deny list; see the package documentation
// for its rules. It is immutable and safe for concurrent use. The zero
// List, like a nil *List, allows nothing: use [New].
type List struct {
	// The allowed addresses of each family: sorted, disjoint and not
	// adjacent (adjacent ranges are merged).
	v4, v6 []span
}

// New compiles a List from allow and deny prefixes of either family.
// Prefixes are masked (192.0.2.7/24 means 192.0.2.0/24); overlapping and
// nested prefixes are fine. An invalid prefix is an error wrapping
// [ErrInvalidPrefix] and naming its list and index.
func New(allow, deny []netip.Prefix) (*List, error) {
	a4, a6, err := spans("allow", allow)
	if err != nil {
		return nil, err
	}
	d4, d6, err := spans("deny", deny)
	if err != nil {
		return nil, err
	}
	if len(allow) == 0 {
		a4 = []span{{u128{}, u128{0, 1<<32 - 1}}}
		a6 = []span{{u128{}, u128{^uint64(0), ^uint64(0)}}}
	}
	return &List{
		v4: subtract(merge(a4), merge(d4)),
		v6: subtract(merge(a6), merge(d6)),
	}, nil
}

// spans converts prefixes into unsorted ranges per family.
func spans(list string, ps []netip.Prefix) (v4, v6 []span, err error) {
	for i, p := range ps {
		if !p.IsValid() {
			return nil, nil, fmt.Errorf("%w: %s[%d]: %v", ErrInvalidPrefix, list, i, p)
		}
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		p = p.Masked()
		if p.Addr().Is4() {
			b := p.Addr().As4()
			first := uint64(binary.BigEndian.Uint32(b[:]))
			host := uint64(1)<<(32-p.Bits()) - 1
			v4 = append(v4, span{u128{0, first}, u128{0, first | host}})
			continue
		}
		b := p.Addr().As16()
		first := u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
		var host u128
		if bits := p.Bits(); bits >= 64 {
			host.lo = ^uint64(0) >> (bits - 64)
		} else {
			host = u128{^uint64(0) >> bits, ^uint64(0)}
		}
		v6 = append(v6, span{first, u128{first.hi | host.hi, first.lo | host.lo}})
	}
	return v4, v6, nil
}

// merge sorts ranges and joins the overlapping and adjacent ones.
func merge(ss []span) []span {
	slices.SortFunc(ss, func(a, b span) int {
		switch {
		case a.first.less(b.first):
			return -1
		case b.first.less(a.first):
			return 1
		}
		return 0
	})
	var out []span
	for _, s := range ss {
		if n := len(out); n > 0 {
			last := &out[n-1]
			atMax := last.last == u128{^uint64(0), ^uint64(0)}
			if atMax || !last.last.next().less(s.first) {
				if last.last.less(s.last) {
					last.last = s.last
				}
				continue
			}
		}
		out = append(out, s)
	}
	return slices.Clip(out)
}

// subtract returns the parts of the merged ranges a outside the merged
// ranges d.
func subtract(a, d []span) []span {
	var out []span
	j := 0
	for _, s := range a {
		for j < len(d) && d[j].last.less(s.first) {
			j++
		}
		cur, covered := s.first, false
		for k := j; k < len(d) && !s.last.less(d[k].first); k++ {
			if cur.less(d[k].first) {
				out = append(out, span{cur, d[k].first.prev()})
			}
			if !d[k].last.less(s.last) {
				covered = true // d[k] reaches the end of s
				break
			}
			cur = d[k].last.next() // d[k].last < s.last: no overflow
		}
		if !covered {
			out = append(out, span{cur, s.last})
		}
	}
	return slices.Clip(out)
}

// Allowed reports whether the list allows addr. The invalid address is
// never allowed. Allowed does not allocate.
func (l *List) Allowed(addr netip.Addr) bool {
	if l == nil || !addr.IsValid() {
		return false
	}
	addr = addr.Unmap()
	if addr.Is4() {
		b := addr.As4()
		return contains(l.v4, u128{0, uint64(binary.BigEndian.Uint32(b[:]))})
	}
	b := addr.As16() // As16 ignores the zone
	return contains(l.v6, u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])})
}

// contains reports whether x is in one of the sorted disjoint ranges ss.
func contains(ss []span, x u128) bool {
	// Find the first range that starts after x; x can only be in the one
	// before it.
	lo, hi := 0, len(ss)
	for lo < hi {
		m := lo + (hi-lo)/2
		if x.less(ss[m].first) {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo > 0 && !ss[lo-1].last.less(x)
}
