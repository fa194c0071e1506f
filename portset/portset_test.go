package portset

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
)

// reference is the obvious model: a bitmap of every (protocol, port).
type reference [3][65536]bool

func (r *reference) set(s Set) {
	for _, x := range s.Ranges() {
		for p := int(x.Lo); p <= int(x.Hi); p++ {
			r[x.Proto][p] = true
		}
	}
}

func randomSet(rng *rand.Rand) Set {
	var rs []Range
	for range rng.IntN(5) {
		lo := uint16(1 + rng.IntN(200))
		rs = append(rs, Range{Protocol(rng.IntN(3)), lo, lo + uint16(rng.IntN(30))})
	}
	return Of(rs...)
}

func TestAgainstBitmap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		a, b := randomSet(rng), randomSet(rng)
		var ra, rb reference
		ra.set(a)
		rb.set(b)
		ops := map[string]struct {
			got Set
			fn  func(x, y bool) bool
		}{
			"union":     {a.Union(b), func(x, y bool) bool { return x || y }},
			"intersect": {a.Intersect(b), func(x, y bool) bool { return x && y }},
			"subtract":  {a.Subtract(b), func(x, y bool) bool { return x && !y }},
		}
		for name, op := range ops {
			var got reference
			got.set(op.got)
			for p := range 3 {
				for port := 1; port <= 260; port++ {
					want := op.fn(ra[p][port], rb[p][port])
					if got[p][port] != want || op.got.Contains(Protocol(p), uint16(port)) != want {
						t.Fatalf("case %d: %s of %v and %v: %d/%s = %v, want %v", i, name, a, b, port, Protocol(p), got[p][port], want)
					}
				}
			}
			// Normal form: equal sets have equal keys.
			if Of(op.got.Ranges()...).Key() != op.got.Key() {
				t.Fatalf("%s result %v is not normalized", name, op.got)
			}
		}
	}
}

func TestParse(t *testing.T) {
	for _, tt := range []struct {
		in, want string
		ok       bool
	}{
		{"80/TCP", "80/TCP", true},
		{"443", "443/TCP", true},
		{"53/udp", "53/UDP", true},
		{"80-90/TCP", "80-90/TCP", true},
		{"1-65535/SCTP", "all/SCTP", true},
		{"70000/TCP", "", false},
		{"0/TCP", "", false},
		{"90-80/TCP", "", false},
		{"80/ICMP", "", false},
		{"http/TCP", "", false},
		{"", "", false},
	} {
		got, err := Parse(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("Parse(%q) error = %v, want ok=%v", tt.in, err, tt.ok)
			continue
		}
		if tt.ok && got.String() != tt.want {
			t.Errorf("Parse(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestJSONRoundTrip(t *testing.T) {
	s, _ := Parse("80/TCP, 8000-8080/TCP, 53/UDP")
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"TCP":[[80,80],[8000,8080]],"UDP":[[53,53]]}`; got != want {
		t.Errorf("json = %s, want %s", got, want)
	}
	var back Set
	if err := json.Unmarshal(b, &back); err != nil || !back.Equal(s) {
		t.Errorf("round trip = %v, %v; want %v", back, err, s)
	}
	if b, _ := json.Marshal(Set{}); string(b) != "{}" {
		t.Errorf("empty set json = %s, want {}", b)
	}
}
