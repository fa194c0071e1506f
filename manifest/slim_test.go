package manifest_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/wardsec/ward/internal/synth"
	"github.com/wardsec/ward/lint"
	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/netpol"
	"github.com/wardsec/ward/podsec"
)

// TestSlimDifferential loads cluster dumps with owned Pods and ReplicaSets
// decoded slim (the default) and with every object decoded whole, and
// checks that both give the same Set (workloads, services, policies,
// namespaces, errors, skipped objects), the same objects (slim ones equal
// to the whole ones with the fields a slim decode drops left out) and the
// same findings (lint on the compiled engine, and the pod security
// audit). The dumps: generated ones with and without the fields real
// dumps carry, as JSON Lists, with their owners left out (every Pod, or
// the ReplicaSets, becomes or finds a workload through another way), and
// with Pods rewritten: fields in other orders, flow style, comments,
// anchors and aliases, wrong types, invalid ports and IPs, duplicate
// keys, unknown fields, host network, owners with another uid, Pods in a
// List.
func TestSlimDifferential(t *testing.T) {
	gen := func(bare bool, format synth.Format) []synth.File {
		c, err := synth.Generate(synth.Config{Seed: 7, Pods: 600, Policies: 150, Dump: true, Bare: bare, Format: format, ObjectsPerFile: 200})
		if err != nil {
			t.Fatal(err)
		}
		return c.Files
	}
	realistic, bare := gen(false, synth.YAML), gen(true, synth.YAML)
	cases := []struct {
		name  string
		files []synth.File
	}{
		{"realistic", realistic},
		{"bare", bare},
		{"json", gen(false, synth.JSON)},
		{"pods only", keepDocs(t, realistic, func(kind string) bool { return kind == "Pod" || kind == "Namespace" })},
		{"no ReplicaSets", keepDocs(t, realistic, func(kind string) bool { return kind != "ReplicaSet" })},
		{"no Deployments", keepDocs(t, bare, func(kind string) bool { return kind != "Deployment" })},
		{"rewritten pods", rewritePods(t, realistic)},
		{"rewritten pods, bare", rewritePods(t, bare)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, f.Name), f.Data, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			load := func(slim bool) (*manifest.Set, string) {
				defer manifest.SetSlimDecode(manifest.SetSlimDecode(slim))
				set, err := manifest.Load(manifest.Options{FieldLines: true}, dir)
				msg := ""
				if err != nil {
					msg = err.Error()
				}
				return set, msg
			}
			slim, slimErr := load(true)
			whole, wholeErr := load(false)
			if slimErr != wholeErr {
				t.Fatalf("errors differ:\nslim:  %s\nwhole: %s", slimErr, wholeErr)
			}
			compareSets(t, slim, whole)
			if t.Failed() {
				return
			}
			if slimFindings, wholeFindings := findings(t, slim), findings(t, whole); !reflect.DeepEqual(slimFindings, wholeFindings) {
				t.Errorf("findings differ: %d slim, %d whole", len(slimFindings), len(wholeFindings))
			}
			n := 0
			for _, s := range manifest.SlimObjects(slim) {
				if s {
					n++
				}
			}
			t.Logf("%d objects, %d slim, %d workloads; errors: %.200s", len(slim.Objects), n, len(slim.Workloads), slimErr)
			if tc.name == "realistic" && n < 600 {
				t.Errorf("only %d objects decoded slim", n)
			}
		})
	}
}

func findings(t *testing.T, set *manifest.Set) []string {
	t.Helper()
	eng, err := netpol.Compile(set)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range lint.Run(set, eng) {
		out = append(out, fmt.Sprintf("%+v", f))
	}
	fs, err := podsec.Audit(set, podsec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		out = append(out, fmt.Sprintf("%+v", f))
	}
	return out
}

// compareSets checks that a Set loaded with slim decoding equals the one
// loaded without.
func compareSets(t *testing.T, slim, whole *manifest.Set) {
	t.Helper()
	for _, c := range []struct {
		what string
		a, b any
	}{
		{"workloads", slim.Workloads, whole.Workloads},
		{"services", slim.Services, whole.Services},
		{"policies", slim.Policies, whole.Policies},
		{"namespaces", slim.Namespaces, whole.Namespaces},
		{"skipped", slim.Skipped, whole.Skipped},
		{"unsupported", slim.Unsupported, whole.Unsupported},
		{"pod IPs known", slim.PodIPsKnown, whole.PodIPsKnown},
		{"objects seen", slim.KubernetesObjects, whole.KubernetesObjects},
	} {
		if !reflect.DeepEqual(c.a, c.b) {
			t.Errorf("%s differ", c.what)
		}
	}
	if len(slim.Objects) != len(whole.Objects) {
		t.Fatalf("%d objects slim, %d whole", len(slim.Objects), len(whole.Objects))
	}
	isSlim := manifest.SlimObjects(slim)
	for i, o := range slim.Objects {
		w := whole.Objects[i]
		if !isSlim[i] {
			if !reflect.DeepEqual(o, w) {
				t.Errorf("object %d (%s at %s) differs", i, o.Kind, o.Source)
			}
			continue
		}
		if o.Kind != w.Kind || o.Source != w.Source || o.Lines.Len() != 0 {
			t.Errorf("slim object %d (%s at %s): kind, source or lines differ", i, o.Kind, o.Source)
			continue
		}
		if want := reduce(w.Obj); !reflect.DeepEqual(o.Obj, want) {
			t.Errorf("slim object %d (%s at %s) differs from the whole one reduced:\n%+v\n%+v", i, o.Kind, o.Source, o.Obj, want)
		}
	}
}

