package firewall_test

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/portset"
)

// quarantine moves the containers named by ids out of m's inventory into
// its quarantine, with extra addresses for the first, and rebuilds the
// model.
func quarantine(t *testing.T, m *model, extra []netip.Addr, ids ...string) *model {
	t.Helper()
	inv := *m.inv
	inv.Containers = nil
	for _, c := range m.inv.Containers {
		if !slices.Contains(ids, c.ID()) {
			inv.Containers = append(inv.Containers, c)
			continue
		}
		q := &firewall.Quarantined{Name: c.Name, ID: c.ID(), Reason: "test", IPs: slices.Clone(c.IPs)}
		if len(inv.Quarantined) == 0 {
			q.IPs = append(q.IPs, extra...)
		}
		inv.Quarantined = append(inv.Quarantined, q)
	}
	if len(inv.Quarantined) != len(ids) {
		t.Fatalf("quarantined %d of %v", len(inv.Quarantined), ids)
	}
	if err := inv.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	return build(t, &inv, m.set)
}

// TestDifferentialQuarantine: the addresses of quarantined containers
// are dropped both ways and counted, by the ruleset and by the oracle,
// with and without AllowUnclassified, while the other unclassified
// addresses follow AllowUnclassified. x/b and z/b are ingress-isolated
// with grants; 192.0.2.9, outside every managed network, is in an
// ipBlock that y's pods may reach (controls).
func TestDifferentialQuarantine(t *testing.T) {
	base := load(t, "testdata/xyz-inventory.yaml", "testdata/xyz-policies.yaml")
	outside := netip.MustParseAddr("192.0.2.9")
	for _, opts := range []firewall.Options{{}, {AllowUnclassified: true}} {
		in, o := newInterp(compile(t, base, opts)), newOracle(base, opts)
		for _, p := range controls {
			proto := map[uint8]portset.Protocol{protoTCP: portset.TCP, protoUDP: portset.UDP}[p.proto]
			if !in.run(p).accept || !o.want(p, proto) {
				t.Fatalf("unquarantined, %+v: %s is denied: the test proves nothing", opts, p)
			}
		}
	}
	m := quarantine(t, base, []netip.Addr{outside}, "x/b", "z/b")
	var qaddrs []netip.Addr
	for _, q := range m.inv.Quarantined {
		qaddrs = append(qaddrs, q.IPs...)
	}
	stray := netip.MustParseAddr("10.0.1.77") // unclassified, not quarantined
	za := netip.MustParseAddr("10.0.2.1")     // z/a: not ingress-isolated
	for _, opts := range []firewall.Options{{}, {AllowUnclassified: true}} {
		label := fmt.Sprintf("xyz, x/b and z/b quarantined, %+v", opts)
		rs := compile(t, m, opts)
		checkStructure(t, rs)
		o := newOracle(m, opts)
		ps := probes(m, nil, 0)
		for _, a := range append(slices.Clone(qaddrs), stray) {
			if !slices.Contains(ps.addrs, a) {
				ps.addrs = append(ps.addrs, a)
			}
		}
		n := differ(t, label, m, rs, o, ps, nil, 0)
		t.Logf("%s: %d packets", label, n)

		// The contract itself: nothing from or to a quarantined
		// address passes, at any hook.
		in := newInterp(rs)
		for _, q := range qaddrs {
			if !o.Quarantined(q) {
				t.Errorf("%s: the oracle does not see %s as quarantined", label, q)
			}
			for _, a := range append(slices.Clone(ps.addrs), ps.hosts...) {
				if a == q || a.Is4() != q.Is4() {
					continue
				}
				for _, p := range []packet{
					{hook: "forward", iif: "br0", oif: "br1", src: q, dst: a},
					{hook: "forward", iif: "br0", oif: "br1", src: a, dst: q},
					{hook: "input", iif: "br0", src: q, dst: a},
					{hook: "output", oif: "br0", src: a, dst: q},
				} {
					p.proto, p.port = protoTCP, 80
					if got := in.run(p); got.accept || !got.counted || o.want(p, portset.TCP) {
						t.Fatalf("%s: %s: ruleset accepts %t (by %s, counted %t), oracle accepts %t; want a counted drop",
							label, p, got.accept, got.by, got.counted, o.want(p, portset.TCP))
					}
				}
			}
		}
		for _, p := range controls {
			proto := map[uint8]portset.Protocol{protoTCP: portset.TCP, protoUDP: portset.UDP}[p.proto]
			if got := in.run(p); got.accept || o.want(p, proto) {
				t.Errorf("%s: %s: ruleset accepts %t, oracle %t; want dropped (quarantined)", label, p, got.accept, o.want(p, proto))
			}
		}
		// Other unclassified addresses are external with
		// AllowUnclassified: z/a, not isolated, accepts them.
		p := packet{hook: "forward", iif: "br0", oif: "br1", src: stray, dst: za, proto: protoTCP, port: 80}
		if got := in.run(p); got.accept != opts.AllowUnclassified {
			t.Errorf("%s: %s (unclassified, not quarantined): ruleset accepts %t, want %t", label, p, got.accept, opts.AllowUnclassified)
		}
	}
}

// controls are flows the xyz policies allow to x/b, z/b and 192.0.2.9:
// TestDifferentialQuarantine drops them when these are quarantined.
var controls = []packet{
	{hook: "forward", src: netip.MustParseAddr("10.0.0.3"), dst: netip.MustParseAddr("10.0.0.2"), proto: protoUDP, port: 81},  // x/c to x/b
	{hook: "forward", src: netip.MustParseAddr("10.0.0.1"), dst: netip.MustParseAddr("10.0.2.2"), proto: protoUDP, port: 80},  // x/a to z/b
	{hook: "forward", src: netip.MustParseAddr("10.0.1.1"), dst: netip.MustParseAddr("192.0.2.9"), proto: protoTCP, port: 53}, // y/a to the ipBlock
	{hook: "forward", src: netip.MustParseAddr("10.0.2.2"), dst: netip.MustParseAddr("10.0.1.1"), proto: protoTCP, port: 80},  // z/b to y/a
}

// TestValidateQuarantinedAddress: a container may not own the address of
// a quarantined one.
func TestValidateQuarantinedAddress(t *testing.T) {
	inv, err := firewall.ParseInventory("inv.yaml", []byte(`networks: [{name: n, subnets: [10.1.0.0/24]}]
containers:
  - {name: a, ips: [10.1.0.2]}
  - {name: b, ips: [10.1.0.3]}
`))
	if err != nil {
		t.Fatal(err)
	}
	inv.Quarantined = []*firewall.Quarantined{{Name: "q", ID: "0123456789abcdef", Reason: "bad label", IPs: []netip.Addr{netip.MustParseAddr("10.1.0.3")}}}
	err = inv.Validate()
	if !errors.Is(err, firewall.ErrDuplicate) {
		t.Fatalf("Validate = %v, want ErrDuplicate", err)
	}
	if got, want := err.Error(), "inv.yaml:4: container default/b: 10.1.0.3 is also the address of quarantined container q"; got != want {
		t.Errorf("Validate = %q, want %q", got, want)
	}
	if got, want := inv.Quarantined[0].String(), "q (0123456789ab): bad label"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
