package suppress

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wardsec/ward/finding"
	"github.com/wardsec/ward/srcpos"
)

// known is a small rule registry for the tests.
var known = []string{"pod/writable-root-fs", "pss/hostPathVolumes", "pss/restrictedVolumes", "pss/runAsNonRoot", "pss/runAsUser", "dockerfile/user-root", "compose/user-root"}

func TestResolve(t *testing.T) {
	for _, tc := range []struct {
		rule  string
		rules []string // Ignore.Rules after Resolve; nil: kept as a pattern
		kept  bool
		warn  string
	}{
		{rule: "pod/writable-root-fs", kept: true},
		{rule: "pss/*", kept: true},
		{rule: "KSV014", rules: []string{"pod/writable-root-fs"}, kept: true},
		{rule: "AVD-KSV-0014", rules: []string{"pod/writable-root-fs"}, kept: true},
		{rule: "kube-linter:run-as-non-root", rules: []string{"pss/runAsNonRoot", "pss/runAsUser"}, kept: true},
		{rule: "DL3002", rules: []string{"dockerfile/user-root"}, kept: true},
		{rule: "KSV-0023", rules: []string{"pss/hostPathVolumes", "pss/restrictedVolumes"}, kept: true, warn: "which Ward covers differently (broader): Ward (the Pod Security Standards' check) flags every hostPath volume"},
		{rule: "DL4006", warn: "ward.yaml:7: ignore of DL4006 (hadolint (DL): no pipefail before a RUN with a pipe) suppresses nothing: Ward leaves this check to hadolint (DL) (correctness). A failing command"},
		{rule: "KSV-0117", warn: "suppresses nothing: the rule it maps to (pod/privileged-port) is not in this version of Ward"},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			in := []Ignore{{Rule: tc.rule, Reason: "r", File: "ward.yaml", Line: 7}}
			out, warns, err := Resolve(in, known)
			if err != nil {
				t.Fatal(err)
			}
			if len(out) != map[bool]int{true: 1, false: 0}[tc.kept] {
				t.Fatalf("kept %d entries, want kept=%v", len(out), tc.kept)
			}
			if tc.kept {
				if diff := cmp.Diff(tc.rules, out[0].Rules); diff != "" {
					t.Errorf("Rules (-want +got):\n%s", diff)
				}
			}
			switch {
			case tc.warn == "" && len(warns) > 0:
				t.Errorf("unexpected warnings %v", warns)
			case tc.warn != "" && (len(warns) != 1 || !strings.Contains(warns[0].String(), tc.warn)):
				t.Errorf("warnings %v, want one containing %q", warns, tc.warn)
			}
		})
	}
}

func TestResolveErrors(t *testing.T) {
	for _, tc := range []struct{ rule, want string }{
		{"pod/writeable-root-fs", `ward.yaml:3: ignore: unknown rule "pod/writeable-root-fs"`},
		{"run-as-non-root", "did you mean kube-linter:run-as-non-root?"},
		{"hostIPCSet", "did you mean polaris:hostIPCSet?"},
		{"KSV-9999", `unknown rule "KSV-9999"`},
		{"mesh/*", `ward.yaml:3: ignore: pattern "mesh/*" matches no rule of Ward`},
	} {
		ok := Ignore{Rule: "pss/*", Reason: "r", File: "ward.yaml", Line: 1}
		out, warns, err := Resolve([]Ignore{ok, {Rule: tc.rule, Reason: "r", File: "ward.yaml", Line: 3}}, known)
		var pe *srcpos.Error
		if !errors.As(err, &pe) || pe.Line != 3 || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want a srcpos.Error at line 3 containing %q", tc.rule, err, tc.want)
		}
		if out != nil || warns != nil {
			t.Errorf("%s: partial result %v %v", tc.rule, out, warns)
		}
	}
}

// TestAliasMatches: an entry resolved from a peer id silences exactly its
// Ward rules, not the others its spelling might match as a pattern.
func TestAliasMatches(t *testing.T) {
	out, _, err := Resolve([]Ignore{{Rule: "DL3002", Reason: "builder stage", File: "ward.yaml", Line: 2}}, known)
	if err != nil {
		t.Fatal(err)
	}
	fs, stale := Apply([]finding.Finding{
		{Rule: "dockerfile/user-root", Severity: finding.High, File: "Dockerfile"},
		{Rule: "compose/user-root", Severity: finding.High, File: "compose.yaml"},
	}, nil, out)
	if fs[0].Suppressed == nil || fs[1].Suppressed != nil || len(stale) != 0 {
		t.Errorf("DL3002 should silence dockerfile/user-root only: %+v, stale %v", fs, stale)
	}
}
