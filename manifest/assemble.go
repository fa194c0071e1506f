package manifest

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"reflect"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// memoryFile is the Source.File of objects given to FromObjects.
const memoryFile = "<memory>"

// FromObjects builds a Set from typed objects: pointers to corev1.Namespace,
// Pod, Service, ReplicationController, ServiceAccount and ConfigMap,
// appsv1.Deployment, StatefulSet, DaemonSet and ReplicaSet, batchv1.Job and
// CronJob, networkingv1.NetworkPolicy and Ingress, the rbacv1 roles and
// bindings, and this package's DeploymentConfig, KnativeService,
// KnativeConfiguration and Rollout. Object i gets the Source {"<memory>", i+1}.
// Objects without a namespace go to defaultNamespace ("" means "default");
// such objects are copied before the namespace is set, so the caller's
// values are never changed.
//
// Objects are checked like loaded ones (ValidatePolicy for policies): an
// invalid object, or one of another type, gives an *Error and is left out.
// The Set holds everything else; the error joins every *Error.
func FromObjects(defaultNamespace string, objs ...any) (*Set, error) {
	if defaultNamespace == "" {
		defaultNamespace = "default"
	}
	var errs []error
	in := make([]object, 0, len(objs))
	for i, o := range objs {
		src := Source{File: memoryFile, Line: i + 1}
		kind := kindOf(o)
		if kind == "" || reflect.ValueOf(o).IsNil() {
			errs = append(errs, &Error{File: src.File, Line: src.Line, Err: fmt.Errorf("manifest: unsupported object type %T: %w", o, ErrInvalid)})
			continue
		}
		if fes := checkObject(o); len(fes) > 0 {
			errs = append(errs, fieldErrors(src, objectName(kind, meta(o), defaultNamespace), fes, nil)...)
			continue
		}
		if !clusterScoped(kind) && meta(o).GetNamespace() == "" {
			o = shallowCopy(o)
		}
		in = append(in, object{obj: o, kind: kind, src: src})
	}
	s, aerrs := assemble(defaultNamespace, in, nil)
	s.KubernetesObjects = len(objs)
	errs = append(errs, aerrs...)
	return s, errors.Join(errs...)
}

// object is a decoded, checked object of a known kind on its way into a Set.
type object struct {
	obj   any
	kind  string
	src   Source
	lines Lines     // field lines: policies, and workloads with Options.FieldLines
	slim  *slimRef  // set for a Pod decoded slim: where to decode it whole
	print specPrint // of an owned Pod's spec, of a workload object's template
}

// fieldErrors turns FieldErrors of one object into *Errors, with the line of
// each field when lines has it.
func fieldErrors(src Source, name string, fes []FieldError, lines func(string) int) []error {
	errs := make([]error, 0, len(fes))
	for _, fe := range fes {
		line := src.Line
		if lines != nil {
			if l := lines(fe.Path); l > 0 {
				line = l
			}
		}
		errs = append(errs, &Error{File: src.File, Line: line, Object: name, Err: fe})
	}
	return errs
}

// objectName names an object in errors: "namespace/Kind/name", or
// "namespace/Kind" while it has no name.
func objectName(kind string, m metav1.Object, defaultNamespace string) string {
	ns := ""
	if !clusterScoped(kind) {
		ns = m.GetNamespace()
		if ns == "" {
			ns = defaultNamespace
		}
	}
	if m.GetName() == "" {
		if ns == "" {
			return kind
		}
		return ns + "/" + kind
	}
	return Ref{Kind: kind, Namespace: ns, Name: m.GetName()}.String()
}

// WithWorkloads returns a Set of the policies of s evaluated against the
// workloads of w: s's objects and, from w, the workloads (and their pods),
// Services and namespaces that s does not declare itself. w's policies
// are left out. This lets policy-only files be analysed against the
// workloads they are written for. s's Skipped, Unsupported and Warnings
// are kept.
func (s *Set) WithWorkloads(w *Set) *Set {
	objs := slices.Clone(s.objects)
	declared := make(map[Ref]bool, len(objs))
	for _, o := range objs {
		declared[objectRef(o)] = true
	}
	for _, o := range w.objects {
		switch o.obj.(type) {
		case *networkingv1.NetworkPolicy, *peerAuthentication, *authorizationPolicy:
			continue
		}
		if !declared[objectRef(o)] {
			objs = append(objs, o)
		}
	}
	m, _ := assemble("", objs, s.selectorKeys) // namespaces are set; no duplicates left
	m.Skipped, m.Unsupported, m.Warnings, m.KubernetesObjects = s.Skipped, s.Unsupported, s.Warnings, s.KubernetesObjects
	return m
}

