package lab_test

import (
	"net/netip"
	"testing"

	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/netpol"
)

// TestNewBridgeWindow replays a Docker network created since Ward's last
// sync: `docker network create` makes a bridge and `docker run` attaches
// containers to it at once (as Compose does), before the sync their
// events trigger. The bridge is then none of the ruleset's (Ward closes
// the ports of the bridges it listed), and the network's subnet is no
// managed network's, so its containers' addresses were external to the
// ruleset: they talked to each other, and to the host and beyond, past
// every policy that selects them until that sync. In the lab, the hosts'
// bridge (br0) plays the new network's: the ruleset is compiled from an
// inventory of another network (its own bridge and subnet, one container
// bound to a port of it), as Ward's ruleset is before the sync. With
// br0 among Options.OtherBridges (what `ward fw` does with --docker for
// docker0 and br-*) no probe between the hosts connects, TCP or UDP,
// IPv4 or IPv6; without it (the negative control: Ward before) every one
// does, although the spoof scenario's policies deny most of them. Once
// br0's network is in the inventory (the sync), every probe matches the
// engine with the option too.
func TestNewBridgeWindow(t *testing.T) {
	requireLab(t)
	set := loadManifests(t, "testdata/spoof/spoof.yaml")
	plan := planFor(t, "testdata/spoof/spoof.yaml")
	// Before the sync: the inventory knows another network only.
	before := *plan.Inventory
	before.Networks = []*firewall.Network{{Name: "known", Subnets: []netip.Prefix{netip.MustParsePrefix("10.77.0.0/24")}, Bridge: "br-known"}}
	before.Containers = []*firewall.Container{{Name: "known", Namespace: "spoof", Labels: map[string]string{"app": "known"},
		IPs: []netip.Addr{netip.MustParseAddr("10.77.0.5")}, Interfaces: []string{"vethknown"}}}
	model, err := before.Set(set)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := netpol.Compile(model)
	if err != nil {
		t.Fatal(err)
	}
	compile := func(inv *firewall.Inventory, e *netpol.Engine, other []string) *firewall.Ruleset {
		t.Helper()
		rs, err := firewall.Compile(e, inv, firewall.Options{OtherBridges: other})
		if err != nil {
			t.Fatal(err)
		}
		return rs
	}
	l := startLab(t, plan.Hosts)
	observe := func(rs *firewall.Ruleset) (ran, allowed int) {
		t.Helper()
		if err := l.Load(rs); err != nil {
			t.Fatal(err)
		}
		return connected(t, l, plan)
	}
	settle(t, l, plan)
	for try := 1; ; try++ {
		ran, allowed := observe(compile(&before, eng, nil))
		if ran > 0 && allowed == ran {
			break
		}
		if try == 3 {
			t.Errorf("negative control (br0 not closed): %d of %d probes connected; want all", allowed, ran)
			break
		}
	}
	if ran, allowed := observe(compile(&before, eng, []string{"docker0", "br*"})); ran == 0 || allowed != 0 {
		t.Errorf("br0 among the other bridges: %d of %d probes connected; want none", allowed, ran)
	}
	// After the sync: br0 is the network's bridge.
	r := probe(t, l, plan, compile(plan.Inventory, plan.Engine, []string{"docker0", "br*"}))
	if c := r.Counts(); c.Mismatched != 0 || c.Ran == 0 {
		t.Errorf("br0's network known: %d of %d probes mismatched:\n%s", c.Mismatched, c.Ran, text(r))
	}
}
