package podsec

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/wardsec/ward/finding"
	"github.com/wardsec/ward/manifest"
)

// The RBAC audit reads the Roles, ClusterRoles, RoleBindings and
// ClusterRoleBindings of the input (rbac.authorization.k8s.io/v1). A
// finding about a right points at the rule of the role that grants it and
// names who holds it through the input's bindings: users, groups, and the
// workloads that run as a bound ServiceAccount. A finding about a binding
// (cluster-admin) points at its roleRef.

// rbacRole is a Role or ClusterRole of the input.
type rbacRole struct {
	obj       manifest.Object
	id        string
	name      string
	namespace string // "" for a ClusterRole
	labels    map[string]string
	rules     []rbacv1.PolicyRule
	aggregate *rbacv1.AggregationRule
	// parts are the ClusterRoles an aggregated ClusterRole collects.
	parts []*rbacRole
	// defaultBy is set for Kubernetes' default admin or edit ClusterRole,
	// which the input binds without declaring: the binding, whose roleRef
	// the findings point at.
	defaultBy *rbacBinding
}

// defaultEditRules are the dangerous rights of Kubernetes' default admin
// and edit ClusterRoles (admin has edit's, and manages RBAC in its
// namespace too, within the escalation check), one rule per right, for
// bindings to them when the input does not declare them.
var defaultEditRules = []rbacv1.PolicyRule{
	{APIGroups: []string{""}, Resources: []string{"pods/exec", "pods/attach"}, Verbs: []string{"create", "get"}},
	{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}},
	{APIGroups: []string{""}, Resources: []string{"serviceaccounts"}, Verbs: []string{"impersonate"}},
	{APIGroups: []string{"", "apps", "batch"}, Resources: []string{"pods", "replicationcontrollers", "deployments", "daemonsets", "statefulsets", "replicasets", "jobs", "cronjobs"},
		Verbs: []string{"create", "update", "patch", "delete"}},
	{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"networkpolicies"}, Verbs: []string{"create", "update", "patch", "delete", "deletecollection"}},
	{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"create", "update", "patch", "delete", "deletecollection"}},
}

// rbacBinding is a RoleBinding or ClusterRoleBinding of the input.
type rbacBinding struct {
	obj       manifest.Object
	id        string
	name      string
	namespace string // "" for a ClusterRoleBinding
	labels    map[string]string
	roleRef   rbacv1.RoleRef
	subjects  []rbacv1.Subject
}

// holder is a subject that holds a role through a binding, with where.
type holder struct {
	binding *rbacBinding
	subject rbacv1.Subject
	// scope is the namespace the right holds in, "" for the whole cluster.
	scope string
	// workloads are the input's workloads that run as a ServiceAccount
	// subject with a token of it mounted; tokenless those that mount none,
	// which cannot use its rights (named, but they raise no severity).
	workloads, tokenless []string
}

// broad groups: every ServiceAccount, every authenticated user, anyone.
const (
	groupAll             = "system:serviceaccounts"
	groupAuthenticated   = "system:authenticated"
	groupUnauthenticated = "system:unauthenticated"
)

// broad reports whether a subject is a group that takes in many identities.
func (h holder) broad() bool {
	if h.subject.Kind != rbacv1.GroupKind {
		return false
	}
	g := h.subject.Name
	return g == groupAuthenticated || g == groupUnauthenticated || g == groupAll || strings.HasPrefix(g, groupAll+":")
}

func (h holder) String() string {
	var b strings.Builder
	switch h.subject.Kind {
	case rbacv1.ServiceAccountKind:
		if len(h.workloads) > 0 {
			b.WriteString(strings.Join(h.workloads, ", "))
			b.WriteString(" (as ")
		}
		b.WriteString("ServiceAccount " + h.subject.Namespace + "/" + h.subject.Name)
		if len(h.workloads) > 0 {
			b.WriteString(")")
		}
		if len(h.tokenless) > 0 {
			b.WriteString(" (" + strings.Join(h.tokenless, ", ") + " runs as it with no token mounted, so cannot use it)")
		}
	default:
		b.WriteString(h.subject.Kind + " " + h.subject.Name)
	}
	b.WriteString(" through " + h.binding.id)
	if h.scope != "" {
		b.WriteString(" in namespace " + h.scope)
	}
	return b.String()
}

