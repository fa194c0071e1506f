package manifest

import (
	"cmp"
	"encoding/json"
	"hash/maphash"
	"math/bits"
	"math/rand/v2"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Folded Pods that deviate from their workload's template.
//
// A Pod folded into a workload (see fold) is audited as that workload's
// pod template. Its owner references prove nothing: a Pod made by hand,
// by a mutating webhook or by kubectl debug may name a clean workload's
// ReplicaSet and run another spec. So every Pod that folds has a print of
// its spec, computed from its YAML nodes while it is decoded (slim or
// not), and every workload object a print of its pod template, computed
// the same way; fold compares the print of each instance Pod with that of
// its top-most owner's template. A Pod whose print differs deviates: it
// still belongs to the workload (its IPs, the network model), but its own
// spec is audited too (Set.DeviatingPods; a slim Pod is decoded again,
// whole, first). Pods of one workload with the same print are one
// variant: its first Pod in the input is audited, for all of them.
//
// A print is a hash of the spec, of the labels and of the annotations
// the Pod Security Standards read (AppArmor and seccomp), normalized to leave out what the
// API server, the scheduler, controllers and standard admission add to
// every Pod or set per Pod, none of which an audit rule reads:
//
//   - nodeName, hostname and subdomain (StatefulSet and indexed Job pods),
//     priority, priorityClassName and preemptionPolicy (Priority
//     admission), enableServiceLinks (defaulted in Pods only), affinity
//     (the DaemonSet controller pins each pod to its node), overhead
//     (RuntimeClass admission);
//   - the tolerations node.kubernetes.io/<condition> with operator Exists
//     that DefaultTolerationSeconds and the DaemonSet controller add;
//   - the kube-api-access-* volume of ServiceAccount admission, only in
//     its exact standard form, and its read-only mount at
//     /var/run/secrets/kubernetes.io/serviceaccount: fold then checks that
//     the template does automount a token, else the Pod deviates;
//   - serviceAccount and serviceAccountName, compared as the
//     ServiceAccount the Pod runs as (unset is default, as admission sets);
//   - resource requests, compared with the limits copied in where a
//     request is missing (the API server's defaulting of Pods);
//   - the volumes of a StatefulSet's volumeClaimTemplates (in a Pod, a
//     persistentVolumeClaim volume whose claim is <volume>-<pod name>;
//     the audits allow every such volume), and the JOB_COMPLETION_INDEX
//     variable of an indexed Job.
//
// Everything else is compared, in order but for mapping keys and
// volumes: a field written in another form (0.5 for 500m, an empty
// securityContext for none) makes a Pod deviate. Labels are compared but
// for those the Pod's own controller adds (controllerLabels): Services
// and NetworkPolicies select Pods by label, and a folded Pod is modelled
// with its template's. The hash is
// seeded per process, so input cannot be written to collide with a
// template.

// A specPrint is the hash of a pod spec as the audits see it. It is kept
// small: every object has one.
type specPrint struct {
	hash  uint64
	flags uint8
}

const (
	printKnown         uint8 = 1 << iota // computed; not for objects built in memory
	printToken                           // the spec has the standard kube-api-access volume (left out of the hash)
	printAutomount                       // the spec sets automountServiceAccountToken
	printAutomountTrue                   // to true
)

func (p specPrint) known() bool { return p.flags&printKnown != 0 }
func (p specPrint) token() bool { return p.flags&printToken != 0 }

var (
	printSeed = maphash.MakeSeed()
	mixA      = maphash.String(printSeed, "a") | 1
	mixB      = maphash.String(printSeed, "b") | 1
	tagMap    = maphash.String(printSeed, "{}")
	tagSeq    = maphash.String(printSeed, "[]")
	tagBad    = maphash.String(printSeed, "alias")
)

// mix combines two hashes, in order.
func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a^mixA, bits.RotateLeft64(b, 31)^mixB)
	return hi ^ lo ^ b
}

func strHash(s string) uint64 { return maphash.String(printSeed, s) }