// objectRef identifies an assembled object (its namespace is set).
func objectRef(o object) Ref {
	if clusterScoped(o.kind) {
		return Ref{Kind: o.kind, Name: meta(o.obj).GetName()}
	}
	m := meta(o.obj)
	return Ref{Kind: o.kind, Namespace: m.GetNamespace(), Name: m.GetName()}
}

// assemble builds the Set from checked objects in input order: it defaults
// namespaces, drops duplicates, folds owned objects into their top-most
// owner and creates the namespaces objects live in.
//
// selectorKeys are label keys that selectors outside objs read (ward.yaml's
// assertions, Options.SelectorKeys): a deviating Pod whose value of one
// differs from its template's is modelled apart, as for the input's own
// selectors.
func assemble(defaultNamespace string, objs []object, selectorKeys []string) (*Set, []error) {
	s := &Set{Objects: make([]Object, 0, len(objs)), objects: make([]object, 0, len(objs)), selectorKeys: selectorKeys}
	var errs []error
	seen := make(map[Ref]Source, len(objs))
	namespaces := make(map[string]*Namespace)
	var workloads []int            // indexes into objs
	var refRollouts []*object      // Rollouts with a workloadRef instead of a template
	at := make([]int32, len(objs)) // position in s.objects of each object kept
	for i := range objs {
		o := &objs[i]
		m := meta(o.obj)
		if !clusterScoped(o.kind) && m.GetNamespace() == "" {
			m.SetNamespace(defaultNamespace)
		}
		ref := Ref{Kind: o.kind, Namespace: m.GetNamespace(), Name: m.GetName()}
		if clusterScoped(o.kind) {
			ref.Namespace = ""
		}
		if first, dup := seen[ref]; dup {
			err := fmt.Errorf("%w: already defined at %s", ErrDuplicate, first)
			if first.File == o.src.File && (first.Line == o.src.Line || first.Line == 0 || o.src.Line == 0) {
				// One document read twice (the loader reads a file once):
				// as written and through a kustomize build, which gives
				// its file, and its line or none. Overlays of one base,
				// one of which only lists it.
				err = fmt.Errorf("%w: %s is read twice, as written and through a kustomize build (kustomizations that build on it, one of them only listing it?); give one of them", ErrDuplicate, first.File)
			}
			errs = append(errs, &Error{File: o.src.File, Line: o.src.Line, Object: ref.String(), Err: err})
			continue
		}
		seen[ref] = o.src
		at[i] = int32(len(s.objects)) // #nosec G115 -- objects counted from input, far below 2^31
		s.objects = append(s.objects, *o)
		obj := o.obj
		switch v := obj.(type) {
		case *peerAuthentication:
			obj = v.istio()
		case *authorizationPolicy:
			obj = v.istio()
		}
		s.Objects = append(s.Objects, Object{Obj: obj, Kind: o.kind, Source: o.src, Lines: o.lines})
		switch v := o.obj.(type) {
		case *corev1.Namespace:
			n := &Namespace{Name: v.Name, Labels: make(map[string]string, len(v.Labels)+1), Annotations: v.Annotations, Declared: true, Source: o.src}
			maps.Copy(n.Labels, v.Labels)
			n.Labels[MetadataNameLabel] = v.Name
			namespaces[v.Name] = n
			continue
		case *corev1.Service:
			s.Services = append(s.Services, &Service{Namespace: v.Namespace, Name: v.Name, Type: v.Spec.Type, Selector: v.Spec.Selector, Ports: v.Spec.Ports, Annotations: v.Annotations, Source: o.src})
		case *networkingv1.NetworkPolicy:
			s.Policies = append(s.Policies, &Policy{NetworkPolicy: v, Source: o.src, Lines: o.lines})
		case *peerAuthentication, *authorizationPolicy:
			// Kept in Objects, as istio types, for the mesh audit.
		case *corev1.ServiceAccount:
			// Kept in Objects, for the audit of service account tokens.
		case *corev1.ConfigMap:
			// Kept in Objects, for the audit of secrets in ConfigMaps.
		case *networkingv1.Ingress:
			// Kept in Objects, for the audit of Ingresses.
		case *rbacv1.ClusterRole, *rbacv1.ClusterRoleBinding:
			// Cluster-scoped; kept in Objects for the RBAC audit.
			continue
		case *rbacv1.Role, *rbacv1.RoleBinding:
			// Kept in Objects, for the RBAC audit.
		case *Rollout:
			if v.templateFromRef() {
				// Its pods run the referenced Deployment's template: that
				// Deployment models and audits them.
				refRollouts = append(refRollouts, o)
			} else {
				workloads = append(workloads, i)
			}
		default:
			workloads = append(workloads, i)
		}
		if _, ok := namespaces[ref.Namespace]; !ok {
			namespaces[ref.Namespace] = nil // referenced; created below unless declared later
		}
	}

	var whole []int // slim Pods decoded again whole
	s.Workloads, s.DeviatingPods, whole, errs = fold(objs, workloads, &s.PodIPsKnown, selectorKeys, errs)
	for _, i := range whole {
		o := objs[i]
		s.objects[at[i]] = o
		s.Objects[at[i]].Obj, s.Objects[at[i]].Lines = o.obj, o.lines
	}
	for _, o := range refRollouts {
		r := o.obj.(*Rollout)
		ref := r.Spec.WorkloadRef
		if _, ok := seen[Ref{Kind: ref.Kind, Namespace: r.Namespace, Name: ref.Name}]; ok && ref.Kind == "Deployment" {
			continue
		}
		s.Skipped = append(s.Skipped, Skipped{Source: o.src, Kind: o.kind, APIVersion: r.APIVersion, Namespace: r.Namespace, Name: r.Name,
			Reason: fmt.Sprintf("Rollout takes its pod template from %s %s (workloadRef), which the input does not hold: its pods are not audited or modelled", ref.Kind, ref.Name)})
	}

	for name, n := range namespaces {
		if n == nil {
			n = &Namespace{Name: name, Labels: map[string]string{MetadataNameLabel: name}}
		}
		s.Namespaces = append(s.Namespaces, n)
	}
	slices.SortFunc(s.Namespaces, func(a, b *Namespace) int { return strings.Compare(a.Name, b.Name) })
	byID := func(a, b *Workload) int {
		return cmp.Or(strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Name, b.Name), strings.Compare(a.Kind, b.Kind))
	}
	slices.SortFunc(s.Workloads, byID)
	slices.SortFunc(s.DeviatingPods, byID)
	slices.SortFunc(s.Services, func(a, b *Service) int {
		return cmp.Or(strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Name, b.Name))
	})
	slices.SortFunc(s.Policies, func(a, b *Policy) int {
		return cmp.Or(strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Name, b.Name))
	})
	return s, errs
}