// reduce returns a copy of a whole Pod or ReplicaSet with only what a
// slim decode keeps, written independently of it.
func reduce(obj any) any {
	spec := func(s corev1.PodSpec) corev1.PodSpec {
		out := corev1.PodSpec{HostNetwork: s.HostNetwork, NodeName: s.NodeName}
		cs := func(in []corev1.Container) []corev1.Container {
			if in == nil {
				return nil
			}
			out := make([]corev1.Container, len(in))
			for i, c := range in {
				out[i] = corev1.Container{Name: c.Name, Ports: c.Ports}
			}
			return out
		}
		out.Containers, out.InitContainers = cs(s.Containers), cs(s.InitContainers)
		return out
	}
	switch o := obj.(type) {
	case *corev1.Pod:
		return &corev1.Pod{TypeMeta: o.TypeMeta, ObjectMeta: o.ObjectMeta, Spec: spec(o.Spec), Status: corev1.PodStatus{
			Phase: o.Status.Phase, HostIP: o.Status.HostIP, HostIPs: o.Status.HostIPs, PodIP: o.Status.PodIP, PodIPs: o.Status.PodIPs,
			StartTime: o.Status.StartTime, ContainerStatuses: o.Status.ContainerStatuses}}
	case *appsv1.ReplicaSet:
		c := *o
		c.Spec.Template.Spec = spec(o.Spec.Template.Spec)
		return &c
	}
	return obj
}

// keepDocs returns files with only the YAML documents (or JSON List
// items) of the kinds keep accepts.
func keepDocs(t *testing.T, files []synth.File, keep func(kind string) bool) []synth.File {
	t.Helper()
	var out []synth.File
	for _, f := range files {
		var kept [][]byte
		for _, doc := range bytes.Split(f.Data, []byte("\n---\n")) {
			var head struct{ Kind string }
			if err := yaml.Unmarshal(doc, &head); err != nil {
				t.Fatal(err)
			}
			if keep(head.Kind) {
				kept = append(kept, doc)
			}
		}
		out = append(out, synth.File{Name: f.Name, Data: bytes.Join(kept, []byte("\n---\n"))})
	}
	return out
}