// entry is the hash of a mapping entry; a mapping's is the sum of its
// entries', so that key order does not matter.
func entry(k string, v uint64) uint64 { return mix(strHash(k), v) }

func mapHash(sum uint64) uint64 { return mix(tagMap, sum) }

// isNull reports whether scalar n is null: a field left out.
func isNull(n *yaml.Node) bool {
	if n.Kind != yaml.ScalarNode {
		return false
	}
	switch n.Value {
	case "", "~", "null", "Null", "NULL":
		return n.ShortTag() == "!!null"
	}
	return n.Tag == "!!null"
}

// printer computes a print.
type printer struct {
	podName string   // the Pod's name, for its volumeClaimTemplates claims
	claims  []string // a StatefulSet's volumeClaimTemplates names
	added   []string // the labels the Pods' controller adds (addedLabels), left out
	token   bool
	alias   bool // met an alias (the loader resolves them first)
}

// node hashes n as it is.
func (p *printer) node(n *yaml.Node) uint64 {
	switch n.Kind {
	case yaml.ScalarNode:
		return strHash(n.Value)
	case yaml.MappingNode:
		var sum uint64
		c := n.Content
		for i := 0; i+1 < len(c); i += 2 {
			if !isNull(c[i+1]) {
				sum += entry(c[i].Value, p.node(c[i+1]))
			}
		}
		return mapHash(sum)
	case yaml.SequenceNode:
		h := tagSeq
		for _, e := range n.Content {
			h = mix(h, p.node(e))
		}
		return h
	}
	p.alias = true // see podPrint
	return tagBad
}

// ignoredSpec are the pod spec fields a print leaves out. No audit rule
// reads them; one that comes to must take its field out of this list.
var ignoredSpec = []string{"nodeName", "hostname", "subdomain", "priority", "priorityClassName", "preemptionPolicy", "enableServiceLinks", "affinity", "overhead"}

// podPrint returns the print of a pod: its metadata mapping md and spec
// mapping spec (either may be nil).
func (p *printer) podPrint(md, spec *yaml.Node) specPrint {
	var sum uint64
	sa := "default"
	if spec != nil && spec.Kind == yaml.MappingNode {
		c := spec.Content
		for i := 0; i+1 < len(c); i += 2 {
			k, v := c[i].Value, c[i+1]
			if isNull(v) || contains(ignoredSpec, k) {
				continue
			}
			var h uint64
			kept := true // false: a list left empty, the same as none
			switch k {
			case "serviceAccountName":
				if v.Kind == yaml.ScalarNode && v.Value != "" {
					sa = v.Value
				}
				continue
			case "serviceAccount":
				if v.Kind == yaml.ScalarNode && v.Value != "" && scalar(mapGet(spec, "serviceAccountName")) == "" {
					sa = v.Value
				}
				continue
			case "tolerations":
				h, kept = p.tolerations(v)
			case "volumes":
				h, kept = p.volumes(v)
			case "containers", "initContainers", "ephemeralContainers":
				h = p.containers(v)
			case "resources":
				h = p.resources(v)
			default:
				h = p.node(v)
			}
			if kept {
				sum += entry(k, h)
			}
		}
	} else if spec != nil {
		sum += entry("spec", p.node(spec))
	}
	sum += entry("serviceAccountName", strHash(sa))
	flags := printKnown
	if p.token {
		flags |= printToken
	}
	// As the typed decode reads it: True and FALSE are booleans too.
	if a := mapGet(spec, "automountServiceAccountToken"); a != nil && a.Kind == yaml.ScalarNode && jsonKind(a) == 'b' {
		flags |= printAutomount
		if boolValue(a) {
			flags |= printAutomountTrue
		}
	}
	if lab := mapGet(md, "labels"); lab != nil && !isNull(lab) {
		if lab.Kind != yaml.MappingNode {
			sum += entry("labels", p.node(lab)) // not a valid shape: compared as written
		} else {
			var ls uint64
			kept := false // none left: the same as none
			c := lab.Content
			for i := 0; i+1 < len(c); i += 2 {
				// A null value is kept: the typed map has the key, with "".
				if !contains(p.added, c[i].Value) {
					ls += entry(c[i].Value, p.node(c[i+1]))
					kept = true
				}
			}
			if kept {
				sum += entry("labels", ls)
			}
		}
	}
	if ann := mapGet(md, "annotations"); ann != nil && ann.Kind == yaml.MappingNode {
		var as uint64
		kept := false // none left: the same as none
		c := ann.Content
		for i := 0; i+1 < len(c); i += 2 {
			if auditedAnnotation(c[i].Value) {
				as += entry(c[i].Value, p.node(c[i+1]))
				kept = true
			}
		}
		if kept {
			sum += entry("annotations", as)
		}
	}
	h := mapHash(sum)
	if p.alias {
		h = rand.Uint64() // #nosec G404 -- not a secret: a print equal to no other, so the Pod deviates
	}
	return specPrint{hash: h, flags: flags}
}

