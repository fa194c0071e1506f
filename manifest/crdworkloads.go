package manifest

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Workload kinds of other projects that carry a Kubernetes pod template at
// a known path. Ward decodes only what it reads of them (metadata,
// selector, pod template, Argo's workloadRef); the projects' own Go
// modules would pull in their whole dependency trees for four structs.
// Unknown fields are ignored, as for every kind.

// DeploymentConfig is an OpenShift apps.openshift.io/v1 DeploymentConfig:
// its pods come from spec.template, through ReplicationControllers.
type DeploymentConfig struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              DeploymentConfigSpec `json:"spec"`
}

// DeploymentConfigSpec is the part of a DeploymentConfig's spec Ward reads.
// Selector is a plain label map, unlike a Deployment's.
type DeploymentConfigSpec struct {
	Selector map[string]string       `json:"selector,omitempty"`
	Template *corev1.PodTemplateSpec `json:"template,omitempty"`
}

// KnativeServiceKind is the Workload.Kind (and Object.Kind) of a Knative
// Service: "Service" alone would clash with the core Service Knative
// creates under the same name. It is the resource.group form kubectl
// prints.
const KnativeServiceKind = "Service.serving.knative.dev"

// KnativeService is a Knative serving.knative.dev/v1 Service: its
// revisions' pods come from spec.template, a revision template whose spec
// is a pod spec subset (containers, volumes, serviceAccountName,
// securityContext, ...) plus Knative's own fields (containerConcurrency,
// timeoutSeconds), which Ward ignores.
type KnativeService struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              KnativeSpec `json:"spec"`
}

// KnativeConfiguration is a Knative serving.knative.dev/v1 Configuration:
// its revisions' pods come from spec.template, as for a KnativeService.
type KnativeConfiguration struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              KnativeSpec `json:"spec"`
}

// KnativeSpec is the part of a Knative Service's or Configuration's spec
// Ward reads.
type KnativeSpec struct {
	Template corev1.PodTemplateSpec `json:"template"`
}

// Labels Knative sets on every pod of a Configuration's revisions, and of
// a Service's (whose Configuration has the Service's name). Ward adds them
// to the pod template so that policies written against them select the
// pods, as in the cluster.
const (
	KnativeServiceLabel       = "serving.knative.dev/service"
	KnativeConfigurationLabel = "serving.knative.dev/configuration"
)

// Rollout is an Argo Rollouts argoproj.io/v1alpha1 Rollout: its pods come
// from spec.template, or, when spec.workloadRef names a Deployment, from
// that Deployment's template (Ward then audits and models them as the
// Deployment's; see Set.Skipped when the Deployment is not in the input).
type Rollout struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              RolloutSpec `json:"spec"`
}

// RolloutSpec is the part of a Rollout's spec Ward reads.
type RolloutSpec struct {
	Selector    *metav1.LabelSelector  `json:"selector,omitempty"`
	Template    corev1.PodTemplateSpec `json:"template"`
	WorkloadRef *ObjectRef             `json:"workloadRef,omitempty"`
}

// ObjectRef is Argo's reference to the object holding a Rollout's pod
// template.
type ObjectRef struct {
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind,omitempty"`
	Name       string `json:"name,omitempty"`
}

// templateFromRef reports whether a Rollout takes its pod template from
// spec.workloadRef: Argo requires one of template and workloadRef, and a
// Rollout with a workloadRef carries no containers of its own.
func (r *Rollout) templateFromRef() bool {
	return r.Spec.WorkloadRef != nil && len(r.Spec.Template.Spec.Containers) == 0
}

// knativeTemplate returns the pod template of a Knative Service or
// Configuration named name: spec.template with the labels Knative adds to
// the revision pods where the template does not set them itself, and the
// name it gives an unnamed only container.
func knativeTemplate(t *corev1.PodTemplateSpec, name string, service bool) *corev1.PodTemplateSpec {
	c := *t
	c.Labels = make(map[string]string, len(t.Labels)+2)
	for k, v := range t.Labels {
		c.Labels[k] = v
	}
	if _, ok := c.Labels[KnativeConfigurationLabel]; !ok {
		c.Labels[KnativeConfigurationLabel] = name
	}
	if _, ok := c.Labels[KnativeServiceLabel]; !ok && service {
		c.Labels[KnativeServiceLabel] = name
	}
	// Knative names a revision's only container user-container when the
	// template leaves its name out.
	if cs := c.Spec.Containers; len(cs) == 1 && cs[0].Name == "" {
		c.Spec.Containers = []corev1.Container{cs[0]}
		c.Spec.Containers[0].Name = "user-container"
	}
	return &c
}
