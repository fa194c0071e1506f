package manifest

import (
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/wardsec/ward/srcpos"
)

// Source is where an object was read: a file (or "-" for standard input)
// and the 1-based line its document starts on. Origin is the template path
// from a `# Source:` comment that `helm template` writes, when present.
type Source struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Origin string `json:"origin,omitempty"`
}

func (s Source) String() string {
	if s.File == "" {
		return "<input>"
	}
	if s.Line <= 0 {
		return s.File
	}
	return fmt.Sprintf("%s:%d", s.File, s.Line)
}

// MetadataNameLabel is the immutable label every namespace carries.
const MetadataNameLabel = "kubernetes.io/metadata.name"

// Namespace is a namespace with its labels. Labels always include
// MetadataNameLabel. Declared is false for namespaces that no input declares
// but some object lives in or names.
type Namespace struct {
	Name        string
	Labels      map[string]string
	Annotations map[string]string
	Declared    bool
	Source      Source
}

// Port is a container port of a workload's pod template.
type Port struct {
	Name      string // empty when the port is unnamed
	Port      int32
	Protocol  corev1.Protocol // TCP, UDP or SCTP; never empty
	Container string
}

// Workload is a set of pods that share one pod template: a Deployment,
// StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job or CronJob,
// an OpenShift DeploymentConfig, a Knative Service (Kind
// KnativeServiceKind) or Configuration, an Argo Rollout, or a bare Pod. Pods in the input whose ownerReferences lead to a workload
// in the input are its instances: they add their IPs to it and are not
// workloads of their own.
type Workload struct {
	Namespace string
	Name      string
	Kind      string // "Deployment", ..., "Pod"

	// Labels are the pod template's labels: what policies select.
	Labels map[string]string
	// Template is the pod template (for a Pod, its metadata and spec).
	Template *corev1.PodTemplateSpec
	// Ports are the container ports of all containers (init containers
	// excluded), with Protocol defaulted to TCP.
	Ports       []Port
	HostNetwork bool
	// IPs are the known pod IPs (status.podIP/podIPs of the workload's own
	// Pod object or of its instance pods), sorted and deduplicated.
	IPs []netip.Addr
	// Instances counts the instance Pod objects folded into this workload.
	Instances int
	Source    Source
	// Annotations are the workload object's own annotations (the pod
	// template's are in Template).
	Annotations map[string]string
	// Lines maps field paths of the workload object, such as
	// "spec.template.spec.containers[0].image", to their lines; empty
	// unless loaded with Options.FieldLines.
	Lines Lines

	// Deviation is set on a Pod of Set.DeviatingPods: folded into the
	// workload Owner, but with a spec other than its template.
	Deviation *Deviation

	// Embedded is set for the Workloads of Skipped.Pods: the path of the
	// pod spec in the custom resource (Skipped.PodSpecs), whose kind,
	// namespace and name the Workload has. TemplateLine reads the paths of
	// its pod template there.
	Embedded string

	templatePath string // "spec.template", "" for a Pod
	embed        *embedding
}

// Deviation says why a Pod folded into a workload is audited on its own
// spec: its spec is not the workload's pod template, once what the API
// server, controllers and standard admission add to every Pod is left out
// (see the package documentation).
type Deviation struct {
	// Owner is the ID of the workload the Pod is folded into
	// ("namespace/Kind/name"), found through its ownerReferences.
	Owner string
	// OwnerSource is where Owner is declared.
	OwnerSource Source
	// Pods counts the Pods folded into Owner with this same spec, this
	// one, the first in the input, included. Only this one is audited.
	Pods int
	// Modelled is true when these Pods' labels, host network or named
	// ports differ from Owner's template as the network model reads them
	// (see the package documentation): the Pod is then in Set.Workloads
	// too, as a workload of its own that holds these Pods' IPs, and
	// Owner does not. Audits that read both lists skip the Workloads
	// entries with a Deviation, which they audit as deviating Pods.
	Modelled bool
	// Split is true for the Pods whose controller adds them a label a
	// selector in the input reads, with another value than the workload
	// that would model them has (their template, or the first Pod of
	// their variant modelled apart; see fold): they are a workload of
	// their own in the network model, and in Set.Workloads only, not in
	// Set.DeviatingPods, as their spec is not audited on its own (Pods
	// counts nothing; Modelled is true).
	Split bool
}

// Line returns the line of the field at path (a path of the workload
// object, as in Lines), or of the nearest enclosing field that has one, or
// the object's own line.
func (w *Workload) Line(path string) int {
	for path != "" {
		if l, ok := w.Lines.Get(path); ok {
			return l
		}
		path = parentPath(path)
	}
	return w.Source.Line
}

// TemplatePath returns the path of the pod template in the workload
// object: "spec.template" for a Deployment, "spec.jobTemplate.spec.template"
// for a CronJob, "" for a Pod (whose metadata and spec are the template's).
func (w *Workload) TemplatePath() string { return w.templatePath }