// holderSeverity raises a right's base severity for who holds it:
// system:unauthenticated makes anything sensitive critical,
// system:authenticated at least high and one level up, every
// ServiceAccount (of the cluster or a namespace) one level up, and so
// does a workload of the input that holds it in the whole cluster
// (through a ClusterRoleBinding): whoever compromises one of its pods
// has the right everywhere.
func holderSeverity(base finding.Severity, h holder) finding.Severity {
	if h.subject.Kind != rbacv1.GroupKind {
		if len(h.workloads) > 0 && h.scope == "" {
			return raise(base)
		}
		return base
	}
	switch g := h.subject.Name; {
	case g == groupUnauthenticated:
		return finding.Critical
	case g == groupAuthenticated:
		return max(finding.High, raise(base))
	case g == groupAll || strings.HasPrefix(g, groupAll+":"):
		return raise(base)
	}
	return base
}

func raise(s finding.Severity) finding.Severity {
	return min(finding.Critical, s+1)
}

// bootstrapLabel marks the roles and bindings the API server creates.
const bootstrapLabel = "kubernetes.io/bootstrapping"

// builtin reports whether a role or binding is one of Kubernetes' own
// defaults: named system:*, or labelled kubernetes.io/bootstrapping:
// rbac-defaults (cluster-admin, admin, edit, view and their bindings in a
// dump of a cluster).
func builtin(name string, labels map[string]string) bool {
	return strings.HasPrefix(name, "system:") || labels[bootstrapLabel] == "rbac-defaults"
}

