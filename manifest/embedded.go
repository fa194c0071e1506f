package manifest

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	sigsjson "sigs.k8s.io/json"
)

// podSpecAt is a pod spec findPodSpecs found in a custom resource.
type podSpecAt struct {
	path string
	// node is the pod spec mapping, or the container mapping when
	// container is set (an Argo-style container or script).
	node      *yaml.Node
	container bool
	// argo is set for a container or script of an Argo template, whose
	// init containers and sidecars are in its pod.
	argo bool
	// list is set when node is a list of containers under another name
	// (Tekton's steps and sidecars): the containers of a pod spec.
	list bool
	// above are the mappings and sequences that hold node, outermost
	// first (the custom resource itself first).
	above []pathNode
}

// pathNode is a node with its field path.
type pathNode struct {
	node *yaml.Node
	path string
}

// PodSpecError is a pod spec of a custom resource (Skipped.PodSpecs) that
// does not decode as a Kubernetes pod spec: it is not audited.
type PodSpecError struct {
	// Path is as in Skipped.PodSpecs; "" when Ward stopped searching
	// the custom resource for pod specs (too deep, too large): the rest
	// of it is not audited.
	Path string
	Line int // of the field at fault, else of the pod spec
	Err  string
}

// podLevelFields are the pod spec fields that Argo Workflows takes from an
// Argo template, else from the workflow spec, for the pod it runs a
// template's container or script in: the container alone says nothing of
// them. Volumes of both are in the pod.
var podLevelFields = []string{"securityContext", "serviceAccountName", "automountServiceAccountToken", "hostNetwork", "hostPID", "hostIPC", "volumes"}

// embedding maps the paths of the pod template of a Workload of
// Skipped.Pods (as TemplateLine reads them: "spec.containers[0].image") to
// the custom resource's.
type embedding struct {
	path string // of the pod spec, or of the container
	meta string // of the pod template's metadata; "" when none
	// For a pod spec Ward puts together (Argo's container or script,
	// Tekton's steps): the custom resource's path of each pod spec
	// field taken from around it (podLevelFields), the runs of
	// containers and volumes, in the order of the pod spec's, and the
	// path of the list of init containers.
	synthetic      bool
	fields         map[string]string
	containers     []run
	volumes        []run
	initContainers string
}

// run is n items of a list of the pod spec: the items of the list at path
// in the custom resource, or, when single, the mapping at path.
type run struct {
	path   string
	n      int
	single bool
}

// find returns the custom resource's path of item i of the list that runs
// make up, followed by tail; "" when there is no such item.
func find(runs []run, i int, tail string) string {
	for _, r := range runs {
		if i < r.n {
			if r.single {
				return r.path + tail
			}
			return r.path + "[" + strconv.Itoa(i) + "]" + tail
		}
		i -= r.n
	}
	return ""
}

// crPath returns the path in the custom resource of path, a path of the
// pod template; the pod spec's own path when the field has no place there.
func (e *embedding) crPath(path string) string {
	rest, ok := strings.CutPrefix(path, "spec")
	if !ok || (rest != "" && rest[0] != '.' && rest[0] != '[') {
		if m, ok := strings.CutPrefix(path, "metadata"); ok && e.meta != "" && (m == "" || m[0] == '.') {
			return e.meta + m
		}
		return e.path
	}
	if !e.synthetic {
		return e.path + rest
	}
	rest = strings.TrimPrefix(rest, ".")
	key := rest
	if i := strings.IndexAny(rest, ".["); i >= 0 {
		key = rest[:i]
	}
	if i, tail, ok := index(rest, "containers"); ok {
		return cmp.Or(find(e.containers, i, tail), e.path)
	}
	if key == "initContainers" && e.initContainers != "" {
		return e.initContainers + rest[len(key):]
	}
	if i, tail, ok := index(rest, "volumes"); ok {
		if p := find(e.volumes, i, tail); p != "" {
			return p
		}
	}
	if key == "volumes" && len(e.volumes) > 0 {
		return e.volumes[0].path
	}
	if p, ok := e.fields[key]; ok {
		return p + rest[len(key):]
	}
	return e.path
}

// index parses path as list[i] and what follows.
func index(path, list string) (i int, tail string, ok bool) {
	r, ok := strings.CutPrefix(path, list+"[")
	if !ok {
		return 0, "", false
	}
	end := strings.IndexByte(r, ']')
	if end <= 0 {
		return 0, "", false
	}
	i, err := strconv.Atoi(r[:end])
	if err != nil || i < 0 {
		return 0, "", false
	}
	return i, r[end+1:], true
}

