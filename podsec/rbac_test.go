package podsec_test

import (
	"strings"

	"github.com/wardsec/ward/finding"
)

// apiWorkload runs as ServiceAccount shop/api; webDefault as shop/default.
const apiWorkload = `apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      serviceAccountName: api
      containers: [{name: app, image: app:1}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: app, image: web:1}]
`

const (
	apiID = "shop/Deployment/api"
	webID = "shop/Deployment/web"
)

// clusterRole is a ClusterRole named name with the rules given as YAML
// sequence lines.
func clusterRole(name, rules string) string {
	return "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: " + name + "}\nrules:\n" + rules
}

func role(name, rules string) string {
	return "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: " + name + ", namespace: shop}\nrules:\n" + rules
}

// crb binds ClusterRole ref cluster-wide; rb binds kind ref in namespace
// shop. subjects is a YAML flow sequence; mark is appended to the roleRef
// line.
func crb(name, ref, subjects, mark string) string {
	return "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: " + name + "}\n" +
		"roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: " + ref + "}" + mark + "\nsubjects: " + subjects + "\n"
}

func rb(name, kind, ref, subjects, mark string) string {
	return "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: " + name + ", namespace: shop}\n" +
		"roleRef: {apiGroup: rbac.authorization.k8s.io, kind: " + kind + ", name: " + ref + "}" + mark + "\nsubjects: " + subjects + "\n"
}

const (
	saAPI   = "[{kind: ServiceAccount, name: api, namespace: shop}]"
	saDef   = "[{kind: ServiceAccount, name: default}]"
	authed  = "[{kind: Group, apiGroup: rbac.authorization.k8s.io, name: system:authenticated}]"
	unauth  = "[{kind: Group, apiGroup: rbac.authorization.k8s.io, name: system:unauthenticated}]"
	allSAs  = "[{kind: Group, apiGroup: rbac.authorization.k8s.io, name: 'system:serviceaccounts:shop'}]"
	alice   = "[{kind: User, apiGroup: rbac.authorization.k8s.io, name: alice}]"
	masters = "[{kind: Group, apiGroup: rbac.authorization.k8s.io, name: system:masters}]"
)

func init() {
	for id, cases := range rbacSuites {
		suites[id] = cases
	}
}