// TemplateLine is Line for a path inside the pod template, such as
// "spec.containers[0].securityContext".
func (w *Workload) TemplateLine(path string) int {
	if w.embed != nil {
		return w.Line(w.embed.crPath(path))
	}
	if w.templatePath == "" {
		return w.Line(path)
	}
	return w.Line(w.templatePath + "." + path)
}

// ID returns "namespace/Kind/name", unique within a Set.
func (w *Workload) ID() string { return w.Namespace + "/" + w.Kind + "/" + w.Name }

// Service is a Service with a selector.
type Service struct {
	Namespace string
	Name      string
	// Selector is spec.selector; nil or empty selects nothing (a Service
	// without selector has manually managed endpoints).
	Selector map[string]string
	Ports    []corev1.ServicePort
	// Type is spec.type; empty means ClusterIP.
	Type        corev1.ServiceType
	Annotations map[string]string
	Source      Source
}

// Policy is a networking.k8s.io/v1 NetworkPolicy with its origin. Its
// namespace is always set. Loaded policies have passed Validate.
type Policy struct {
	*networkingv1.NetworkPolicy
	Source Source
	// Lines maps a field path such as "spec.ingress[0].from[1].ipBlock.cidr"
	// to its 1-based line, for findings that point inside the policy. It may
	// be empty (policies built in code); use Line.
	Lines Lines
}

// Line returns the line of the field at path, or of the nearest enclosing
// field that has one, or the policy's own line.
func (p *Policy) Line(path string) int {
	for path != "" {
		if l, ok := p.Lines.Get(path); ok {
			return l
		}
		path = parentPath(path)
	}
	return p.Source.Line
}

// parentPath strips the last ".field" or "[i]" from a field path.
func parentPath(path string) string {
	for i := len(path) - 1; i >= 0; i-- {
		switch path[i] {
		case '.':
			return path[:i]
		case '[':
			return path[:i]
		}
	}
	return ""
}

// Ref names an object in findings and output: "namespace/Kind/name".
type Ref struct {
	Kind      string
	Namespace string
	Name      string
}

func (r Ref) String() string {
	if r.Namespace == "" {
		return r.Kind + "/" + r.Name
	}
	return r.Namespace + "/" + r.Kind + "/" + r.Name
}

// Skipped is a document Ward did not model: YAML without apiVersion/kind
// (values files, Compose files) or an unknown kind.
type Skipped struct {
	Source Source
	Kind   string // empty when the document has no kind
	Reason string
	// APIVersion, Namespace and Name are set for objects of kinds Ward
	// does not model (custom resources among them); Namespace is as
	// written, "" when the object names none.
	APIVersion, Namespace, Name string
	// PodSpecs are the field paths of the pod specs a custom resource
	// carries for the pods its operator creates ("spec.jobTargetRef.
	// template.spec" of a KEDA ScaledJob, "spec.templates[0].container"
	// of an Argo Workflow).
	PodSpecs []string
	// Pods are the pod specs of PodSpecs that decode, for the audits, in
	// the same order: each is a Workload of the custom resource's kind,
	// namespace (Options.DefaultNamespace when it names none) and name,
	// with Embedded set. An Argo-style container or script is a pod spec
	// of that one container, with the pod-level fields Argo takes from
	// the template and workflow spec around it (securityContext,
	// serviceAccountName, automountServiceAccountToken, hostNetwork,
	// hostPID, hostIPC, volumes). They are not in the network model
	// (Set.Workloads): the labels the operator gives its pods are
	// unknown.
	Pods []*Workload
	// PodSpecErrors are the pod specs of PodSpecs that do not decode as
	// Kubernetes pod specs, which are not audited.
	PodSpecErrors []PodSpecError
	// HostPath is the node path of a v1 PersistentVolume whose volume
	// source is hostPath, "" otherwise: a pod whose claim binds to it
	// mounts that path of the node, which no check of its pod spec sees
	// (persistentVolumeClaim volumes pass the Pod Security Standards).
	// HostPathLine is the line of spec.hostPath.
	HostPath     string
	HostPathLine int
}

// CustomResource reports whether s is an object of a custom resource kind:
// its API group is not one of Kubernetes' own. Operators create pods from
// some of them (Prometheus, Alertmanager, ...), which the input does not
// show.
func (s Skipped) CustomResource() bool {
	return s.APIVersion != "" && !builtinGroup(s.APIVersion)
}

// Unsupported is a network policy of a kind Ward does not evaluate yet
// (Calico, Cilium, AdminNetworkPolicy, Istio, ...). Ignoring such a policy
// silently would give false assurance, so callers report every one loudly.
type Unsupported struct {
	Source     Source
	APIVersion string
	Kind       string
	Namespace  string
	Name       string
	// Audited is true for the kinds that are also decoded into Objects for
	// an audit of their own (Istio's PeerAuthentication and
	// AuthorizationPolicy, read by the mesh audit).
	Audited bool
	// Reason, when set, says why a policy of a kind Ward evaluates is not
	// evaluated: a Helm hook that may not be in the cluster.
	Reason string
	// Digest identifies the object's content (a SHA-256 of its decoded
	// fields, not of its text), so that two versions of an input can tell
	// a changed policy from an unchanged one: ward diff cannot show what
	// a change to a policy it does not evaluate opens.
	Digest string
}

