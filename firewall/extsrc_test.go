package firewall_test

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/ipset"
)

// TestExternalSourceRules runs the shop's chain prerouting through the
// interpreter: a packet from a managed network's address that enters
// the host through an interface other than the managed bridges (its
// uplink, a tunnel) is dropped before conntrack, whatever the policies
// say of that address; one through its bridge, the host's own through
// lo, and an external address's through the uplink pass. With a network
// that names no bridge, its subnet is left out (set bridged_v4): its
// packets enter through a bridge the ruleset does not know.
func TestExternalSourceRules(t *testing.T) {
	m := load(t, "testdata/shop-inventory.yaml", "../examples/shop")
	backend := "br-b7a4e2c05d18"
	pre := func(iif string, src, dst string, mark uint32, foreign bool) packet {
		return packet{hook: firewall.ChainPrerouting, iif: iif, src: netip.MustParseAddr(src), dst: netip.MustParseAddr(dst),
			proto: protoTCP, port: 5432, mark: mark, foreign: foreign}
	}
	cases := []struct {
		name   string
		p      packet
		accept bool
	}{
		{"orders from the uplink", pre("eth0", "10.20.2.10", "10.20.3.10", 0, true), false},
		{"orders from a tunnel", pre("tunl0", "10.20.2.10", "10.20.3.10", 0, true), false},
		{"frontend over IPv6 from the uplink", pre("eth0", "fd00:20:1::10", "fd00:20:1::2", 0, true), false},
		{"orders through its bridge", pre(backend, "10.20.2.10", "10.20.3.10", firewall.BoundMark, true), true},
		{"the host to itself from its gateway address", pre("lo", "10.20.2.1", "10.20.2.1", 0, false), true},
		{"the host's gateway address from the uplink", pre("eth0", "fd00:20:1::1", "fd00:20:1::10", 0, false), false},
		{"an external address from the uplink", pre("eth0", "192.0.2.7", "10.20.1.10", 0, true), true},
	}
	in := newInterp(compile(t, m, firewall.Options{}))
	for _, tc := range cases {
		if got := in.run(tc.p); got.accept != tc.accept {
			t.Errorf("%s (%s): accept %v, want %v (by %s, %v)", tc.name, tc.p, got.accept, tc.accept, got.by, got.trace)
		}
	}

	// The data network (10.20.3.0/24) names no bridge.
	for _, n := range m.inv.Networks {
		if n.Name == "data" {
			n.Bridge = ""
		}
	}
	rs := compile(t, m, firewall.Options{})
	i := slices.IndexFunc(rs.Sets, func(s *firewall.Set) bool { return s.Name == firewall.SetBridged+"_v4" })
	if i < 0 {
		t.Fatalf("no set %s_v4 with a network without a bridge", firewall.SetBridged)
	}
	if s := rs.Sets[i]; slices.ContainsFunc(s.Elements, func(r ipset.Range) bool { return r.Contains(netip.MustParseAddr("10.20.3.10")) }) ||
		!slices.ContainsFunc(s.Elements, func(r ipset.Range) bool { return r.Contains(netip.MustParseAddr("10.20.2.10")) }) {
		t.Errorf("set %s: %v, want the subnets of the networks with bridges only", s.Name, s.Elements)
	}
	in = newInterp(rs)
	if got := in.run(pre("br-unknown", "10.20.3.10", "10.20.2.10", 0, true)); !got.accept {
		t.Errorf("postgres through the data network's unnamed bridge: dropped by %s", got.by)
	}
	if got := in.run(pre("eth0", "10.20.2.10", "10.20.3.10", 0, true)); got.accept {
		t.Errorf("orders from the uplink, with the data network's bridge unnamed: accepted")
	}
}
