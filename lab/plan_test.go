package lab_test

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/lab"
	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/portset"
)

// loadManifests loads paths as `ward` does, leaving out the files of a
// directory that are not Kubernetes manifests (ward.yaml, compose.yaml).
func loadManifests(t testing.TB, paths ...string) *manifest.Set {
	t.Helper()
	set, err := manifest.Load(manifest.Options{Skip: func(p string) bool {
		base := filepath.Base(p)
		return base == "ward.yaml" || base == "compose.yaml"
	}}, paths...)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// planFor is the pipeline of `ward lab PATH`: manifests, an inventory of
// their workloads, the engine and ruleset, the truth table.
func planFor(t testing.TB, paths ...string) *lab.Plan {
	t.Helper()
	set := loadManifests(t, paths...)
	inv, err := firewall.FromManifests(set, firewall.DefaultPool)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := lab.NewPlan(set, inv)
	if err != nil {
		t.Fatal(err)
	}
	return plan
}

// wantProbes counts the probes a truth table must have, from the
// manifests alone: for every ordered pair of different workloads that
// are not hostNetwork, every port number the destination declares, the
// three protocols and the address families (both, for workloads given
// addresses from the pool; IPv4 for the e2e pods with their IPv4 pod
// IPs). It returns the total and the SCTP share.
func wantProbes(set *manifest.Set, families int) (total, sctp int) {
	var ports []int
	for _, w := range set.Workloads {
		if w.HostNetwork {
			continue
		}
		seen := map[int32]bool{}
		for _, p := range w.Ports {
			seen[p.Port] = true
		}
		ports = append(ports, len(seen))
	}
	hosts := len(ports)
	for _, n := range ports {
		total += n * (hosts - 1) * len(lab.Protocols) * families
		sctp += n * (hosts - 1) * families
	}
	return total, sctp
}

func find(t *testing.T, plan *lab.Plan, src, dst string, port uint16, proto portset.Protocol, fam int) lab.Probe {
	t.Helper()
	for _, p := range plan.Probes {
		if p.Src.ID == src && p.Dst.ID == dst && p.Port == port && p.Protocol == proto && p.SrcAddr.Is4() == (fam == 4) {
			return p
		}
	}
	t.Fatalf("no probe %s -> %s %d/%s IPv%d", src, dst, port, proto, fam)
	return lab.Probe{}
}

// TestPlanShop checks the shop's truth table: its size, its addresses and
// verdicts read off the shop's policies by hand.
func TestPlanShop(t *testing.T) {
	set := loadManifests(t, "../examples/shop")
	plan := planFor(t, "../examples/shop")
	total, _ := wantProbes(set, 2)
	if len(plan.Probes) != total || total == 0 {
		t.Fatalf("%d probes, want %d", len(plan.Probes), total)
	}
	if len(plan.Hosts) != 6 {
		t.Fatalf("%d hosts, want 6", len(plan.Hosts))
	}
	for _, h := range plan.Hosts {
		if len(h.Addrs) != 2 || !firewall.DefaultPool.IPv4.Contains(h.Addrs[0]) || !firewall.DefaultPool.IPv6.Contains(h.Addrs[1]) {
			t.Errorf("%s: addresses %v, want one of each pool prefix", h.ID, h.Addrs)
		}
	}
	for _, c := range []struct {
		src, dst string
		port     uint16
		proto    portset.Protocol
		want     bool
		why      string
	}{
		{"api/catalog", "data/postgres", 5432, portset.TCP, true, "postgres-from-api admits catalog on port postgres"},
		{"data/redis", "data/postgres", 5432, portset.TCP, false, "postgres admits api pods only"},
		{"api/catalog", "data/postgres", 5432, portset.UDP, false, "the named port postgres is TCP"},
		{"payments/payments", "data/redis", 6379, portset.TCP, true, "redis-from-catalog has no from: every pod (the shop's deliberate mistake)"},
		{"data/postgres", "data/redis", 6379, portset.TCP, false, "data's default-deny egress allows DNS only"},
		{"web/frontend", "api/catalog", 8080, portset.TCP, true, "the frontend calls the api"},
	} {
		for _, fam := range []int{4, 6} {
			if p := find(t, plan, c.src, c.dst, c.port, c.proto, fam); p.Expect != c.want {
				t.Errorf("%s: expected %v, want %v (%s)", &p, p.Expect, c.want, c.why)
			}
		}
	}
}

// TestPlanE2E checks a fixture's truth table: the pods keep their pod
// IPs (so ipBlocks are exercised), IPv4 only, and the table is
// upstream's for IPBlockExceptIngress: x/a admits every pod but y/b.
func TestPlanE2E(t *testing.T) {
	path := "testdata/e2e/IPBlockExceptIngress.yaml"
	plan := planFor(t, path)
	total, _ := wantProbes(loadManifests(t, path), 1)
	if len(plan.Probes) != total || total != 9*8*2*3 {
		t.Fatalf("%d probes, want %d = %d", len(plan.Probes), total, 9*8*2*3)
	}
	for _, p := range plan.Probes {
		if !p.SrcAddr.Is4() {
			t.Fatalf("%s: want IPv4 only", &p)
		}
		want := !(p.Src.ID == "y/b" && p.Dst.ID == "x/a")
		if p.Expect != want {
			t.Errorf("%s: expected %v, want %v", &p, p.Expect, want)
		}
	}
	if got := plan.Hosts[0].Addrs; len(got) != 1 || got[0] != netip.MustParseAddr("10.0.0.1") {
		t.Errorf("x/a addresses %v, want its pod IP 10.0.0.1", got)
	}
}

// TestPlanHostNetwork: a hostNetwork workload is no host, is said to be
// skipped, and no probe starts or ends at it.
func TestPlanHostNetwork(t *testing.T) {
	doc := `apiVersion: v1
kind: Pod
metadata: {name: agent, namespace: x}
spec: {hostNetwork: true, containers: [{name: a, ports: [{containerPort: 9000}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: x}
spec: {containers: [{name: a, ports: [{containerPort: 80}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: x}
spec: {containers: [{name: a}]}
`
	set, err := manifest.Parse(manifest.Options{}, "host.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	inv, err := firewall.FromManifests(set, firewall.DefaultPool)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := lab.NewPlan(set, inv)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Skipped) != 1 || plan.Skipped[0].ID != "x/agent" || !strings.Contains(plan.Skipped[0].Reason, "hostNetwork") {
		t.Errorf("skipped %+v, want x/agent for hostNetwork", plan.Skipped)
	}
	// client -> web on port 80, three protocols, two families.
	if len(plan.Probes) != 6 {
		t.Errorf("%d probes, want 6", len(plan.Probes))
	}
	for _, p := range plan.Probes {
		if p.Src.ID != "x/client" || p.Dst.ID != "x/web" || p.Port != 80 || !p.Expect {
			t.Errorf("unexpected probe %s (expect %v)", &p, p.Expect)
		}
	}
	var b bytes.Buffer
	if err := plan.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "x/agent: hostNetwork") {
		t.Errorf("plan text does not name the skipped workload:\n%s", b.String())
	}
}

