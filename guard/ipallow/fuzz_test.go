package ipallow

import (
	"net/netip"
	"testing"
)

// fuzzBytes hands out the fuzzer's bytes, then zeros.
type fuzzBytes []byte

func (f *fuzzBytes) next() byte {
	if len(*f) == 0 {
		return 0
	}
	b := (*f)[0]
	*f = (*f)[1:]
	return b
}

// prefix decodes one prefix: a kind byte (bit 0: IPv6; bit 1: IPv4 in
// IPv4-mapped form; bits 2-4: an IPv6 base; bits 5-7: where four bytes go
// into it), a length byte and four address bytes. Addresses near a few
// bases make prefixes overlap.
func (f *fuzzBytes) prefix() netip.Prefix {
	kind, bits := f.next(), int(f.next())
	x := [4]byte{f.next(), f.next(), f.next(), f.next()}
	if kind&1 == 0 {
		a := netip.AddrFrom4(x)
		if kind&2 != 0 {
			return netip.PrefixFrom(netip.AddrFrom16(a.As16()), 96+bits%33)
		}
		return netip.PrefixFrom(a, bits%33)
	}
	b := bases6[int(kind>>2&7)%len(bases6)].As16()
	off := int(kind>>5) * 2 // 0..14
	for i := range x {
		if off+i < len(b) {
			b[off+i] ^= x[i]
		}
	}
	return netip.PrefixFrom(netip.AddrFrom16(b), bits%129)
}

// FuzzAllowed decodes up to 7 allow and 7 deny prefixes and a query
// address from the input and checks that List.Allowed agrees with the
// reference loop over netip.Prefix.Contains (deny wins, an empty allow
// list allows, canonical addresses) for the query and for the first and
// last address of every prefix and their neighbours, in IPv4, IPv4-mapped
// and zoned IPv6 forms. New must accept every prefix the decoder makes,
// and Allowed must never allow the invalid address.
func FuzzAllowed(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0x11, 0, 0, 8, 10, 0, 0, 0, 0, 16, 10, 1, 0, 0})
	f.Add([]byte{0x21, 1, 1, 24, 0, 0, 0, 0, 0, 2, 104, 10, 0, 0, 0, 1, 32, 10, 9, 9, 9})
	f.Add([]byte{0x12, 1, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0x31, 0x01, 64, 0, 0, 0, 0, 0x41, 65, 1, 2, 3, 4, 0x09, 10, 0xfe, 0x80, 0, 0})

	f.Fuzz(func(t *testing.T, data []byte) {
		in := fuzzBytes(data)
		counts := in.next()
		var allow, deny []netip.Prefix
		for range counts & 7 {
			allow = append(allow, in.prefix())
		}
		for range counts >> 4 & 7 {
			deny = append(deny, in.prefix())
		}
		query := in.prefix().Addr()

		l, err := New(allow, deny)
		if err != nil {
			t.Fatalf("New(%v, %v): %v", allow, deny, err)
		}
		if l.Allowed(netip.Addr{}) {
			t.Fatal("the invalid address is allowed")
		}
		addrs := probes(append(append([]netip.Prefix(nil), allow...), deny...))
		addrs = append(addrs, query, query.WithZone("z"), netip.AddrFrom16(query.As16()))
		for _, a := range addrs {
			if got, want := l.Allowed(a), reference(allow, deny, a); got != want {
				t.Fatalf("allow %v deny %v: Allowed(%v) = %v, reference says %v", allow, deny, a, got, want)
			}
		}
	})
}