func (a *auditor) rbac(set *manifest.Set) {
	var roles []*rbacRole
	var bindings []*rbacBinding
	for _, o := range set.Objects {
		switch v := o.Obj.(type) {
		case *rbacv1.Role:
			roles = append(roles, &rbacRole{obj: o, id: objectID("Role", v.Namespace, v.Name), name: v.Name, namespace: v.Namespace, labels: v.Labels, rules: v.Rules})
		case *rbacv1.ClusterRole:
			roles = append(roles, &rbacRole{obj: o, id: objectID("ClusterRole", "", v.Name), name: v.Name, labels: v.Labels, rules: v.Rules, aggregate: v.AggregationRule})
		case *rbacv1.RoleBinding:
			bindings = append(bindings, &rbacBinding{obj: o, id: objectID("RoleBinding", v.Namespace, v.Name), name: v.Name, namespace: v.Namespace, labels: v.Labels, roleRef: v.RoleRef, subjects: v.Subjects})
		case *rbacv1.ClusterRoleBinding:
			bindings = append(bindings, &rbacBinding{obj: o, id: objectID("ClusterRoleBinding", "", v.Name), name: v.Name, labels: v.Labels, roleRef: v.RoleRef, subjects: v.Subjects})
		}
	}
	if len(roles) == 0 && len(bindings) == 0 {
		return
	}
	// Aggregated ClusterRoles collect the rules of the ClusterRoles whose
	// labels one of their selectors matches, aggregated ones included (the
	// default admin collects edit, which collects system:aggregate-to-edit):
	// parts are the plain ClusterRoles reached.
	direct := map[*rbacRole][]*rbacRole{}
	for _, r := range roles {
		if r.aggregate == nil || r.namespace != "" {
			continue
		}
		for _, sel := range r.aggregate.ClusterRoleSelectors {
			s, err := metav1.LabelSelectorAsSelector(&sel)
			if err != nil || s.Empty() {
				continue
			}
			for _, p := range roles {
				if p != r && p.namespace == "" && s.Matches(labels.Set(p.labels)) && !slices.Contains(direct[r], p) {
					direct[r] = append(direct[r], p)
				}
			}
		}
	}
	for _, r := range roles {
		seen := map[*rbacRole]bool{r: true}
		queue := slices.Clone(direct[r])
		for len(queue) > 0 {
			p := queue[0]
			queue = queue[1:]
			if seen[p] {
				continue
			}
			seen[p] = true
			if p.aggregate == nil {
				r.parts = append(r.parts, p)
			}
			queue = append(queue, direct[p]...)
		}
	}
	// Workloads by the ServiceAccount they run as.
	bySA, tokenless := map[string][]string{}, map[string][]string{}
	for i, w := range slices.Concat(set.Workloads, set.DeviatingPods, embeddedPods(set)) {
		if w == nil || w.Template == nil || (i < len(set.Workloads) && w.Deviation != nil) {
			continue // a deviating Pod modelled apart is in both lists
		}
		key := w.Namespace + "/" + serviceAccount(&w.Template.Spec)
		m := tokenless
		if _, ok := a.tokenMounted(w, &w.Template.Spec); ok {
			m = bySA
		}
		if !slices.Contains(m[key], w.ID()) { // the pod specs of one custom resource
			m[key] = append(m[key], w.ID())
		}
	}
	// Holders of each role, through the bindings that reference it or an
	// aggregated ClusterRole that collects it.
	holders := map[*rbacRole][]holder{}
	byRef := make(map[manifest.Ref]*rbacRole, len(roles))
	for _, r := range roles {
		kind := "ClusterRole"
		if r.namespace != "" {
			kind = "Role"
		}
		byRef[manifest.Ref{Kind: kind, Namespace: r.namespace, Name: r.name}] = r
	}
	find := func(kind, ns, name string) *rbacRole {
		switch kind {
		case "ClusterRole":
			return byRef[manifest.Ref{Kind: kind, Name: name}]
		case "Role":
			if ns != "" {
				return byRef[manifest.Ref{Kind: kind, Namespace: ns, Name: name}]
			}
		}
		return nil
	}
	var defaults []*rbacRole
	for _, b := range bindings {
		var hs []holder
		for _, s := range b.subjects {
			h := holder{binding: b, subject: s, scope: b.namespace}
			if s.Kind == rbacv1.ServiceAccountKind {
				if h.subject.Namespace == "" {
					h.subject.Namespace = b.namespace
				}
				h.workloads = bySA[h.subject.Namespace+"/"+s.Name]
				h.tokenless = tokenless[h.subject.Namespace+"/"+s.Name]
			}
			hs = append(hs, h)
		}
		a.bindingFindings(b, hs, find)
		r := find(b.roleRef.Kind, b.namespace, b.roleRef.Name)
		if r == nil && b.roleRef.Kind == "ClusterRole" && (b.roleRef.Name == "admin" || b.roleRef.Name == "edit") {
			r = &rbacRole{obj: b.obj, id: objectID("ClusterRole", "", b.roleRef.Name), name: b.roleRef.Name, rules: defaultEditRules, defaultBy: b}
			defaults = append(defaults, r)
		}
		if r == nil {
			continue
		}
		holders[r] = append(holders[r], hs...)
		for _, p := range r.parts {
			holders[p] = append(holders[p], hs...)
		}
	}
	for _, r := range append(roles, defaults...) {
		a.roleFindings(r, holders[r])
	}
}

// fullWildcard reports whether a rule grants every verb on every resource
// of every API group: cluster-admin's rule.
func fullWildcard(r rbacv1.PolicyRule) bool {
	return slices.Contains(r.Verbs, "*") && slices.Contains(r.Resources, "*") && slices.Contains(r.APIGroups, "*")
}

