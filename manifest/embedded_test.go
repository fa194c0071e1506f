package manifest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestEmbeddedPods: the pod specs a custom resource carries are decoded
// for the audits, each a Workload of the custom resource's kind and name
// whose template paths find their lines in the custom resource.
func TestEmbeddedPods(t *testing.T) {
	const sj = `apiVersion: keda.sh/v1alpha1
kind: ScaledJob
metadata:
  name: sj
  annotations: {a: b}
spec:
  jobTargetRef:
    template:
      metadata:
        labels: {app: sj}
      spec:
        containers:
        - name: c
          image: x
          securityContext:
            privileged: true
`
	s, err := Parse(Options{FieldLines: true, DefaultNamespace: "shop"}, "sj.yaml", []byte(sj))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Workloads) != 0 || len(s.Skipped) != 1 || len(s.Skipped[0].Pods) != 1 {
		t.Fatalf("workloads %v, skipped %+v", s.Workloads, s.Skipped)
	}
	w := s.Skipped[0].Pods[0]
	if w.ID() != "shop/ScaledJob/sj" || w.Embedded != "spec.jobTargetRef.template.spec" || w.Source.Line != 1 {
		t.Errorf("workload %s at %s, pod spec %s", w.ID(), w.Source, w.Embedded)
	}
	if c := w.Template.Spec.Containers; len(c) != 1 || c[0].SecurityContext == nil || c[0].SecurityContext.Privileged == nil || !*c[0].SecurityContext.Privileged {
		t.Errorf("containers %+v", c)
	}
	if w.Template.Labels["app"] != "sj" || w.Annotations["a"] != "b" {
		t.Errorf("labels %v, annotations %v", w.Template.Labels, w.Annotations)
	}
	for path, want := range map[string]int{
		"spec.containers[0].securityContext.privileged": 16,
		"spec.containers[0].image":                      14,
		"spec.securityContext.runAsNonRoot":             11, // absent: the pod spec
		"metadata.labels.app":                           10,
	} {
		if got := w.TemplateLine(path); got != want {
			t.Errorf("TemplateLine(%s) = %d, want %d", path, got, want)
		}
	}
}

// TestEmbeddedArgoContainer: an Argo template's container or script is a
// pod spec of its own, with the init containers and sidecars of its
// template and the pod-level fields Argo takes from the template, else
// from the workflow spec; a script's source is dropped.
func TestEmbeddedArgoContainer(t *testing.T) {
	const wf = `apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: wf, namespace: ci}
spec:
  serviceAccountName: wide
  hostNetwork: true
  volumes:
  - {name: w, hostPath: {path: /}}
  templates:
  - name: a
    serviceAccountName: narrow
    volumes:
    - {name: t, hostPath: {path: /etc}}
    initContainers:
    - {name: i, image: yy}
    sidecars:
    - name: s
      image: z
    container:
      image: x
  - name: b
    script:
      image: yy
      source: |
        echo hi
`
	s, err := Parse(Options{FieldLines: true}, "wf.yaml", []byte(wf))
	if err != nil {
		t.Fatal(err)
	}
	sk := s.Skipped[0]
	if diff := cmp.Diff([]string{"spec.templates[0].container", "spec.templates[1].script"}, sk.PodSpecs); diff != "" {
		t.Fatalf("pod specs (-want +got):\n%s", diff)
	}
	if len(sk.Pods) != 2 || len(sk.PodSpecErrors) != 0 {
		t.Fatalf("pods %v, errors %v", sk.Pods, sk.PodSpecErrors)
	}
	a, b := sk.Pods[0], sk.Pods[1]
	var names []string
	for _, c := range a.Template.Spec.InitContainers {
		names = append(names, "init "+c.Name)
	}
	for _, c := range a.Template.Spec.Containers {
		names = append(names, c.Name)
	}
	for _, v := range a.Template.Spec.Volumes {
		names = append(names, "volume "+v.Name)
	}
	if diff := cmp.Diff([]string{"init i", "main", "s", "volume w", "volume t"}, names); diff != "" {
		t.Errorf("template a (-want +got):\n%s", diff)
	}
	if sp := a.Template.Spec; sp.ServiceAccountName != "narrow" || !sp.HostNetwork {
		t.Errorf("template a: serviceAccountName %q, hostNetwork %v", sp.ServiceAccountName, sp.HostNetwork)
	}
	if sp := b.Template.Spec; sp.ServiceAccountName != "wide" || len(sp.Volumes) != 1 || len(sp.Containers) != 1 ||
		len(sp.Containers[0].Command)+len(sp.Containers[0].Args) != 0 {
		t.Errorf("template b: %+v", sp)
	}
	for path, want := range map[string]int{
		"spec.containers[0].image":          20,
		"spec.containers[0]":                19,
		"spec.containers[1].image":          18,
		"spec.initContainers[0]":            15,
		"spec.volumes[0].hostPath":          8,
		"spec.volumes[1].hostPath":          13,
		"spec.serviceAccountName":           11,
		"spec.hostNetwork":                  6,
		"spec.securityContext.runAsNonRoot": 19, // absent: the container
	} {
		if got := a.TemplateLine(path); got != want {
			t.Errorf("TemplateLine(%s) = %d, want %d", path, got, want)
		}
	}
	if got := b.TemplateLine("spec.serviceAccountName"); got != 5 {
		t.Errorf("template b: serviceAccountName at %d, want 5", got)
	}
}