// ownerKey identifies a possible owner: owner references name objects of
// the same namespace by kind and name.
type ownerKey struct{ namespace, kind, name string }

// fold turns the workload objects objs[idx...] into Workloads. An object
// whose owner chain leads to other workload objects in the input is not a
// workload of its own; a Pod among them becomes an instance of the top-most
// owner. An instance Pod whose spec is not that owner's template (see
// variants in deviation.go) is audited on its own: the first of each
// variant is among the Pods returned (deviants). A slim Pod (see slimRef) that is a
// workload of its own, or a deviant, is first decoded whole: it replaces
// objs[i], and i is in whole. Errors doing so are appended to errs. A
// variant that the network model would see otherwise than its owner's
// template (modelledApart) is a workload of its own too, with its Pods'
// IPs: it is among the Workloads returned as well as the deviants.
func fold(objs []object, idx []int, ipsKnown *bool, selectorKeys []string, errs []error) (_ []*Workload, deviants []*Workload, whole []int, _ []error) {
	owners := make(map[ownerKey]int) // position in idx of each possible owner
	for p, i := range idx {
		if objs[i].kind != "Pod" {
			m := meta(objs[i].obj)
			owners[ownerKey{m.GetNamespace(), objs[i].kind, m.GetName()}] = p
		}
	}
	owner := func(p int) int {
		o := &objs[idx[p]]
		m := meta(o.obj)
		ref, ok := controllerRef(m.GetOwnerReferences())
		if !ok {
			return -1
		}
		kind := ref.Kind
		if kind == "Service" && strings.HasPrefix(ref.APIVersion, "serving.knative.dev/") {
			kind = KnativeServiceKind
		}
		if q, ok := owners[ownerKey{m.GetNamespace(), kind, ref.Name}]; ok {
			uid := meta(objs[idx[q]].obj).GetUID()
			if ref.UID == "" || uid == "" || ref.UID == uid {
				return q
			}
			return -1
		}
		// kubectl dumps often leave out ReplicaSets: find the Deployment
		// or Argo Rollout the ReplicaSet name was derived from
		// ("<deployment>-<hash>"), or the OpenShift DeploymentConfig of a
		// ReplicationController ("<deploymentconfig>-<version>").
		var parents []string
		switch ref.Kind {
		case "ReplicaSet":
			parents = []string{"Deployment", "Rollout"}
		case "ReplicationController":
			parents = []string{"DeploymentConfig"}
		}
		if cut := strings.LastIndexByte(ref.Name, '-'); len(parents) > 0 && cut > 0 && cut < len(ref.Name)-1 {
			for _, kind := range parents {
				if q, ok := owners[ownerKey{m.GetNamespace(), kind, ref.Name[:cut]}]; ok {
					t, _ := podTemplate(o.obj)
					if selects(objs[idx[q]].obj, t.Labels) {
						return q
					}
				}
			}
		}
		return -1
	}

	// root[p] is the position of the top-most owner of idx[p] (itself when
	// it has none). Chains are followed iteratively; a cycle of owner
	// references is cut where it closes.
	const unknown = -1
	root := make([]int, len(idx))
	walk := make([]int, len(idx)) // walk number that last visited p
	for p := range root {
		root[p] = unknown
	}
	var path []int
	for start := range idx {
		if root[start] != unknown {
			continue
		}
		path = path[:0]
		r := -1
		for cur := start; ; {
			if root[cur] != unknown {
				r = root[cur]
				break
			}
			if walk[cur] == start+1 {
				r = cur
				break
			}
			walk[cur] = start + 1
			path = append(path, cur)
			next := owner(cur)
			if next < 0 {
				r = cur
				break
			}
			cur = next
		}
		for _, p := range path {
			root[p] = r
		}
	}

	for p, i := range idx {
		if root[p] == p && objs[i].slim != nil {
			whole = append(whole, i)
		}
	}
	vs := &variants{objs: objs, byKey: map[variantKey]*variant{}, templates: map[int]specPrint{}}
	var later [][2]int // Pods to compare once their owner is decoded whole
	for p, i := range idx {
		r := root[p]
		switch {
		case r == p:
		case objs[i].kind == "Pod" || running(objs[i].obj):
			// A ReplicaSet or Job that makes Pods, folded into its
			// owner, must have that owner's template too, else its
			// Pods (the dump may hold none yet) run another spec.
			if !vs.add(i, idx[r]) {
				later = append(later, [2]int{i, idx[r]})
			}
		}
	}
	for _, v := range vs.list {
		if objs[v.first].slim != nil {
			whole = append(whole, v.first)
		}
	}
	if len(whole) > 0 {
		errs = append(errs, wholePods(objs, whole)...)
	}
	if len(later) > 0 {
		// Rare: a slim owner (a ReplicaSet without its Deployment) whose
		// ServiceAccount tells whether its Pods' token volume is its own.
		n := len(vs.list)
		for _, l := range later {
			if objs[l[1]].slim == nil {
				vs.add(l[0], l[1])
			}
		}
		var again []int
		for _, v := range vs.list[n:] {
			if objs[v.first].slim != nil {
				again = append(again, v.first)
			}
		}
		if len(again) > 0 {
			errs = append(errs, wholePods(objs, again)...)
			whole = append(whole, again...)
		}
	}

	byPos := make(map[int]*Workload)
	byObj := make(map[int]*Workload) // the same, by index in objs
	var out []*Workload
	for p, i := range idx {
		if root[p] != p {
			continue
		}
		if objs[i].slim != nil {
			// Its file could not be read again (an error above): its pod
			// template is unknown, so it is no workload, and neither its
			// instances.
			continue
		}
		w := newWorkload(&objs[i])
		byPos[p] = w
		byObj[i] = w
		out = append(out, w)
	}
	apart := map[*variant]*Workload{} // the variants modelled as workloads of their own
	var read *modelReads
	if len(idx) > len(out) { // instances: the model may read their labels
		read = readByModel(objs, selectorKeys)
	}
	for _, v := range vs.list {
		o := &objs[v.first]
		if o.slim != nil || objs[v.owner].slim != nil {
			continue // not read again: an error above
		}
		w := newWorkload(o)
		m := meta(objs[v.owner].obj)
		w.Deviation = &Deviation{Owner: m.GetNamespace() + "/" + objs[v.owner].kind + "/" + m.GetName(), OwnerSource: objs[v.owner].src, Pods: v.pods}
		deviants = append(deviants, w)
		if read == nil {
			read = readByModel(objs, selectorKeys)
		}
		if t := byObj[v.owner]; t != nil && modelledApart(w, t, addedLabels(o.obj), read) {
			w.Deviation.Modelled = true
			apart[v] = w
			out = append(out, w)
		}
	}
	// The labels its controller adds to a Pod (addedLabels) are not its
	// template's, nor in its print: when a selector reads one (a Service
	// Argo Rollouts points at one revision by rollouts-pod-template-hash,
	// a StatefulSet Pod's own Service by pod-name), the Pods that have it
	// are a workload of their own too, one per owner, variant and values
	// of those labels, with their labels and the ports of what models
	// them (the template, or their variant modelled apart).
	var ctlRead []string
	if read != nil {
		for _, ks := range controllerLabels {
			for _, k := range ks {
				if read.labels[k] && !slices.Contains(ctlRead, k) {
					ctlRead = append(ctlRead, k)
				}
			}
		}
		slices.Sort(ctlRead)
	}
	type splitKey struct {
		owner  int
		v      *variant
		values string
	}
	split := map[splitKey]*Workload{}
	for p, i := range idx {
		w := byPos[root[p]]
		pod, isPod := objs[i].obj.(*corev1.Pod)
		if !isPod || w == nil {
			continue
		}
		v := vs.of[i]
		if v != nil && apart[v] == nil {
			v = nil // modelled as its owner's template, as a Pod of it is
		}
		if v != nil {
			w = apart[v]
		}
		if root[p] != p && (v == nil || i != v.first) {
			// The values of the read labels its controller added, beside
			// those of the workload that models it: a deviating Pod
			// modelled apart is modelled with the first of its variant's.
			added := addedLabels(pod)
			k := splitValues(pod.Labels, added, ctlRead)
			model := splitValues(w.Labels, added, ctlRead)
			switch key := (splitKey{root[p], vs.of[i], k}); {
			case k == model:
				w.Instances++
			case split[key] != nil:
				w = split[key]
				w.Instances++
			default:
				sw := newWorkload(&objs[i])
				sw.Ports = w.Ports // a slim Pod's containers keep only their ports, not what makes a sidecar
				// Those of what models it (its owner's for a Pod of the
				// template): what is suppressed on that is on it.
				sw.Annotations = w.Annotations
				m := meta(objs[idx[root[p]]].obj)
				sw.Deviation = &Deviation{Owner: m.GetNamespace() + "/" + objs[idx[root[p]]].kind + "/" + m.GetName(), OwnerSource: objs[idx[root[p]]].src, Modelled: true, Split: true}
				split[key] = sw
				out = append(out, sw)
				w = sw
			}
		}
		if addPodIPs(w, pod) {
			*ipsKnown = true
		}
	}
	for _, w := range out {
		if len(w.IPs) > 1 {
			slices.SortFunc(w.IPs, netip.Addr.Compare)
			w.IPs = slices.Compact(w.IPs)
		}
	}
	return out, deviants, whole, errs
}