// bindingFindings reports a binding of cluster-admin, or of a role of the
// input with a rule that grants everything.
func (a *auditor) bindingFindings(b *rbacBinding, hs []holder, find func(kind, ns, name string) *rbacRole) {
	admin := b.roleRef.Kind == "ClusterRole" && b.roleRef.Name == "cluster-admin"
	what := "cluster-admin"
	if !admin {
		r := find(b.roleRef.Kind, b.namespace, b.roleRef.Name)
		if r == nil {
			return
		}
		rules := slices.Clone(r.rules)
		for _, p := range r.parts {
			rules = append(rules, p.rules...)
		}
		if !slices.ContainsFunc(rules, fullWildcard) {
			return
		}
		what = r.id + ", which grants every verb on every resource (as cluster-admin)"
	}
	if len(hs) == 0 {
		return
	}
	broad := slices.ContainsFunc(hs, holder.broad)
	if builtin(b.name, b.labels) && !broad {
		return
	}
	if !slices.ContainsFunc(hs, func(h holder) bool { return h.subject.Kind != rbacv1.GroupKind || h.subject.Name != "system:masters" }) {
		// Kubernetes' own cluster-admin binding: system:masters bypasses
		// RBAC whatever is bound to it.
		return
	}
	sev := finding.High
	for _, h := range hs {
		if h.broad() || len(h.workloads) > 0 {
			sev = finding.Critical
		}
	}
	scope := "the whole cluster"
	if b.namespace != "" {
		scope = "namespace " + b.namespace + " (every object in it, its Secrets, RoleBindings and NetworkPolicies included)"
		if sev == finding.Critical && !slices.ContainsFunc(hs, func(h holder) bool {
			return h.subject.Kind == rbacv1.GroupKind && (h.subject.Name == groupAuthenticated || h.subject.Name == groupUnauthenticated)
		}) {
			sev = finding.High
		}
	}
	a.report(ruleClusterAdmin, sev, b.obj.Source.File, b.obj.Line("roleRef.name"), b.id,
		fmt.Sprintf("%s grants %s over %s to %s", b.id, what, scope, holderList(hs)),
		fmt.Sprintf("bind %s to a role with only the verbs and resources its subjects need, or remove the subjects that do not need it", b.id))
}

// holderList names up to five holders, and counts the others.
func holderList(hs []holder) string {
	type key struct {
		b                   *rbacBinding
		kind, ns, name, api string
	}
	names := make([]string, 0, min(5, len(hs)))
	seen := make(map[key]bool, len(hs))
	for _, h := range hs {
		k := key{h.binding, h.subject.Kind, h.subject.Namespace, h.subject.Name, h.subject.APIGroup}
		if seen[k] {
			continue
		}
		seen[k] = true
		if len(names) < 5 {
			names = append(names, h.String())
		}
	}
	if more := len(seen) - len(names); more > 0 {
		return strings.Join(names, "; ") + fmt.Sprintf("; and %d more", more)
	}
	return strings.Join(names, "; ")
}

// resourceRef is a resource of an API group, possibly with a subresource
// (pods/exec).
type resourceRef struct{ group, resource string }

