package firewall

import (
	"slices"
	"testing"
)

// TestNDTypeRange checks that the bridge table's ICMPv6 types (the range
// ndFirst to ndLast and ndMLDv2, which it lets through between link-local
// addresses) are exactly the inet table's ndTypes, so that neither can
// change alone: a type missing from the bridge table would break
// neighbour discovery, one too many would let it through between
// containers whatever their policies say.
func TestNDTypeRange(t *testing.T) {
	var got []int
	for _, name := range ndTypes {
		n, ok := icmpv6Types[name]
		if !ok {
			t.Fatalf("ndTypes: unknown ICMPv6 type %q", name)
		}
		got = append(got, int(n))
	}
	slices.Sort(got)
	var want []int
	for n := ndFirst; n <= ndLast; n++ {
		want = append(want, n)
	}
	want = append(want, ndMLDv2)
	if !slices.Equal(got, want) {
		t.Errorf("ndTypes are ICMPv6 types %v; the bridge table lets %v through", got, want)
	}
}
