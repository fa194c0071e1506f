package firewall_test

import (
	"net/netip"
	"testing"

	"github.com/mdlayher/netlink"
	"github.com/ti-mo/conntrack"

	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/portset"
)

// TestAddressReuse stops the shop's postgres and starts an unrelated
// container on its address. In a private namespace, the old ruleset is
// loaded and connections to postgres are tracked; then the new ruleset
// is applied (one batch) and stale connections flushed. The newcomer must
// inherit nothing: the live table is exactly the new ruleset, every new
// flow to or from the address gets the newcomer's verdict (checked by the
// interpreter of the live ruleset), some flow postgres was allowed is now
// refused, and its tracked connections are gone.
func TestAddressReuse(t *testing.T) {
	n := newNetns(t)
	ct, err := conntrack.Dial(&netlink.Config{NetNS: int(n.file.Fd())}) // #nosec G115 -- a file descriptor fits an int
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ct.Close() })

	before := load(t, "testdata/shop-inventory.yaml", "../examples/shop")
	after := load(t, "testdata/shop-inventory.yaml", "../examples/shop")
	reused := netip.MustParseAddr("10.20.3.10")
	var pg *firewall.Container
	for _, c := range after.inv.Containers {
		if c.Name == "postgres" {
			pg = c
		}
	}
	if pg == nil || pg.IPs[0] != reused {
		t.Fatal("the shop inventory's postgres moved; update the test")
	}
	pg.Name, pg.Namespace, pg.Labels = "newcomer", "data", map[string]string{"app": "newcomer"}
	// Only the NetworkPolicies and Namespaces of the set are kept: the
	// workloads are the changed inventory's.
	after = build(t, after.inv, after.set)

	oldRS, newRS := compile(t, before, firewall.Options{}), compile(t, after, firewall.Options{})
	oldO, newO := firewall.NewOracle(before.eng, before.inv, firewall.Options{}), firewall.NewOracle(after.eng, after.inv, firewall.Options{})
	if err := firewall.Apply(n.conn, oldRS); err != nil {
		t.Fatal(err)
	}
	sport := uint16(50000)
	inherited := 0
	in := newInterp(newRS)
	for _, c := range before.inv.Containers {
		for _, a := range c.IPs {
			if !a.Is4() || a == reused {
				continue
			}
			for _, port := range []uint16{5432, 8080, 53, 6379} {
				wasTo, isTo := oldO.Allows(firewall.Forward, a, reused, portset.TCP, port), newO.Allows(firewall.Forward, a, reused, portset.TCP, port)
				if got := in.run(packet{hook: "forward", src: a, dst: reused, proto: protoTCP, port: port}).accept; got != isTo {
					t.Errorf("new ruleset: %s -> %s tcp/%d accept=%v, the newcomer's verdict is %v", a, reused, port, got, isTo)
				}
				if got := in.run(packet{hook: "forward", src: reused, dst: a, proto: protoTCP, port: port}).accept; got != newO.Allows(firewall.Forward, reused, a, portset.TCP, port) {
					t.Errorf("new ruleset: %s -> %s tcp/%d accept=%v, unlike the newcomer's verdict", reused, a, port, got)
				}
				if wasTo && !isTo {
					inherited++
				}
				if wasTo {
					sport++
					if err := ct.Create(conntrack.NewFlow(6, conntrack.StatusConfirmed, a, reused, sport, port, 120, 0)); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	}
	if inherited == 0 {
		t.Fatal("no flow postgres was allowed is refused to the newcomer: the test proves nothing")
	}
	if err := firewall.Apply(n.conn, newRS); err != nil {
		t.Fatal(err)
	}
	if err := firewall.Verify(n.conn, newRS); err != nil {
		t.Fatal(err)
	}
	deleted, err := firewall.FlushDenied(ct, newO, func(netip.Addr) bool { return false })
	if err != nil {
		t.Fatal(err)
	}
	if deleted != inherited {
		t.Errorf("flushed %d connections to the reused address, want %d", deleted, inherited)
	}
	t.Logf("%d flows postgres had are refused to the newcomer; their %d tracked connections were flushed", inherited, deleted)
}