var (
	podsExec    = []resourceRef{{"", "pods/exec"}, {"", "pods/attach"}}
	secretsRes  = []resourceRef{{"", "secrets"}}
	nodesProxy  = []resourceRef{{"", "nodes/proxy"}}
	rolesRes    = []resourceRef{{"rbac.authorization.k8s.io", "roles"}, {"rbac.authorization.k8s.io", "clusterroles"}}
	identityRes = []resourceRef{{"", "users"}, {"", "groups"}, {"", "serviceaccounts"}, {"authentication.k8s.io", "userextras"}, {"authentication.k8s.io", "uids"}}
	workloadRes = []resourceRef{{"", "pods"}, {"", "replicationcontrollers"}, {"apps", "deployments"}, {"apps", "daemonsets"},
		{"apps", "statefulsets"}, {"apps", "replicasets"}, {"batch", "jobs"}, {"batch", "cronjobs"},
		{"extensions", "deployments"}, {"extensions", "daemonsets"}, {"extensions", "replicasets"}}
	portForward = []resourceRef{{"", "pods/portforward"}}
	configMaps  = []resourceRef{{"", "configmaps"}}
	webhookRes  = []resourceRef{{"admissionregistration.k8s.io", "mutatingwebhookconfigurations"}, {"admissionregistration.k8s.io", "validatingwebhookconfigurations"}}
	rbacRes     = []resourceRef{{"rbac.authorization.k8s.io", "roles"}, {"rbac.authorization.k8s.io", "clusterroles"},
		{"rbac.authorization.k8s.io", "rolebindings"}, {"rbac.authorization.k8s.io", "clusterrolebindings"}}
	policyRes = []resourceRef{{"networking.k8s.io", "networkpolicies"}, {"extensions", "networkpolicies"},
		{"security.istio.io", "authorizationpolicies"}, {"security.istio.io", "peerauthentications"}}
)

// matches reports whether rule grants one of verbs on ref, by RBAC's own
// matching: "*" in apiGroups, resources or verbs matches all, and
// "*/<subresource>" matches that subresource of every resource.
func matches(rule rbacv1.PolicyRule, verbs []string, ref resourceRef) bool {
	if !slices.Contains(rule.APIGroups, "*") && !slices.Contains(rule.APIGroups, ref.group) {
		return false
	}
	if !slices.Contains(rule.Verbs, "*") && !slices.ContainsFunc(verbs, func(v string) bool { return slices.Contains(rule.Verbs, v) }) {
		return false
	}
	_, sub, hasSub := strings.Cut(ref.resource, "/")
	for _, r := range rule.Resources {
		if r == "*" || r == ref.resource || (hasSub && r == "*/"+sub) {
			return true
		}
	}
	return false
}

// grants returns the resources of refs that rule grants one of verbs on.
func grants(rule rbacv1.PolicyRule, verbs []string, refs []resourceRef) []string {
	var out []string
	for _, ref := range refs {
		if matches(rule, verbs, ref) && !slices.Contains(out, ref.resource) {
			out = append(out, ref.resource)
		}
	}
	return out
}

// grantedVerbs returns the verbs of want that rule grants ("*" grants all).
func grantedVerbs(rule rbacv1.PolicyRule, want []string) []string {
	if slices.Contains(rule.Verbs, "*") {
		return []string{"*"}
	}
	var out []string
	for _, v := range want {
		if slices.Contains(rule.Verbs, v) {
			out = append(out, v)
		}
	}
	return out
}