// splitValues returns the values in labels of the keys (sorted) that are
// among added, a Pod's controller's labels (addedLabels), as one string,
// "" for none.
func splitValues(labels map[string]string, added, keys []string) string {
	var b strings.Builder
	for _, k := range keys {
		if v, ok := labels[k]; ok && slices.Contains(added, k) {
			b.WriteString(k + "=" + v + "\x00")
		}
	}
	return b.String()
}

// controllerRef returns the controller owner reference, or else the first.
func controllerRef(refs []metav1.OwnerReference) (metav1.OwnerReference, bool) {
	for _, r := range refs {
		if r.Controller != nil && *r.Controller {
			return r, true
		}
	}
	if len(refs) > 0 {
		return refs[0], true
	}
	return metav1.OwnerReference{}, false
}

// selects reports whether the selector of a Deployment, Rollout or
// DeploymentConfig matches pod labels. One without selector (older
// apiVersions of Deployment; DeploymentConfig) selects its template's
// labels.
func selects(owner any, podLabels map[string]string) bool {
	var sel *metav1.LabelSelector
	switch d := owner.(type) {
	case *appsv1.Deployment:
		sel = d.Spec.Selector
	case *Rollout:
		sel = d.Spec.Selector
	case *DeploymentConfig:
		if len(d.Spec.Selector) > 0 {
			sel = &metav1.LabelSelector{MatchLabels: d.Spec.Selector}
		}
	default:
		return false
	}
	if sel == nil {
		t, _ := podTemplate(owner)
		sel = &metav1.LabelSelector{MatchLabels: t.Labels}
	}
	if len(sel.MatchLabels)+len(sel.MatchExpressions) == 0 {
		return false
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	return err == nil && s.Matches(labels.Set(podLabels))
}

// newWorkload makes the Workload of a workload object.
func newWorkload(o *object) *Workload {
	m := meta(o.obj)
	t, specPath := podTemplate(o.obj)
	switch v := o.obj.(type) {
	case *KnativeService:
		t = knativeTemplate(t, v.Name, true)
	case *KnativeConfiguration:
		t = knativeTemplate(t, v.Name, false)
	}
	w := &Workload{
		Namespace:    m.GetNamespace(),
		Name:         m.GetName(),
		Kind:         o.kind,
		Labels:       t.Labels,
		Annotations:  m.GetAnnotations(),
		Template:     t,
		HostNetwork:  t.Spec.HostNetwork,
		Source:       o.src,
		Lines:        o.lines,
		templatePath: strings.TrimSuffix(strings.TrimSuffix(specPath, "spec"), "."),
	}
	// The ports of native sidecars (init containers that restart Always)
	// too, after the containers': they run beside them and serve
	// traffic, and a Service's named targetPort is looked up in them
	// last (FindPort).
	containers := t.Spec.Containers
	for _, c := range t.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			containers = append(slices.Clip(containers), c)
		}
	}
	for _, c := range containers {
		for _, p := range c.Ports {
			proto := p.Protocol
			if proto == "" {
				proto = corev1.ProtocolTCP
			}
			if p.ContainerPort < 1 || p.ContainerPort > 65535 || !validProtocol(proto) {
				continue // an input error reported; kept for the audit only
			}
			w.Ports = append(w.Ports, Port{Name: p.Name, Port: p.ContainerPort, Protocol: proto, Container: c.Name})
		}
	}
	return w
}

// addPodIPs adds the IPs in a Pod's status to w and reports whether the
// Pod had any.
func addPodIPs(w *Workload, pod *corev1.Pod) bool {
	found := false
	add := func(s string) {
		if a, err := netip.ParseAddr(s); err == nil {
			w.IPs = append(w.IPs, a.Unmap())
			found = true
		}
	}
	if pod.Status.PodIP != "" {
		add(pod.Status.PodIP)
	}
	for _, ip := range pod.Status.PodIPs {
		add(ip.IP)
	}
	return found
}
