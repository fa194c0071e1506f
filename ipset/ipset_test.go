package ipset

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

func TestPrefixesCoverExactly(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 3000 {
		a := netip.AddrFrom4([4]byte{10, 0, byte(rng.IntN(4)), byte(rng.IntN(256))})
		b := netip.AddrFrom4([4]byte{10, 0, byte(rng.IntN(4)), byte(rng.IntN(256))})
		if b.Less(a) {
			a, b = b, a
		}
		r := Range{a, b}
		ps := r.Prefixes()
		// The prefixes are in order, adjacent, and span exactly r.
		next := a
		for _, p := range ps {
			pr := FromPrefix(p)
			if pr.From != next {
				t.Fatalf("%v: prefix %v starts at %v, want %v", r, p, pr.From, next)
			}
			next = pr.To.Next()
		}
		if next != b.Next() {
			t.Fatalf("%v: prefixes %v end before %v", r, ps, b)
		}
	}
	// IPv6 and the whole space.
	full := Range{netip.IPv6Unspecified(), netip.MustParseAddr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")}
	if ps := full.Prefixes(); len(ps) != 1 || ps[0].String() != "::/0" {
		t.Errorf("full v6 range = %v, want [::/0]", ps)
	}
}

func TestSubtractAndContains(t *testing.T) {
	p := func(s string) Range { return FromPrefix(netip.MustParsePrefix(s)) }
	s := Of(p("10.0.0.0/8")).Subtract(Of(p("10.1.0.0/16"), p("10.255.255.255/32")))
	for _, tt := range []struct {
		ip   string
		want bool
	}{
		{"10.0.0.0", true}, {"10.0.255.255", true}, {"10.1.0.0", false}, {"10.1.255.255", false},
		{"10.2.0.0", true}, {"10.255.255.254", true}, {"10.255.255.255", false}, {"11.0.0.0", false},
		{"::1", false},
	} {
		if got := s.Contains(netip.MustParseAddr(tt.ip)); got != tt.want {
			t.Errorf("Contains(%s) = %v, want %v (set %v)", tt.ip, got, tt.want, s)
		}
	}
	if got, want := s.Describe(), "10.0.0.0/8 except 10.1.0.0/16, 10.255.255.255/32"; got != want {
		t.Errorf("Describe = %q, want %q", got, want)
	}
}

func TestParsePrefix(t *testing.T) {
	for _, tt := range []struct {
		in string
		ok bool
	}{
		{"10.0.0.0/8", true}, {"fd00::/64", true}, {"10.0.0.1/8", false},
		{"10.0.0.0/33", false}, {"nope", false}, {"::ffff:10.0.0.0/104", false},
	} {
		if _, err := ParsePrefix(tt.in); (err == nil) != tt.ok {
			t.Errorf("ParsePrefix(%q) error = %v, want ok=%v", tt.in, err, tt.ok)
		}
	}
}
