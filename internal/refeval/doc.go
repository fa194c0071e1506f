// Package refeval is a deliberately simple reference evaluator for
// Kubernetes NetworkPolicy, used to test Ward's engine (package netpol).
//
// It answers one question per flow — may a new connection from one pod to
// another pod on (protocol, port) be opened? — by reading the policies the
// way the Kubernetes NetworkPolicy API documentation describes them, with no
// clever data structures (it only converts each label selector once). It
// shares no code with the engine: only apimachinery's label selector
// matching, net/netip and plain ints. It is slow (O(policies × rules ×
// peers) per flow) on purpose: its value is being obviously right.
//
// The semantics it implements, in the order Allowed applies them:
//
//   - A connection is allowed iff the source's egress allows it AND the
//     destination's ingress allows it.
//   - A pod is isolated for a direction iff some policy selects it (same
//     namespace, podSelector matches its labels) and has that direction in
//     its policyTypes. Absent policyTypes mean Ingress, plus Egress when the
//     policy has at least one egress rule (the API server's defaulting).
//   - A non-isolated pod allows everything in that direction; an isolated one
//     allows the union of the rules of the policies that select it.
//   - A rule matches a peer pod when its from/to is missing or empty
//     (everyone, external addresses included) or one of its peers matches.
//     A peer with an ipBlock matches a pod whose IP is known and lies in the
//     CIDR but in none of the excepts. Otherwise it matches pods in the
//     namespaces its namespaceSelector selects (or the policy's own
//     namespace when there is none) AND whose labels its podSelector selects
//     (or any pod when there is none).
//   - A rule matches (protocol, port) when its ports list is missing or
//     empty, or one entry matches: same protocol (TCP when unset) and either
//     no port, a number (through endPort when set), or a name that the
//     destination pod gives a container port of that number and protocol.
//
// Ward's model of hostNetwork pods: policies never select them, and selector
// peers never match them (their traffic comes from the node's address), but
// ipBlock peers match them when their IP is known. External endpoints (a Pod
// with only IP set) are never isolated, have no named ports and match only
// ipBlock peers and empty from/to lists.
//
// RandomObjects (and RandomSet) make small random clusters whose policies
// exercise every part of the API, for differential tests of the engine
// against this package (netpol's TestDifferential and FuzzDifferential).
// FromObjects reads such a cluster's namespaces, pods and policies from the
// objects by itself, so that those tests check package manifest's assembly
// of workloads (owner references, pod IPs, namespace defaulting) too; New
// takes them from a manifest.Set, as assembled.
package refeval
