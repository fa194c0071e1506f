package podsec_test

import (
	"strings"
	"testing"

	"github.com/wardsec/ward/podsec"
)

// TestOtherWorkloadKinds checks that the pod templates of OpenShift
// DeploymentConfigs, Knative Services and Configurations and Argo Rollouts
// are audited like a Deployment's: the same pss/ and pod/ findings, at the
// lines of their own fields, named by their kind.
func TestOtherWorkloadKinds(t *testing.T) {
	// head is each kind's document up to its pod template's metadata.
	heads := []struct{ object, head string }{
		{"shop/Deployment/web", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec:\n  selector: {matchLabels: {app: web}}\n"},
		{"shop/DeploymentConfig/web", "apiVersion: apps.openshift.io/v1\nkind: DeploymentConfig\nmetadata: {name: web, namespace: shop}\nspec:\n  selector: {app: web}\n  triggers: [{type: ConfigChange}]\n"},
		{"shop/Service.serving.knative.dev/web", "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: web, namespace: shop}\nspec:\n  traffic: [{latestRevision: true, percent: 100}]\n"},
		{"shop/Configuration/web", "apiVersion: serving.knative.dev/v1\nkind: Configuration\nmetadata: {name: web, namespace: shop}\nspec:\n"},
		{"shop/Rollout/web", "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: web, namespace: shop}\nspec:\n  selector: {matchLabels: {app: web}}\n  strategy: {canary: {steps: [{setWeight: 10}]}}\n"},
	}
	// The template of hardened, with a privileged container that keeps
	// NET_RAW, uses the latest tag and holds a secret in its environment.
	template := `  template:
    metadata:
      labels: {app: web}
    spec:
      automountServiceAccountToken: false
      securityContext:
        runAsNonRoot: true
        seccompProfile: {type: RuntimeDefault}
      containers:
      - name: app
        image: registry.example/app:latest #img
        env:
        - {name: DB_PASSWORD, value: s3cr3t-Value-42} #env
        resources:
          limits: {cpu: 500m, memory: 128Mi}
        securityContext:
          privileged: true #priv
          allowPrivilegeEscalation: false
          readOnlyRootFilesystem: true
          capabilities:
            drop: [ALL]
`
	type key struct {
		rule string
		line int
	}
	var want []key
	for i, h := range heads {
		doc := h.head + template
		got := map[key]string{}
		for _, f := range audit(t, doc, podsec.Options{}) {
			got[key{f.Rule, f.Line}] = f.Object
		}
		if i == 0 {
			want = []key{
				{"pss/privileged", lineOf(t, doc, "#priv")},
				{"pod/net-raw-not-dropped", lineOf(t, doc, "#priv")},
				{"pod/image-latest", lineOf(t, doc, "#img")},
				{"pod/secret-in-env", lineOf(t, doc, "#env")},
			}
			if len(got) != len(want) {
				t.Fatalf("Deployment: findings %v, want exactly %v", got, want)
			}
		}
		shift := strings.Count(h.head, "\n") - strings.Count(heads[0].head, "\n")
		for _, w := range want {
			k := key{w.rule, w.line + shift}
			if obj, ok := got[k]; !ok || obj != h.object {
				t.Errorf("%s: no %s finding on line %d for %s; got %v", h.object, w.rule, k.line, h.object, got)
			}
		}
		if len(got) != len(want) {
			t.Errorf("%s: findings %v, want the Deployment's %v", h.object, got, want)
		}
	}
}
