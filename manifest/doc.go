// Package manifest loads Kubernetes manifests into a Set: the namespaces,
// workloads, services and NetworkPolicies that Ward analyses, each with the
// file and line it came from.
//
// Load reads files, directories and standard input. In a directory it reads
// the files kubectl apply -f reads, by extension (.yaml, .yml, .json, in
// lower case); one ending in another case that holds objects is an
// ErrNotApplied error, its objects left out. Inputs are multi-document YAML,
// JSON, `kind: List` dumps from `kubectl get -o yaml`, and `helm template`
// output, whose `# Source:` comments are kept. Documents are decoded in
// parallel into the official k8s.io/api types, straight from the parsed
// YAML nodes with encoding/json's rules (the JSON decode the API server's
// tooling uses stays the reference, and the path for anything the direct
// decode is not sure of). Each decoding goroutine parses into an arena it
// reuses and shares one copy of each short string between the objects it
// decodes. The value of kubectl's last-applied-configuration annotation is
// not kept (its key is): it is a copy of the object. Workloads are pod templates:
// Pods in the input that belong to a Deployment, StatefulSet, Job and so on
// (through their ownerReferences) are folded into it and contribute their
// IPs. Such Pods (and ReplicaSets) with owner references are checked field
// by field like any object but decoded slim, without most of their spec
// and status, which cluster dumps hold by the hundred thousand: one whose
// owner turns out to be absent is a workload of its own and is decoded
// again, whole, from its file (see Set.Objects). Owner references are not
// taken on trust: while decoding, each such Pod's spec is hashed, with what
// the API server and standard admission add to every Pod left out, and
// compared with the hash of its workload's template; a Pod that differs is
// decoded again whole too and listed in Set.DeviatingPods, for the audits
// to judge its own spec (one Pod per workload and differing spec). OpenShift
// DeploymentConfigs, Knative Services and Configurations and Argo Rollouts
// are workloads too, decoded into this package's minimal types
// (DeploymentConfig, KnativeService, ...). Policy kinds Ward cannot evaluate yet (Calico, Cilium,
// AdminNetworkPolicy, Istio) are listed in Set.Unsupported, as are the
// NetworkPolicies, PeerAuthentications and AuthorizationPolicies of any input
// that are Helm hooks helm install does not create or deletes at once
// (helm.sh/hook and helm.sh/hook-delete-policy read as helm reads them, in
// any case; an unknown event means helm skips the object), and documents
// that are not Kubernetes objects in Set.Skipped.
//
// Bad input never stops loading: every malformed document or object gives
// an *Error with its file and line, the object is left out (but for a
// workload whose only errors are in its container ports: it is kept for
// the audits, without those ports), and the rest loads. FromObjects builds a Set from typed objects, for tests and
// generators.
package manifest
