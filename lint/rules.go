package lint

import "github.com/wardsec/ward/finding"

// Rule is finding.Rule: every rule family shares one descriptor type. A
// lint finding may be more severe than its rule (netpol/datastore-open is
// critical when the port is open to addresses outside the cluster).
type Rule = finding.Rule

// Rule ids. They are a contract: reports, suppressions and CI gates refer
// to them.
const (
	ruleNoDefaultDenyIngress = "netpol/no-default-deny-ingress"
	ruleNoDefaultDenyEgress  = "netpol/no-default-deny-egress"
	ruleWorkloadUnprotected  = "netpol/workload-unprotected"
	rulePolicySelectsNothing = "netpol/policy-selects-nothing"
	rulePeerMatchesNothing   = "netpol/peer-matches-nothing"
	ruleNamedPortUnresolved  = "netpol/named-port-unresolved"
	ruleEgressWithoutDNS     = "netpol/egress-without-dns"
	ruleDatastoreOpen        = "netpol/datastore-open"
	ruleRuleShadowed         = "netpol/rule-shadowed"
	ruleIgnoredRules         = "netpol/ignored-rules"
	ruleAllowAll             = "netpol/allow-all"
	ruleHostNetwork          = "netpol/host-network"
	rulePodIPsUnknown        = "netpol/pod-ips-unknown"
	ruleSkipped              = "input/skipped"
)