// controllerLabels are the pod labels that controllers add to the Pods
// they make (or to a Job's template), by the kind of the controller: a
// print leaves out those of the Pod's own controller (addedLabels). Every
// other label is compared, these under another controller too (a
// Deployment's Pod labelled deployment: x, as only a DeploymentConfig's
// ReplicationController labels its Pods, is not its template's):
// Services and NetworkPolicies select Pods by their labels, and a folded
// Pod is modelled with its template's.
var controllerLabels = map[string][]string{
	"ReplicaSet": {
		appsv1.DefaultDeploymentUniqueLabelKey, // pod-template-hash
		"rollouts-pod-template-hash",           // Argo Rollouts
	},
	"StatefulSet": {
		appsv1.ControllerRevisionHashLabelKey, // controller-revision-hash
		appsv1.StatefulSetPodNameLabel,        // statefulset.kubernetes.io/pod-name
		appsv1.PodIndexLabel,                  // apps.kubernetes.io/pod-index
	},
	"DaemonSet": {appsv1.ControllerRevisionHashLabelKey, "pod-template-generation"},
	// The Job controller's, prefixed and not.
	"Job": {batchv1.ControllerUidLabel, batchv1.JobNameLabel, batchv1.JobCompletionIndexAnnotation, "controller-uid", "job-name"},
	// OpenShift DeploymentConfig's.
	"ReplicationController": {"deployment", "deploymentconfig"},
}

// addedLabels returns the labels (controllerLabels) that the controller
// of Pod obj adds to it, or for a workload object the controller of its
// Pods: a Deployment's are those of its ReplicaSets.
func addedLabels(obj any) []string {
	kind := ""
	switch o := obj.(type) {
	case *corev1.Pod:
		ref, _ := controllerRef(o.OwnerReferences)
		kind = ref.Kind
	case *appsv1.Deployment, *Rollout, *appsv1.ReplicaSet:
		kind = "ReplicaSet"
	case *appsv1.StatefulSet:
		kind = "StatefulSet"
	case *appsv1.DaemonSet:
		kind = "DaemonSet"
	case *batchv1.Job, *batchv1.CronJob:
		kind = "Job"
	case *corev1.ReplicationController, *DeploymentConfig:
		kind = "ReplicationController"
	}
	return controllerLabels[kind]
}

// auditedAnnotation reports whether an audit reads pod annotation k: the
// AppArmor and seccomp annotations of the Pod Security Standards.
func auditedAnnotation(k string) bool {
	return strings.HasPrefix(k, corev1.DeprecatedAppArmorBetaContainerAnnotationKeyPrefix) ||
		k == corev1.SeccompPodAnnotationKey || strings.HasPrefix(k, corev1.SeccompContainerAnnotationKeyPrefix)
}

