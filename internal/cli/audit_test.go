package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wardsec/ward/finding"
	"github.com/wardsec/ward/internal/sarifschema"
)

type checkJSON struct {
	Findings []finding.Finding
	Summary  struct {
		Total, Suppressed, InputErrors, Files, Objects, Score int
		Failed                                                bool
	}
}

func checkOutput(t *testing.T, out string) checkJSON {
	t.Helper()
	var res checkJSON
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return res
}

// TestCheckBadFiles: a Dockerfile and a Compose file that do not parse are
// input/unreadable findings with file and line, the other files are still
// audited, and the run exits 2.
func TestCheckBadFiles(t *testing.T) {
	const dir = "internal/cli/testdata/audit/mixed"
	out, errOut, code := run(t, "", "check", dir, "-o", "json")
	if code != ExitError {
		t.Errorf("exit %d, want %d; stderr: %s", code, ExitError, errOut)
	}
	res := checkOutput(t, out)
	rules := map[string][]finding.Finding{}
	for _, f := range res.Findings {
		rules[f.Rule] = append(rules[f.Rule], f)
	}
	unreadable := map[string]int{}
	for _, f := range rules["input/unreadable"] {
		unreadable[f.File] = f.Line
	}
	if l := unreadable[dir+"/Dockerfile"]; l != 2 {
		t.Errorf("Dockerfile: input/unreadable at line %d, want 2 (%v)", l, rules["input/unreadable"])
	}
	if l, ok := unreadable[dir+"/compose.yaml"]; !ok || l < 3 {
		t.Errorf("compose.yaml: input/unreadable at line %d, want 3 or 4 (%v)", l, rules["input/unreadable"])
	}
	if res.Summary.InputErrors != 2 {
		t.Errorf("inputErrors = %d, want 2", res.Summary.InputErrors)
	}
	// The rest is still audited.
	for _, want := range []string{"dockerfile/user-missing", "dockerfile/no-multi-stage", "pod/image-latest", "pss/runAsNonRoot"} {
		if len(rules[want]) == 0 {
			t.Errorf("no %s finding: the good files were not audited", want)
		}
	}
}

// TestCheckSuppressions: an annotation and ward.yaml ignores silence
// findings, which stay counted, are listed with --show-suppressed, never
// fail the run, and a stale ignore is reported.
func TestCheckSuppressions(t *testing.T) {
	const dir = "internal/cli/testdata/audit/suppressed"
	out, _, code := run(t, "", "check", dir, "-o", "json", "--fail-on", "low")
	res := checkOutput(t, out)
	for _, f := range res.Findings {
		if f.Suppressed != nil {
			t.Errorf("suppressed finding listed without --show-suppressed: %+v", f)
		}
		if f.Severity > finding.Info {
			t.Errorf("unexpected finding above info: %s %s", f.Rule, f.Message)
		}
	}
	if code != ExitOK {
		t.Errorf("exit %d, want 0: suppressed findings must not fail the run", code)
	}
	if res.Summary.Suppressed < 3 {
		t.Errorf("summary.suppressed = %d, want at least 3 (annotation, digest, netpol)", res.Summary.Suppressed)
	}
	stale := false
	for _, f := range res.Findings {
		stale = stale || f.Rule == "input/stale-ignore" && strings.Contains(f.Message, "compose/privileged") && f.Line == 7
	}
	if !stale {
		t.Errorf("no input/stale-ignore for the compose/privileged entry at ward.yaml:7: %+v", res.Findings)
	}

	out, _, _ = run(t, "", "check", dir, "-o", "json", "--show-suppressed")
	by := map[string]string{}
	for _, f := range checkOutput(t, out).Findings {
		if f.Suppressed != nil {
			by[f.Rule] = f.Suppressed.By + ": " + f.Suppressed.Reason
		}
	}
	if got := by["pod/writable-root-fs"]; got != "annotation: the app writes only to an emptyDir at /tmp" {
		t.Errorf("pod/writable-root-fs suppression = %q", got)
	}
	if got := by["pod/image-not-pinned"]; got != "config: images are pinned by the deploy pipeline" {
		t.Errorf("pod/image-not-pinned suppression = %q", got)
	}
	text, _, _ := run(t, "", "check", dir, "--show-suppressed")
	if !strings.Contains(text, "suppressed by annotation: the app writes only to an emptyDir at /tmp") {
		t.Errorf("text output lacks the suppression:\n%s", text)
	}
}

