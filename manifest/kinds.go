package manifest

import (
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wardsec/ward/istio"
)

// known returns a new typed object for a kind Ward models, or nil. Older
// apiVersions of the workload kinds decode into the current types: the
// fields Ward reads have not changed.
func known(apiVersion, kind string) any {
	switch apiVersion {
	case "v1":
		switch kind {
		case "Namespace":
			return new(corev1.Namespace)
		case "Pod":
			return new(corev1.Pod)
		case "Service":
			return new(corev1.Service)
		case "ReplicationController":
			return new(corev1.ReplicationController)
		case "ServiceAccount":
			return new(corev1.ServiceAccount)
		case "ConfigMap":
			// Kept in Set.Objects for the audit of secrets in ConfigMaps.
			return new(corev1.ConfigMap)
		}
	case "apps/v1", "apps/v1beta1", "apps/v1beta2", "extensions/v1beta1":
		switch kind {
		case "Deployment":
			return new(appsv1.Deployment)
		case "DaemonSet":
			return new(appsv1.DaemonSet)
		case "ReplicaSet":
			return new(appsv1.ReplicaSet)
		case "StatefulSet":
			if apiVersion != "extensions/v1beta1" {
				return new(appsv1.StatefulSet)
			}
		}
	case "batch/v1", "batch/v1beta1":
		switch kind {
		case "Job":
			if apiVersion == "batch/v1" {
				return new(batchv1.Job)
			}
		case "CronJob":
			return new(batchv1.CronJob)
		}
	case "networking.k8s.io/v1":
		switch kind {
		case "NetworkPolicy":
			return new(networkingv1.NetworkPolicy)
		case "Ingress":
			// Kept in Set.Objects for the audit of Ingresses. Older
			// apiVersions (extensions/v1beta1, networking.k8s.io/v1beta1,
			// removed in Kubernetes 1.22) stay skipped.
			return new(networkingv1.Ingress)
		}
	case "rbac.authorization.k8s.io/v1":
		// Kept in Set.Objects for the RBAC audit.
		switch kind {
		case "Role":
			return new(rbacv1.Role)
		case "ClusterRole":
			return new(rbacv1.ClusterRole)
		case "RoleBinding":
			return new(rbacv1.RoleBinding)
		case "ClusterRoleBinding":
			return new(rbacv1.ClusterRoleBinding)
		}
	case "apps.openshift.io/v1":
		if kind == "DeploymentConfig" {
			return new(DeploymentConfig)
		}
	case "serving.knative.dev/v1", "serving.knative.dev/v1beta1":
		// v1beta1 has the v1 shape; v1alpha1 (removed in Knative 0.19)
		// nests the template differently and stays skipped.
		switch kind {
		case "Service":
			return new(KnativeService)
		case "Configuration":
			return new(KnativeConfiguration)
		}
	case "argoproj.io/v1alpha1":
		if kind == "Rollout" {
			return new(Rollout)
		}
	case "security.istio.io/v1", "security.istio.io/v1beta1":
		switch kind {
		case "PeerAuthentication":
			return new(peerAuthentication)
		case "AuthorizationPolicy":
			return new(authorizationPolicy)
		}
	}
	return nil
}

// modelledGroups are, for each kind Ward models, the API groups whose
// objects of that kind it decodes as it (the legacy extensions group
// included where known decodes it).
var modelledGroups = map[string][]string{
	"Namespace": {""}, "Pod": {""}, "Service": {""}, "ReplicationController": {""},
	"ServiceAccount": {""}, "ConfigMap": {""},
	"Deployment": {"apps", "extensions"}, "DaemonSet": {"apps", "extensions"},
	"ReplicaSet": {"apps", "extensions"}, "StatefulSet": {"apps"},
	"Job": {"batch"}, "CronJob": {"batch"},
	"NetworkPolicy": {"networking.k8s.io"}, "Ingress": {"networking.k8s.io"},
	"Role": {"rbac.authorization.k8s.io"}, "ClusterRole": {"rbac.authorization.k8s.io"},
	"RoleBinding": {"rbac.authorization.k8s.io"}, "ClusterRoleBinding": {"rbac.authorization.k8s.io"},
	"DeploymentConfig": {"apps.openshift.io"}, "Configuration": {"serving.knative.dev"},
	"Rollout":            {"argoproj.io"},
	"PeerAuthentication": {"security.istio.io"}, "AuthorizationPolicy": {"security.istio.io"},
}

// foldedKind returns the kind Ward models under apiVersion that kind
// spells in another case (NetworkPolicy for networkpolicy), or "".
func foldedKind(apiVersion, kind string) string {
	for k := range modelledGroups {
		if k != kind && strings.EqualFold(k, kind) && known(apiVersion, k) != nil {
			return k
		}
	}
	return ""
}