// tolerations hashes a tolerations list without those that admission and
// the DaemonSet controller add: node.kubernetes.io/<condition>, Exists.
// The list is not kept when none is left.
func (p *printer) tolerations(n *yaml.Node) (uint64, bool) {
	if n.Kind != yaml.SequenceNode {
		return p.node(n), true
	}
	h, kept := tagSeq, false
	for _, t := range n.Content {
		if t.Kind == yaml.MappingNode && scalar(mapGet(t, "operator")) == "Exists" && strings.HasPrefix(scalar(mapGet(t, "key")), "node.kubernetes.io/") {
			continue
		}
		h, kept = mix(h, p.node(t)), true
	}
	return h, kept
}

// volumes hashes a volumes list as a set (the StatefulSet controller puts
// its claims first), without the standard kube-api-access volume and
// without the volumes of a StatefulSet's volumeClaimTemplates: in a
// template those named by its claims (the controller replaces them), in a
// Pod those of a claim named <volume>-<pod name>. The list is not kept
// when none is left.
func (p *printer) volumes(n *yaml.Node) (uint64, bool) {
	if n.Kind != yaml.SequenceNode {
		return p.node(n), true
	}
	var sum uint64
	kept := false
	for _, v := range n.Content {
		name := scalar(mapGet(v, "name"))
		switch {
		case v.Kind != yaml.MappingNode:
		case len(v.Content) == 4 && strings.HasPrefix(name, "kube-api-access-") && apiAccess(mapGet(v, "projected")):
			p.token = true
			continue
		case p.claims != nil && contains(p.claims, name):
			continue
		case p.podName != "" && len(v.Content) == 4:
			pvc := mapGet(v, "persistentVolumeClaim")
			if pvc != nil && pvc.Kind == yaml.MappingNode && len(pvc.Content) == 2 && scalar(mapGet(pvc, "claimName")) == name+"-"+p.podName {
				continue
			}
		}
		sum += p.node(v)
		kept = true
	}
	return mapHash(sum), kept
}

// apiAccessPrint is the print of the projected source of the volume that
// ServiceAccount admission adds.
var apiAccessPrint = func() uint64 {
	var n yaml.Node
	const text = `defaultMode: 420
sources:
- serviceAccountToken: {expirationSeconds: 3607, path: token}
- configMap: {items: [{key: ca.crt, path: ca.crt}], name: kube-root-ca.crt}
- downwardAPI: {items: [{fieldRef: {apiVersion: v1, fieldPath: metadata.namespace}, path: namespace}]}
`
	if err := yaml.Unmarshal([]byte(text), &n); err != nil {
		panic(err)
	}
	return (&printer{}).node(n.Content[0])
}()

// apiAccess reports whether projected volume source n is the one
// ServiceAccount admission adds.
func apiAccess(n *yaml.Node) bool {
	return n != nil && n.Kind == yaml.MappingNode && (&printer{}).node(n) == apiAccessPrint
}

// serviceAccountPath is where ServiceAccount admission mounts the token.
const serviceAccountPath = "/var/run/secrets/kubernetes.io/serviceaccount"

// containers hashes a list of containers, each without the mount of the
// kube-api-access volume and an indexed Job's JOB_COMPLETION_INDEX, with
// its requests defaulted from its limits.
func (p *printer) containers(n *yaml.Node) uint64 {
	if n.Kind != yaml.SequenceNode {
		return p.node(n)
	}
	h := tagSeq
	for _, c := range n.Content {
		if c.Kind != yaml.MappingNode {
			h = mix(h, p.node(c))
			continue
		}
		var sum uint64
		for i := 0; i+1 < len(c.Content); i += 2 {
			k, v := c.Content[i].Value, c.Content[i+1]
			if isNull(v) {
				continue
			}
			var vh uint64
			switch {
			case k == "resources":
				vh = p.resources(v)
			case k == "volumeMounts" && v.Kind == yaml.SequenceNode:
				vh = tagSeq
				kept := false
				for _, m := range v.Content {
					if m.Kind == yaml.MappingNode && len(m.Content) == 6 && strings.HasPrefix(scalar(mapGet(m, "name")), "kube-api-access-") &&
						scalar(mapGet(m, "mountPath")) == serviceAccountPath && scalar(mapGet(m, "readOnly")) == "true" {
						continue
					}
					vh, kept = mix(vh, p.node(m)), true
				}
				if !kept {
					continue // none left: the same as none
				}
			case k == "env" && v.Kind == yaml.SequenceNode:
				vh = tagSeq
				kept := false
				for _, e := range v.Content {
					if completionIndex(e) {
						continue
					}
					vh, kept = mix(vh, p.node(e)), true
				}
				if !kept {
					continue
				}
			default:
				vh = p.node(v)
			}
			sum += entry(k, vh)
		}
		h = mix(h, mapHash(sum))
	}
	return h
}