// joinPath appends field key to path.
func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// embeddedPods finds the pod specs of custom resource n (Skipped.PodSpecs)
// and decodes each for the audits (Skipped.Pods), or says why not
// (Skipped.PodSpecErrors).
func (d *decoder) embeddedPods(n *yaml.Node, base int, sk *Skipped) {
	found, cut := findPodSpecs(n)
	if len(found) == 0 && !cut {
		return
	}
	md := mapGet(n, "metadata")
	var annotations map[string]string
	if a := mapGet(md, "annotations"); a != nil && a.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(a.Content); i += 2 {
			if k, v := a.Content[i], a.Content[i+1]; k.Kind == yaml.ScalarNode && v.Kind == yaml.ScalarNode {
				if annotations == nil {
					annotations = map[string]string{}
				}
				annotations[strings.Clone(k.Value)] = strings.Clone(v.Value)
			}
		}
	}
	var lines Lines
	if d.fieldLines {
		lines = d.lines.fieldLines(n, base, false)
	}
	for _, at := range found {
		sk.PodSpecs = append(sk.PodSpecs, strings.Clone(at.path))
		tmpl, e, perr := d.decodePodSpec(at, base)
		if perr != nil {
			sk.PodSpecErrors = append(sk.PodSpecErrors, *perr)
			continue
		}
		sk.Pods = append(sk.Pods, &Workload{
			Namespace: cmp.Or(sk.Namespace, d.defaultNamespace), Name: sk.Name, Kind: RefKind(sk.APIVersion, sk.Kind),
			Labels: tmpl.Labels, Template: tmpl, Source: sk.Source, Annotations: annotations,
			Lines: lines, Embedded: e.path, embed: e,
		})
	}
	if cut {
		// Never a silent pass: what was not searched may hold pod specs.
		sk.PodSpecErrors = append(sk.PodSpecErrors, PodSpecError{Line: sk.Source.Line,
			Err: fmt.Sprintf("Ward searches custom resources for pod specs down to %d levels and %d nodes, and stopped there: the rest of it is not searched", maxPodSpecDepth, maxPodSpecNodes)})
	}
	sk.Reason = fmt.Sprintf("%s %s is not modeled", sk.APIVersion, sk.Kind)
	if len(sk.Pods) > 0 {
		sk.Reason += "; the pod specs it carries are audited, but left out of the network model"
	}
	if n := len(sk.PodSpecs) - len(sk.Pods); n > 0 {
		sk.Reason += fmt.Sprintf("; %d of the pod specs it carries do not decode and are not audited", n)
	}
	if cut {
		sk.Reason += "; it was not searched whole for pod specs"
	}
}

// decodePodSpec decodes the pod spec at as the pod template of a Workload.
func (d *decoder) decodePodSpec(at podSpecAt, base int) (*corev1.PodTemplateSpec, *embedding, *PodSpecError) {
	e := &embedding{path: strings.Clone(at.path), synthetic: at.container || at.list}
	spec := at.node
	var meta *yaml.Node
	if at.list {
		spec = e.listPod(at)
	} else if at.container {
		spec = e.around(at)
		// An Argo template's metadata is its pod's.
		if k := len(at.above); k > 0 {
			if m := mapGet(at.above[k-1].node, "metadata"); m != nil {
				meta = m
				e.meta = joinPath(at.above[k-1].path, "metadata")
			}
		}
	} else if len(at.above) > 0 && strings.HasSuffix(at.path, ".spec") {
		// The pod template around: its labels and annotations.
		if m := mapGet(at.above[len(at.above)-1].node, "metadata"); m != nil {
			meta = m
			e.meta = strings.TrimSuffix(e.path, "spec") + "metadata"
		}
	}
	fail := func(line int, format string, args ...any) (*corev1.PodTemplateSpec, *embedding, *PodSpecError) {
		if line <= base {
			line = at.node.Line + base
		}
		return nil, nil, &PodSpecError{Path: e.path, Line: line, Err: fmt.Sprintf(format, args...)}
	}
	var t corev1.PodTemplateSpec
	decode := func(n *yaml.Node, into any, prefix string) (*corev1.PodTemplateSpec, *embedding, *PodSpecError) {
		d.buf = d.buf[:0]
		if ne := d.appendJSON(n, false); ne != nil {
			return fail(ne.node.Line+base, "%s", ne.message(base))
		}
		if err := sigsjson.UnmarshalCaseSensitivePreserveInts(d.buf, into); err != nil {
			if bad := typeCheck(n, into); bad != nil {
				return fail(bad.node.Line+base, "%s: %s", e.crPath(joinPath(prefix, bad.path)), bad.msg)
			}
			return fail(0, "%v", err)
		}
		return nil, nil, nil
	}
	if _, _, perr := decode(spec, &t.Spec, "spec"); perr != nil {
		return nil, nil, perr
	}
	if at.container && len(t.Spec.Containers) > 0 && t.Spec.Containers[0].Name == "" {
		t.Spec.Containers[0].Name = "main" // as Argo names it
	}
	if meta != nil && meta.Kind == yaml.MappingNode {
		var m metav1.ObjectMeta
		if _, _, perr := decode(meta, &m, "metadata"); perr != nil {
			return nil, nil, perr
		}
		t.Labels, t.Annotations = m.Labels, m.Annotations
	}
	if cap(d.buf) > 1<<20 {
		d.buf = nil
	}
	return &t, e, nil
}

