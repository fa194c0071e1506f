package suppress_test

import (
	"fmt"

	"github.com/wardsec/ward/finding"
	"github.com/wardsec/ward/suppress"
)

func ExampleApply() {
	fs := []finding.Finding{
		{Rule: "dockerfile/no-healthcheck", Severity: finding.Info, File: "Dockerfile", Object: "stage 2 (runtime)"},
		{Rule: "dockerfile/user-root", Severity: finding.High, File: "Dockerfile", Line: 12, Object: "stage 2 (runtime)"},
	}
	ignores := []suppress.Ignore{{Rule: "dockerfile/no-healthcheck", Reason: "Kubernetes probes check health"}}
	fs, stale := suppress.Apply(fs, nil, ignores)
	for _, f := range fs {
		if f.Suppressed != nil {
			fmt.Printf("%s suppressed by %s: %s\n", f.Rule, f.Suppressed.By, f.Suppressed.Reason)
		} else {
			fmt.Printf("%s reported\n", f.Rule)
		}
	}
	fmt.Println("stale ignores:", len(stale))
	// Output:
	// dockerfile/no-healthcheck suppressed by config: Kubernetes probes check health
	// dockerfile/user-root reported
	// stale ignores: 0
}