// rewritePods rewrites one Pod in three of files with the next of a list
// of changes, through yaml.v3 nodes, and appends a List of Pods to the
// last file.
func rewritePods(t *testing.T, files []synth.File) []synth.File {
	t.Helper()
	changes := []func(pod *yaml.Node){
		func(pod *yaml.Node) { // status, spec, then metadata
			c := pod.Content
			var out []*yaml.Node
			for _, key := range []string{"status", "spec", "kind", "metadata", "apiVersion"} {
				for i := 0; i+1 < len(c); i += 2 {
					if c[i].Value == key {
						out = append(out, c[i], c[i+1])
					}
				}
			}
			pod.Content = out
		},
		func(pod *yaml.Node) { setStyle(get(pod, "spec"), yaml.FlowStyle) },
		func(pod *yaml.Node) { setStyle(pod, yaml.FlowStyle) },
		func(pod *yaml.Node) {
			pod.HeadComment = "a pod"
			get(pod, "spec").LineComment = "its spec"
			get(pod, "metadata").FootComment = "end of metadata"
		},
		func(pod *yaml.Node) { // an anchor and an alias: parsed by yaml.v3
			labels := get(get(pod, "metadata"), "labels")
			if labels == nil {
				return
			}
			labels.Anchor = "l"
			set(get(pod, "spec"), "nodeSelector", &yaml.Node{Kind: yaml.AliasNode, Value: "l", Alias: labels})
		},
		func(pod *yaml.Node) { set(port(pod), "containerPort", str("http")) },
		func(pod *yaml.Node) {
			set(port(pod), "containerPort", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: "70000"})
		},
		func(pod *yaml.Node) { set(port(pod), "name", str("NOT_A_NAME")) },
		func(pod *yaml.Node) { set(get(pod, "status"), "podIP", str("999.1.1.1")) },
		func(pod *yaml.Node) { set(get(pod, "spec"), "containers", str("none")) },
		func(pod *yaml.Node) { // a duplicate key
			s := get(pod, "spec")
			s.Content = append(s.Content, str("dnsPolicy"), str("Default"))
		},
		func(pod *yaml.Node) {
			set(get(pod, "spec"), "extraField", &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{
				str("a"), {Kind: yaml.SequenceNode, Content: []*yaml.Node{{Kind: yaml.ScalarNode, Tag: "!!int", Value: "1"}, str("b")}}}})
		},
		func(pod *yaml.Node) {
			set(get(pod, "spec"), "hostNetwork", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "true"})
		},
		func(pod *yaml.Node) { set(get(pod, "spec"), "hostNetwork", str("yes")) },
		func(pod *yaml.Node) { // an owner of another uid: a workload of its own
			for _, r := range get(get(pod, "metadata"), "ownerReferences").Content {
				set(r, "uid", str("00000000-0000-0000-0000-000000000000"))
			}
		},
		func(pod *yaml.Node) { // a quantity as a mapping: a wrong type found by UnmarshalJSON
			c := get(get(pod, "spec"), "containers").Content[0]
			set(c, "resources", &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{str("limits"),
				{Kind: yaml.MappingNode, Content: []*yaml.Node{str("cpu"), {Kind: yaml.MappingNode, Content: []*yaml.Node{str("a"), str("b")}}}}}})
		},
		func(pod *yaml.Node) { set(get(get(pod, "spec"), "containers").Content[0], "resources", str("lots")) },
		func(pod *yaml.Node) {
			set(get(pod, "metadata"), "name", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"})
		},
		func(pod *yaml.Node) { set(get(pod, "metadata"), "creationTimestamp", str("yesterday")) },
		func(pod *yaml.Node) {
			set(get(pod, "spec"), "priority", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: "1e3"})
		},
		func(pod *yaml.Node) {
			set(get(pod, "spec"), "priority", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: "1.5"})
		},
		func(pod *yaml.Node) {
			set(get(pod, "spec"), "nodeName", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "~"})
		},
		func(pod *yaml.Node) {
			set(get(pod, "spec"), "nodeName", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: "5"})
		},
		func(pod *yaml.Node) {
			set(get(pod, "spec"), "dnsPolicy", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: "5"})
		},
		func(pod *yaml.Node) {
			set(get(pod, "status"), "qosClass", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "false"})
		},
		func(pod *yaml.Node) {
			set(get(get(pod, "metadata"), "labels"), "extra", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "true"})
		},
		func(pod *yaml.Node) {
			set(get(get(pod, "metadata"), "ownerReferences").Content[0], "controller", str("yes"))
		},
	}
	out := make([]synth.File, len(files))
	next, seen := 0, 0
	var listed []*yaml.Node
	for fi, f := range files {
		docs := bytes.Split(f.Data, []byte("\n---\n"))
		for di, doc := range docs {
			var n yaml.Node
			if err := yaml.Unmarshal(doc, &n); err != nil {
				t.Fatal(err)
			}
			root := n.Content[0]
			if scalarOf(get(root, "kind")) != "Pod" || get(get(root, "metadata"), "ownerReferences") == nil {
				continue
			}
			seen++
			if seen%3 == 0 && len(listed) < 6 && next >= len(changes) {
				listed = append(listed, root)
				docs[di] = nil
				continue
			}
			if seen%3 != 1 {
				continue
			}
			changes[next%len(changes)](root)
			next++
			text, err := yaml.Marshal(&n)
			if err != nil {
				t.Fatal(err)
			}
			docs[di] = bytes.TrimSuffix(text, []byte("\n"))
		}
		var kept [][]byte
		for _, d := range docs {
			if d != nil {
				kept = append(kept, d)
			}
		}
		out[fi] = synth.File{Name: f.Name, Data: bytes.Join(kept, []byte("\n---\n"))}
	}
	if next < len(changes) {
		t.Fatalf("only %d Pods rewritten, want at least %d", next, len(changes))
	}
	list := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{str("apiVersion"), str("v1"), str("kind"), str("List"),
		str("items"), {Kind: yaml.SequenceNode, Content: listed}}}
	text, err := yaml.Marshal(list)
	if err != nil {
		t.Fatal(err)
	}
	last := &out[len(out)-1]
	last.Data = append(append(last.Data, "\n---\n"...), text...)
	return out
}

func get(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// set sets key in mapping n (added when missing); nil n is left alone.
func set(n *yaml.Node, key string, v *yaml.Node) {
	if n == nil || n.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			n.Content[i+1] = v
			return
		}
	}
	n.Content = append(n.Content, str(key), v)
}

// port returns the first port of the first container of pod that has one.
func port(pod *yaml.Node) *yaml.Node {
	cs := get(get(pod, "spec"), "containers")
	if cs == nil {
		return nil
	}
	for _, c := range cs.Content {
		if ps := get(c, "ports"); ps != nil && len(ps.Content) > 0 {
			return ps.Content[0]
		}
	}
	return nil
}

func str(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

func scalarOf(n *yaml.Node) string {
	if n == nil {
		return ""
	}
	return strings.TrimSpace(n.Value)
}

func setStyle(n *yaml.Node, s yaml.Style) {
	if n == nil {
		return
	}
	if n.Kind != yaml.ScalarNode {
		n.Style = s
	}
	for _, c := range n.Content {
		setStyle(c, s)
	}
}
