package firewall_test

import (
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/portset"
)

// TestVerify reads the shop's table back after Apply: no difference. Then
// it changes the live table behind Ward's back, in each way `nft` can (an
// element added, a rule deleted, a chain flushed, the table deleted), and
// checks that Diff names the change and Verify fails with ErrDrift.
func TestVerify(t *testing.T) {
	n := newNetns(t)
	rs := shop(t)
	if d, err := firewall.Diff(n.conn, rs); err != nil || len(d) != 1 || !strings.Contains(d[0], "not loaded") {
		t.Fatalf("Diff before Apply = %q, %v; want the table missing", d, err)
	}
	if err := firewall.Verify(n.conn, rs); !errors.Is(err, firewall.ErrDrift) {
		t.Fatalf("Verify before Apply = %v, want ErrDrift", err)
	}
	set := rs.Sets[0].Name
	for _, tc := range []struct {
		name   string
		tamper [][]string
		want   string
	}{
		{"element added", [][]string{{"add", "element", "inet", "ward", set, "{ 192.0.2.77 }"}}, "- set " + set + " element 192.0.2.77"},
		{"chain flushed", [][]string{{"flush", "chain", "inet", "ward", "forward"}}, "+ chain forward rule 10: ct state established,related accept"},
		{"rule replaced", [][]string{{"flush", "chain", "inet", "ward", "forward"}, {"add", "rule", "inet", "ward", "forward", "ct", "state", "established,related", "drop"}}, "~ chain forward rule 1 differs"},
		{"table deleted", [][]string{{"delete", "table", "inet", "ward"}}, "not loaded"},
		{"bridge removed", [][]string{{"delete", "element", "inet", "ward", firewall.SetBridges, `{ "` + rs.Bridges[0] + `" }`}}, "+ set bridges element \"" + rs.Bridges[0] + "\""},
		{"arp table deleted", [][]string{{"delete", "table", "arp", "ward"}}, "+ table arp ward (not loaded)"},
		{"arp rule replaced", [][]string{{"flush", "chain", "arp", "ward", "input"}, {"add", "rule", "arp", "ward", "input", "counter"}}, "~ chain input differs (arp table)"},
		{"arp bridge removed", [][]string{{"delete", "element", "arp", "ward", firewall.SetBridges, `{ "` + rs.Bridges[0] + `" }`}}, "+ set bridges element"},
		// A base chain added to Ward's bridge table, before its
		// prerouting chain, that marks every frame as from a bound
		// port: the closed bridges' unbound ports pass the inet
		// table's prerouting check. Diff said nothing of it, nor of a
		// chain's policy turned to drop.
		{"bridge chain added", [][]string{
			{"add", "chain", "bridge", "ward", "mark_all", "{ type filter hook prerouting priority -400; policy accept; }"},
			{"add", "rule", "bridge", "ward", "mark_all", "meta", "mark", "set", "0x57530000"},
		}, "- chain mark_all (bridge table, not in the plan)"},
		{"bridge chain policy", [][]string{{"add", "chain", "bridge", "ward", firewall.BridgeForward, "{ type filter hook forward priority -200; policy drop; }"}},
			"~ chain forward: hook, priority or policy differ (bridge table)"},
		{"arp chain added", [][]string{{"add", "chain", "arp", "ward", "open", "{ type filter hook input priority -10; policy accept; }"}},
			"- chain open (arp table, not in the plan)"},
		{"arp chain policy", [][]string{{"add", "chain", "arp", "ward", "input", "{ type filter hook input priority 0; policy drop; }"}},
			"~ chain input: hook, priority or policy differ (arp table)"},
	} {
		if err := firewall.Apply(n.conn, rs); err != nil {
			t.Fatal(err)
		}
		if d, err := firewall.Diff(n.conn, rs); err != nil || len(d) != 0 {
			t.Fatalf("%s: Diff after Apply = %q, %v; want none", tc.name, d, err)
		}
		if err := firewall.Verify(n.conn, rs); err != nil {
			t.Fatalf("%s: Verify after Apply: %v", tc.name, err)
		}
		for _, args := range tc.tamper {
			n.nft(t, args...)
		}
		d, err := firewall.Diff(n.conn, rs)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, l := range d {
			found = found || strings.HasPrefix(l, tc.want) || strings.Contains(l, tc.want)
		}
		if !found {
			t.Errorf("%s: Diff = %q, want a line %q", tc.name, d, tc.want)
		}
		if err := firewall.Verify(n.conn, rs); !errors.Is(err, firewall.ErrDrift) {
			t.Errorf("%s: Verify = %v, want ErrDrift", tc.name, err)
		}
	}
}