// completionIndex reports whether env variable e is the one the Job
// controller adds to the containers of an indexed Job.
func completionIndex(e *yaml.Node) bool {
	if e.Kind != yaml.MappingNode || len(e.Content) != 4 || scalar(mapGet(e, "name")) != "JOB_COMPLETION_INDEX" {
		return false
	}
	ref := mapGet(mapGet(e, "valueFrom"), "fieldRef")
	if ref == nil || ref.Kind != yaml.MappingNode || len(mapGet(e, "valueFrom").Content) != 2 {
		return false
	}
	return scalar(mapGet(ref, "fieldPath")) == "metadata.annotations['"+batchv1.JobCompletionIndexAnnotation+"']"
}

// resources hashes a resources mapping with each limit copied into the
// requests that lack it, as the API server defaults Pods.
func (p *printer) resources(n *yaml.Node) uint64 {
	if n.Kind != yaml.MappingNode {
		return p.node(n)
	}
	limits, requests := mapGet(n, "limits"), mapGet(n, "requests")
	if limits != nil && limits.Kind != yaml.MappingNode || requests != nil && !isNull(requests) && requests.Kind != yaml.MappingNode {
		return p.node(n) // not a valid shape: compared as written
	}
	var sum, req uint64
	has := false
	c := n.Content
	for i := 0; i+1 < len(c); i += 2 {
		k, v := c[i].Value, c[i+1]
		if isNull(v) {
			continue
		}
		if k == "requests" {
			for j := 0; j+1 < len(v.Content); j += 2 {
				if !isNull(v.Content[j+1]) {
					req += entry(v.Content[j].Value, p.node(v.Content[j+1]))
					has = true
				}
			}
			continue
		}
		sum += entry(k, p.node(v))
	}
	if limits != nil {
		for j := 0; j+1 < len(limits.Content); j += 2 {
			k, v := limits.Content[j].Value, limits.Content[j+1]
			if isNull(v) {
				continue
			}
			if r := mapGet(requests, k); r == nil || isNull(r) {
				req += entry(k, p.node(v))
				has = true
			}
		}
	}
	if has {
		sum += entry("requests", mapHash(req))
	}
	return mapHash(sum)
}

// templateNode returns the metadata and spec mappings of the pod
// template of object n of a kind with one (nil, nil for others and for
// the Knative kinds, whose template Ward rewrites), and the names of a
// StatefulSet's volumeClaimTemplates.
func templateNode(n *yaml.Node, obj any) (md, spec *yaml.Node, claims []string, ok bool) {
	var t *yaml.Node
	switch obj.(type) {
	case *corev1.Pod:
		return mapGet(n, "metadata"), mapGet(n, "spec"), nil, true
	case *appsv1.Deployment, *appsv1.DaemonSet, *appsv1.ReplicaSet, *batchv1.Job, *corev1.ReplicationController, *DeploymentConfig, *Rollout:
		t = mapGet(mapGet(n, "spec"), "template")
	case *appsv1.StatefulSet:
		t = mapGet(mapGet(n, "spec"), "template")
		claims = []string{}
		if vcts := mapGet(mapGet(n, "spec"), "volumeClaimTemplates"); vcts != nil && vcts.Kind == yaml.SequenceNode {
			for _, v := range vcts.Content {
				claims = append(claims, scalar(mapGet(mapGet(v, "metadata"), "name")))
			}
		}
	case *batchv1.CronJob:
		t = mapGet(mapGet(mapGet(mapGet(n, "spec"), "jobTemplate"), "spec"), "template")
	default:
		return nil, nil, nil, false
	}
	return mapGet(t, "metadata"), mapGet(t, "spec"), claims, true
}

