// Package netpol compiles Kubernetes NetworkPolicies (networking.k8s.io/v1)
// into an immutable Engine that answers "what may flow from A to B" exactly
// and fast, and explains each answer.
//
// The engine follows the API semantics to the letter: isolation per
// direction, policyTypes defaulting, empty versus missing peers and ports,
// namespace and pod selectors (AND within a peer, OR across peers), named
// ports resolved on each destination, endPort ranges, ipBlock excepts that
// carve holes rather than deny, and ipBlocks matching pods whose IPs are
// known. See docs/semantics.md for the model, including how hostNetwork pods
// are treated.
//
// # How it stays fast
//
// Workloads are grouped twice. First into label classes (same namespace,
// same labels), which selectors cannot tell apart; selectors are evaluated
// once per distinct selector against an inverted label index, with
// apimachinery's matcher confirming every candidate. Then into policy
// classes: endpoints selected by the same policies, matched by the same
// peers and resolving the referenced named ports identically. Rules are
// applied between classes, never between pods, and the external address
// space is cut into the disjoint ranges that ipBlocks can tell apart. Cost
// grows with the size of the input plus the size of the answer, not with
// pods times policies.
package netpol
