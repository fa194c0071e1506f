// Package suppress silences findings that a team has reviewed and
// accepted, without hiding them.
//
// Three mechanisms exist, and every one requires a reason:
//
//   - an annotation on a Kubernetes object,
//     ignore.ward.dev/<rule-id>: "<reason>" (the rule id's "/" may be
//     written as "." so that the annotation name is valid for the API
//     server), on the workload object, its pod template, a Service, an
//     Ingress, a NetworkPolicy, a ConfigMap or a Namespace;
//   - a comment in a Dockerfile or Compose file,
//     # ward:ignore <rule-id> <reason>, which the dockerfile and compose
//     packages handle themselves;
//   - an ignore entry in ward.yaml, by rule (or glob), file path glob and
//     object, which can silence a "missing X" finding that no line could
//     carry a comment for.
//
// Apply marks silenced findings with a finding.Suppression instead of
// dropping them: reports count them, list them on request and SARIF output
// carries them as suppressions, so code scanning shows them as dismissed
// with their justification. A suppressed finding never fails a run.
package suppress
