// Package identity resolves the addresses of `ward watch` events to
// workloads (namespace, name, kind, labels) at the time of each event.
//
// Addresses are reused: a pod dies and a new pod of another workload gets
// its IP. A Table therefore holds, per address, the intervals during
// which each workload owned it (a claim starts when its pod started and
// ends when the pod finished or when the next claim on the address
// starts), and Resolve answers for the event's own time, so a flow of the
// new pod is never attributed to the old one, nor an old flow replayed
// later to the new one.
//
// Claims come from Kubernetes manifests (Pods with status.podIP(s) in a
// cluster dump: FromManifests) and, through Add, from any inventory that
// knows when an address was whose. An address that no claim covers at
// the event's time is Unknown when it is, or was, a workload's, or lies in
// a configured cluster range (pod CIDRs), and External otherwise: an
// unknown pod is never mistaken for the internet. A hostNetwork pod's
// IP is its node's, no pod's: while such a pod runs the address resolves
// to nobody (Unknown), so that the node's traffic is not taken for the
// pod's.
package identity