// roleFindings reports each rule of a role that grants a dangerous right,
// one finding per rule and right.
func (a *auditor) roleFindings(r *rbacRole, hs []holder) {
	if r.aggregate != nil && r.namespace == "" {
		// The controller overwrites an aggregated ClusterRole's rules with
		// those of its parts, which are reported themselves.
		return
	}
	obj := r.id
	if r.defaultBy != nil {
		obj = r.defaultBy.id
	}
	// Kubernetes' own roles are quiet unless a binding of the input's own,
	// or one to a broad group, grants them.
	if (r.defaultBy != nil || builtin(r.name, r.labels)) && !slices.ContainsFunc(hs, func(h holder) bool {
		return h.broad() || !builtin(h.binding.name, h.binding.labels)
	}) {
		return
	}
	who := "no binding of the input grants it"
	if len(hs) > 0 {
		who = "held by " + holderList(hs)
	}
	for i, rule := range r.rules {
		if len(rule.Resources) == 0 {
			continue // nonResourceURLs
		}
		line := r.obj.Line("rules[" + strconv.Itoa(i) + "]")
		at := fmt.Sprintf("%s (rule %d)", r.id, i+1)
		if r.defaultBy != nil {
			line = r.obj.Line("roleRef.name")
			at = fmt.Sprintf("%s, bound by %s (Kubernetes' default role, not in the input),", r.id, obj)
		}
		report := func(rule string, base finding.Severity, grant, why, fix string) {
			sev := base
			for _, h := range hs {
				sev = max(sev, holderSeverity(base, h))
			}
			a.report(rule, sev, r.obj.Source.File, line, obj, fmt.Sprintf("%s grants %s: %s; %s", at, grant, why, who), fix)
		}
		if fullWildcard(rule) {
			report(ruleRBACWildcard, finding.High, "every verb on every resource of every API group",
				"the same power as cluster-admin within the role's scope", "list the verbs, resources and API groups the subjects need instead of \"*\"")
			continue
		}
		var wild []string
		for _, f := range []struct {
			name string
			vals []string
		}{{"verbs", rule.Verbs}, {"resources", rule.Resources}, {"apiGroups", rule.APIGroups}} {
			if slices.Contains(f.vals, "*") {
				wild = append(wild, f.name)
			}
		}
		if len(wild) > 0 {
			report(ruleRBACWildcard, finding.Medium, "\"*\" in "+strings.Join(wild, " and "),
				"it grants every present and future value, including ones added by later Kubernetes versions and custom resources",
				"replace \"*\" with the verbs, resources and API groups the subjects need")
		}
		if res := grants(rule, []string{"create", "get"}, podsExec); len(res) > 0 {
			report(ruleRBACExec, finding.High, strings.Join(grantedVerbs(rule, []string{"create", "get"}), ", ")+" on "+strings.Join(res, ", "),
				"it runs commands in, or attaches to, every pod in scope, with their ServiceAccount tokens, Secrets and network position",
				"remove pods/exec and pods/attach from the role; debug with a separate, short-lived role")
		}
		if res := grants(rule, []string{"get", "list", "watch"}, secretsRes); len(res) > 0 {
			sev, why := finding.High, "it reads every Secret in scope: other ServiceAccounts' tokens, TLS keys, database passwords"
			if len(rule.ResourceNames) > 0 {
				sev, why = finding.Low, "limited by resourceNames to "+strings.Join(rule.ResourceNames, ", ")+", it reads those Secrets only"
			}
			report(ruleRBACSecrets, sev, strings.Join(grantedVerbs(rule, []string{"get", "list", "watch"}), ", ")+" on secrets", why,
				"grant get on the named Secrets only (resourceNames), or mount them into the pods that need them")
		}
		if res := grants(rule, []string{"create", "update", "patch", "delete", "deletecollection"}, secretsRes); len(res) > 0 {
			sev, why := finding.Medium, "it replaces the Secrets workloads trust (TLS keys, passwords) and can have ServiceAccount tokens minted into new ones"
			if len(rule.ResourceNames) > 0 {
				sev, why = finding.Low, "limited by resourceNames to "+strings.Join(rule.ResourceNames, ", ")+", it rewrites those Secrets only"
			}
			report(ruleRBACWriteSecret, sev, strings.Join(grantedVerbs(rule, []string{"create", "update", "patch", "delete", "deletecollection"}), ", ")+" on secrets", why,
				"let the pipeline or a secret operator write Secrets; limit an application's own writes with resourceNames")
		}
		if res := grants(rule, []string{"impersonate"}, identityRes); len(res) > 0 {
			report(ruleRBACImpersonate, finding.High, "impersonate on "+strings.Join(res, ", "),
				"it acts as other users, groups or ServiceAccounts, with all of their rights", "remove impersonate from the role")
		}
		if res := grants(rule, []string{"escalate", "bind"}, rolesRes); len(res) > 0 {
			report(ruleRBACEscalate, finding.High, strings.Join(grantedVerbs(rule, []string{"escalate", "bind"}), ", ")+" on "+strings.Join(res, ", "),
				"escalate writes roles with rights the subject lacks, bind grants any role: either leads to cluster-admin",
				"remove escalate and bind; let cluster administrators create roles and bindings")
		}
		if res := grants(rule, []string{"create"}, workloadRes); len(res) > 0 {
			report(ruleRBACWorkloads, finding.Medium, "create on "+strings.Join(res, ", "),
				"a pod it starts may run as any ServiceAccount of its namespace and mount any of its Secrets (privilege by proxy)",
				"let a deployment pipeline create workloads; give running workloads no create rights on pods or their controllers")
		}
		if res := grants(rule, []string{"get", "create"}, nodesProxy); len(res) > 0 {
			report(ruleRBACNodesProxy, finding.High, strings.Join(grantedVerbs(rule, []string{"get", "create"}), ", ")+" on nodes/proxy",
				"it reaches the kubelet API of every node, which runs commands in any pod there and bypasses audit logging and admission",
				"remove nodes/proxy; read node metrics through the metrics API")
		}
		edit := []string{"create", "update", "patch", "delete", "deletecollection"}
		if res := grants(rule, edit, policyRes); len(res) > 0 {
			report(ruleRBACPolicyEdit, finding.Medium, strings.Join(grantedVerbs(rule, edit), ", ")+" on "+strings.Join(res, ", "),
				"it can change or remove the policies that keep pods apart, undoing every reachability assertion of ward.yaml",
				"let only the pipeline that applies the reviewed policies change them")
		}
		if res := grants(rule, []string{"create", "get"}, portForward); len(res) > 0 {
			report(ruleRBACPortForward, finding.Medium, strings.Join(grantedVerbs(rule, []string{"create", "get"}), ", ")+" on pods/portforward",
				"it tunnels to any port of every pod in scope through the kubelet, which NetworkPolicies do not filter",
				"remove pods/portforward; grant it in a separate, short-lived role for debugging")
		}
		if res := grants(rule, edit, configMaps); len(res) > 0 {
			sev, why := finding.Medium, "it rewrites the configuration of every workload in scope that reads a ConfigMap"
			switch {
			case slices.Contains(rule.ResourceNames, "aws-auth"):
				sev, why = finding.High, "it rewrites aws-auth, which maps cloud identities to Kubernetes groups, system:masters included: cluster-admin on EKS"
			case r.namespace == "kube-system" || len(rule.ResourceNames) == 0 && r.namespace == "" && slices.ContainsFunc(hs, func(h holder) bool { return h.scope == "" || h.scope == "kube-system" }):
				sev, why = finding.High, "it rewrites the ConfigMaps of kube-system, which configure the cluster itself (CoreDNS, kube-proxy, aws-auth)"
			case len(rule.ResourceNames) > 0:
				sev, why = finding.Low, "limited by resourceNames to "+strings.Join(rule.ResourceNames, ", ")+", it rewrites those ConfigMaps"
			}
			report(ruleRBACConfigMaps, sev, strings.Join(grantedVerbs(rule, edit), ", ")+" on configmaps", why,
				"let the deployment pipeline write ConfigMaps; grant running workloads get on the ones they read")
		}
		if res := grants(rule, edit, webhookRes); len(res) > 0 {
			report(ruleRBACWebhooks, finding.High, strings.Join(grantedVerbs(rule, edit), ", ")+" on "+strings.Join(res, ", "),
				"an admission webhook sees, and a mutating one rewrites, every object the API server admits, Secrets and pods included",
				"let only cluster administrators and the operator that owns the webhook manage webhook configurations")
		}
		if res := grants(rule, edit, rbacRes); len(res) > 0 {
			report(ruleRBACWriteRBAC, finding.Medium, strings.Join(grantedVerbs(rule, edit), ", ")+" on "+strings.Join(res, ", "),
				"it hands every right it holds to any subject and removes the bindings others rely on",
				"let the pipeline that applies reviewed RBAC manifests write roles and bindings")
		}
	}
}
