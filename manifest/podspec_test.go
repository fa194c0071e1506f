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
		// Tekton runs each step as a container of the TaskRun's pod;
		// neither is a containers list, and the check passed in silence.
		{"Tekton Task steps",
			"apiVersion: tekton.dev/v1\nkind: Task\nmetadata: {name: t}\nspec:\n  stepTemplate:\n    securityContext: {runAsUser: 0}\n  steps:\n  - name: s\n    image: ubuntu\n    securityContext: {privileged: true}\n  sidecars:\n  - {name: d, image: docker:dind}\n",
			[]string{"spec.stepTemplate", "spec.steps", "spec.sidecars"}},
		{"Tekton Pipeline's embedded task",
			"apiVersion: tekton.dev/v1\nkind: Pipeline\nmetadata: {name: p}\nspec:\n  tasks:\n  - name: build\n    taskSpec:\n      steps: [{name: s, image: ubuntu, script: make}]\n",
			[]string{"spec.tasks[0].taskSpec.steps"}},
		{"SparkApplication driver and executor",
			"apiVersion: sparkoperator.k8s.io/v1beta2\nkind: SparkApplication\nmetadata: {name: sp}\nspec:\n  image: spark:3\n  mainApplicationFile: local:///app.jar\n  driver:\n    securityContext: {privileged: true}\n  executor:\n    instances: 2\n    env: [{name: A, value: b}]\n    securityContext: {runAsUser: 0}\n",
			[]string{"spec.driver", "spec.executor"}},
		{"an image beside a container's fields",
			"apiVersion: example.com/v1\nkind: Runner\nmetadata: {name: r}\nspec:\n  image: x\n  command: [sh]\n",
			[]string{"spec"}},
		{"an image reference alone", "apiVersion: image.toolkit.fluxcd.io/v1beta2\nkind: ImageRepository\nmetadata: {name: r}\nspec:\n  image: ghcr.io/org/app\n  interval: 5m\n", nil},
		{"no pod spec", "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec:\n  containers: 3\n  image: x\n", nil},
		// Controllers create pods from a core PodTemplate: it is
		// searched like a custom resource.
		{"a core PodTemplate", "apiVersion: v1\nkind: PodTemplate\nmetadata: {name: t}\ntemplate:\n  spec:\n    containers: [{name: c, image: x}]\n",
			[]string{"template.spec"}},
		// A ControllerRevision holds a copy of its workload's template,
		// which is audited there.
		{"a built-in kind", "apiVersion: apps/v1\nkind: ControllerRevision\nmetadata: {name: t}\nrevision: 1\ndata:\n  spec:\n    template:\n      spec:\n        containers: [{name: c, image: x}]\n", nil},
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
