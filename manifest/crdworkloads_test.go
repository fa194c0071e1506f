package manifest

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
)

// TestLoadOtherWorkloadKinds checks that OpenShift DeploymentConfigs,
// Knative Services and Configurations and Argo Rollouts become workloads
// with their pod template's labels, ports and field lines, like a
// Deployment; that a Rollout with a workloadRef is left to its
// Deployment; and that one whose Deployment is missing is reported as
// skipped.
func TestLoadOtherWorkloadKinds(t *testing.T) {
	path := filepath.Join("testdata", "workload-kinds.yaml")
	s, err := Load(Options{FieldLines: true}, path)
	if err != nil {
		t.Fatal(err)
	}
	type wl struct {
		ID     string
		Labels map[string]string
		Ports  []Port
		Line   int // of the first container's image
	}
	var got []wl
	for _, w := range s.Workloads {
		got = append(got, wl{w.ID(), w.Labels, w.Ports, w.TemplateLine("spec.containers[0].image")})
	}
	want := []wl{
		{"apps/DeploymentConfig/legacy", map[string]string{"app": "legacy"},
			[]Port{{Name: "http", Port: 8080, Protocol: corev1.ProtocolTCP, Container: "app"}}, 18},
		{"serverless/Service.serving.knative.dev/hello",
			map[string]string{"tier": "fn", KnativeServiceLabel: "hello", KnativeConfigurationLabel: "hello"},
			[]Port{{Name: "http1", Port: 8080, Protocol: corev1.ProtocolTCP, Container: "user-container"}}, 33},
		{"serverless/Configuration/worker", map[string]string{KnativeConfigurationLabel: "worker"},
			[]Port{{Port: 9090, Protocol: corev1.ProtocolTCP, Container: "user-container"}}, 44},
		{"shop/Rollout/canary", map[string]string{"app": "canary"},
			[]Port{{Name: "grpc", Port: 9000, Protocol: corev1.ProtocolTCP, Container: "api"}}, 62},
		{"shop/Deployment/checkout", map[string]string{"app": "checkout"}, nil, 83},
	}
	// Workloads are sorted by namespace, then name.
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("workloads (-want +got):\n%s", diff)
	}
	if len(s.Skipped) != 1 || s.Skipped[0].Name != "elsewhere" || s.Skipped[0].Source.Line != 85 ||
		!strings.Contains(s.Skipped[0].Reason, "Deployment not-in-input (workloadRef)") {
		t.Errorf("skipped = %+v, want the Rollout elsewhere, whose Deployment is not in the input", s.Skipped)
	}
	// The decoded object keeps the template as written: Knative's labels
	// are added to the workload only.
	for _, o := range s.Objects {
		if ks, ok := o.Obj.(*KnativeService); ok && len(ks.Spec.Template.Labels) != 1 {
			t.Errorf("Knative Service object labels changed: %v", ks.Spec.Template.Labels)
		}
	}
}

// TestOtherWorkloadKindsOwnership checks that ownerReferences to the new
// kinds fold instance pods into them, a Knative owner by its API group.
func TestOtherWorkloadKindsOwnership(t *testing.T) {
	doc := `apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: canary, namespace: shop, uid: r1}
spec:
  selector: {matchLabels: {app: canary}}
  template:
    metadata: {labels: {app: canary}}
    spec: {containers: [{name: api, image: api:1}]}
---
apiVersion: v1
kind: Pod
metadata:
  name: canary-6d4-x
  namespace: shop
  labels: {app: canary}
  ownerReferences: [{apiVersion: argoproj.io/v1alpha1, kind: Rollout, name: canary, uid: r1, controller: true}]
spec: {containers: [{name: api, image: api:1}]}
status: {podIP: 10.0.0.7}
---
apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: hello, namespace: fn}
spec: {template: {spec: {containers: [{image: hello:1}]}}}
---
apiVersion: serving.knative.dev/v1
kind: Configuration
metadata:
  name: hello
  namespace: fn
  ownerReferences: [{apiVersion: serving.knative.dev/v1, kind: Service, name: hello, controller: true}]
spec: {template: {spec: {containers: [{image: hello:1}]}}}
---
apiVersion: v1
kind: Service
metadata: {name: hello, namespace: fn}
spec: {type: ExternalName, externalName: kourier.kourier-system.svc.cluster.local}
`
	s, err := Load(Options{Stdin: strings.NewReader(doc)}, "-")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, w := range s.Workloads {
		ids = append(ids, w.ID())
	}
	if diff := cmp.Diff([]string{"fn/Service.serving.knative.dev/hello", "shop/Rollout/canary"}, ids); diff != "" {
		t.Fatalf("workloads (-want +got):\n%s", diff)
	}
	if w := s.Workloads[1]; w.Instances != 1 || len(w.IPs) != 1 || w.IPs[0].String() != "10.0.0.7" {
		t.Errorf("Rollout instances %d, IPs %v: want the owned pod folded in", w.Instances, w.IPs)
	}
	if len(s.Services) != 1 || s.Services[0].Name != "hello" {
		t.Errorf("services = %+v: the core Service named like the Knative Service must load too", s.Services)
	}
}

