package cli

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// crpodsReport is what the tests of embedded pod specs read of the JSON
// output.
type crpodsReport struct {
	Findings []struct {
		Rule, File, Object, Message string
		Line                        int
		Suppressed                  *struct{ By, Reason string }
	}
}

func crpodsCheck(t *testing.T, args ...string) (crpodsReport, string, int) {
	t.Helper()
	out, errOut, code := run(t, "", append([]string{"check"}, append(args, "-o", "json")...)...)
	var r crpodsReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v\n%s\n%s", err, out, errOut)
	}
	return r, errOut, code
}

// TestCheckEmbeddedPodSpecs: a KEDA ScaledJob, an Argo Workflow and a Tekton Task carry
// the pod specs of the pods their operators create; a privileged root
// container mounting the host's file system there passed `ward check`
// (exit 0) with a warning on stderr. Their specs are now audited like any
// pod template: the findings name the custom resource and the path of the
// pod spec, at the line of the field in the custom resource's file.
func TestCheckEmbeddedPodSpecs(t *testing.T) {
	const dir = "internal/cli/testdata/crpods/bad"
	sj, wf, task := filepath.Join(dir, "scaledjob.yaml"), filepath.Join(dir, "workflow.yaml"), filepath.Join(dir, "task.yaml")
	r, errOut, code := crpodsCheck(t, dir)
	if code != ExitFindings {
		t.Errorf("exit %d, want %d\n%s", code, ExitFindings, errOut)
	}
	want := []struct {
		rule, at, object, path string
	}{
		{"pss/privileged", sj + ":19", "shop/ScaledJob/sj", "spec.jobTargetRef.template.spec"},
		{"pss/runAsUser", sj + ":20", "shop/ScaledJob/sj", "spec.jobTargetRef.template.spec"},
		{"pss/restrictedVolumes", sj + ":13", "shop/ScaledJob/sj", "spec.jobTargetRef.template.spec"},
		{"pod/default-service-account", sj + ":11", "shop/ScaledJob/sj", "spec.jobTargetRef.template.spec"},
		{"pss/privileged", wf + ":22", "shop/Workflow/wf", "spec.templates[1].container"},
		{"pss/runAsUser", wf + ":23", "shop/Workflow/wf", "spec.templates[1].container"},
		// The workflow's volumes are in the pod of every template.
		{"pss/restrictedVolumes", wf + ":12", "shop/Workflow/wf", "spec.templates[1].container"},
		{"pss/restrictedVolumes", wf + ":12", "shop/Workflow/wf", "spec.templates[2].script"},
		{"pod/image-not-pinned", wf + ":28", "shop/Workflow/wf", "spec.templates[2].script"},
		// Tekton: the stepTemplate that makes every step privileged,
		// and the steps, with the Task's volumes.
		{"pss/privileged", task + ":11", "shop/Task/build", "spec.stepTemplate"},
		{"pss/restrictedVolumes", task + ":18", "shop/Task/build", "spec.steps"},
		{"pod/image-not-pinned", task + ":14", "shop/Task/build", "spec.steps"},
	}
	for _, w := range want {
		found := false
		for _, f := range r.Findings {
			if f.Rule == w.rule && fmt.Sprintf("%s:%d", f.File, f.Line) == w.at && f.Object == w.object &&
				strings.Contains(f.Message, w.object+" (pod spec "+w.path+")") {
				found = true
			}
		}
		if !found {
			t.Errorf("no %s finding of %s (pod spec %s) at %s", w.rule, w.object, w.path, w.at)
		}
	}
	for _, f := range r.Findings {
		// The workflow names its ServiceAccount, for every template.
		if f.Object == "shop/Workflow/wf" && f.Rule == "pod/default-service-account" {
			t.Errorf("%s: %s", f.Rule, f.Message)
		}
		// A script's source is not a container field.
		if strings.Contains(f.Message, "echo done") || strings.Contains(f.Message, "source") {
			t.Errorf("%s: %s", f.Rule, f.Message)
		}
	}
	if t.Failed() {
		for _, f := range r.Findings {
			t.Logf("%s:%d %s %s", f.File, f.Line, f.Rule, f.Object)
		}
	}
	for _, note := range []string{
		sj + ":3: ScaledJob shop/sj (keda.sh/v1alpha1) carries pod specs (spec.jobTargetRef.template.spec): Ward audits them, but the pods its operator creates are not in the network model",
		wf + ":3: Workflow shop/wf (argoproj.io/v1alpha1) carries pod specs (spec.templates[1].container, spec.templates[2].script): Ward audits them",
	} {
		if !strings.Contains(errOut, "ward: warning: "+note) {
			t.Errorf("stderr lacks %q:\n%s", note, errOut)
		}
	}

	out, _, code := run(t, "", "check", dir)
	if code != ExitFindings {
		t.Errorf("text: exit %d, want %d", code, ExitFindings)
	}
	golden(t, "check-crpods.txt", out)

	out, _, _ = run(t, "", "check", dir, "-o", "sarif")
	var log struct {
		Runs []struct {
			Results []struct {
				RuleID    string
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string }
						Region           struct{ StartLine int }
					}
				}
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &log); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, res := range log.Runs[0].Results {
		if loc := res.Locations[0].PhysicalLocation; res.RuleID == "pss/privileged" && loc.ArtifactLocation.URI == filepath.ToSlash(wf) && loc.Region.StartLine == 22 {
			found = true
		}
	}
	if !found {
		t.Errorf("SARIF lacks pss/privileged at %s:22:\n%s", wf, out)
	}
}

