package cli

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckReadsAsApplied replays, through `ward check`, inputs that
// kubectl, helm or an operator apply differently from how Ward read them,
// and that passed the gate: each must now fail it (exit 1 with the
// privileged pod's finding, or exit 2 naming file:line), or at least warn
// on stderr about what is not audited.
func TestCheckReadsAsApplied(t *testing.T) {
	const pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    image: x\n    securityContext: {privileged: true}\n"
	indent := func(s, by string) string {
		return by + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n"+by) + "\n"
	}
	tests := []struct {
		name   string
		files  map[string]string
		code   int
		rule   string // a finding of this rule, at at when set
		at     string // "file:line", the file relative to the tree
		stderr string // in standard error
	}{
		{name: "pod in a ConfigMap's items",
			files: map[string]string{"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\nitems:\n- " + strings.TrimPrefix(indent(pod, "  "), "  ")},
			code:  ExitFindings, rule: "pss/privileged"},
		{name: "second items of a List",
			files: map[string]string{"list.yaml": "apiVersion: v1\nkind: List\nitems: []\nitems:\n- " + strings.TrimPrefix(indent(pod, "  "), "  ")},
			code:  ExitError, rule: "input/unreadable", at: "list.yaml:4"},
		{name: "second kind",
			files: map[string]string{"pod.yaml": strings.Replace(pod, "kind: Pod", "kind: Foo", 1) + "kind: Pod\n"},
			code:  ExitError, rule: "input/unreadable", at: "pod.yaml:9"},
		{name: "helm document glued to its marker",
			files: map[string]string{"chart/Chart.yaml": "apiVersion: v2\nname: c\nversion: 0.1.0\n", "chart/templates/pod.yaml": "---" + pod},
			code:  ExitFindings, rule: "pss/privileged"},
		{name: "pod spec in a custom resource",
			files: map[string]string{"sj.yaml": "apiVersion: keda.sh/v1alpha1\nkind: ScaledJob\nmetadata: {name: sj}\nspec:\n  jobTargetRef:\n    template:\n      spec:\n        containers: [{name: c, image: x, securityContext: {privileged: true}}]\n"},
			code:  ExitFindings, rule: "pss/privileged", at: "sj.yaml:8", stderr: "sj.yaml:1: ScaledJob sj (keda.sh/v1alpha1) carries pod specs (spec.jobTargetRef.template.spec): Ward audits them"},
		// kubectl apply refuses a policy with a misspelt field; read
		// without it, this one was a deny-all that isolated the pod.
		{name: "misspelt NetworkPolicy field",
			files: map[string]string{"pod.yaml": pod, "np.yaml": "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: np}\nspec:\n  podSelector: {}\n  policyTypes: [Ingress]\n  ingres:\n  - {}\n"},
			code:  ExitError, rule: "input/invalid", at: "np.yaml:7"},
		{name: "misspelt Istio operation field",
			files: map[string]string{"ap.yaml": "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: ap}\nspec:\n  rules:\n  - to: [{operation: {methods: [GET], path: [/public/*]}}]\n"},
			code:  ExitError, rule: "input/invalid", at: "ap.yaml:6"},
		// kubectl's YAML 1.1 reader makes the key on: "true": the policy
		// selects true=x, not the pod labelled "on": x, which the NodePort
		// Service publishes unisolated.
		{name: "YAML 1.1 boolean label key",
			files: map[string]string{"pod.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {\"on\": x}}\nspec:\n  containers: [{name: c, image: x}]\n",
				"svc.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  type: NodePort\n  selector: {\"on\": x}\n  ports: [{port: 80}]\n",
				"np.yaml":  "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: np}\nspec:\n  podSelector: {matchLabels: {on: x}}\n  policyTypes: [Ingress]\n"},
			code: ExitFindings, rule: "pod/exposed-unisolated", at: "svc.yaml:1"},
		// yaml.v2, kubectl's reader, merges in the order of the text: the
		// merge after the key wins.
		{name: "merge key after the key it overrides",
			files: map[string]string{"pod.yaml": strings.Replace(pod, "{privileged: true}", "{privileged: false, <<: {privileged: true}}", 1)},
			code:  ExitFindings, rule: "pss/privileged"},
		// kubectl starts a document at "---" lines only: the policy after
		// "..." is dropped, and the pod is not isolated.
		{name: "document after an end marker",
			files: map[string]string{"all.yaml": pod + "...\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: np}\nspec: {podSelector: {}}\n"},
			code:  ExitError, rule: "input/unreadable", at: "all.yaml:10"},
		// The API server refuses an object whose name or namespace is not
		// a DNS name, or whose label or annotation key is malformed: this
		// deny-all is never created, and the NodePort Service publishes
		// the pod unisolated.
		{name: "NetworkPolicy with an invalid name",
			files: map[string]string{"pod.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {app: web}}\nspec:\n  containers: [{name: c, image: x}]\n",
				"svc.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  type: NodePort\n  selector: {app: web}\n  ports: [{port: 80}]\n",
				"np.yaml":  "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: Deny_All\nspec:\n  podSelector: {}\n  policyTypes: [Ingress]\n"},
			code: ExitError, rule: "input/invalid", at: "np.yaml:4"},
		{name: "NetworkPolicy in an invalid namespace",
			files: map[string]string{"np.yaml": "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: deny-all\n  namespace: Shop\nspec:\n  podSelector: {}\n  policyTypes: [Ingress]\n"},
			code:  ExitError, rule: "input/invalid", at: "np.yaml:5"},
		{name: "NetworkPolicy with an invalid label",
			files: map[string]string{"np.yaml": "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: deny-all\n  labels:\n    owner: platform team\nspec:\n  podSelector: {}\n  policyTypes: [Ingress]\n"},
			code:  ExitError, rule: "input/invalid", at: "np.yaml:6"},
		{name: "NetworkPolicy with an invalid annotation key",
			files: map[string]string{"np.yaml": "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: deny-all\n  annotations:\n    reviewed by: platform\nspec:\n  podSelector: {}\n  policyTypes: [Ingress]\n"},
			code:  ExitError, rule: "input/invalid", at: "np.yaml:6"},
		{name: "PeerAuthentication with an invalid name",
			files: map[string]string{"pa.yaml": "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: strict_mtls, namespace: istio-system}\nspec:\n  mtls: {mode: STRICT}\n"},
			code:  ExitError, rule: "input/invalid", at: "pa.yaml:3"},
		// A workload named invalidly is never created either, but it is
		// still audited, as a workload with a bad port is.
		{name: "workload with an invalid name",
			files: map[string]string{"pod.yaml": strings.Replace(pod, "name: p}", "name: P}", 1)},
			code:  ExitError, rule: "pss/privileged"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tree := t.TempDir()
			writeTree(t, tree, tt.files, "", "")
			out, errOut, code := run(t, "", "check", tree, "-o", "json")
			if code != tt.code {
				t.Errorf("exit %d, want %d\n%s\n%s", code, tt.code, out, errOut)
			}
			var report struct {
				Findings []struct {
					Rule, File string
					Line       int
				}
			}
			if err := json.Unmarshal([]byte(out), &report); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			found := tt.rule == ""
			for _, f := range report.Findings {
				if f.Rule == tt.rule && (tt.at == "" || fmt.Sprintf("%s:%d", f.File, f.Line) == filepath.Join(tree, tt.at)) {
					found = true
				}
			}
			if !found {
				t.Errorf("no %s finding at %q:\n%s", tt.rule, tt.at, out)
			}
			if tt.stderr != "" && !strings.Contains(errOut, filepath.Join(tree, tt.stderr)) {
				t.Errorf("stderr lacks %q:\n%s", tt.stderr, errOut)
			}
		})
	}
}