// RefKind is the Kind that findings name an object of apiVersion and kind
// by (Ref.Kind, Workload.Kind). It is kind itself, but for an object of
// another API group than the one Ward models under that kind's name (a
// Calico projectcalico.org NetworkPolicy, a custom resource named
// Deployment): that is "kind.group", as KnativeServiceKind. Without it
// the two objects had one name, so an ignore.ward.dev annotation on the
// one Ward models silenced the other's findings (a Calico policy's
// input/unsupported-policy), and the reverse.
func RefKind(apiVersion, kind string) string {
	groups, ok := modelledGroups[kind]
	if !ok {
		return kind
	}
	group, _, found := strings.Cut(apiVersion, "/")
	if !found {
		group = ""
	}
	if slices.Contains(groups, group) {
		return kind
	}
	if group == "" {
		// A core-group apiVersion ("v1") with a kind of another group
		// (kind: Deployment, apiVersion: v1): kubectl refuses it.
		return kind + "." + apiVersion
	}
	return kind + "." + group
}

// servedAs returns the apiVersion that serves a kind Ward models, or "".
func servedAs(kind string) string {
	switch kind {
	case "Namespace", "Pod", "Service", "ReplicationController", "ServiceAccount", "ConfigMap":
		return "v1"
	case "Deployment", "DaemonSet", "ReplicaSet", "StatefulSet":
		return "apps/v1"
	case "Job", "CronJob":
		return "batch/v1"
	case "NetworkPolicy":
		return "networking.k8s.io/v1"
	}
	return ""
}

// clusterScoped reports whether objects of kind live outside namespaces.
func clusterScoped(kind string) bool {
	return kind == "Namespace" || kind == "ClusterRole" || kind == "ClusterRoleBinding"
}

// builtinGroup reports whether apiVersion is in a group of the Kubernetes
// API itself (the core group, apps, batch, *.k8s.io, ...), not a custom
// resource's.
func builtinGroup(apiVersion string) bool {
	group, _, ok := strings.Cut(apiVersion, "/")
	return !ok || !strings.Contains(group, ".") || strings.HasSuffix(group, ".k8s.io")
}

// kindOf returns the kind of a typed object Ward models, or "".
func kindOf(obj any) string {
	switch obj.(type) {
	case *corev1.Namespace:
		return "Namespace"
	case *corev1.Pod:
		return "Pod"
	case *corev1.Service:
		return "Service"
	case *corev1.ReplicationController:
		return "ReplicationController"
	case *corev1.ServiceAccount:
		return "ServiceAccount"
	case *corev1.ConfigMap:
		return "ConfigMap"
	case *appsv1.Deployment:
		return "Deployment"
	case *appsv1.StatefulSet:
		return "StatefulSet"
	case *appsv1.DaemonSet:
		return "DaemonSet"
	case *appsv1.ReplicaSet:
		return "ReplicaSet"
	case *batchv1.Job:
		return "Job"
	case *batchv1.CronJob:
		return "CronJob"
	case *networkingv1.NetworkPolicy:
		return "NetworkPolicy"
	case *networkingv1.Ingress:
		return "Ingress"
	case *rbacv1.Role:
		return "Role"
	case *rbacv1.ClusterRole:
		return "ClusterRole"
	case *rbacv1.RoleBinding:
		return "RoleBinding"
	case *rbacv1.ClusterRoleBinding:
		return "ClusterRoleBinding"
	case *DeploymentConfig:
		return "DeploymentConfig"
	case *KnativeService:
		return KnativeServiceKind
	case *KnativeConfiguration:
		return "Configuration"
	case *Rollout:
		return "Rollout"
	case *peerAuthentication:
		return "PeerAuthentication"
	case *authorizationPolicy:
		return "AuthorizationPolicy"
	}
	return ""
}

// shallowCopy returns a copy of a typed object whose top-level fields,
// metadata included, can be changed without touching the original.
func shallowCopy(obj any) any {
	switch o := obj.(type) {
	case *corev1.Namespace:
		c := *o
		return &c
	case *corev1.Pod:
		c := *o
		return &c
	case *corev1.Service:
		c := *o
		return &c
	case *corev1.ReplicationController:
		c := *o
		return &c
	case *corev1.ServiceAccount:
		c := *o
		return &c
	case *corev1.ConfigMap:
		c := *o
		return &c
	case *appsv1.Deployment:
		c := *o
		return &c
	case *appsv1.StatefulSet:
		c := *o
		return &c
	case *appsv1.DaemonSet:
		c := *o
		return &c
	case *appsv1.ReplicaSet:
		c := *o
		return &c
	case *batchv1.Job:
		c := *o
		return &c
	case *batchv1.CronJob:
		c := *o
		return &c
	case *networkingv1.NetworkPolicy:
		c := *o
		return &c
	case *networkingv1.Ingress:
		c := *o
		return &c
	case *rbacv1.Role:
		c := *o
		return &c
	case *rbacv1.ClusterRole:
		c := *o
		return &c
	case *rbacv1.RoleBinding:
		c := *o
		return &c
	case *rbacv1.ClusterRoleBinding:
		c := *o
		return &c
	case *DeploymentConfig:
		c := *o
		return &c
	case *KnativeService:
		c := *o
		return &c
	case *KnativeConfiguration:
		c := *o
		return &c
	case *Rollout:
		c := *o
		return &c
	case *peerAuthentication:
		c := *o
		return &c
	case *authorizationPolicy:
		c := *o
		return &c
	}
	return obj
}