// TestCheckEmbeddedPodSpecsClean: hardened embedded pod specs give no pod
// finding, and pass.
func TestCheckEmbeddedPodSpecsClean(t *testing.T) {
	r, errOut, code := crpodsCheck(t, "internal/cli/testdata/crpods/clean")
	if code != ExitOK {
		t.Errorf("exit %d, want %d\n%s", code, ExitOK, errOut)
	}
	for _, f := range r.Findings {
		if strings.HasPrefix(f.Rule, "pod/") || strings.HasPrefix(f.Rule, "pss/") {
			t.Errorf("%s:%d %s: %s", f.File, f.Line, f.Rule, f.Message)
		}
	}
}

// TestCheckEmbeddedPodSpecsSuppressed: the findings of an embedded pod
// spec are suppressed like a workload's, by an annotation of the custom
// resource or of the pod template around the spec, and by ward.yaml.
func TestCheckEmbeddedPodSpecsSuppressed(t *testing.T) {
	tree := t.TempDir()
	writeTree(t, tree, map[string]string{
		"sj.yaml": "apiVersion: keda.sh/v1alpha1\nkind: ScaledJob\nmetadata:\n  name: sj\n  namespace: shop\n  annotations: {ignore.ward.dev/pss.privileged: \"a node agent\"}\n" +
			"spec:\n  jobTargetRef:\n    template:\n      metadata:\n        annotations: {ignore.ward.dev/pss.runAsUser: \"needs root\"}\n      spec:\n" +
			"        containers: [{name: c, image: x, securityContext: {privileged: true, runAsUser: 0}}]\n",
		"wf.yaml":   "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {name: wf, namespace: shop}\nspec:\n  templates:\n  - name: a\n    container: {image: x, securityContext: {privileged: true}}\n",
		"ward.yaml": "ignore:\n- rule: pss/privileged\n  object: shop/Workflow/wf\n  reason: builds images\n",
	}, "", "")
	r, errOut, _ := crpodsCheck(t, tree, "--show-suppressed")
	want := map[string]string{
		"shop/ScaledJob/sj pss/privileged": "annotation",
		"shop/ScaledJob/sj pss/runAsUser":  "annotation",
		"shop/Workflow/wf pss/privileged":  "config",
	}
	for _, f := range r.Findings {
		by, ok := want[f.Object+" "+f.Rule]
		if !ok {
			continue
		}
		delete(want, f.Object+" "+f.Rule)
		if f.Suppressed == nil || f.Suppressed.By != by {
			t.Errorf("%s %s: suppressed %+v, want by %s", f.Object, f.Rule, f.Suppressed, by)
		}
	}
	for k := range want {
		t.Errorf("no finding %s\n%s", k, errOut)
	}
}

