package lab_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/lab"
	"github.com/wardsec/ward/portset"
)

// attack loads rs and sends plan's attack frames.
func attack(t *testing.T, l *lab.Lab, plan *lab.Plan, rs *firewall.Ruleset) []lab.AttackOutcome {
	t.Helper()
	if err := l.Load(rs); err != nil {
		t.Fatal(err)
	}
	outs, err := l.Attack(context.Background(), plan.Attacks())
	if err != nil {
		t.Fatal(err)
	}
	return outs
}

func attackText(outs []lab.AttackOutcome) string {
	var b strings.Builder
	for _, o := range lab.AttackMismatches(outs) {
		fmt.Fprintf(&b, "  %s: delivered %v, engine %v %s\n", &o.Attack, o.Delivered, o.Expect, o.Err)
	}
	return b.String()
}

// kinds counts outs by kind and fate.
func kinds(outs []lab.AttackOutcome) map[string][2]int {
	out := map[string][2]int{}
	for _, o := range outs {
		c := out[o.Kind]
		if o.Delivered {
			c[1]++
		} else {
			c[0]++
		}
		out[o.Kind] = c
	}
	return out
}

// TestAttackShop sends the adversarial frames between every pair of the
// shop's hosts, dual-stack: broadcast, multicast, VLAN 0 and VLAN 100
// tags, link-local IPv6, spoofed sources. Each arrives exactly where the
// engine says (broadcast and multicast: the sender's egress and the
// receiver's ingress; the others never). The shop isolates every
// workload both ways, so none arrives; TestAttackE2E sees both fates.
func TestAttackShop(t *testing.T) {
	requireLab(t)
	t.Parallel()
	plan := planFor(t, "../examples/shop")
	l := startLab(t, plan.Hosts)
	outs := attack(t, l, plan, plan.Ruleset)
	c := lab.CountAttacks(outs)
	k := kinds(outs)
	t.Logf("%+v; by kind [blocked delivered]: %v", c, k)
	if c.Mismatched != 0 {
		t.Errorf("%d of %d attack frames disagree with the engine:\n%s", c.Mismatched, c.Total, attackText(outs))
	}
	for _, kind := range []string{lab.AttackBroadcast, lab.AttackBroadcastToMAC, lab.AttackMulticast, lab.AttackVLAN0, lab.AttackVLAN, lab.AttackLinkLocal, lab.AttackSpoof} {
		if k[kind][0]+k[kind][1] == 0 {
			t.Errorf("no %s frame sent", kind)
		}
	}
}

// TestAttackE2E runs the attack frames on 20 of the e2e scenarios in one
// lab (their pods and addresses are the same): no mismatch, and across
// the scenarios broadcast and multicast frames both arrive and are
// stopped, so the test can tell.
func TestAttackE2E(t *testing.T) {
	requireLab(t)
	t.Parallel()
	files := e2eFiles(t)
	l := startLab(t, planFor(t, files[0]).Hosts)
	total := 0
	seen := map[string][2]int{}
	for _, f := range files[:20] {
		plan := planFor(t, f)
		outs := attack(t, l, plan, plan.Ruleset)
		c := lab.CountAttacks(outs)
		total += c.Total
		for kind, n := range kinds(outs) {
			s := seen[kind]
			seen[kind] = [2]int{s[0] + n[0], s[1] + n[1]}
		}
		if c.Mismatched != 0 {
			t.Errorf("%s: %d of %d attack frames disagree with the engine:\n%s", f, c.Mismatched, c.Total, attackText(outs))
		}
	}
	t.Logf("%d attack frames over 20 scenarios; by kind [blocked delivered]: %v", total, seen)
	for _, kind := range []string{lab.AttackBroadcast, lab.AttackBroadcastToMAC, lab.AttackMulticast} {
		if seen[kind][0] == 0 || seen[kind][1] == 0 {
			t.Errorf("%s frames: %v blocked and delivered; want both", kind, seen[kind])
		}
	}
}

// TestAttackNegativeControl reopens holes on purpose and expects the
// attack frames to find them: without the forward chain's broadcast and
// multicast rules, exactly the group frames the receiver's ingress
// refuses (and the sender's egress allows) arrive; without the bridge
// table, every VLAN-tagged frame and every link-local datagram arrives.
func TestAttackNegativeControl(t *testing.T) {
	requireLab(t)
	t.Parallel()
	plan := planFor(t, "testdata/e2e/DefaultDenyIngress.yaml")
	l := startLab(t, plan.Hosts)
	o := firewall.NewOracle(plan.Engine, plan.Inventory, firewall.Options{})

	noGroup := withChain(t, plan.Ruleset, firewall.ChainForward, func(rules []firewall.Rule) []firewall.Rule {
		return slices.DeleteFunc(rules, func(r firewall.Rule) bool { return r.Dst.IsValid() })
	})
	outs := attack(t, l, plan, noGroup)
	want, got := map[string]bool{}, map[string]bool{}
	for _, a := range plan.Attacks() {
		if (a.Kind == lab.AttackBroadcast || a.Kind == lab.AttackBroadcastToMAC || a.Kind == lab.AttackMulticast) && !a.Expect &&
			o.Allows(firewall.Forward, a.Frame.Src, a.Frame.Dst, portset.UDP, a.Frame.Port) {
			want[a.String()] = true
		}
	}
	for _, m := range lab.AttackMismatches(outs) {
		if !m.Delivered || !m.Retried {
			t.Errorf("%s: delivered %v, retried %v; want delivered, confirmed by a second attempt", &m.Attack, m.Delivered, m.Retried)
		}
		got[m.String()] = true
	}
	if len(want) == 0 || !mapsEqual(got, want) {
		t.Errorf("group rules removed: %d mismatches, want %d\n%s", len(got), len(want), attackText(outs))
	}

	noBridge := *withoutBridgeTable(plan.Ruleset)
	outs = attack(t, l, plan, &noBridge)
	for _, o := range outs {
		switch o.Kind {
		case lab.AttackVLAN0, lab.AttackVLAN, lab.AttackLinkLocal:
			if !o.Delivered {
				t.Errorf("without the bridge table, %s did not arrive: the lab cannot see this hole", &o.Attack)
			}
		}
	}
}

func mapsEqual(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

// e2eFiles lists the exported e2e scenarios, at least 20 of them.
func e2eFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("testdata/e2e/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 20 {
		t.Fatalf("%d e2e fixtures, want at least 20 (go test ./netpol -run TestE2EExport -update)", len(files))
	}
	return files
}