// TestUnreadSources: a directory walk passed over a packaged Helm chart
// (what helm install takes) and Jsonnet (what Argo CD and Tanka
// evaluate) in silence, and the check passed on the rest; each is now
// named on stderr as not read. A chart archive given as PATH is an input
// error that says what it is, not a YAML syntax error.
func TestUnreadSources(t *testing.T) {
	const policy = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny}\nspec: {podSelector: {}, policyTypes: [Ingress, Egress]}\n"
	chart := t.TempDir()
	writeTree(t, chart, map[string]string{
		"app/Chart.yaml":         "apiVersion: v2\nname: app\nversion: 0.1.0\n",
		"app/templates/pod.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {hostNetwork: true, containers: [{name: c, image: x}]}\n",
	}, "", "")
	archive := packChart(t, filepath.Join(chart, "app"))

	tree := t.TempDir()
	writeTree(t, tree, map[string]string{"policy.yaml": policy, "app.jsonnet": "{apiVersion: 'v1', kind: 'Pod'}\n", "logs.tar.gz": ""}, "", "")
	if err := os.WriteFile(filepath.Join(tree, "app-0.1.0.tgz"), archive, 0o600); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := run(t, "", "check", tree)
	if code != ExitOK {
		t.Errorf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		filepath.Join(tree, "app.jsonnet") + ": not read: Jsonnet",
		filepath.Join(tree, "app-0.1.0.tgz") + ": not read: a packaged Helm chart",
	} {
		if !strings.Contains(errOut, "ward: warning: "+want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(errOut, "logs.tar.gz") {
		t.Errorf("an archive that is not a chart is named:\n%s", errOut)
	}

	out, _, code := run(t, "", "check", filepath.Join(tree, "app-0.1.0.tgz"))
	if code != ExitError || !strings.Contains(out, "a packaged Helm chart") {
		t.Errorf("exit %d, want %d naming the archive:\n%s", code, ExitError, out)
	}
}

// packChart returns dir packed as helm package packs it: a gzipped tar
// whose top directory is the chart's.
func packChart(t *testing.T, dir string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	base := filepath.Dir(dir)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p) // #nosec G304 -- a test file
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(base, p)
		if err := tw.WriteHeader(&tar.Header{Name: filepath.ToSlash(rel), Mode: 0o644, Size: int64(len(data))}); err != nil {
			return err
		}
		_, err = tw.Write(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
