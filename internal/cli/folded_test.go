package cli

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestCheckFoldedPods: `ward check` on a dump whose Pods are what the API
// server writes for their Deployment gives the Deployment's findings and
// no more; Pods that name its ReplicaSet as their owner but run another
// spec are audited on their own spec, each finding naming the Pod at its
// file and line (the line of the field when a rule points at one), and the
// run fails.
func TestCheckFoldedPods(t *testing.T) {
	const dir = "internal/cli/testdata/folded/"
	key := func(out string) []string {
		var keys []string
		for _, f := range checkOutput(t, out).Findings {
			keys = append(keys, f.Rule+" "+f.Object+" "+strconv.Itoa(f.Line)+" "+f.Message)
		}
		return keys
	}
	tmplOut, _, _ := run(t, "", "check", dir+"template.yaml", "-o", "json")
	dumpOut, errOut, code := run(t, "", "check", dir+"dump.yaml", "-o", "json")
	if code != ExitOK {
		t.Errorf("dump.yaml: exit %d, want %d; stderr: %s", code, ExitOK, errOut)
	}
	if diff := cmp.Diff(key(tmplOut), key(dumpOut)); diff != "" {
		t.Errorf("dump.yaml has other findings than its Deployment alone (-template +dump):\n%s", diff)
	}

	out, errOut, code := run(t, "", "check", dir+"forged.yaml", "-o", "json")
	if code != ExitFindings {
		t.Errorf("forged.yaml: exit %d, want %d; stderr: %s", code, ExitFindings, errOut)
	}
	data, err := os.ReadFile(filepath.Join(root, dir, "forged.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	lineOf := func(s string) int {
		return slices.IndexFunc(lines, func(l string) bool { return strings.HasSuffix(l, s) }) + 1
	}
	byPod := map[string][]string{}
	for _, f := range checkOutput(t, out).Findings {
		if f.File != dir+"forged.yaml" {
			t.Errorf("finding in %s, want forged.yaml: %+v", f.File, f)
		}
		if name, ok := strings.CutPrefix(f.Object, "shop/Pod/web-7d9c5b8f4-"); ok {
			byPod[name] = append(byPod[name], f.Rule+" "+strconv.Itoa(f.Line))
		}
	}
	for _, tc := range []struct {
		pod  string
		want string // a finding of a rule judging the change, at the marked line
	}{
		{"privileged", "pss/privileged"},
		{"hostnet", "pss/hostNamespaces"},
		{"hostpid", "pss/hostNamespaces"},
		{"hostpath", "pss/restrictedVolumes"},
		{"netadmin", "pss/capabilities_restricted"},
		{"root", "pss/runAsUser"},
		{"extra", "pss/capabilities_restricted"},
		{"ephemeral", "pss/capabilities_restricted"},
		{"image", ""},
		{"relabel", ""}, // a Service or NetworkPolicy may select it, not its template
	} {
		got := byPod[tc.pod]
		podLine := lineOf("name: web-7d9c5b8f4-" + tc.pod)
		for podLine > 0 && lines[podLine-1] != "apiVersion: v1" {
			podLine--
		}
		if !slices.Contains(got, "pod/deviates-from-template "+strconv.Itoa(podLine)) {
			t.Errorf("Pod %s: no pod/deviates-from-template at line %d: %v", tc.pod, podLine, got)
		}
		if tc.want != "" && !slices.Contains(got, tc.want+" "+strconv.Itoa(lineOf("# "+tc.pod))) {
			t.Errorf("Pod %s: no %s at line %d: %v", tc.pod, tc.want, lineOf("# "+tc.pod), got)
		}
	}
	if got := byPod["clean"]; len(got) > 0 {
		t.Errorf("the Pod as the API server writes it has findings: %v", got)
	}

	// A Pod relabelled out of its workload's NetworkPolicy and into a
	// NodePort Service is modelled as what its labels say: exposed and
	// not isolated, which fails the gate at the default --fail-on=high.
	out, errOut, code = run(t, "", "check", dir+"relabelled.yaml", "-o", "json")
	if code != ExitFindings {
		t.Errorf("relabelled.yaml: exit %d, want %d; stderr: %s", code, ExitFindings, errOut)
	}
	exposed := false
	for _, f := range checkOutput(t, out).Findings {
		if f.Rule == "pod/exposed-unisolated" && f.Object == "shop/Service/debug" && strings.Contains(f.Message, "shop/Pod/web-7d9c5b8f4-bbbbb") {
			exposed = true
		}
		if f.Object == "shop/Deployment/web" && strings.HasPrefix(f.Rule, "pod/exposed") {
			t.Errorf("the Deployment, isolated, is reported exposed: %+v", f)
		}
	}
	if !exposed {
		t.Errorf("relabelled.yaml: no pod/exposed-unisolated for the relabelled Pod behind Service debug:\n%s", out)
	}

	// A Service that selects a StatefulSet Pod by the label its controller
	// adds (not in the template) publishes that Pod, and fails the gate.
	out, errOut, code = run(t, "", "check", dir+"perpod.yaml", "-o", "json")
	if code != ExitFindings {
		t.Errorf("perpod.yaml: exit %d, want %d; stderr: %s", code, ExitFindings, errOut)
	}
	exposed = false
	for _, f := range checkOutput(t, out).Findings {
		if f.Rule == "pod/exposed-unisolated" && f.Object == "data/Service/kafka-0-external" && strings.Contains(f.Message, "data/Pod/kafka-0") {
			exposed = true
		}
	}
	if !exposed {
		t.Errorf("perpod.yaml: no pod/exposed-unisolated for Pod kafka-0 behind its own Service:\n%s", out)
	}
}

// TestAssertFoldedPodSelectors: a Pod folded into its Deployment whose
// label differs from the template only in a mesh label (which Ward
// ignores unless a selector reads it) is modelled apart when only
// ward.yaml's assertion reads that label: the mesh Pod that reaches the
// database fails the assertion, in ward assert and ward check alike.
// Before, the assertion saw only the other mesh workload and passed.
func TestAssertFoldedPodSelectors(t *testing.T) {
	const dir = "internal/cli/testdata/folded/asserted"
	out, errOut, code := run(t, "", "assert", dir)
	if code != ExitFindings || !strings.Contains(out, "FAIL") || !strings.Contains(out, "shop/Pod/web-7d9c5b8f4-bbbbb -> data/Deployment/db") {
		t.Errorf("ward assert: exit %d, want %d with the injected Pod's pair:\n%s%s", code, ExitFindings, out, errOut)
	}
	out, errOut, code = run(t, "", "check", dir, "-o", "json")
	if code != ExitFindings {
		t.Errorf("ward check: exit %d, want %d; stderr: %s", code, ExitFindings, errOut)
	}
	failed := false
	for _, f := range checkOutput(t, out).Findings {
		failed = failed || f.Rule == "assert/failed" && strings.Contains(f.Message, "web-7d9c5b8f4-bbbbb")
	}
	if !failed {
		t.Errorf("ward check: no assert/failed naming the injected Pod:\n%s", out)
	}
}
