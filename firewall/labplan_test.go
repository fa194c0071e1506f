package firewall_test

import (
	"path/filepath"
	"testing"

	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/lab"
	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/portset"
)

// TestDifferentialLabPlans runs every probe of the lab's truth tables (the
// shop and every e2e scenario of lab/testdata/e2e, as `ward lab` plans
// them: the same addresses, ruleset and expected verdicts) through the
// ruleset interpreter. The lab cannot send the SCTP probes on a kernel
// without SCTP (testenv.KernelLacks counts them); this keeps their
// verdicts, and the others', checked against the engine on every machine.
func TestDifferentialLabPlans(t *testing.T) {
	files, err := filepath.Glob("../lab/testdata/e2e/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 20 {
		t.Fatalf("%d e2e scenarios in lab/testdata/e2e, want at least 20", len(files))
	}
	sctp := 0
	for _, path := range append([]string{"../examples/shop"}, files...) {
		set, err := manifest.Load(manifest.Options{Skip: func(p string) bool {
			base := filepath.Base(p)
			return base == "ward.yaml" || base == "compose.yaml"
		}}, path)
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
		in := newInterp(plan.Ruleset)
		failures := 0
		for _, p := range plan.Probes {
			// Bridged traffic meets the inet forward hook with the
			// bridge as its input and output device (br_netfilter).
			got := in.run(packet{hook: "forward", iif: "br0", oif: "br0", src: p.SrcAddr, dst: p.DstAddr, proto: protoNumber[p.Protocol], port: p.Port})
			if got.accept != p.Expect && failures < 5 {
				failures++
				t.Errorf("%s: %s: ruleset %s (by %s), engine says %s", filepath.Base(path), &p, verdict(got.accept), got.by, verdict(p.Expect))
			}
			if p.Protocol == portset.SCTP {
				sctp++
			}
		}
	}
	if sctp == 0 {
		t.Error("no SCTP probe in the lab's plans")
	}
	t.Logf("%d scenarios, %d SCTP probes", len(files)+1, sctp)
}