// printObject returns the print of object n, decoded as obj: for a Pod
// with owner references its own, for a workload object its template's.
func printObject(n *yaml.Node, obj any) specPrint {
	pod, isPod := obj.(*corev1.Pod)
	if isPod && !owned(n) {
		return specPrint{}
	}
	md, spec, claims, ok := templateNode(n, obj)
	if !ok {
		return specPrint{}
	}
	p := printer{claims: claims, added: addedLabels(obj)}
	if isPod {
		p.podName = pod.Name
	}
	return p.podPrint(md, spec)
}

// typedPrint is printObject for an object built in memory, through its
// JSON.
func typedPrint(obj any) specPrint {
	t, _ := podTemplate(obj)
	if t == nil {
		return specPrint{}
	}
	switch obj.(type) {
	case *KnativeService, *KnativeConfiguration:
		return specPrint{} // never the owner of a Pod: their Deployments are
	}
	data, err := json.Marshal(struct {
		Metadata struct {
			Labels      map[string]string `json:"labels,omitempty"`
			Annotations map[string]string `json:"annotations,omitempty"`
		} `json:"metadata"`
		Spec *corev1.PodSpec `json:"spec"`
	}{Metadata: struct {
		Labels      map[string]string `json:"labels,omitempty"`
		Annotations map[string]string `json:"annotations,omitempty"`
	}{t.Labels, t.Annotations}, Spec: &t.Spec})
	if err != nil {
		return specPrint{}
	}
	var n yaml.Node
	if yaml.Unmarshal(data, &n) != nil || len(n.Content) == 0 {
		return specPrint{}
	}
	p := printer{added: addedLabels(obj)}
	switch o := obj.(type) {
	case *corev1.Pod:
		p.podName = o.Name
	case *appsv1.StatefulSet:
		p.claims = []string{}
		for _, v := range o.Spec.VolumeClaimTemplates {
			p.claims = append(p.claims, v.Name)
		}
	}
	return p.podPrint(mapGet(n.Content[0], "metadata"), mapGet(n.Content[0], "spec"))
}

// printOf returns the print of o, computing it from its typed object when
// it was not decoded from YAML. A slim Pod always has its print.
func printOf(o *object) specPrint {
	if !o.print.known() && o.slim == nil {
		o.print = typedPrint(o.obj)
	}
	return o.print
}

// automounts reports whether the pods of template t, of print tp, in
// namespace ns get a ServiceAccount token automounted: its
// automountServiceAccountToken, else its ServiceAccount's in the input,
// else true. ServiceAccount admission adds the kube-api-access volume
// only then.
func automounts(tp specPrint, t *corev1.PodTemplateSpec, ns string, accounts map[string]*corev1.ServiceAccount) bool {
	if tp.flags&printAutomount != 0 {
		return tp.flags&printAutomountTrue != 0
	}
	name := cmp.Or(t.Spec.ServiceAccountName, t.Spec.DeprecatedServiceAccount, "default")
	if sa := accounts[ns+"/"+name]; sa != nil && sa.AutomountServiceAccountToken != nil {
		return *sa.AutomountServiceAccountToken
	}
	return true
}

// running reports whether obj, a workload object folded into its owner
// (see fold), makes Pods now or will: a ReplicaSet or ReplicationController
// with replicas (an old revision of a Deployment has none), a Job that has
// not finished. Its template is compared with its owner's as an instance
// Pod's spec is.
func running(obj any) bool {
	switch o := obj.(type) {
	case *appsv1.ReplicaSet:
		return o.Spec.Replicas == nil || *o.Spec.Replicas > 0 || o.Status.Replicas > 0
	case *corev1.ReplicationController:
		return o.Spec.Replicas == nil || *o.Spec.Replicas > 0 || o.Status.Replicas > 0
	case *batchv1.Job:
		for _, c := range o.Status.Conditions {
			if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
				return false
			}
		}
		return true
	}
	return false
}

