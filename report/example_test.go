package report_test

import (
	"os"

	"github.com/wardsec/ward/finding"
	"github.com/wardsec/ward/report"
)

func ExampleFindingsText() {
	fs := []finding.Finding{{
		Rule: "netpol/host-network", Severity: finding.High, File: "node-agent.yaml", Line: 4,
		Object: "monitoring/DaemonSet/node-agent", Message: "hostNetwork pods are not protected by NetworkPolicy",
		Fix: "drop hostNetwork: true unless the pod must use the node's network",
	}}
	sum := report.CheckSummary{Summary: finding.Summarize(fs), FailOn: "high", Failed: true, Objects: 1}
	sum.Score = report.Score(sum)
	_ = report.FindingsText(os.Stdout, &report.CheckResult{Findings: fs, Summary: sum}, report.TextOptions{})
	// Output:
	// node-agent.yaml
	//   HIGH         4  netpol/host-network  monitoring/DaemonSet/node-agent
	//                   hostNetwork pods are not protected by NetworkPolicy
	//                   fix: drop hostNetwork: true unless the pod must use the node's network
	//
	// 1 finding (1 high) in 1 object; score 17/100; failing at --fail-on=high
}
