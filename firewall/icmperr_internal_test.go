package firewall

import (
	"net/netip"
	"testing"
)

// TestICMPErrorBuckets: with more containers than a bucket holds, every
// address's rule sits in the chain its source's map element jumps to,
// the elements are sorted and disjoint, and no chain holds more than
// icmpErrorBucket rules, so that an error walks one short chain.
func TestICMPErrorBuckets(t *testing.T) {
	var self []netip.Addr
	a := netip.MustParseAddr("10.1.0.1")
	for range 2*icmpErrorBucket + 3 {
		self = append(self, a)
		a = a.Next().Next() // gaps: addresses no container owns fall inside the ranges
	}
	self = append(self, netip.MustParseAddr("fd00::1"))
	chains, maps, jumps := icmpErrorRules(self)
	if len(maps) != 2 || len(jumps()) != 2 {
		t.Fatalf("%d maps, %d jumps, want one of each per family", len(maps), len(jumps()))
	}
	byName := map[string]*Chain{}
	for _, c := range chains {
		if len(c.Rules) > icmpErrorBucket {
			t.Errorf("chain %s has %d rules, want at most %d", c.Name, len(c.Rules), icmpErrorBucket)
		}
		byName[c.Name] = c
	}
	if got := len(maps[0].Elements); got != 3 {
		t.Errorf("IPv4 map has %d elements, want 3", got)
	}
	jumpFor := func(m *Map, x netip.Addr) string {
		for _, e := range m.Elements {
			if e.Range.From.Compare(x) <= 0 && x.Compare(e.Range.To) <= 0 {
				return e.Verdict.Chain
			}
		}
		return ""
	}
	for i, e := range maps[0].Elements {
		if i > 0 && maps[0].Elements[i-1].Range.To.Compare(e.Range.From) >= 0 {
			t.Errorf("elements %d and %d overlap or are out of order", i-1, i)
		}
	}
	for _, x := range self {
		m := maps[0]
		if x.Is6() {
			m = maps[1]
		}
		c := byName[jumpFor(m, x)]
		if c == nil {
			t.Errorf("%s: no map element, or no chain behind it", x)
			continue
		}
		found := false
		for _, r := range c.Rules {
			found = found || r.ForeignError == x
		}
		if !found {
			t.Errorf("%s: its chain %s has no rule for it", x, c.Name)
		}
	}
}