// peerAuthentication and authorizationPolicy decode Istio's security
// objects with Kubernetes metadata, so that the loader handles them like
// every other kind (namespace defaulting, duplicates, validation);
// assemble converts them to the istio package's types, which do not
// depend on Kubernetes.
type peerAuthentication struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              istio.PeerAuthenticationSpec `json:"spec"`
}

type authorizationPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              istio.AuthorizationPolicySpec `json:"spec"`
}

func istioMeta(m *metav1.ObjectMeta) istio.ObjectMeta {
	return istio.ObjectMeta{Name: m.Name, Namespace: m.Namespace, Labels: m.Labels, Annotations: m.Annotations}
}

func (p *peerAuthentication) istio() *istio.PeerAuthentication {
	return &istio.PeerAuthentication{
		TypeMeta:   istio.TypeMeta{APIVersion: p.APIVersion, Kind: p.Kind},
		ObjectMeta: istioMeta(&p.ObjectMeta), Spec: p.Spec,
	}
}

func (a *authorizationPolicy) istio() *istio.AuthorizationPolicy {
	return &istio.AuthorizationPolicy{
		TypeMeta:   istio.TypeMeta{APIVersion: a.APIVersion, Kind: a.Kind},
		ObjectMeta: istioMeta(&a.ObjectMeta), Spec: a.Spec,
	}
}

// podTemplate returns the pod template of a workload object and the field
// path of its spec, or nil for kinds that are not workloads.
func podTemplate(obj any) (*corev1.PodTemplateSpec, string) {
	switch o := obj.(type) {
	case *corev1.Pod:
		return &corev1.PodTemplateSpec{ObjectMeta: o.ObjectMeta, Spec: o.Spec}, "spec"
	case *corev1.ReplicationController:
		if o.Spec.Template == nil {
			return &corev1.PodTemplateSpec{}, "spec.template.spec"
		}
		return o.Spec.Template, "spec.template.spec"
	case *appsv1.Deployment:
		return &o.Spec.Template, "spec.template.spec"
	case *appsv1.StatefulSet:
		return &o.Spec.Template, "spec.template.spec"
	case *appsv1.DaemonSet:
		return &o.Spec.Template, "spec.template.spec"
	case *appsv1.ReplicaSet:
		return &o.Spec.Template, "spec.template.spec"
	case *batchv1.Job:
		return &o.Spec.Template, "spec.template.spec"
	case *batchv1.CronJob:
		return &o.Spec.JobTemplate.Spec.Template, "spec.jobTemplate.spec.template.spec"
	case *DeploymentConfig:
		if o.Spec.Template == nil {
			return &corev1.PodTemplateSpec{}, "spec.template.spec"
		}
		return o.Spec.Template, "spec.template.spec"
	case *KnativeService:
		return &o.Spec.Template, "spec.template.spec"
	case *KnativeConfiguration:
		return &o.Spec.Template, "spec.template.spec"
	case *Rollout:
		return &o.Spec.Template, "spec.template.spec"
	}
	return nil, ""
}

// unsupported reports whether apiVersion/kind is a network policy Ward does
// not evaluate, and whether objects of that kind live in a namespace.
func unsupported(apiVersion, kind string) (is, namespaced bool) {
	group, _, _ := strings.Cut(apiVersion, "/")
	if !strings.Contains(apiVersion, "/") {
		group = ""
	}
	switch {
	case group == "networking.k8s.io" && kind == "NetworkPolicy":
		is = apiVersion != "networking.k8s.io/v1"
	case group == "security.istio.io" && (kind == "AuthorizationPolicy" || kind == "PeerAuthentication"):
		is = true
	case strings.HasSuffix(kind, "NetworkPolicy"):
		is = true
	}
	if !is {
		return false, false
	}
	clusterWide := strings.HasPrefix(kind, "Global") || strings.HasPrefix(kind, "Cluster") ||
		strings.Contains(kind, "Clusterwide") || kind == "AdminNetworkPolicy" || kind == "BaselineAdminNetworkPolicy"
	return true, !clusterWide
}

// meta returns the object metadata of a typed object.
func meta(obj any) metav1.Object {
	m, _ := obj.(metav1.Object)
	return m
}