// TestOtherWorkloadKindsDump checks that pods of a dump without their
// ReplicaSets or ReplicationControllers are folded into the Rollout or
// DeploymentConfig their owner's name derives from, when its selector
// matches them, as for Deployments.
func TestOtherWorkloadKindsDump(t *testing.T) {
	pod := func(name, owner, ownerName, app string) string {
		return `---
apiVersion: v1
kind: Pod
metadata:
  name: ` + name + `
  namespace: shop
  labels: {app: ` + app + `}
  ownerReferences: [{apiVersion: v1, kind: ` + owner + `, name: ` + ownerName + `, controller: true}]
spec: {containers: [{name: c, image: i:1}]}
`
	}
	doc := `apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: canary, namespace: shop}
spec:
  selector: {matchLabels: {app: canary}}
  template:
    metadata: {labels: {app: canary}}
    spec: {containers: [{name: c, image: i:1}]}
---
apiVersion: apps.openshift.io/v1
kind: DeploymentConfig
metadata: {name: legacy, namespace: shop}
spec:
  selector: {app: legacy}
  template:
    metadata: {labels: {app: legacy}}
    spec: {containers: [{name: c, image: i:1}]}
` + pod("canary-5f8d9c-abcde", "ReplicaSet", "canary-5f8d9c", "canary") +
		pod("legacy-3-xyz12", "ReplicationController", "legacy-3", "legacy") +
		pod("stray-1-aaaaa", "ReplicationController", "legacy-4", "other")
	s, err := Load(Options{Stdin: strings.NewReader(doc)}, "-")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, w := range s.Workloads {
		got[w.ID()] = w.Instances
	}
	want := map[string]int{"shop/Rollout/canary": 1, "shop/DeploymentConfig/legacy": 1, "shop/Pod/stray-1-aaaaa": 0}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("workloads and their instances (-want +got):\n%s", diff)
	}
}

// TestTypeErrorsWithholdSecrets checks that a wrongly typed value where
// secrets live (ConfigMap data, environment values, secret-named fields)
// is not echoed in the error, while other type errors still show theirs.
func TestTypeErrorsWithholdSecrets(t *testing.T) {
	tests := []struct {
		doc, want, secret string
	}{
		{"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  PIN: 802214\n", "data.PIN: expected a string, got a number (value withheld)", "802214"},
		{"apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    image: i\n    env: [{name: DB_PASSWORD, value: 90210377}]\n",
			"spec.containers[0].env[0].value: expected a string, got a number (value withheld)", "90210377"},
		{"apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {tier: 3}}\nspec: {containers: [{name: c, image: i}]}\n", "got number 3", ""},
	}
	for _, tt := range tests {
		_, err := Load(Options{Stdin: strings.NewReader(tt.doc)}, "-")
		if err == nil || !strings.Contains(err.Error(), tt.want) || tt.secret != "" && strings.Contains(err.Error(), tt.secret) {
			t.Errorf("error %v: want one containing %q and not the value", err, tt.want)
		}
	}
}

// TestFromObjectsOtherKinds checks that FromObjects takes the new kinds
// and does not change the caller's Knative template.
func TestFromObjectsOtherKinds(t *testing.T) {
	tmpl := corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Image: "fn:1"}}}}
	ks := &KnativeService{Spec: KnativeSpec{Template: tmpl}}
	ks.Name = "fn"
	r := &Rollout{Spec: RolloutSpec{Template: tmpl}}
	r.Name, r.Namespace = "canary", "shop"
	s, err := FromObjects("apps", ks, r)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Workloads) != 2 || s.Workloads[0].ID() != "apps/Service.serving.knative.dev/fn" || s.Workloads[1].ID() != "shop/Rollout/canary" {
		t.Fatalf("workloads %v", s.Workloads)
	}
	if ks.Namespace != "" || ks.Spec.Template.Labels != nil || ks.Spec.Template.Spec.Containers[0].Name != "" {
		t.Errorf("the caller's KnativeService was changed: %+v", ks)
	}
	if got := s.Workloads[0].Template.Spec.Containers[0].Name; got != "user-container" {
		t.Errorf("container name %q, want user-container", got)
	}
}

// TestOtherWorkloadKindsTypeError checks that a type error in a Knative
// Service, which the direct decode leaves to the reference decode, is
// reported at its field like in any other kind, not as an internal error
// (the reference decoded into the kind Ward names it by, which is not a
// kind of its apiVersion).
func TestOtherWorkloadKindsTypeError(t *testing.T) {
	for _, kind := range []string{"Service", "Configuration"} {
		doc := "apiVersion: serving.knative.dev/v1\nkind: " + kind + "\nmetadata: {name: hello, namespace: serverless}\n" +
			"spec:\n  template:\n    spec:\n      containers:\n      - image: nginx\n        ports: [{containerPort: \"x\"}]\n"
		_, err := Parse(Options{}, "kn.yaml", []byte(doc))
		errs := joined(err)
		if len(errs) != 1 {
			t.Fatalf("%s: errors %v, want one", kind, errs)
		}
		var e *Error
		if !errors.As(errs[0], &e) || e.Line != 9 || !errors.Is(e, ErrType) || !strings.Contains(e.Error(), "containerPort") || !strings.Contains(e.Object, "hello") {
			t.Errorf("%s: error %v, want a type error at line 9 for containerPort of hello", kind, errs[0])
		}
	}
}
