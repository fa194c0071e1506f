// Package synth generates synthetic Kubernetes clusters for benchmarks:
// namespaces, workloads, Services and NetworkPolicies with realistic labels,
// named ports and policy shapes, as manifests or as a cluster dump.
//
// A cluster is planned from one seeded random source (math/rand/v2), then
// rendered as YAML or JSON text directly, without building k8s.io/api
// structs, so that 100,000 pods and 75,000 policies take seconds. The same
// Config always yields the same bytes.
//
// # What a cluster holds
//
// Namespaces carry team, env and tier labels (and the immutable
// kubernetes.io/metadata.name). Applications are Deployments and
// StatefulSets drawn from archetypes: web frontends (http 8080), APIs (http
// 8080, grpc 9090), gRPC services, workers, gateways (https 8443) and data
// stores (postgres 5432, redis 6379, kafka 9092, memcached 11211 TCP and
// UDP, mongodb, mysql, opensearch), plus a few UDP (statsd, syslog) and SCTP
// (diameter) services; most expose metrics 9102. Pod templates carry app,
// app.kubernetes.io/name, app.kubernetes.io/component, component, tier, team
// and version labels. Replica counts are skewed, with a mean of about 4 (1
// or 3 for data stores). Every cluster also has kube-system/coredns
// (k8s-app=kube-dns), monitoring/prometheus and the host-network
// monitoring/node-exporter DaemonSet.
//
// About 90% of namespaces get a default deny (mostly ingress and egress in
// one policy, some split in two, a few ingress only) and, when egress is
// denied, a DNS allowance to kube-system/kube-dns on 53 UDP and TCP; some
// allow Prometheus scraping or the whole namespace. These take at most half
// of Config.Policies. The rest each target one application (sometimes a few,
// by component or by matchExpressions) and mix: same-namespace ingress,
// cross-namespace peers in AND form (namespaceSelector with podSelector) and
// OR form (two peers), internet egress by ipBlock with except, egress to
// dependencies, port ranges with endPort, named ports in ingress and egress,
// matchExpressions with In, NotIn and Exists, UDP and SCTP rules, ipBlock
// ingress from load-balancer subnets and a rare allow-all. A third of the
// ingress-only policies omit policyTypes. Every policy is valid for the
// Kubernetes API.
//
// # Dumps
//
// With Config.Dump the output is what `kubectl get -o yaml` prints for
// namespaces, deployments, statefulsets, daemonsets, replicasets, pods,
// services and networkpolicies: server-set metadata (uid, resourceVersion,
// creationTimestamp), defaulted fields and status. Pods name their
// ReplicaSet (for Deployments, which own the ReplicaSets) or their
// StatefulSet or DaemonSet in ownerReferences and carry spec.nodeName and
// status.podIP from the node's /24 in 10.128.0.0/10 (host network pods:
// the node's IP). A quarter of the Deployments keep a scaled-down previous
// ReplicaSet. Pods in namespaces with istio-injection carry an istio-proxy
// sidecar with a port that their templates lack. Policies in a dump have
// policyTypes and port protocols filled in, as the API server stores them.
//
// Dumps also carry what real ones do on top of that (see applied.go):
// on the objects `kubectl apply` wrote (namespaces, workloads, Services,
// NetworkPolicies) the kubectl.kubernetes.io/last-applied-configuration
// annotation, holding the object's apiVersion, kind, metadata and spec as
// kubectl writes them (the same object rendered as a manifest, compact
// JSON with sorted keys), printed as a "|" block scalar; and on every
// object metadata.managedFields with two managers, whose fieldsV1 sets
// name the object's own fields. Config.Bare leaves both out.
//
// # Files
//
// Objects are written in namespace order (all Namespaces first) and split
// into files of Config.ObjectsPerFile objects, so that a loader can work
// on files and documents in parallel. YAML files hold one object per
// document; JSON files hold one v1 List each.
package synth