// A variant is the instance Pods of one workload whose specs have one
// print, not the template's.
type variant struct {
	first int // index in objs of its first Pod
	owner int // index in objs of the workload object
	pods  int
}

// variants finds the instance Pods objs[idx[p]] whose top-most owner
// objs[idx[root[p]]] has another template, in input order.
type variants struct {
	objs      []object
	list      []*variant
	byKey     map[variantKey]*variant
	templates map[int]specPrint
	accounts  map[string]*corev1.ServiceAccount
	of        map[int]*variant // the variant of each deviating object, by index in objs
}

type variantKey struct {
	owner int
	hash  uint64
	own   int // the Pod's index when its print is unknown, else -1
}

// add compares instance Pod objs[i] with the template of objs[o]. It
// reports false, and does nothing, when that needs the ServiceAccount of
// a template that is slim: ask again once it is decoded whole.
func (vs *variants) add(i, o int) bool {
	objs := vs.objs
	t, ok := vs.templates[o]
	if !ok {
		t = printOf(&objs[o])
		vs.templates[o] = t
	}
	pp := printOf(&objs[i])
	if pp.known() && t.known() && pp.hash == t.hash {
		if !pp.token() {
			return true
		}
		if t.flags&printAutomount == 0 && objs[o].slim != nil {
			return false // its serviceAccountName is not decoded
		}
		if vs.accounts == nil {
			vs.accounts = map[string]*corev1.ServiceAccount{}
			for _, x := range objs {
				if sa, ok := x.obj.(*corev1.ServiceAccount); ok {
					vs.accounts[sa.Namespace+"/"+sa.Name] = sa
				}
			}
		}
		tmpl, _ := podTemplate(objs[o].obj)
		if automounts(t, tmpl, meta(objs[o].obj).GetNamespace(), vs.accounts) {
			return true
		}
	}
	k := variantKey{owner: o, hash: pp.hash, own: -1}
	if !pp.known() || objs[i].kind != "Pod" {
		k.own = i // a ReplicaSet or Job is a variant of its own
	}
	v := vs.byKey[k]
	if v != nil {
		v.pods++
	} else {
		v = &variant{first: i, owner: o, pods: 1}
		vs.byKey[k] = v
		vs.list = append(vs.list, v)
	}
	if vs.of == nil {
		vs.of = map[int]*variant{}
	}
	vs.of[i] = v
	return true
}

// A deviating Pod modelled apart.
//
// The network model takes a workload's Pods as its template says: their
// labels (what Services and NetworkPolicies select), their host network
// and their named ports. A variant whose Pods differ from their owner's
// template in any of these is a workload of its own in the model
// (Deviation.Modelled), with its Pods' IPs, so that a Pod relabelled to be
// selected by a NodePort Service, or to leave a NetworkPolicy's selector,
// is judged as what it is. Left out of this comparison, as they change
// nothing the model reads:
//
//   - the labels a Pod's controller adds (addedLabels) and those service-mesh
//     injectors add to every Pod they inject (meshLabels): else every
//     injected Pod of a mesh would be modelled apart from its workload. A
//     mesh label whose key a selector in the input reads (a NetworkPolicy,
//     a Service, an Istio policy) is compared all the same: the model
//     would not select the injected Pods by it. (Not so a controller
//     label: it is not in the print, so the Pods of one variant may hold
//     different values of it, such as a StatefulSet's pod-name.)
//   - named ports no NetworkPolicy port and no Service targetPort names
//     (a sidecar's ports): only names are looked up in a workload's
//     ports, a port number is taken as it is written. Those named are
//     compared in order: a Service's targetPort is the first port of its
//     name and protocol (FindPort), and names may repeat across
//     containers.