// TestEmbeddedContainerPodFields: a mapping taken for a container (an
// image beside a securityContext, as in a Prometheus' spec) that also
// holds pod fields a container does not have gives them to its pod.
// They were dropped with the container's unknown fields: a Prometheus
// with hostNetwork: true and a hostPath volume of / passed both.
func TestEmbeddedContainerPodFields(t *testing.T) {
	const prom = `apiVersion: monitoring.coreos.com/v1
kind: Prometheus
metadata: {name: k8s, namespace: monitoring}
spec:
  hostNetwork: true
  hostPID: true
  image: quay.io/prometheus/prometheus:v3.0.0
  securityContext: {runAsUser: 0}
  serviceAccountName: prometheus
  volumes:
  - {name: root, hostPath: {path: /}}
`
	s, err := Parse(Options{FieldLines: true}, "prom.yaml", []byte(prom))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Skipped) != 1 || len(s.Skipped[0].Pods) != 1 {
		t.Fatalf("skipped %+v", s.Skipped)
	}
	w := s.Skipped[0].Pods[0]
	sp := w.Template.Spec
	if !sp.HostNetwork || !sp.HostPID || sp.ServiceAccountName != "prometheus" || len(sp.Volumes) != 1 || sp.Volumes[0].HostPath == nil {
		t.Errorf("pod spec: hostNetwork %v, hostPID %v, serviceAccountName %q, volumes %+v", sp.HostNetwork, sp.HostPID, sp.ServiceAccountName, sp.Volumes)
	}
	if len(sp.Containers) != 1 || sp.Containers[0].SecurityContext == nil || sp.Containers[0].SecurityContext.RunAsUser == nil || sp.SecurityContext != nil && sp.SecurityContext.RunAsUser != nil {
		t.Errorf("the securityContext is the container's: %+v, pod %+v", sp.Containers, sp.SecurityContext)
	}
	for path, want := range map[string]int{"spec.hostNetwork": 5, "spec.hostPID": 6, "spec.volumes[0].hostPath": 11, "spec.containers[0].image": 7} {
		if got := w.TemplateLine(path); got != want {
			t.Errorf("TemplateLine(%s) = %d, want %d", path, got, want)
		}
	}
}

