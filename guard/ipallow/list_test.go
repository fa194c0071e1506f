package ipallow

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
)

func prefixes(ss ...string) []netip.Prefix {
	ps := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		ps[i] = netip.MustParsePrefix(s)
	}
	return ps
}

func mustNew(t testing.TB, allow, deny []netip.Prefix) *List {
	t.Helper()
	l, err := New(allow, deny)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestAllowed(t *testing.T) {
	for _, tc := range []struct {
		name        string
		allow, deny []netip.Prefix
		yes, no     []string
	}{
		{
			name:  "deny wins over allow",
			allow: prefixes("10.0.0.0/8", "2001:db8::/32"),
			deny:  prefixes("10.1.0.0/16", "2001:db8:bad::/48"),
			yes:   []string{"10.0.0.1", "10.0.255.255", "10.2.0.0", "10.255.255.255", "2001:db8::1", "2001:db8:bae::"},
			no:    []string{"10.1.0.0", "10.1.255.255", "11.0.0.0", "9.255.255.255", "2001:db8:bad::1", "2001:db9::"},
		},
		{
			name: "empty allow list allows all but denied",
			deny: prefixes("192.0.2.0/24", "2001:db8::/32"),
			yes:  []string{"1.1.1.1", "192.0.3.0", "192.0.1.255", "2001:db9::1", "::1"},
			no:   []string{"192.0.2.0", "192.0.2.255", "2001:db8::1"},
		},
		{
			name: "no rules allow everything valid",
			yes:  []string{"0.0.0.0", "255.255.255.255", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
		},
		{
			name:  "IPv4-only allow list denies IPv6",
			allow: prefixes("0.0.0.0/0"),
			yes:   []string{"203.0.113.1"},
			no:    []string{"2001:db8::1", "::1", "::"},
		},
		{
			name:  "IPv6-only allow list denies IPv4, even ::/0",
			allow: prefixes("::/0"),
			yes:   []string{"2001:db8::1", "::"},
			no:    []string{"203.0.113.1", "::ffff:203.0.113.1", "0.0.0.0"},
		},
		{
			name:  "mapped addresses match IPv4 rules",
			allow: prefixes("10.0.0.0/8"),
			deny:  prefixes("10.9.0.0/16"),
			yes:   []string{"::ffff:10.0.0.1"},
			no:    []string{"::ffff:10.9.0.1", "::ffff:11.0.0.1"},
		},
		{
			name:  "mapped prefixes are IPv4 prefixes",
			allow: prefixes("::ffff:10.0.0.0/104"),
			deny:  prefixes("::ffff:10.9.9.9/128"),
			yes:   []string{"10.0.0.1", "::ffff:10.0.0.1"},
			no:    []string{"10.9.9.9", "::ffff:10.9.9.9", "11.0.0.1"},
		},
		{
			name: "zones cannot slip past a deny rule",
			deny: prefixes("fe80::/10"),
			yes:  []string{"fe00::1%eth0", "2001:db8::1%eth0"},
			no:   []string{"fe80::1%eth0", "fe80::1"},
		},
		{
			name:  "host bits are masked",
			allow: prefixes("192.0.2.77/24"),
			yes:   []string{"192.0.2.0", "192.0.2.255"},
			no:    []string{"192.0.3.0"},
		},
		{
			name:  "single addresses at the ends of the space",
			allow: prefixes("0.0.0.0/32", "255.255.255.255/32", "::/128", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"),
			yes:   []string{"0.0.0.0", "255.255.255.255", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
			no:    []string{"0.0.0.1", "255.255.255.254", "::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"},
		},
		{
			name:  "deny at the top of the space",
			allow: prefixes("0.0.0.0/0", "::/0"),
			deny:  prefixes("255.255.255.0/24", "ffff::/16", "0.0.0.0/8", "::/8"),
			yes:   []string{"1.0.0.0", "255.255.254.255", "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "100::"},
			no:    []string{"255.255.255.255", "0.0.0.0", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ff:ffff::"},
		},
		{
			name: "deny everything",
			deny: prefixes("0.0.0.0/0", "::/0"),
			no:   []string{"1.1.1.1", "2001:db8::1", "::ffff:1.1.1.1"},
		},
		{
			name:  "adjacent, nested and overlapping prefixes",
			allow: prefixes("10.0.0.0/25", "10.0.0.128/25", "10.0.0.0/24", "10.0.0.64/26", "10.0.1.0/24", "2001:db8::/64", "2001:db8:0:1::/64"),
			deny:  prefixes("10.0.0.100/32", "10.0.0.96/28", "2001:db8::ffff:ffff:ffff:ffff/128"),
			yes:   []string{"10.0.0.95", "10.0.0.112", "10.0.1.255", "2001:db8::ffff:ffff:ffff:fffe", "2001:db8:0:1::"},
			no:    []string{"10.0.0.100", "10.0.0.96", "10.0.0.111", "10.0.2.0", "2001:db8::ffff:ffff:ffff:ffff", "2001:db8:0:2::"},
		},
		{
			name:  "deny spanning several allowed ranges",
			allow: prefixes("10.0.0.0/24", "10.0.2.0/24", "10.0.4.0/24"),
			deny:  prefixes("10.0.0.128/25", "10.0.1.0/24", "10.0.2.0/23", "10.0.4.0/26"),
			yes:   []string{"10.0.0.0", "10.0.0.127", "10.0.4.64", "10.0.4.255"},
			no:    []string{"10.0.0.128", "10.0.2.0", "10.0.2.255", "10.0.4.0", "10.0.4.63", "10.0.3.0"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := mustNew(t, tc.allow, tc.deny)
			for _, s := range tc.yes {
				if !l.Allowed(netip.MustParseAddr(s)) {
					t.Errorf("Allowed(%s) = false, want true", s)
				}
			}
			for _, s := range tc.no {
				if l.Allowed(netip.MustParseAddr(s)) {
					t.Errorf("Allowed(%s) = true, want false", s)
				}
			}
			if l.Allowed(netip.Addr{}) {
				t.Error("Allowed(invalid) = true, want false")
			}
		})
	}
}

func TestZeroListDenies(t *testing.T) {
	var zero List
	var nilList *List
	for _, s := range []string{"1.1.1.1", "::1"} {
		a := netip.MustParseAddr(s)
		if zero.Allowed(a) || nilList.Allowed(a) {
			t.Errorf("zero or nil List allows %s", s)
		}
	}
}

func TestNewInvalidPrefix(t *testing.T) {
	bad := netip.PrefixFrom(netip.MustParseAddr("10.0.0.0"), 40)
	for _, tc := range []struct {
		name        string
		allow, deny []netip.Prefix
	}{
		{"zero prefix in allow", []netip.Prefix{{}}, nil},
		{"too long in deny", nil, []netip.Prefix{bad}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := New(tc.allow, tc.deny)
			if !errors.Is(err, ErrInvalidPrefix) {
				t.Errorf("New = %v, %v; want an error wrapping ErrInvalidPrefix", l, err)
			}
		})
	}
}

// reference is the obvious allow list, the one List must agree with.
func reference(allow, deny []netip.Prefix, a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	a = a.Unmap().WithZone("")
	canon := func(p netip.Prefix) netip.Prefix {
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p
	}
	for _, p := range deny {
		if canon(p).Contains(a) {
			return false
		}
	}
	if len(allow) == 0 {
		return true
	}
	for _, p := range allow {
		if canon(p).Contains(a) {
			return true
		}
	}
	return false
}

// lastAddr returns the highest address in p.
func lastAddr(p netip.Prefix) netip.Addr {
	p = p.Masked()
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// probes returns addresses at and beside the edges of every prefix, in the
// forms a client might use.
func probes(ps []netip.Prefix) []netip.Addr {
	var out []netip.Addr
	for _, p := range ps {
		for _, a := range []netip.Addr{p.Masked().Addr(), lastAddr(p)} {
			out = append(out, a, a.Prev(), a.Next())
		}
	}
	n := len(out)
	for _, a := range out[:n] {
		if a.Is4() {
			out = append(out, netip.AddrFrom16(a.As16()))
		} else if a.IsValid() {
			out = append(out, a.WithZone("eth0"))
		}
	}
	return out
}

var (
	bases4 = []uint32{0, 0x0a000000, 0xc0a80000, 0xcb007100, 0xffffff00}
	bases6 = []netip.Addr{
		netip.MustParseAddr("::"),
		netip.MustParseAddr("2001:db8::"),
		netip.MustParseAddr("fe80::"),
		netip.MustParseAddr("::ffff:0:0"),
		netip.MustParseAddr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ff00"),
	}
)

// randPrefix returns a prefix near one of a few bases, so that random
// prefixes overlap, nest and touch.
func randPrefix(r *rand.Rand) netip.Prefix {
	if r.IntN(2) == 0 {
		x := bases4[r.IntN(len(bases4))] ^ (r.Uint32() >> r.IntN(33))
		var b [4]byte
		b[0], b[1], b[2], b[3] = byte(x>>24), byte(x>>16), byte(x>>8), byte(x)
		a := netip.AddrFrom4(b)
		if r.IntN(8) == 0 { // IPv4-mapped form
			return netip.PrefixFrom(netip.AddrFrom16(a.As16()), 96+r.IntN(33))
		}
		return netip.PrefixFrom(a, r.IntN(33))
	}
	b := bases6[r.IntN(len(bases6))].As16()
	shift := r.IntN(129)
	for i := 15; i >= 0 && shift > 0; i-- {
		b[i] ^= byte(r.UintN(256))
		shift -= 8
	}
	return netip.PrefixFrom(netip.AddrFrom16(b), r.IntN(129))
}

func TestDifferential(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for iter := range 2000 {
		var allow, deny []netip.Prefix
		for range r.IntN(12) {
			allow = append(allow, randPrefix(r))
		}
		for range r.IntN(12) {
			deny = append(deny, randPrefix(r))
		}
		l := mustNew(t, allow, deny)
		addrs := probes(append(append([]netip.Prefix(nil), allow...), deny...))
		for range 20 {
			addrs = append(addrs, randPrefix(r).Addr())
		}
		for _, a := range addrs {
			if got, want := l.Allowed(a), reference(allow, deny, a); got != want {
				t.Fatalf("iteration %d: allow %v deny %v: Allowed(%v) = %v, reference says %v", iter, allow, deny, a, got, want)
			}
		}
	}
}

func TestAllowedDoesNotAllocate(t *testing.T) {
	allow, deny := bigLists(10000)
	l := mustNew(t, allow, deny)
	addrs := append(probes(allow[:50]), netip.MustParseAddr("fe80::1%eth0"), netip.Addr{})
	n := testing.AllocsPerRun(100, func() {
		for _, a := range addrs {
			l.Allowed(a)
		}
	})
	if n != 0 {
		t.Errorf("Allowed: %v allocations per run, want 0", n)
	}
}

// bigLists returns n allow prefixes (three quarters IPv4) and n/10 deny
// prefixes, from a fixed seed.
func bigLists(n int) (allow, deny []netip.Prefix) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range n {
		if i%4 == 3 {
			var b [16]byte
			b[0], b[1] = 0x20, 0x01
			for j := 2; j < 8; j++ {
				b[j] = byte(r.UintN(256))
			}
			allow = append(allow, netip.PrefixFrom(netip.AddrFrom16(b), 32+r.IntN(33)))
			continue
		}
		b := [4]byte{byte(r.UintN(224)), byte(r.UintN(256)), byte(r.UintN(256)), byte(r.UintN(256))}
		allow = append(allow, netip.PrefixFrom(netip.AddrFrom4(b), 16+r.IntN(17)))
	}
	for i := 0; i < n/10; i++ {
		deny = append(deny, netip.PrefixFrom(allow[i*7%n].Addr(), min(allow[i*7%n].Addr().BitLen(), allow[i*7%n].Bits()+4)))
	}
	return allow, deny
}

func BenchmarkAllowed(b *testing.B) {
	for _, n := range []int{10, 10000} {
		allow, deny := bigLists(n)
		l := mustNew(b, allow, deny)
		addrs := probes(allow)
		r := rand.New(rand.NewPCG(5, 6))
		r.Shuffle(len(addrs), func(i, j int) { addrs[i], addrs[j] = addrs[j], addrs[i] })
		b.Run(fmt.Sprintf("prefixes=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				l.Allowed(addrs[i%len(addrs)])
				i++
			}
		})
		b.Run(fmt.Sprintf("prefixes=%d/linear-reference", n), func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				reference(allow, deny, addrs[i%len(addrs)])
				i++
			}
		})
	}
}

func BenchmarkNew(b *testing.B) {
	allow, deny := bigLists(10000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := New(allow, deny); err != nil {
			b.Fatal(err)
		}
	}
}