// Rules is every rule Run can report, in documentation order.
var Rules = []Rule{
	{
		ID:       ruleNoDefaultDenyIngress,
		Severity: finding.Medium,
		Summary:  "A namespace with workloads has no default-deny NetworkPolicy for ingress.",
		Rationale: "Without a namespace-wide baseline, every pod that no policy happens to select accepts connections from any pod and any address, " +
			"and each new workload starts out open. A default deny is a NetworkPolicy in the namespace whose podSelector is empty ({}) and which isolates ingress " +
			"(policyTypes lists Ingress, or policyTypes is absent), unless one of its ingress rules allows everything (no from and no ports). " +
			"Its other rules may still allow some traffic: it counts as a baseline because it isolates every pod of the namespace. " +
			"Namespaces whose only workloads use hostNetwork are not reported: NetworkPolicy does not protect them (see netpol/host-network).",
		Fix: "Add `{kind: NetworkPolicy, metadata: {name: default-deny-ingress, namespace: <ns>}, spec: {podSelector: {}, policyTypes: [Ingress]}}`, " +
			"then allow the flows each workload needs with narrower policies.",
		Equivalents: []string{"kics:k8s/pod_misconfigured_network_policy", "kube-linter:non-isolated-pod"},
	},
	{
		ID:       ruleNoDefaultDenyEgress,
		Severity: finding.Medium,
		Summary:  "A namespace with workloads has no default-deny NetworkPolicy for egress.",
		Rationale: "Without egress isolation a compromised pod can reach every other pod, the cloud metadata service and the internet. " +
			"A default deny for egress is a NetworkPolicy in the namespace with an empty podSelector that isolates egress " +
			"(policyTypes lists Egress, or policyTypes is absent and the policy has an egress section), unless one of its egress rules allows everything " +
			"(no to and no ports). A default deny that still allows DNS counts.",
		Fix: "Add `{kind: NetworkPolicy, metadata: {name: default-deny-egress, namespace: <ns>}, spec: {podSelector: {}, policyTypes: [Egress], " +
			"egress: [{ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]}]}}`, then allow the destinations each workload needs.",
		Equivalents: []string{"kics:k8s/pod_misconfigured_network_policy"},
	},
	{
		ID:       ruleWorkloadUnprotected,
		Severity: finding.Low,
		Summary:  "A workload in a namespace that has NetworkPolicies is not isolated for ingress by any of them.",
		Rationale: "The namespace uses NetworkPolicy, so an unselected workload is most likely an oversight: it accepts connections from any pod and any address. " +
			"To avoid flooding reports on clusters that do not use NetworkPolicy at all, only namespaces with at least one policy are checked; " +
			"namespaces without any get netpol/no-default-deny-ingress instead. The message says whether egress is open too. hostNetwork workloads are reported by netpol/host-network.",
		Fix: "Select the workload with a policy that isolates ingress, such as a namespace default deny (`podSelector: {}`, `policyTypes: [Ingress]`) " +
			"plus a policy allowing its clients.",
		Equivalents: []string{"kics:k8s/pod_misconfigured_network_policy", "kube-linter:non-isolated-pod"},
	},
	{
		ID:       rulePolicySelectsNothing,
		Severity: finding.Medium,
		Summary:  "A NetworkPolicy's podSelector matches no workload in its namespace.",
		Rationale: "A policy that selects nothing protects nothing; usually its labels drifted from the workload's, or it was applied to the wrong namespace, " +
			"and the workload it was written for is left open. hostNetwork workloads do not count: NetworkPolicy does not apply to them. " +
			"The rule runs only when the input contains workloads. When the namespace holds custom resources (an operator's Prometheus, say), " +
			"the pods their operator creates are not in the input: the finding is then info and says so.",
		Fix: "Make spec.podSelector match the pod template labels of the workload it is meant for (`kubectl get pods -n <ns> --show-labels`), " +
			"or move the policy to that workload's namespace, or delete it.",
		Equivalents: []string{"kics:k8s/network_policy_is_not_targeting_any_pod", "kube-linter:dangling-networkpolicy"},
	},
	{
		ID:       rulePeerMatchesNothing,
		Severity: finding.Medium,
		Summary:  "A podSelector or namespaceSelector peer of a rule matches no workload, or its namespaceSelector matches no namespace.",
		Rationale: "A peer that matches nothing allows nothing: the intended client or destination is blocked, which often leads someone to loosen the policy blindly. " +
			"Namespaces that the input does not declare carry only the kubernetes.io/metadata.name label. " +
			"Peers that select namespaces absent from the input by kubernetes.io/metadata.name (kube-system for DNS, typically) are not reported, " +
			"because the input says nothing about what runs there. The rule runs only when the input contains workloads. " +
			"When the peer's namespace holds custom resources, the pods their operator creates are not in the input: the finding is then info and says so.",
		Fix: "Fix the selector labels so they match the peer's pod template labels and its namespace's labels; " +
			"remember that a podSelector without namespaceSelector only selects pods in the policy's own namespace.",
		Equivalents: []string{"kube-linter:dangling-networkpolicypeer-podselector"},
	},
	{
		ID:       ruleNamedPortUnresolved,
		Severity: finding.High,
		Summary:  "A named port in a rule resolves, with the rule's protocol, on none of the workloads the rule can reach.",
		Rationale: "Named ports are resolved on each destination pod: the container port with that name and the rule's protocol (TCP by default). " +
			"On pods without it the port entry allows nothing, silently. For ingress the destinations are the workloads the policy selects; " +
			"for egress, the workloads the rule's peers match (every workload when the rule has no peers), and addresses outside the cluster, " +
			"on which a name never resolves. Rules with ipBlock peers are skipped when the input has no pod IPs, since the block may cover pods.",
		Fix: "Use the exact containerPort name and protocol of the destination (`ports: [{port: http, protocol: TCP}]`), or a port number.",
	},
	{
		ID:       ruleEgressWithoutDNS,
		Severity: finding.Medium,
		Summary:  "A workload isolated for egress may not send DNS queries (port 53 over UDP or TCP) anywhere.",
		Rationale: "Once a pod is isolated for egress, everything not allowed is dropped, including its lookups to kube-dns; connections by name then fail " +
			"with timeouts that look like application bugs. Ward checks whether the compiled policies allow 53/UDP or 53/TCP from the workload to any endpoint, " +
			"and, since the DNS pods are often not in the input, also accepts any egress rule whose ports include 53 (or a named port containing \"dns\") " +
			"towards a podSelector or namespaceSelector peer.",
		Fix: "Add an egress rule `{to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}, podSelector: {matchLabels: {k8s-app: kube-dns}}}], " +
			"ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]}` to a policy selecting the workload.",
	},
	{
		ID:       ruleDatastoreOpen,
		Severity: finding.High,
		Summary:  "A data store port is reachable from every pod, or from any address (critical).",
		Rationale: "Databases, caches and brokers (PostgreSQL 5432, MySQL 3306, Redis 6379, MongoDB 27017, Elasticsearch 9200, AMQP 5672, Cassandra 9042, " +
			"etcd 2379, memcached 11211, Kafka 9092, SQL Server 1433, CockroachDB 26257, or container ports named after them) hold the data attackers want " +
			"and often trust the network. The port is open to any address, critical, when the workload is not isolated for ingress, " +
			"or an ingress rule covering the port has no from, an ipBlock with a /0 cidr (0.0.0.0/0, ::/0), or ipBlocks that cover a /0 together " +
			"(0.0.0.0/1 and 128.0.0.0/1; excepts are not counted, as for a /0); it is open to every pod, high, when a rule " +
			"allows it from `namespaceSelector: {}` with an empty or absent podSelector, or from any namespaceSelector that a namespace with only its " +
			"`kubernetes.io/metadata.name` label matches (`{key: x, operator: DoesNotExist}`, a name `NotIn` a list) with a podSelector that a pod " +
			"without labels matches: every namespace not excluded by a label, new ones included.",
		Fix: "Allow the port only from the workloads that use it: `ingress: [{from: [{podSelector: {matchLabels: {app: <client>}}}], ports: [{port: <port>}]}]` " +
			"in a policy selecting the data store, on top of a namespace default deny.",
	},
	{
		ID:       ruleRuleShadowed,
		Severity: finding.Low,
		Summary:  "A rule allows nothing that another single rule for the same pods does not already allow.",
		Rationale: "Redundant rules make policies harder to review and hide intent: tightening the narrow rule changes nothing while the broad one stays. " +
			"Ward reports only certain cases, comparing rules syntactically within a policy and across policies of one namespace with the same podSelector: " +
			"the covering rule has no peers or every peer of the shadowed rule (compared as selectors, not text), and it has no ports or a superset of " +
			"the shadowed rule's numeric ports with the same protocols and all its named ports. Of two identical rules the later one is reported.",
		Fix: "Delete the shadowed rule, or narrow the covering rule if it allows more than intended.",
	},
	{
		ID:       ruleIgnoredRules,
		Severity: finding.Medium,
		Summary:  "A policy has ingress or egress rules for a direction its policyTypes leave out, so the API ignores them.",
		Rationale: "With an explicit policyTypes, rules of an unlisted direction neither allow nor restrict anything. The author usually meant them to apply, " +
			"and the pods are left unrestricted in that direction.",
		Fix:         "Add the direction to spec.policyTypes (`policyTypes: [Ingress, Egress]`), or delete the ignored section.",
		Equivalents: []string{"kics:k8s/pod_misconfigured_network_policy"},
	},
	{
		ID:       ruleAllowAll,
		Severity: finding.Medium,
		Summary:  "A NetworkPolicy rule allows every source (or destination) on every port: `ingress: [{}]` or `egress: [{}]`.",
		Rationale: "The policy isolates the pods it selects, so they look protected, and the rule then lets everything through: every pod, every " +
			"address, every port. Such policies are often scaffolding left in place. The finding points at the rule; the policy may still have a " +
			"purpose (a workload that must be open), but then a reviewer should see that it is deliberate.",
		Fix: "Replace the rule with rules naming the sources (from) or destinations (to) and ports the workload needs, or delete the policy " +
			"if opening the pods is intended and suppress the finding with a reason.",
	},
	{
		ID:       ruleHostNetwork,
		Severity: finding.High,
		Summary:  "A workload uses hostNetwork, so NetworkPolicy does not protect it.",
		Rationale: "Pods on the host network share the node's network namespace and address. Most CNIs do not apply NetworkPolicy to them and selectors " +
			"do not match their traffic; behaviour is implementation-defined. Ward treats them as unprotected in both directions.",
		Fix:         "Drop `hostNetwork: true` unless the workload really needs the node's network (CNI agents, node exporters); protect those with host firewall rules.",
		Equivalents: []string{"KSV-0009", "kics:k8s/shared_host_network_namespace", "kube-linter:host-network", "polaris:hostNetworkSet"},
	},
	{
		ID:       rulePodIPsUnknown,
		Severity: finding.Info,
		Summary:  "The input has ipBlock peers but no pod IPs, so ipBlocks were matched only against addresses outside the cluster.",
		Rationale: "An ipBlock also matches pods whose IPs fall in it. Manifests usually carry no pod IPs, so Ward cannot tell which pods a block " +
			"such as 10.0.0.0/8 covers and shows only its effect on external addresses. One finding per input.",
		Fix: "Include live Pod objects with status.podIP (`kubectl get pods -A -o yaml`) in the input for exact ipBlock matching.",
	},
	{
		ID:       RuleUnsupportedPolicy,
		Severity: finding.High,
		Summary:  "A network policy of a kind Ward does not evaluate (Calico, Cilium, AdminNetworkPolicy, ...).",
		Rationale: "Such a policy may allow or deny traffic that Ward's reachability does not show. Ignoring it silently would give false assurance, " +
			"so every one is reported. Istio's PeerAuthentication and AuthorizationPolicy are left to the mesh rules, which read them " +
			"(`ward reach`, `diff` and `explain` still warn that they ignore them). A NetworkPolicy, PeerAuthentication or AuthorizationPolicy of a Helm chart that is a hook helm install " +
			"does not create (helm.sh/hook: test, pre-upgrade, pre-delete, an event helm does not know, ...) or deletes once created (hook-delete-policy: hook-succeeded) is " +
			"reported the same way and left out of the model and the mesh audit: it is not in the cluster after helm install, or not always.",
		Fix: "Review the policy by hand, or remove it from the input if it is not deployed.",
	},
	{
		ID:       ruleSkipped,
		Severity: finding.Info,
		Summary:  "Documents of an input file that Ward does not model, counted per reason.",
		Rationale: "Values files, Compose files and kinds other than workloads, Services, Namespaces and NetworkPolicies are skipped. " +
			"The count shows what was not analysed, so a wrong input path does not go unnoticed.",
		Fix: "Nothing to fix when the skipped documents are not Kubernetes objects Ward evaluates; otherwise check the input.",
	},
}

// Lookup returns the registry entry for id.
func Lookup(id string) (Rule, bool) {
	for _, r := range Rules {
		if r.ID == id {
			return r, true
		}
	}
	return Rule{}, false
}

// RuleUnsupportedPolicy is reported for a policy Ward does not evaluate
// (Unevaluated); ward assert takes an ignore entry of exactly this rule
// as the acknowledgement that lets it judge assertions without one.
const RuleUnsupportedPolicy = "input/unsupported-policy"