// TestEmbeddedPodSpecErrors: a pod spec that does not decode is not
// audited, and says why, at the line of the field.
func TestEmbeddedPodSpecErrors(t *testing.T) {
	const in = "apiVersion: keda.sh/v1alpha1\nkind: ScaledJob\nmetadata: {name: sj}\nspec:\n  jobTargetRef:\n    template:\n      spec:\n        containers:\n        - name: c\n          image: x\n          securityContext: {privileged: yes please}\n"
	s, err := Parse(Options{}, "sj.yaml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	sk := s.Skipped[0]
	if len(sk.Pods) != 0 || len(sk.PodSpecErrors) != 1 {
		t.Fatalf("pods %v, errors %+v", sk.Pods, sk.PodSpecErrors)
	}
	e := sk.PodSpecErrors[0]
	if e.Path != "spec.jobTargetRef.template.spec" || e.Line != 11 || !strings.Contains(e.Err, "spec.jobTargetRef.template.spec.containers[0].securityContext.privileged") {
		t.Errorf("error %+v", e)
	}
	if !strings.Contains(sk.Reason, "do not decode") {
		t.Errorf("reason %q", sk.Reason)
	}
}

// TestEmbeddedOddInput: odd pod specs decode or fail with an error, never
// panic, and every pod spec is either decoded or in PodSpecErrors. A key
// that is a list, on which kubectl fails for the whole file, is an input
// error at its line.
func TestEmbeddedOddInput(t *testing.T) {
	head := "apiVersion: example.com/v1\nkind: X\nmetadata: {name: x}\n"
	if _, err := Parse(Options{FieldLines: true}, "x.yaml", []byte(head+"spec: {containers: [{image: x, ? [k] : v}]}\n")); err == nil || !strings.HasPrefix(err.Error(), "x.yaml:4: ") {
		t.Errorf("a list key: error %v, want one at line 4", err)
	}
	for _, body := range []string{
		"spec: {containers: [{image: x}, 3, null, [a]]}\n",
		"spec: {containers: [{image: x}], volumes: {a: b}}\n",
		"spec: {containers: [{image: x, image: y}]}\n",
		"spec: {containers: [{image: x}], metadata: 3}\n",
		"spec: {template: {metadata: [1], spec: {containers: [{image: x}]}}}\n",
		"spec: {template: {metadata: {labels: {a: [b]}}, spec: {containers: [{image: x}]}}}\n",
		"spec:\n  templates:\n  - volumes: 3\n    container: {image: x}\n",
		"spec:\n  volumes: [{name: a, hostPath: {path: /}}]\n  templates:\n  - volumes: {a: b}\n    container: {image: x}\n",
		"spec:\n  templates:\n  - sidecars: [3]\n    initContainers: 4\n    script: {image: x, source: [1]}\n",
		"containers: [{image: x}]\ncontainer: {image: y}\n",
		"a: &a {containers: [{image: x}]}\nb: *a\n",
		"spec: {container: {image: x, securityContext: {privileged: 1e999}}}\n",
	} {
		s, err := Parse(Options{FieldLines: true}, "x.yaml", []byte(head+body))
		if err != nil {
			t.Errorf("%q: %v", body, err)
			continue
		}
		if len(s.Skipped) != 1 {
			t.Errorf("%q: skipped %+v", body, s.Skipped)
			continue
		}
		sk := s.Skipped[0]
		if len(sk.PodSpecs) == 0 || len(sk.Pods)+len(sk.PodSpecErrors) != len(sk.PodSpecs) {
			t.Errorf("%q: pod specs %v, %d decoded, errors %+v", body, sk.PodSpecs, len(sk.Pods), sk.PodSpecErrors)
		}
		for _, e := range sk.PodSpecErrors {
			if e.Line < 1 || e.Line > strings.Count(head+body, "\n") {
				t.Errorf("%q: error %+v: line outside the input", body, e)
			}
		}
		for _, w := range sk.Pods {
			for _, p := range []string{"spec", "spec.containers[0].image", "spec.volumes[3]", "spec.containers[9]", "metadata.labels.a", "status"} {
				if l := w.TemplateLine(p); l < 1 {
					t.Errorf("%q: TemplateLine(%s) = %d", body, p, l)
				}
			}
		}
	}
}

// TestEmbeddedPodsPastErrorLimit: custom resources with pod specs past the
// MaxErrorsPerFile skipped documents of a file are kept, for the audits;
// other skipped documents are counted.
func TestEmbeddedPodsPastErrorLimit(t *testing.T) {
	var b strings.Builder
	for i := range MaxErrorsPerFile + 10 {
		fmt.Fprintf(&b, "---\napiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w%d}\n", i)
	}
	b.WriteString("---\napiVersion: keda.sh/v1alpha1\nkind: ScaledJob\nmetadata: {name: sj}\nspec: {jobTargetRef: {template: {spec: {containers: [{name: c, image: x}]}}}}\n")
	s, err := Parse(Options{}, "many.yaml", []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	var pods int
	var more string
	for _, sk := range s.Skipped {
		pods += len(sk.Pods)
		if strings.Contains(sk.Reason, "more documents skipped") {
			more = sk.Reason
		}
	}
	if pods != 1 {
		t.Errorf("%d embedded pods, want the ScaledJob's", pods)
	}
	if !strings.HasPrefix(more, "10 more documents") {
		t.Errorf("summary %q, want 10 more", more)
	}
}

// TestEmbeddedPodSpecsFound: pod specs found where an attacker or an
// operator puts them.
func TestEmbeddedPodSpecsFound(t *testing.T) {
	deep := "spec:\n"
	indent := "  "
	for i := range maxPodSpecDepth + 2 {
		deep += fmt.Sprintf("%sl%d:\n", indent, i)
		indent += "  "
	}
	deep += indent + "containers: [{name: c, image: x, securityContext: {privileged: true}}]\n"
	var big strings.Builder
	big.WriteString("spec:\n  pad: [")
	for range maxPodSpecNodes {
		big.WriteString("0,")
	}
	big.WriteString("0]\n  template: {spec: {containers: [{name: c, image: x}]}}\n")
	for _, tt := range []struct {
		name, body string
		specs      []string
		cut        bool
	}{
		// Flink's operator sets the image of flink-main-container.
		{"container without image", "spec:\n  podTemplate:\n    spec:\n      containers:\n      - name: flink-main-container\n        securityContext: {privileged: true}\n", []string{"spec.podTemplate.spec"}, false},
		// A container next to containers hides neither.
		{"containers and container", "spec:\n  containers: [{name: c, image: x}]\n  container: {image: y1}\n", []string{"spec", "spec.container"}, false},
		// A workflow spec's securityContext is its pods': the spec is
		// not a container, and its templates are still searched.
		{"Argo workflow securityContext", "spec:\n  securityContext: {runAsNonRoot: true}\n  templates:\n  - container: {image: x1}\n", []string{"spec.templates[0].container"}, false},
		{"Spark driver", "spec:\n  driver: {cores: 1, securityContext: {privileged: true}}\n", []string{"spec.driver"}, false},
		// A Prometheus whose operator sets image and containers: its
		// host namespaces and hostPath volumes are its pods'.
		{"host network alone", "spec:\n  replicas: 2\n  hostNetwork: true\n", []string{"spec"}, false},
		{"host PID alone, YAML 1.1", "spec:\n  hostPID: on\n", []string{"spec"}, false},
		{"hostPath volume alone", "spec:\n  volumes: [{name: r, hostPath: {path: /}}]\n", []string{"spec"}, false},
		{"host network off", "spec:\n  hostNetwork: false\n  volumes: [{name: r, emptyDir: {}}]\n", nil, false},
		{"host network above pod specs", "spec:\n  hostNetwork: true\n  templates:\n  - container: {image: x1}\n", []string{"spec.templates[0].container"}, false},
		{"too deep", deep, nil, true},
		{"too large", big.String(), nil, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(Options{}, "x.yaml", []byte("apiVersion: example.com/v1\nkind: X\nmetadata: {name: x}\n"+tt.body))
			if err != nil {
				t.Fatal(err)
			}
			sk := s.Skipped[0]
			if diff := cmp.Diff(tt.specs, sk.PodSpecs); diff != "" {
				t.Errorf("pod specs (-want +got):\n%s", diff)
			}
			cut := false
			for _, e := range sk.PodSpecErrors {
				cut = cut || (e.Path == "" && e.Line == 1 && strings.Contains(e.Err, "stopped"))
			}
			if cut != tt.cut {
				t.Errorf("errors %+v, want cut %v", sk.PodSpecErrors, tt.cut)
			}
		})
	}
}

// TestEmbeddedTektonSteps: a Tekton Task's steps and sidecars are each the
// containers of a pod spec with the Task spec's volumes; its stepTemplate,
// a container of its own.
func TestEmbeddedTektonSteps(t *testing.T) {
	const task = `apiVersion: tekton.dev/v1
kind: Task
metadata: {name: build}
spec:
  stepTemplate:
    securityContext: {privileged: true}
    env: [{name: A, value: b}]
  steps:
  - name: one
    image: x
    securityContext: {privileged: false}
  - name: two
    image: x
    script: make
  sidecars:
  - name: side
    image: z
  volumes:
  - name: v
    hostPath: {path: /}
`
	s, err := Parse(Options{FieldLines: true}, "task.yaml", []byte(task))
	if err != nil {
		t.Fatal(err)
	}
	sk := s.Skipped[0]
	if len(sk.Pods) != 3 {
		t.Fatalf("pod specs %v, pods %d, errors %+v", sk.PodSpecs, len(sk.Pods), sk.PodSpecErrors)
	}
	tmpl, steps, side := sk.Pods[0], sk.Pods[1], sk.Pods[2]
	if tmpl.Embedded != "spec.stepTemplate" || steps.Embedded != "spec.steps" || side.Embedded != "spec.sidecars" {
		t.Fatalf("pod specs %v", sk.PodSpecs)
	}
	if cs := tmpl.Template.Spec.Containers; len(cs) != 1 || !*cs[0].SecurityContext.Privileged || len(cs[0].Env) != 1 {
		t.Errorf("stepTemplate: %+v", cs)
	}
	if cs := steps.Template.Spec.Containers; len(cs) != 2 || cs[0].Name != "one" || cs[1].Name != "two" {
		t.Errorf("steps: %+v", cs)
	}
	for _, w := range sk.Pods {
		if v := w.Template.Spec.Volumes; len(v) != 1 || v[0].HostPath == nil {
			t.Errorf("%s: volumes %+v", w.Embedded, v)
		}
		if got := w.TemplateLine("spec.volumes[0].hostPath"); got != 20 {
			t.Errorf("%s: volume at line %d, want 20", w.Embedded, got)
		}
	}
	for path, want := range map[string]int{
		"spec.containers[0].securityContext.privileged": 11,
		"spec.containers[1].image":                      13,
	} {
		if got := steps.TemplateLine(path); got != want {
			t.Errorf("TemplateLine(%s) = %d, want %d", path, got, want)
		}
	}
	if got := tmpl.TemplateLine("spec.containers[0].securityContext.privileged"); got != 6 {
		t.Errorf("stepTemplate: privileged at %d, want 6", got)
	}
	if got := side.TemplateLine("spec.containers[0].image"); got != 17 {
		t.Errorf("sidecars: image at %d, want 17", got)
	}
}
