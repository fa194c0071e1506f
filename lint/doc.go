// Package lint checks NetworkPolicies against the workloads they are meant
// to protect and reports what is wrong or risky as findings: namespaces
// without a default deny, workloads and data stores left open, policies and
// peers that select nothing, named ports that resolve nowhere, egress
// isolation that breaks DNS, redundant rules, hostNetwork pods, and input
// Ward could not evaluate.
//
// Run takes a manifest.Set and the netpol.Engine compiled from it. Answers
// about what may connect come from the engine; the checks that point at a
// rule, a peer or a port read the policies themselves, so each finding
// names the exact field (spec.ingress[0].from[1]) and its line. Selectors
// are always matched with apimachinery, never by hand.
//
// Rules is the registry of every rule id Run can emit, with its default
// severity, rationale and fix; docs/netpol-rules.md is generated from it.
package lint