var rbacSuites = map[string][]testCase{
	"rbac/cluster-admin-binding": {
		{name: "cluster-admin to a workload's ServiceAccount", doc: apiWorkload + crb("api-admin", "cluster-admin", saAPI, " #ref"),
			want: []want{{finding.Critical, "#ref", "ClusterRoleBinding/api-admin", []string{"cluster-admin", "whole cluster", apiID, "ServiceAccount shop/api"}}}},
		{name: "a workload without a token does not make it critical", doc: strings.Replace(apiWorkload, "serviceAccountName: api", "serviceAccountName: api\n      automountServiceAccountToken: false", 1) +
			crb("api-admin", "cluster-admin", saAPI, " #ref"),
			want: []want{{finding.High, "#ref", "ClusterRoleBinding/api-admin", []string{"ServiceAccount shop/api (" + apiID + " runs as it with no token mounted, so cannot use it)"}}}},
		{name: "cluster-admin to system:authenticated", doc: crb("everyone", "cluster-admin", authed, " #ref"),
			want: []want{{finding.Critical, "#ref", "ClusterRoleBinding/everyone", []string{"Group system:authenticated"}}}},
		{name: "cluster-admin to a user", doc: crb("alice", "cluster-admin", alice, " #ref"),
			want: []want{{finding.High, "#ref", "ClusterRoleBinding/alice", []string{"User alice"}}}},
		{name: "RoleBinding of cluster-admin is namespace-wide", doc: apiWorkload + rb("admin", "ClusterRole", "cluster-admin", saDef, " #ref"),
			want: []want{{finding.High, "#ref", "shop/RoleBinding/admin", []string{"namespace shop", webID, "ServiceAccount shop/default"}}}},
		{name: "own ClusterRole with * on *", doc: apiWorkload + clusterRole("root", "- {apiGroups: ['*'], resources: ['*'], verbs: ['*']}\n") + crb("root", "root", saAPI, " #ref"),
			want: []want{{finding.Critical, "#ref", "ClusterRoleBinding/root", []string{"every verb on every resource", apiID}}}},
		{name: "the default binding to system:masters is quiet", doc: crb("cluster-admin", "cluster-admin", masters, "")},
		{name: "system binding to a ServiceAccount is quiet", doc: crb("system:kube-controller", "cluster-admin", "[{kind: ServiceAccount, name: ctl, namespace: kube-system}]", "")},
		{name: "view is not cluster-admin", doc: apiWorkload + crb("viewers", "view", saAPI, "")},
		{name: "no subjects", doc: crb("nobody", "cluster-admin", "[]", "")},
	},
	"rbac/wildcard": {
		{name: "* verbs on configmaps", doc: role("cfg", "- {apiGroups: [''], resources: [configmaps], verbs: ['*']} #r\n"),
			want: []want{{finding.Medium, "#r", "shop/Role/cfg", []string{`"*" in verbs`, "no binding of the input grants it"}}}},
		{name: "* on * in * is cluster-admin", doc: clusterRole("root", "- apiGroups: ['*'] #r\n  resources: ['*']\n  verbs: ['*']\n"),
			want: []want{{finding.High, "#r", "ClusterRole/root", []string{"every verb on every resource"}}}},
		{name: "an aggregated ClusterRole's own rules are the controller's", doc: "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: agg}\n" +
			"aggregationRule:\n  clusterRoleSelectors: [{matchLabels: {example.com/agg: 'true'}}]\nrules:\n- {apiGroups: [''], resources: [configmaps], verbs: ['*']}\n"},
		{name: "the default cluster-admin ClusterRole of a dump is quiet", doc: "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\n" +
			"metadata: {name: cluster-admin, labels: {kubernetes.io/bootstrapping: rbac-defaults}}\nrules:\n- {apiGroups: ['*'], resources: ['*'], verbs: ['*']}\n" +
			"---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: cluster-admin, labels: {kubernetes.io/bootstrapping: rbac-defaults}}\n" +
			"roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}\nsubjects: " + masters + "\n"},
		{name: "get on configmaps is quiet", doc: role("cfg", "- {apiGroups: [''], resources: [configmaps], verbs: [get, list]}\n")},
		{name: "nonResourceURLs are not resources", doc: clusterRole("health", "- {nonResourceURLs: ['*'], verbs: [get]}\n")},
	},
	"rbac/pods-exec": {
		{name: "exec held by a workload", doc: apiWorkload + role("debug", "- {apiGroups: [''], resources: [pods/exec, pods/attach], verbs: [create]} #r\n") + rb("debug", "Role", "debug", saAPI, ""),
			want: []want{{finding.High, "#r", "shop/Role/debug", []string{"pods/exec, pods/attach", apiID, "shop/RoleBinding/debug in namespace shop"}}}},
		{name: "ClusterRole bound by a RoleBinding holds in the namespace", doc: apiWorkload + clusterRole("exec", "- {apiGroups: [''], resources: ['*/exec'], verbs: [get]} #r\n") + rb("exec", "ClusterRole", "exec", saAPI, ""),
			want: []want{{finding.High, "#r", "ClusterRole/exec", []string{"get on pods/exec", "in namespace shop", apiID}}}},
		{name: "Kubernetes' default edit role bound to a workload", doc: apiWorkload + rb("editors", "ClusterRole", "edit", saAPI, " #ref"),
			want: []want{{finding.High, "#ref", "shop/RoleBinding/editors", []string{"ClusterRole/edit, bound by shop/RoleBinding/editors (Kubernetes' default role", apiID}}}},
		{name: "a system role held through the input's own binding is reported", doc: apiWorkload +
			"---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: edit, labels: {kubernetes.io/bootstrapping: rbac-defaults}}\n" +
			"aggregationRule:\n  clusterRoleSelectors: [{matchLabels: {rbac.authorization.k8s.io/aggregate-to-edit: 'true'}}]\n" +
			"---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: 'system:aggregate-to-edit', labels: {rbac.authorization.k8s.io/aggregate-to-edit: 'true'}}\n" +
			"rules:\n- {apiGroups: [''], resources: [pods/exec], verbs: [create]} #r\n" + rb("editors", "ClusterRole", "edit", saAPI, ""),
			want: []want{{finding.High, "#r", "ClusterRole/system:aggregate-to-edit", []string{apiID, "shop/RoleBinding/editors"}}}},
		{name: "a declared edit role is read as declared", doc: apiWorkload + clusterRole("edit", "- {apiGroups: [''], resources: [configmaps], verbs: [update]}\n") + rb("editors", "ClusterRole", "edit", saAPI, "")},
		{name: "pods/log is quiet", doc: role("logs", "- {apiGroups: [''], resources: [pods, pods/log], verbs: [get, list]}\n")},
	},
	"rbac/read-secrets": {
		{name: "list secrets for system:authenticated", doc: clusterRole("secrets", "- {apiGroups: [''], resources: [secrets], verbs: [list]} #r\n") + crb("secrets", "secrets", authed, ""),
			want: []want{{finding.Critical, "#r", "ClusterRole/secrets", []string{"list on secrets", "Group system:authenticated"}}}},
		{name: "resourceNames limit it", doc: role("own", "- {apiGroups: [''], resources: [secrets], resourceNames: [api-db], verbs: [get]} #r\n"),
			want: []want{{finding.Low, "#r", "shop/Role/own", []string{"api-db"}}}},
		{name: "aggregated ClusterRole names the workload at the part's rule", doc: apiWorkload +
			"---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: monitoring}\n" +
			"aggregationRule:\n  clusterRoleSelectors: [{matchLabels: {example.com/aggregate-to-monitoring: 'true'}}]\n" +
			"---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: part, labels: {example.com/aggregate-to-monitoring: 'true'}}\nrules:\n- {apiGroups: [''], resources: [secrets], verbs: [watch]} #r\n" +
			crb("monitoring", "monitoring", saAPI, ""),
			want: []want{{finding.Critical, "#r", "ClusterRole/part", []string{apiID, "ClusterRoleBinding/monitoring"}}}},
		{name: "aggregation through an aggregated ClusterRole", doc: apiWorkload +
			"---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: top}\naggregationRule:\n  clusterRoleSelectors: [{matchLabels: {to-top: 'true'}}]\n" +
			"---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: middle, labels: {to-top: 'true'}}\naggregationRule:\n  clusterRoleSelectors: [{matchLabels: {to-middle: 'true'}}]\n" +
			"---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: leaf, labels: {to-middle: 'true'}}\nrules:\n- {apiGroups: [''], resources: [secrets], verbs: [get]} #r\n" +
			rb("top", "ClusterRole", "top", saAPI, ""),
			want: []want{{finding.High, "#r", "ClusterRole/leaf", []string{apiID, "shop/RoleBinding/top"}}}},
		{name: "system role to system:unauthenticated is critical", doc: clusterRole("system:leaky", "- {apiGroups: [''], resources: [secrets], verbs: [get]} #r\n") + crb("system:leaky", "system:leaky", unauth, ""),
			want: []want{{finding.Critical, "#r", "ClusterRole/system:leaky", []string{"system:unauthenticated"}}}},
		{name: "system role to kube-system is quiet", doc: clusterRole("system:controller:x", "- {apiGroups: [''], resources: [secrets], verbs: [get, list, watch]}\n") +
			crb("system:controller:x", "system:controller:x", "[{kind: ServiceAccount, name: x, namespace: kube-system}]", "")},
		{name: "create secrets does not read them", doc: role("writer", "- {apiGroups: [''], resources: [secrets], verbs: [create]}\n")},
		{name: "get configmaps is quiet", doc: role("cfg", "- {apiGroups: [''], resources: [configmaps], verbs: [get]}\n")},
	},
	"rbac/impersonate": {
		{name: "impersonate users", doc: clusterRole("imp", "- {apiGroups: [''], resources: [users, groups], verbs: [impersonate]} #r\n"),
			want: []want{{finding.High, "#r", "ClusterRole/imp", []string{"impersonate on users, groups"}}}},
		{name: "get serviceaccounts is quiet", doc: role("sa", "- {apiGroups: [''], resources: [serviceaccounts], verbs: [get]}\n")},
	},
	"rbac/escalate-bind": {
		{name: "bind clusterroles", doc: clusterRole("binder", "- {apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], verbs: [bind, escalate]} #r\n"),
			want: []want{{finding.High, "#r", "ClusterRole/binder", []string{"escalate, bind on clusterroles"}}}},
		{name: "get roles is quiet", doc: role("reader", "- {apiGroups: [rbac.authorization.k8s.io], resources: [roles], verbs: [get, list]}\n")},
	},
	"rbac/create-workloads": {
		{name: "create deployments and jobs", doc: apiWorkload + role("deployer", "- {apiGroups: [apps, batch], resources: [deployments, jobs], verbs: [create, update]} #r\n") + rb("deployer", "Role", "deployer", saAPI, ""),
			want: []want{{finding.Medium, "#r", "shop/Role/deployer", []string{"create on deployments, jobs", apiID}}}},
		{name: "create pods held cluster-wide by a workload is raised", doc: apiWorkload + clusterRole("spawner", "- {apiGroups: [''], resources: [pods], verbs: [create]} #r\n") + crb("spawner", "spawner", saAPI, ""),
			want: []want{{finding.High, "#r", "ClusterRole/spawner", []string{"create on pods", apiID, "ClusterRoleBinding/spawner"}}}},
		{name: "wrong API group is quiet", doc: role("odd", "- {apiGroups: [''], resources: [deployments], verbs: [create]}\n")},
		{name: "get pods is quiet", doc: role("pods", "- {apiGroups: [''], resources: [pods], verbs: [get, list, watch]}\n")},
	},
	"rbac/nodes-proxy": {
		{name: "get nodes/proxy", doc: clusterRole("metrics", "- {apiGroups: [''], resources: [nodes/proxy, nodes], verbs: [get]} #r\n"),
			want: []want{{finding.High, "#r", "ClusterRole/metrics", []string{"get on nodes/proxy"}}}},
		{name: "get nodes is quiet", doc: clusterRole("nodes", "- {apiGroups: [''], resources: [nodes, nodes/metrics], verbs: [get]}\n")},
	},
	"rbac/edit-network-policies": {
		{name: "patch NetworkPolicies for every ServiceAccount of shop", doc: role("np", "- {apiGroups: [networking.k8s.io], resources: [networkpolicies], verbs: [patch]} #r\n") + rb("np", "Role", "np", allSAs, ""),
			want: []want{{finding.High, "#r", "shop/Role/np", []string{"patch on networkpolicies", "system:serviceaccounts:shop"}}}},
		{name: "delete Istio policies", doc: clusterRole("mesh", "- {apiGroups: [security.istio.io], resources: [authorizationpolicies, peerauthentications], verbs: [delete]} #r\n"),
			want: []want{{finding.Medium, "#r", "ClusterRole/mesh", []string{"authorizationpolicies, peerauthentications"}}}},
		{name: "Kubernetes' default admin role", doc: rb("admins", "ClusterRole", "admin", alice, " #ref"),
			want: []want{{finding.Medium, "#ref", "shop/RoleBinding/admins", []string{"networkpolicies", "User alice"}}}},
		{name: "reading policies is quiet", doc: clusterRole("np-view", "- {apiGroups: [networking.k8s.io, security.istio.io], resources: [networkpolicies, authorizationpolicies], verbs: [get, list, watch]}\n")},
	},
	"rbac/port-forward": {
		{name: "create pods/portforward", doc: role("debug", "- {apiGroups: [''], resources: [pods/portforward], verbs: [create]} #r\n"),
			want: []want{{finding.Medium, "#r", "shop/Role/debug", []string{"create on pods/portforward", "NetworkPolicies do not filter"}}}},
		{name: "listing pods is quiet", doc: role("view", "- {apiGroups: [''], resources: [pods, pods/log], verbs: [get, list]}\n")},
	},
	"rbac/write-configmaps": {
		{name: "patch ConfigMaps in a namespace", doc: role("cfg", "- {apiGroups: [''], resources: [configmaps], verbs: [get, patch]} #r\n"),
			want: []want{{finding.Medium, "#r", "shop/Role/cfg", []string{"patch on configmaps"}}}},
		{name: "update the aws-auth ConfigMap", doc: clusterRole("iam", "- {apiGroups: [''], resources: [configmaps], resourceNames: [aws-auth], verbs: [update]} #r\n"),
			want: []want{{finding.High, "#r", "ClusterRole/iam", []string{"aws-auth", "system:masters"}}}},
		{name: "Kubernetes' default edit role", doc: rb("editors", "ClusterRole", "edit", alice, " #ref"),
			want: []want{{finding.Medium, "#ref", "shop/RoleBinding/editors", []string{"on configmaps", "User alice"}}}},
		{name: "reading ConfigMaps is quiet", doc: role("cfg-view", "- {apiGroups: [''], resources: [configmaps], verbs: [get, list, watch]}\n")},
	},
	"rbac/manage-webhooks": {
		{name: "create mutating webhooks", doc: clusterRole("hooks", "- {apiGroups: [admissionregistration.k8s.io], resources: [mutatingwebhookconfigurations], verbs: [create, update]} #r\n"),
			want: []want{{finding.High, "#r", "ClusterRole/hooks", []string{"create, update on mutatingwebhookconfigurations"}}}},
		{name: "reading webhooks is quiet", doc: clusterRole("hooks-view", "- {apiGroups: [admissionregistration.k8s.io], resources: [validatingwebhookconfigurations], verbs: [get, list]}\n")},
	},
	"rbac/write-secrets": {
		{name: "create and update Secrets", doc: role("sec", "- {apiGroups: [''], resources: [secrets], verbs: [create, update]} #r\n"),
			want: []want{{finding.Medium, "#r", "shop/Role/sec", []string{"create, update on secrets", "tokens minted"}}}},
		{name: "one named Secret", doc: role("own", "- {apiGroups: [''], resources: [secrets], resourceNames: [web-session], verbs: [update]} #r\n"),
			want: []want{{finding.Low, "#r", "shop/Role/own", []string{"web-session"}}}},
		{name: "reading Secrets is another rule", doc: role("sec-read", "- {apiGroups: [''], resources: [secrets], verbs: [get]}\n")},
	},
	"rbac/write-rbac": {
		{name: "create RoleBindings", doc: role("binder", "- {apiGroups: [rbac.authorization.k8s.io], resources: [rolebindings], verbs: [create, delete]} #r\n"),
			want: []want{{finding.Medium, "#r", "shop/Role/binder", []string{"create, delete on rolebindings"}}}},
		{name: "reading roles is quiet", doc: role("rbac-view", "- {apiGroups: [rbac.authorization.k8s.io], resources: [roles, rolebindings], verbs: [get, list]}\n")},
	},
}
