package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/wardsec/ward/finding"
	"github.com/wardsec/ward/internal/sarifschema"
)

func validateSARIF(t *testing.T, out []byte) {
	t.Helper()
	if err := sarifschema.Validate(out); err != nil {
		t.Fatalf("SARIF does not validate against the 2.1.0 schema: %v\n%s", err, out)
	}
}

func TestSARIF(t *testing.T) {
	rules := []finding.Rule{
		{ID: "pod/writable-root-fs", Severity: finding.Medium, Summary: "root filesystem is writable", Rationale: "why", Fix: "set readOnlyRootFilesystem", Equivalents: []string{"KSV014"}},
		{ID: "netpol/no-default-deny-ingress", Severity: finding.Medium, Summary: "no default deny"},
	}
	fs := []finding.Finding{
		{Rule: "pod/writable-root-fs", Severity: finding.Medium, File: "deploy/web app.yaml", Line: 17, Object: "web/Deployment/web", Message: "container web", Fix: "set it"},
		{Rule: "netpol/no-default-deny-ingress", Severity: finding.Medium, Object: "Namespace/ghost", Message: "no default deny in 3 namespaces"},
		{Rule: "dockerfile/user-root", Severity: finding.High, File: "Dockerfile", Line: 9, Message: "USER root",
			Suppressed: &finding.Suppression{By: "comment", Reason: "needs root for ping", Line: 8}},
		{Rule: "compose/privileged", Severity: finding.Critical, File: "compose.yaml", Line: 0, Message: "privileged",
			Suppressed: &finding.Suppression{By: "config", Reason: "lab only"}},
	}
	var buf bytes.Buffer
	if err := SARIF(&buf, fs, SARIFOptions{Version: "0.1.0", Rules: rules, Fallback: "deploy"}); err != nil {
		t.Fatal(err)
	}
	validateSARIF(t, buf.Bytes())

	var log struct {
		Runs []struct {
			Tool struct {
				Driver struct {
					Rules []struct {
						ID         string
						Properties map[string]any
					}
				}
			}
			Results []struct {
				RuleID    string
				RuleIndex int
				Level     string
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string }
						Region           struct{ StartLine int }
					}
				}
				PartialFingerprints map[string]string
				Suppressions        []struct{ Kind, Justification string }
			}
		}
	}
	if err := json.Unmarshal(buf.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	run := log.Runs[0]
	ids := map[string]int{}
	for i, r := range run.Tool.Driver.Rules {
		ids[r.ID] = i
	}
	if len(run.Results) != len(fs) {
		t.Fatalf("%d results, want %d", len(run.Results), len(fs))
	}
	wantURI := []string{"deploy/web%20app.yaml", "deploy", "Dockerfile", "compose.yaml"}
	wantLine := []int{17, 1, 9, 1}
	wantLevel := []string{"warning", "warning", "error", "error"}
	for i, r := range run.Results {
		idx, ok := ids[r.RuleID]
		if !ok || idx != r.RuleIndex {
			t.Errorf("result %d: ruleId %q not in tool.driver.rules at ruleIndex %d", i, r.RuleID, r.RuleIndex)
		}
		loc := r.Locations[0].PhysicalLocation
		if loc.ArtifactLocation.URI != wantURI[i] || loc.Region.StartLine != wantLine[i] {
			t.Errorf("result %d: location %s:%d, want %s:%d", i, loc.ArtifactLocation.URI, loc.Region.StartLine, wantURI[i], wantLine[i])
		}
		if r.Level != wantLevel[i] {
			t.Errorf("result %d: level %q, want %q", i, r.Level, wantLevel[i])
		}
		if len(r.PartialFingerprints["wardFinding/v1"]) != 32 {
			t.Errorf("result %d: partialFingerprints %v", i, r.PartialFingerprints)
		}
	}
	if s := run.Results[2].Suppressions; len(s) != 1 || s[0].Kind != "inSource" || s[0].Justification != "needs root for ping" {
		t.Errorf("comment suppression = %+v", s)
	}
	if s := run.Results[3].Suppressions; len(s) != 1 || s[0].Kind != "external" {
		t.Errorf("config suppression = %+v", s)
	}
	if got := run.Tool.Driver.Rules[ids["pod/writable-root-fs"]].Properties["security-severity"]; got != "5.5" {
		t.Errorf("security-severity = %v, want 5.5", got)
	}

	// The fingerprint ignores the line and numbers in the message.
	moved := fs[0]
	moved.Line = 40
	if fingerprint(moved, "x") != fingerprint(fs[0], "x") {
		t.Error("fingerprint depends on the line")
	}
	other := fs[0]
	other.Object = "web/Deployment/api"
	if fingerprint(other, "x") == fingerprint(fs[0], "x") {
		t.Error("fingerprint ignores the object")
	}
}

// TestSARIFEmpty: no findings is still a valid log with a results array.
func TestSARIFEmpty(t *testing.T) {
	var buf bytes.Buffer
	if err := SARIF(&buf, nil, SARIFOptions{}); err != nil {
		t.Fatal(err)
	}
	validateSARIF(t, buf.Bytes())
	if !strings.Contains(buf.String(), `"results": []`) {
		t.Errorf("no empty results array:\n%s", buf.String())
	}
}

// TestSARIFURI: an absolute path under the root is written relative to
// it, one elsewhere as a file URI: a bare /home/runner/... names no file
// of the repository, and code scanning showed such results nowhere in
// the code.
func TestSARIFURI(t *testing.T) {
	for _, tt := range []struct{ path, root, want string }{
		{"deploy/web.yaml", "/repo", "deploy/web.yaml"},
		{"/repo/deploy/web.yaml", "/repo", "deploy/web.yaml"},
		{"/elsewhere/web.yaml", "/repo", "file:///elsewhere/web.yaml"},
		{"/repo/a b.yaml", "", "file:///repo/a%20b.yaml"},
		{"-", "/repo", "stdin"},
	} {
		if got := sarifURI(tt.path, tt.root); got != tt.want {
			t.Errorf("sarifURI(%q, %q) = %q, want %q", tt.path, tt.root, got, tt.want)
		}
	}
}