// meshLabels are the pod labels Istio's and Linkerd's injectors add to the
// Pods they inject (Istio's networking.istio.io/tunnel when its proxies
// speak HBONE).
var meshLabels = []string{
	"security.istio.io/tlsMode", "service.istio.io/canonical-name", "service.istio.io/canonical-revision", "networking.istio.io/tunnel",
	"linkerd.io/control-plane-ns", "linkerd.io/workload-ns", "linkerd.io/proxy-deployment", "linkerd.io/proxy-replicaset",
	"linkerd.io/proxy-statefulset", "linkerd.io/proxy-daemonset", "linkerd.io/proxy-job", "linkerd.io/proxy-cronjob",
	"linkerd.io/proxy-replicationcontroller", "linkerd.io/proxy-pod",
}

// modelReads are what the input's selectors and port references read of
// Pods: the port names of the NetworkPolicies' rules and the Services'
// targetPorts, and the label keys of the NetworkPolicies' pod selectors,
// the Services' selectors and the Istio policies' workload selectors.
type modelReads struct {
	ports, labels map[string]bool
}

// readByModel collects what the selectors and port references of objs
// read (see modelReads), and the label keys that selectors outside them
// read (extra).
func readByModel(objs []object, extra []string) *modelReads {
	read := &modelReads{ports: map[string]bool{}, labels: map[string]bool{}}
	for _, k := range extra {
		read.labels[k] = true
	}
	named := func(p *intstr.IntOrString) {
		if p != nil && p.Type == intstr.String {
			read.ports[p.StrVal] = true
		}
	}
	keys := func(s *metav1.LabelSelector) {
		if s == nil {
			return
		}
		for k := range s.MatchLabels {
			read.labels[k] = true
		}
		for _, e := range s.MatchExpressions {
			read.labels[e.Key] = true
		}
	}
	peers := func(ps []networkingv1.NetworkPolicyPeer) {
		for _, p := range ps {
			keys(p.PodSelector)
		}
	}
	for _, o := range objs {
		switch v := o.obj.(type) {
		case *networkingv1.NetworkPolicy:
			keys(&v.Spec.PodSelector)
			for _, r := range v.Spec.Ingress {
				peers(r.From)
				for _, p := range r.Ports {
					named(p.Port)
				}
			}
			for _, r := range v.Spec.Egress {
				peers(r.To)
				for _, p := range r.Ports {
					named(p.Port)
				}
			}
		case *corev1.Service:
			for k := range v.Spec.Selector {
				read.labels[k] = true
			}
			for _, p := range v.Spec.Ports {
				named(&p.TargetPort)
			}
		case *peerAuthentication:
			if v.Spec.Selector != nil {
				for k := range v.Spec.Selector.MatchLabels {
					read.labels[k] = true
				}
			}
		case *authorizationPolicy:
			if v.Spec.Selector != nil {
				for k := range v.Spec.Selector.MatchLabels {
					read.labels[k] = true
				}
			}
		}
	}
	return read
}

// modelledApart reports whether the network model would see the Pods of
// deviating workload w otherwise than those of its owner's template t;
// added are the labels their controller adds to them (addedLabels).
func modelledApart(w, t *Workload, added []string, read *modelReads) bool {
	if w.HostNetwork != t.HostNetwork {
		return true
	}
	seen := func(k string) bool {
		return contains(added, k) || contains(meshLabels, k) && !read.labels[k]
	}
	for k, v := range w.Labels {
		if tv, ok := t.Labels[k]; (!ok || tv != v) && !seen(k) {
			return true
		}
	}
	for k := range t.Labels {
		if _, ok := w.Labels[k]; !ok && !seen(k) {
			return true
		}
	}
	// In order, not sorted: the first of a name is the one a Service
	// targets.
	ports := func(w *Workload) []Port {
		var out []Port
		for _, p := range w.Ports {
			if p.Name != "" && read.ports[p.Name] {
				out = append(out, Port{Name: p.Name, Port: p.Port, Protocol: p.Protocol})
			}
		}
		return out
	}
	return !slices.Equal(ports(w), ports(t))
}