// TestChanges: the in-memory comparison of two rulesets says what Diff
// says when the first is loaded and the second planned (root: a private
// namespace), here for the shop before and after a container joins, a
// container leaves and a policy goes.
func TestChanges(t *testing.T) {
	before := load(t, "testdata/shop-inventory.yaml", "../examples/shop")
	after := load(t, "testdata/shop-inventory.yaml", "../examples/shop")
	after.inv.Containers = append(after.inv.Containers[1:], &firewall.Container{
		Name: "newcomer", Namespace: "api", Labels: map[string]string{"app": "orders"},
		IPs: []netip.Addr{netip.MustParseAddr("10.20.2.77")}, Ports: []firewall.Port{{Name: "http", Port: 8080, Protocol: portset.TCP}},
	})
	after.set.Policies = after.set.Policies[1:]
	// payments' interface has a new MAC address.
	newMAC, _ := net.ParseMAC("8e:3a:5b:d0:71:c5")
	for _, c := range after.inv.Containers {
		if c.Name == "payments" {
			c.MACs = []net.HardwareAddr{newMAC}
		}
	}
	after = build(t, after.inv, after.set)
	oldRS, newRS := compile(t, before, firewall.Options{}), compile(t, after, firewall.Options{})

	if d := firewall.Changes(oldRS, oldRS); len(d) != 0 {
		t.Errorf("Changes of a ruleset with itself: %q", d)
	}
	if len(oldRS.Bridges) == 0 {
		t.Fatal("the shop's ruleset closes no bridge: the ARP table goes untested")
	}
	if st, d := oldRS.Stats(), firewall.Changes(nil, oldRS); len(d) != st.Sets+st.Maps+st.Chains+2 {
		t.Errorf("Changes from nothing: %d lines, want one per set, map and chain, and the bridge and ARP tables: %q", len(d), d)
	}
	changes := firewall.Changes(oldRS, newRS)
	if !slices.ContainsFunc(changes, func(l string) bool { return strings.Contains(l, "element 10.20.2.77") }) {
		t.Errorf("Changes does not show the newcomer's address: %q", changes)
	}
	for _, want := range []string{
		`+ set macs element "veth3f2a1c9" . 8e:3a:5b:d0:71:c5`, `- set macs element "veth3f2a1c9" . 8e:3a:5b:d0:71:c4`,
		"+ set bound_macs element 8e:3a:5b:d0:71:c5", "- set bound_macs element 8e:3a:5b:d0:71:c4",
	} {
		if !slices.Contains(changes, want) {
			t.Errorf("Changes does not show payments' new MAC address: want %q among %q", want, changes)
		}
	}

	n := newNetns(t)
	if err := firewall.Apply(n.conn, oldRS); err != nil {
		t.Fatal(err)
	}
	diff, err := firewall.Diff(n.conn, newRS)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(diff)
	sorted := slices.Clone(changes)
	slices.Sort(sorted)
	if d := cmp.Diff(diff, sorted); d != "" {
		t.Errorf("Changes and Diff disagree (-Diff +Changes):\n%s", d)
	}
	t.Logf("%d changes", len(changes))
}
