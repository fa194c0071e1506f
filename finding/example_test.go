package finding_test

import (
	"fmt"

	"github.com/wardsec/ward/finding"
)

func Example() {
	fs := []finding.Finding{
		{Rule: "netpol/host-network", Severity: finding.High, File: "b.yaml", Line: 3},
		{Rule: "netpol/policy-selects-nothing", Severity: finding.Medium, File: "a.yaml", Line: 9},
	}
	fs = finding.Sort(fs)
	for _, f := range fs {
		fmt.Println(f.Location(), f.Severity, f.Rule)
	}
	fmt.Println(finding.AtLeast(fs, finding.High), finding.AtLeast(fs, finding.Critical))
	// Output:
	// a.yaml:9 medium netpol/policy-selects-nothing
	// b.yaml:3 high netpol/host-network
	// true false
}
