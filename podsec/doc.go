// Package podsec audits how Kubernetes workloads are hardened: the Pod
// Security Standards, and what Ward adds for network security.
//
// Audit takes a manifest.Set and checks the pod template of every workload
// (Deployments, StatefulSets, DaemonSets, Jobs, CronJobs, ReplicaSets,
// ReplicationControllers and bare Pods), evaluated with the template's own
// metadata, since the AppArmor and seccomp annotations that some checks read
// live there and not on the controller.
//
// The Pod Security Standards come from the official library,
// k8s.io/pod-security-admission. Its evaluator does not say which check
// failed, so Audit selects the checks exactly as the evaluator does for the
// chosen level and version (the revision of each check in effect, and at
// the restricted level the baseline checks that restricted ones override
// left out) and runs them one by one, unchanged. Each failure is a finding
// named pss/<check id>, such as pss/allowPrivilegeEscalation, with the
// library's reason and detail. A volume with no source is checked as the
// emptyDir the API server makes of it, on a copy: Audit never modifies the
// Set.
//
// Ward's own rules, under pod/, cover what the standards leave out: a
// writable root file system, group 0, service account tokens mounted by
// default, NET_RAW kept, images by the latest tag or not pinned by digest,
// missing CPU and memory limits, and NodePort or LoadBalancer Services in
// front of pods that no NetworkPolicy isolates. Rules under exposure/
// judge how Services and networking.k8s.io/v1 Ingresses expose workloads:
// externalIPs, load balancers open to every address, Ingresses without
// TLS, and ingress-nginx snippet and authentication-lifting annotations.
// Rules under rbac/ judge the Roles, ClusterRoles and their bindings
// (rbac.authorization.k8s.io/v1): cluster-admin bound to subjects,
// wildcards, exec and attach, reading Secrets, impersonation, escalate
// and bind, creating workloads, nodes/proxy, and editing NetworkPolicies
// or Istio policies. A finding points at the rule that grants the right
// and names who holds it: the bindings are resolved to their subjects and
// ServiceAccounts to the workloads that run as them, through aggregated
// ClusterRoles and RoleBindings to ClusterRoles.
// Container rules apply to
// init and ephemeral containers too, except the limits rule: ephemeral
// containers cannot have limits. Ward has no hostPort rule of its own:
// pss/hostPorts runs at both levels and says it all.
//
// Findings point at the most specific line the input has: the field at
// fault (securityContext.runAsUser of the container the library names), or
// the nearest enclosing one. Load manifests with Options.FieldLines for
// this; without it findings point at the object.
//
// Rules is the registry of every rule Audit can report, one entry per Pod
// Security Standards check, with default severity, rationale, fix and the
// ids of the same check in kube-linter, Trivy and Polaris.
package podsec