// around returns the pod spec Argo Workflows runs the container or script
// at in: the container, without a script's source, and the
// podLevelFields of the Argo template that holds it, else of the workflow
// spec that lists that template. It records where they come from in e.
func (e *embedding) around(at podSpecAt) *yaml.Node {
	c := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: at.node.Line, Column: at.node.Column}
	// The mapping taken for the container may hold pod fields that a
	// container does not have (a Prometheus' spec: hostNetwork and
	// volumes beside its image and securityContext): they are its pod's,
	// before those from around it. Its securityContext is the container's.
	own := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: at.node.Line, Column: at.node.Column}
	for i := 0; i+1 < len(at.node.Content); i += 2 {
		switch k := at.node.Content[i].Value; {
		case k == "source":
		case k != "securityContext" && slices.Contains(podLevelFields, k):
			own.Content = append(own.Content, at.node.Content[i], at.node.Content[i+1])
		default:
			c.Content = append(c.Content, at.node.Content[i], at.node.Content[i+1])
		}
	}
	spec := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: at.node.Line, Column: at.node.Column,
		Content: []*yaml.Node{keyNode("containers"), {Kind: yaml.SequenceNode, Tag: "!!seq", Line: at.node.Line, Content: []*yaml.Node{c}}}}
	e.containers = []run{{e.path, 1, true}}
	var holders []pathNode // the container's own, the Argo template, then the workflow spec
	if len(own.Content) > 0 {
		holders = append(holders, pathNode{own, e.path})
	}
	if k := len(at.above); k >= 1 && at.above[k-1].node.Kind == yaml.MappingNode {
		t := at.above[k-1]
		holders = append(holders, t)
		// The template's sidecars run next to its container, its init
		// containers before.
		if s := mapGet(t.node, "sidecars"); at.argo && s != nil && s.Kind == yaml.SequenceNode {
			list := spec.Content[1]
			list.Content = append(list.Content, s.Content...)
			e.containers = append(e.containers, run{joinPath(t.path, "sidecars"), len(s.Content), false})
		}
		if s := mapGet(t.node, "initContainers"); at.argo && s != nil {
			spec.Content = append(spec.Content, keyNode("initContainers"), s)
			e.initContainers = joinPath(t.path, "initContainers")
		}
		if k >= 3 && at.above[k-2].node.Kind == yaml.SequenceNode && at.above[k-3].node.Kind == yaml.MappingNode {
			holders = append(holders, at.above[k-3])
		}
	}
	e.podLevel(spec, holders)
	return spec
}

// podLevel adds to spec the podLevelFields of holders, the first that has
// each, and the volumes of all, the last's first.
func (e *embedding) podLevel(spec *yaml.Node, holders []pathNode) {
	e.fields = map[string]string{}
	var vols *yaml.Node
	for _, f := range podLevelFields {
		for _, h := range holders {
			v := mapGet(h.node, f)
			if v == nil {
				continue
			}
			if f == "volumes" && v.Kind == yaml.SequenceNode {
				// Both lists are the pod's: the workflow's first.
				if vols == nil {
					vols = &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Line: v.Line}
					spec.Content = append(spec.Content, keyNode(f), vols)
				}
				vols.Content = append(append([]*yaml.Node(nil), v.Content...), vols.Content...)
				e.volumes = append([]run{{joinPath(h.path, f), len(v.Content), false}}, e.volumes...)
				continue
			}
			if _, ok := e.fields[f]; ok || (f == "volumes" && vols != nil) {
				continue // the template's wins
			}
			e.fields[f] = joinPath(h.path, f)
			spec.Content = append(spec.Content, keyNode(f), v)
		}
	}
}

// keyNode returns a mapping key.
func keyNode(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

// listPod returns the pod spec of a list of containers under another name
// (Tekton's steps or sidecars), with the podLevelFields of the mapping
// that holds it. It records where they come from in e.
func (e *embedding) listPod(at podSpecAt) *yaml.Node {
	list := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Line: at.node.Line, Content: at.node.Content}
	spec := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: at.node.Line, Column: at.node.Column, Content: []*yaml.Node{keyNode("containers"), list}}
	e.containers = []run{{e.path, len(at.node.Content), false}}
	var holders []pathNode
	if k := len(at.above); k >= 1 && at.above[k-1].node.Kind == yaml.MappingNode {
		holders = append(holders, at.above[k-1])
	}
	e.podLevel(spec, holders)
	return spec
}

// keepSkipped returns the skipped documents of f to report: the first
// MaxErrorsPerFile, and every document that is audited whatever their
// number: the custom resources and PodTemplates that carry pod specs
// (Skipped.Pods) and the hostPath PersistentVolumes (Skipped.HostPath).
// It counts the others in f.skips. The kept documents are bounded by the
// size of the input.
func (f *loadedFile) keepSkipped(skipped []Skipped) []Skipped {
	var kept []Skipped
	for _, s := range skipped {
		if len(s.PodSpecs)+len(s.PodSpecErrors) > 0 || s.HostPath != "" {
			kept = append(kept, s)
			continue
		}
		if f.skips < MaxErrorsPerFile {
			kept = append(kept, s)
		}
		f.skips++
	}
	return kept
}
