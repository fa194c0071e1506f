package manifest

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestSkippedPodSpecs: a custom resource Ward does not model may carry
// the pod spec of the pods its operator creates (KEDA's ScaledJob, Argo
// Workflows, Kubeflow's jobs); such a privileged, hostNetwork pod was
// skipped like any other custom resource, as an info finding, and the
// check passed. The skipped object names where its pod specs are, for
// the check to say loudly that they are not audited.
func TestSkippedPodSpecs(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  []string
	}{
		{"KEDA ScaledJob",
			"apiVersion: keda.sh/v1alpha1\nkind: ScaledJob\nmetadata: {name: sj}\nspec:\n  jobTargetRef:\n    template:\n      spec:\n        hostNetwork: true\n        containers:\n        - name: c\n          image: x\n          securityContext: {privileged: true}\n",
			[]string{"spec.jobTargetRef.template.spec"}},
		{"Kubeflow replicas",
			"apiVersion: kubeflow.org/v1\nkind: PyTorchJob\nmetadata: {name: j}\nspec:\n  pytorchReplicaSpecs:\n    Master: {template: {spec: {containers: [{name: m, image: x}]}}}\n    Worker: {template: {spec: {initContainers: [{name: i, image: y}], containers: [{name: w, image: x}]}}}\n",
			[]string{"spec.pytorchReplicaSpecs.Master.template.spec", "spec.pytorchReplicaSpecs.Worker.template.spec"}},
		{"Argo Workflow templates",
			"apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {name: w}\nspec:\n  templates:\n  - name: a\n    container: {image: x, securityContext: {privileged: true}}\n  - name: b\n    script: {image: y, source: echo}\n  - name: c\n    steps: [[{name: s, template: a}]]\n",
			[]string{"spec.templates[0].container", "spec.templates[1].script"}},
		{"no pod spec", "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec:\n  containers: 3\n  image: x\n", nil},
		{"a built-in kind", "apiVersion: v1\nkind: PodTemplate\nmetadata: {name: t}\ntemplate:\n  spec:\n    containers: [{name: c, image: x}]\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(Options{}, "in.yaml", []byte(tt.input))
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Skipped) != 1 {
				t.Fatalf("skipped %+v, want one", s.Skipped)
			}
			if diff := cmp.Diff(tt.want, s.Skipped[0].PodSpecs); diff != "" {
				t.Errorf("pod specs (-want +got):\n%s", diff)
			}
		})
	}
}