// Set is everything Ward models from its input. Slices are sorted:
// namespaces by name; workloads, services and policies by namespace then
// name (then kind for workloads).
type Set struct {
	Namespaces []*Namespace
	// Workloads are the workloads of the network model. The Pods folded
	// into one whose controller adds them a label a selector in the input
	// reads (Deviation.Split) are one of their own here, of kind Pod, one
	// per value of that label; so are the deviating Pods modelled apart
	// (Deviation.Modelled).
	Workloads []*Workload
	// DeviatingPods are Pods folded into a workload (instances, counted
	// in its Instances and IPs) whose spec is not its pod template: for
	// the audits, which read each as a workload of kind Pod of its own.
	// Pods of one workload with the same spec are one entry, the first
	// in the input (Deviation.Pods counts them). They are not in
	// Workloads: the network model takes a workload's pods as its
	// template says, except those whose labels, host network or named
	// ports differ from it (Deviation.Modelled), which are in Workloads
	// too, with their Deviation. A ReplicaSet, ReplicationController or Job folded
	// into its owner that makes Pods (it has replicas, or has not
	// finished) and whose template is not its owner's is here too, of
	// its own kind: the input may hold none of its Pods yet.
	DeviatingPods []*Workload
	Services      []*Service
	Policies      []*Policy
	Skipped       []Skipped
	Unsupported   []Unsupported
	// Warnings are inputs left out on purpose, such as a named pipe met
	// in a directory walk (ErrNotRegular) or a symbolic link loop
	// (ErrWalkedTwice); they are not input errors.
	Warnings []*Error
	// Objects are all the typed objects of known kinds, in input order, for
	// the audits that need more than the network model. Pods and
	// ReplicaSets with owner references that were folded into a workload
	// of the input, read from a regular file, are decoded slim (cluster
	// dumps hold many): their metadata (managedFields excepted, as for
	// every object), their status, except a Pod's (of which phase,
	// hostIP(s) and podIP(s) are kept), and of their pod spec only
	// hostNetwork, nodeName and the name and ports of each container and
	// init container. Their Lines are empty. Every field was checked all the
	// same: input errors are those of a full decode. The Pods of
	// DeviatingPods are decoded whole.
	Objects []Object
	// PodIPsKnown is true when at least one pod IP was in the input.
	PodIPsKnown bool
	// KubernetesObjects counts the objects with an apiVersion and a kind
	// in the input (Lists and their items), whether Ward models them or
	// not and whether they are valid or not: 0 means the input held no
	// manifest at all, which callers must not report as a clean result.
	KubernetesObjects int
	// EmptyPaths are the paths given to Load (files, directories, "-")
	// that held no Kubernetes object and gave no error: an empty file or
	// standard input, a directory of none, or of files Load does not read.
	// Callers must not pass them silently, even when other paths held
	// objects.
	EmptyPaths []string
	// EmptyRendered are the names of the Options.Rendered streams that
	// held no Kubernetes object and gave no error.
	EmptyRendered []string

	objects []object // what the Set was assembled from, for WithWorkloads
	// selectorKeys are Options.SelectorKeys, kept for WithWorkloads.
	selectorKeys []string
}

// Object is one decoded object of a known kind with its origin.
type Object struct {
	// Obj is the typed k8s.io/api object (*corev1.Pod, *appsv1.Deployment, ...).
	Obj    any
	Kind   string
	Source Source
	// Lines maps field paths ("spec.externalIPs") to lines, for
	// Services, Ingresses, RBAC objects, ConfigMaps and objects with a pod template loaded with
	// Options.FieldLines, and for NetworkPolicies; empty otherwise. Use Line.
	Lines Lines
}

// Line returns the line of the field at path, or of the nearest enclosing
// field that has one, or the object's own line.
func (o Object) Line(path string) int {
	for p := path; p != ""; p = parentPath(p) {
		if l, ok := o.Lines.Get(p); ok {
			return l
		}
	}
	return o.Source.Line
}

// Namespace returns the namespace named name, or nil.
func (s *Set) Namespace(name string) *Namespace {
	for _, n := range s.Namespaces {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// Error is an input error: a file that cannot be read, a document that does
// not parse, or an object of a known kind that is malformed. Line is 0 when
// the error concerns the whole file. It is srcpos.Error, the one position
// error of every Ward loader.
type Error = srcpos.Error

// Ref returns what names o in findings and errors.
func (o Object) Ref() Ref {
	m := meta(o.Obj)
	if m == nil {
		return Ref{Kind: o.Kind}
	}
	if clusterScoped(o.Kind) {
		return Ref{Kind: o.Kind, Name: m.GetName()}
	}
	return Ref{Kind: o.Kind, Namespace: m.GetNamespace(), Name: m.GetName()}
}
