package cli

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckIgnorePathAnchored: the attack is a pull request that adds a
// privileged pod under a directory named like one a reviewed ignore entry
// covers (path: third_party/, for the vendored manifests at the root).
// The entry matched any trailing part of a file's path, so
// apps/third_party/evil.yaml was silenced and the gate stayed green. A
// path is now matched from the directory of the ward.yaml, as written.
func TestCheckIgnorePathAnchored(t *testing.T) {
	dir := t.TempDir()
	pod := func(name string) string {
		return "apiVersion: v1\nkind: Pod\nmetadata: {name: " + name + ", namespace: default}\nspec:\n  containers:\n  - name: c\n    image: nginx\n    securityContext: {privileged: true}\n"
	}
	writeTree(t, dir, map[string]string{
		"ward.yaml":                  "ignore:\n  - rule: \"*\"\n    path: third_party/\n    reason: vendored upstream manifests, reviewed upstream\n",
		"third_party/up.yaml":        pod("up"),
		"apps/third_party/evil.yaml": pod("evil"),
	}, "", "")
	out, errOut, code := run(t, "", "check", dir, "-o", "json", "--show-suppressed")
	if code != ExitFindings {
		t.Errorf("exit %d, want %d (the evil pod's findings); stderr: %s", code, ExitFindings, errOut)
	}
	var up, evil int
	for _, f := range checkOutput(t, out).Findings {
		switch {
		case f.Rule != "pss/privileged":
		case f.Object == "default/Pod/up" && f.Suppressed != nil:
			up++
		case f.Object == "default/Pod/evil" && f.Suppressed == nil:
			evil++
			if !strings.HasSuffix(f.File, filepath.Join("apps", "third_party", "evil.yaml")) {
				t.Errorf("evil pod's finding at %s", f.File)
			}
		default:
			t.Errorf("unexpected %s %s suppressed=%+v", f.Rule, f.Object, f.Suppressed)
		}
	}
	if up != 1 || evil != 1 {
		t.Errorf("pss/privileged: %d suppressed for the vendored pod (want 1), %d unsuppressed for the added one (want 1):\n%s", up, evil, out)
	}
}