// TestDogfood: Ward's own Dockerfile and deploy manifests pass `ward
// check` with nothing above info and no suppression.
func TestDogfood(t *testing.T) {
	out, errOut, code := run(t, "", "check", "Dockerfile", "deploy", "-o", "json", "--fail-on", "low", "--show-suppressed")
	if code != ExitOK {
		t.Errorf("ward check Dockerfile deploy: exit %d, want 0; stderr: %s\n%s", code, errOut, out)
	}
	res := checkOutput(t, out)
	for _, f := range res.Findings {
		if f.Severity > finding.Info || f.Suppressed != nil {
			t.Errorf("%s:%d %s %s: %s (suppressed: %v)", f.File, f.Line, f.Severity, f.Rule, f.Message, f.Suppressed)
		}
	}
	if res.Summary.Files != 1 || res.Summary.Objects < 3 {
		t.Errorf("checked %d files and %d objects, want the Dockerfile and the deploy objects", res.Summary.Files, res.Summary.Objects)
	}
}

// TestCheckSARIF validates the SARIF of the example, which has findings of
// every family, against the official 2.1.0 schema.
func TestCheckSARIF(t *testing.T) {
	out, _, code := run(t, "", "check", "examples/shop", "-o", "sarif")
	if code != ExitFindings {
		t.Errorf("exit %d, want %d", code, ExitFindings)
	}
	if err := sarifschema.Validate([]byte(out)); err != nil {
		t.Fatalf("invalid SARIF: %v", err)
	}
	var log struct {
		Runs []struct {
			Tool struct {
				Driver struct{ Rules []struct{ ID string } }
			}
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
	ids := map[string]bool{}
	for _, r := range log.Runs[0].Tool.Driver.Rules {
		ids[r.ID] = true
	}
	families := map[string]bool{}
	for _, r := range log.Runs[0].Results {
		if !ids[r.RuleID] {
			t.Errorf("result rule %s not in tool.driver.rules", r.RuleID)
		}
		family, _, _ := strings.Cut(r.RuleID, "/")
		families[family] = true
		if loc := r.Locations[0].PhysicalLocation; !strings.HasPrefix(loc.ArtifactLocation.URI, "examples/shop") || loc.Region.StartLine < 1 {
			t.Errorf("%s: location %+v", r.RuleID, loc)
		}
	}
	for _, f := range []string{"netpol", "assert", "pod", "dockerfile", "compose"} {
		if !families[f] {
			t.Errorf("no %s result in the example's SARIF", f)
		}
	}
}

// TestCheckSARIFAbsolute: ward check $GITHUB_WORKSPACE/... gives
// absolute paths; SARIF writes them relative to the current directory,
// the repository's root for code scanning (before: "/home/runner/...",
// which names no file of the repository).
func TestCheckSARIFAbsolute(t *testing.T) {
	out, _, _ := run(t, "", "check", filepath.Join(root, "examples", "shop"), "-o", "sarif")
	if err := sarifschema.Validate([]byte(out)); err != nil {
		t.Fatalf("invalid SARIF: %v", err)
	}
	var log struct {
		Runs []struct {
			Results []struct {
				Locations []struct {
					PhysicalLocation struct{ ArtifactLocation struct{ URI string } }
				}
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &log); err != nil {
		t.Fatal(err)
	}
	if len(log.Runs) != 1 || len(log.Runs[0].Results) == 0 {
		t.Fatalf("no results:\n%s", out)
	}
	for _, r := range log.Runs[0].Results {
		if uri := r.Locations[0].PhysicalLocation.ArtifactLocation.URI; !strings.HasPrefix(uri, "examples/shop/") {
			t.Errorf("location %q, want examples/shop/...", uri)
		}
	}
}

// TestKustomize: a directory tree with a base and an overlay is rendered
// in-process once (the overlay, not the base on its own), and findings
// point at the source files through origin annotations.
func TestKustomize(t *testing.T) {
	const dir = "internal/cli/testdata/kustomize"
	out, errOut, code := run(t, "", "check", dir, "-o", "json")
	if code != ExitFindings {
		t.Errorf("exit %d, want %d; stderr: %s", code, ExitFindings, errOut)
	}
	res := checkOutput(t, out)
	if res.Summary.Objects != 2 || res.Summary.InputErrors != 0 {
		t.Errorf("objects %d, input errors %d; want 2 and 0 (the base must not be rendered twice)", res.Summary.Objects, res.Summary.InputErrors)
	}
	found := false
	for _, f := range res.Findings {
		if f.Rule == "pss/privileged" {
			found = f.Object == "shop-prod/Deployment/web" && f.File == dir+"/base/deployment.yaml" && f.Line == 2
		}
		if !strings.HasPrefix(f.File, dir+"/base/") {
			t.Errorf("%s points at %s:%d, not at a source file", f.Rule, f.File, f.Line)
		}
	}
	if !found {
		t.Errorf("no pss/privileged finding (from the overlay's patch) on shop-prod/Deployment/web at base/deployment.yaml:2:\n%s", out)
	}
	reach, _, code := run(t, "", "reach", dir)
	if code != ExitOK || !strings.Contains(reach, "shop-prod/Deployment/web") {
		t.Errorf("ward reach on a kustomization: exit %d\n%s", code, reach)
	}

	out, _, code = run(t, "", "check", "internal/cli/testdata/kustomize-remote", "-o", "json")
	fs := checkOutput(t, out).Findings
	if code != ExitError || len(fs) != 1 || fs[0].Rule != "input/unreadable" || fs[0].Line != 2 ||
		fs[0].File != "internal/cli/testdata/kustomize-remote/kustomization.yaml" || !strings.Contains(fs[0].Message, "ward does not fetch") {
		t.Errorf("remote base: exit %d, want %d and one input/unreadable finding at kustomization.yaml:2:\n%s", code, ExitError, out)
	}
}

// TestCheckHelmOrigin: `helm template | ward check -` keeps each object's
// "# Source:" template as the origin of its findings.
func TestCheckHelmOrigin(t *testing.T) {
	data, err := os.ReadFile("../../manifest/testdata/helm.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// The chart's ConfigMap is audited now; a Secret is still skipped, and
	// the skipped-document finding keeps its template too.
	data = append(data, "---\n# Source: shop/templates/secret.yaml\napiVersion: v1\nkind: Secret\nmetadata: {name: shop-tls, namespace: shop}\n"...)
	out, _, _ := run(t, string(data), "check", "-", "-o", "json")
	origins := map[string]string{}
	for _, f := range checkOutput(t, out).Findings {
		origins[f.Rule+" "+f.Object] = f.Origin
	}
	for key, want := range map[string]string{
		"pss/runAsNonRoot shop/Deployment/web":         "shop/templates/deployment.yaml",
		"netpol/no-default-deny-egress Namespace/shop": "shop/templates/namespace.yaml",
		"input/skipped ": "shop/templates/secret.yaml",
	} {
		if origins[key] != want {
			t.Errorf("%s: origin %q, want %q (all: %v)", key, origins[key], want, origins)
		}
	}
}

// TestFwPlan: `ward fw plan` prints the firewall package's golden ruleset
// for the shop and its inventory.
func TestFwPlan(t *testing.T) {
	out, errOut, code := run(t, "", "fw", "plan", "examples/shop", "--inventory", "firewall/testdata/shop-inventory.yaml", "--diff=false")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want, err := os.ReadFile("firewall/testdata/shop.nft")
	if err != nil {
		t.Fatal(err)
	}
	if out != string(want) {
		t.Errorf("ward fw plan differs from firewall/testdata/shop.nft")
	}
	if _, errOut, code := run(t, "", "fw", "plan", "examples/shop", "--inventory", "internal/cli/testdata/audit/mixed/web.yaml"); code != ExitError || !strings.Contains(errOut, "web.yaml:") {
		t.Errorf("a bad inventory: exit %d, %q; want 2 and file:line", code, errOut)
	}
}

// TestCheckComposeEmbeddedDNS: `ward check` judges a Compose file's
// services with the NetworkPolicies beside it, in the project's namespace
// (the directory's name), and reports the one whose policy denies DNS,
// which Docker's embedded resolver answers anyway.
func TestCheckComposeEmbeddedDNS(t *testing.T) {
	const dir = "internal/cli/testdata/audit/dns"
	out, errOut, _ := run(t, "", "check", dir, "-o", "json")
	var got []string
	for _, f := range checkOutput(t, out).Findings {
		if f.Rule == "compose/embedded-dns-bypasses-policy" {
			got = append(got, f.Location()+" "+f.Object)
		}
	}
	if want := []string{dir + "/compose.yaml:8 service worker"}; !slices.Equal(got, want) {
		t.Errorf("findings %q, want %q; stderr: %s", got, want, errOut)
	}
}

// TestSuppressionOtherGroup: an object of another API group than the one
// Ward models under the same kind name (a custom resource called
// Deployment, a Calico NetworkPolicy) is named kind.group in findings, so
// an ignore.ward.dev annotation on either object silences only its own.
// Both had one name: a Calico policy allowing all ingress passed, its
// input/unsupported-policy silenced by the Kubernetes policy's annotation.
func TestSuppressionOtherGroup(t *testing.T) {
	type want struct {
		rule, object string
		line         int
		suppressed   bool
	}
	for _, tc := range []struct {
		file string
		code int
		want []want
	}{
		{"custom-deployment.yaml", ExitFindings, []want{
			{"pss/privileged", "shop/Deployment/web", 15, false},
			{"pss/privileged", "shop/Deployment.example.com/web", 31, true},
		}},
		{"calico-policy.yaml", ExitFindings, []want{
			{"input/unsupported-policy", "shop/NetworkPolicy.projectcalico.org/p", 15, false},
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			out, errOut, code := run(t, "", "check", "internal/cli/testdata/audit/suppress-group/"+tc.file, "-o", "json", "--show-suppressed")
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr: %s", code, tc.code, errOut)
			}
			res := checkOutput(t, out)
			for _, w := range tc.want {
				i := slices.IndexFunc(res.Findings, func(f finding.Finding) bool {
					return f.Rule == w.rule && f.Object == w.object && f.Line == w.line
				})
				if i < 0 {
					var got []string
					for _, f := range res.Findings {
						got = append(got, fmt.Sprintf("%s %s:%d", f.Rule, f.Object, f.Line))
					}
					t.Errorf("no %s finding on %s at line %d; findings: %s", w.rule, w.object, w.line, strings.Join(got, ", "))
					continue
				}
				if got := res.Findings[i].Suppressed != nil; got != w.suppressed {
					t.Errorf("%s on %s: suppressed = %v, want %v (%+v)", w.rule, w.object, got, w.suppressed, res.Findings[i].Suppressed)
				}
			}
		})
	}
}

// TestCheckTextEscapes: the text report and the warnings on stderr print
// what the input names (a custom resource's name here) with the
// characters a terminal acts on escaped: raw, ESC [2K and CR in a name
// erased the finding's line on the reader's screen, and U+202E reordered
// it. The exit code is unchanged.
func TestCheckTextEscapes(t *testing.T) {
	const file = "internal/cli/testdata/audit/escapes/scaledjob.yaml"
	out, errOut, code := run(t, "", "check", file)
	if code != ExitFindings {
		t.Errorf("exit %d, want %d", code, ExitFindings)
	}
	const name = `sj\x1b[2K\x0dHIDDEN\u202eevil`
	for _, tc := range []struct{ stream, text, want string }{
		{"stdout", out, "shop/ScaledJob/" + name},
		{"stderr", errOut, "ScaledJob shop/" + name},
	} {
		stream, text := tc.stream, tc.text
		if i := strings.IndexFunc(text, func(r rune) bool { return r == 0x1b || r == '\r' || r == 0x202e }); i >= 0 {
			t.Errorf("%s holds a raw control character at %d: %q", stream, i, text[max(0, i-40):min(len(text), i+40)])
		}
		if !strings.Contains(text, tc.want) {
			t.Errorf("%s does not name the object as %s:\n%s", stream, tc.want, text)
		}
	}
	if !strings.Contains(out, "pss/privileged") {
		t.Errorf("the privileged container is not reported:\n%s", out)
	}

	// ward assert prints ward.yaml's assertion names as they are written.
	out, errOut, code = run(t, "", "assert", "internal/cli/testdata/audit/escapes-assert")
	if code != ExitFindings {
		t.Errorf("ward assert: exit %d, want %d; stderr: %s", code, ExitFindings, errOut)
	}
	if strings.ContainsAny(out, "\r\x1b") {
		t.Errorf("ward assert output holds a raw control character: %q", out)
	}
	if want := `FAIL  internal/cli/testdata/audit/escapes-assert/ward.yaml:4  web never reaches db\x0d\x1b[2KPASS`; !strings.Contains(out, want) {
		t.Errorf("ward assert output lacks %q:\n%s", want, out)
	}
}

// TestTraceFileEscapes: the explain traces of ward assert and ward explain
// name each policy's file. A file named with cursor movements and a
// carriage return ("np\e[1A\e[2K\rPASS.yaml") erased the lines above its
// trace, the FAIL line of ward assert among them, on the reader's screen;
// a line break in the name printed a line of its own.
func TestTraceFileEscapes(t *testing.T) {
	dir := t.TempDir()
	const evil = "np\x1b[1A\x1b[2K\rPASS\n.yaml"
	for name, body := range map[string]string{
		"apps.yaml": unevaluatedApps,
		evil: `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress: [{from: [{podSelector: {matchLabels: {app: web}}}]}]
`,
		"ward.yaml": unevaluatedAssertions,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	const want = `np\x1b[1A\x1b[2K\x0dPASS\x0a.yaml`
	for _, args := range [][]string{
		{"assert", dir},
		{"explain", dir, "--from", "shop/Deployment/web", "--to", "shop/Deployment/db"},
	} {
		out, errOut, _ := run(t, "", args...)
		if i := strings.IndexAny(out, "\x1b\r"); i >= 0 {
			t.Errorf("ward %s prints a raw control character at %d: %q", args[0], i, out[max(0, i-40):min(len(out), i+40)])
		}
		if !strings.Contains(out, want) {
			t.Errorf("ward %s does not name the policy's file as %s:\n%s%s", args[0], want, out, errOut)
		}
	}
}

// TestWarningFileEscapes: a warning names a file of the input; a line
// break in the name printed a warning line of the file's choosing on
// standard error ("ward: warning: ... not read" followed by a line of its
// own).
func TestWarningFileEscapes(t *testing.T) {
	dir := t.TempDir()
	const evil = "scaledjob\nward: all inputs read, nothing skipped\n.yaml"
	data, err := os.ReadFile("testdata/audit/escapes/scaledjob.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, evil), data, 0o600); err != nil {
		t.Fatal(err)
	}
	_, errOut, _ := run(t, "", "reach", dir)
	if !strings.Contains(errOut, `scaledjob\x0award: all inputs read`) {
		t.Errorf("the warnings do not name the file escaped:\n%s", errOut)
	}
	for _, line := range strings.Split(errOut, "\n") {
		if strings.HasPrefix(line, "ward: all inputs read") {
			t.Errorf("a line of the file name's choosing was printed: %q", line)
		}
	}
}