// TestResultOutput renders a result with one mismatch and one probe that
// could not run, as text and JSON.
func TestResultOutput(t *testing.T) {
	plan := planFor(t, "testdata/e2e/IPBlockExceptIngress.yaml")
	res := &lab.Result{Plan: plan, Run: "wardlab-1-test"}
	var bad lab.Probe
	for _, p := range plan.Probes {
		o := lab.Outcome{Probe: p, Observed: lab.Blocked}
		if p.Expect {
			o.Observed = lab.Allowed
		}
		switch {
		case p.Protocol == portset.SCTP:
			o.Observed, o.Reason = lab.NotRun, "no SCTP here"
		case p.Src.ID == "y/b" && p.Dst.ID == "x/a" && p.Port == 80 && p.Protocol == portset.TCP:
			o.Observed, o.Retried, bad = lab.Allowed, true, p
		}
		res.Outcomes = append(res.Outcomes, o)
	}
	c := res.Counts()
	if c.Total != 432 || c.Ran != 288 || c.Matched != 287 || c.Mismatched != 1 || c.NotRun != 144 || c.NotRunReasons["no SCTP here"] != 144 {
		t.Errorf("counts %+v", c)
	}
	var b bytes.Buffer
	if err := res.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	text := b.String()
	for _, want := range []string{
		"\n    5 y/b  .!  .   .   .   -   .   .   .   .\n", // the 80/TCP row of y/b: x/a marked
		"! " + bad.String() + ": expected blocked, observed allowed, confirmed by a second attempt",
		"288 probes ran, 287 matched, 1 mismatched, 144 could not run (144: no SCTP here)",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text output lacks %q:\n%s", want, text)
		}
	}
	b.Reset()
	if err := res.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var out struct {
		Probes []struct {
			Src, Dst, Status, Expected, Observed string
			Port                                 int
		}
		Summary lab.Counts
	}
	if err := json.Unmarshal(b.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	var mismatched []string
	for _, p := range out.Probes {
		if p.Status == "mismatch" {
			mismatched = append(mismatched, p.Src+">"+p.Dst+":"+p.Expected+"/"+p.Observed)
		}
	}
	if len(out.Probes) != 432 || out.Summary.Mismatched != 1 || len(mismatched) != 1 || mismatched[0] != "y/b>x/a:blocked/allowed" {
		t.Errorf("JSON: %d probes, summary %+v, mismatches %v", len(out.Probes), out.Summary, mismatched)
	}
}

// TestPlanMACs checks the MAC addresses NewPlan binds each host's port
// to: the container's first, unless another host has it, else the lab's
// own (lab.HostMAC); the inventory itself is left as it was.
func TestPlanMACs(t *testing.T) {
	inv, err := firewall.ParseInventory("macs.yaml", []byte(`networks:
  - {name: n, subnets: [10.0.0.0/24]}
containers:
  - {name: a, ips: [10.0.0.1], macs: ["02:42:0a:00:00:01", "02:42:0a:00:00:09"]}
  - {name: b, ips: [10.0.0.2]}
  - {name: c, ips: [10.0.0.3], macs: ["02:42:0a:00:00:01"]}
`))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := lab.NewPlan(nil, inv)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"h0": "02:42:0a:00:00:01", "h1": lab.HostMAC(1).String(), "h2": lab.HostMAC(2).String()}
	got := map[string]string{}
	for _, b := range plan.Ruleset.Bindings {
		var macs []string
		for _, m := range b.MACs {
			macs = append(macs, m.String())
		}
		got[b.Port] = strings.Join(macs, " ")
	}
	if !maps.Equal(got, want) {
		t.Errorf("bound MAC addresses %v, want %v", got, want)
	}
	if len(inv.Containers[0].MACs) != 2 || len(inv.Containers[1].MACs) != 0 || len(inv.Containers[0].Interfaces) != 0 {
		t.Errorf("NewPlan changed the inventory: %+v", inv.Containers)
	}
}