// TestCheckEmbeddedPodSpecUndecodable: a pod spec that does not decode as
// a Kubernetes pod spec is not audited, and stderr says so with the line
// and the reason; so does a custom resource too deep to search.
func TestCheckEmbeddedPodSpecUndecodable(t *testing.T) {
	tree := t.TempDir()
	writeTree(t, tree, map[string]string{
		"sj.yaml": "apiVersion: keda.sh/v1alpha1\nkind: ScaledJob\nmetadata: {name: sj}\nspec:\n  jobTargetRef:\n    template:\n      spec:\n" +
			"        containers:\n        - name: c\n          image: x\n          securityContext: {privileged: [true]}\n",
	}, "", "")
	deep := "apiVersion: example.com/v1\nkind: Deep\nmetadata: {name: d}\nspec: " + strings.Repeat("{a: ", 40) + "{containers: [{name: c, image: x}]}" + strings.Repeat("}", 40) + "\n"
	writeTree(t, tree, map[string]string{"deep.yaml": deep}, "", "")
	_, errOut, code := crpodsCheck(t, tree)
	if code == ExitError {
		t.Errorf("exit %d", code)
	}
	if want := filepath.Join(tree, "deep.yaml") + ":1: Deep d (example.com/v1) may carry pod specs that Ward does not audit: Ward searches custom resources for pod specs down to"; !strings.Contains(errOut, want) {
		t.Errorf("stderr lacks %q:\n%s", want, errOut)
	}
	want := filepath.Join(tree, "sj.yaml") + ":11: ScaledJob sj (keda.sh/v1alpha1) carries a pod spec that Ward does not audit (spec.jobTargetRef.template.spec): it does not decode as a Kubernetes pod spec (spec.jobTargetRef.template.spec.containers[0].securityContext.privileged: "
	if !strings.Contains(errOut, want) {
		t.Errorf("stderr lacks %q:\n%s", want, errOut)
	}
}

// TestReachIgnoresEmbeddedPodSpecs: the pods of embedded pod specs are
// not in the network model: reachability is the same without them.
func TestReachIgnoresEmbeddedPodSpecs(t *testing.T) {
	const deploy = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api, namespace: shop}\nspec:\n  selector: {matchLabels: {app: api}}\n  template:\n    metadata: {labels: {app: api}}\n    spec: {containers: [{name: c, image: x, ports: [{containerPort: 80}]}]}\n"
	with, without := t.TempDir(), t.TempDir()
	writeTree(t, without, map[string]string{"deploy.yaml": deploy}, "", "")
	writeTree(t, with, map[string]string{"deploy.yaml": deploy,
		"sj.yaml": "apiVersion: keda.sh/v1alpha1\nkind: ScaledJob\nmetadata: {name: sj, namespace: shop}\nspec:\n  jobTargetRef:\n    template:\n      metadata: {labels: {app: api}}\n      spec: {hostNetwork: true, containers: [{name: c, image: x, ports: [{containerPort: 81}]}]}\n"}, "", "")
	a, errA, codeA := run(t, "", "reach", without, "-o", "json")
	b, errB, codeB := run(t, "", "reach", with, "-o", "json")
	if codeA != ExitOK || codeB != ExitOK {
		t.Fatalf("exit %d, %d:\n%s\n%s", codeA, codeB, errA, errB)
	}
	if strings.ReplaceAll(a, without, "") != strings.ReplaceAll(b, with, "") {
		t.Errorf("reach differs with the ScaledJob:\n%s\n%s", a, b)
	}
}
