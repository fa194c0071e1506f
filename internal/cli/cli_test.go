package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files")

// root is the repository root, computed before any test changes directory.
var root = func() string {
	r, err := filepath.Abs("../..")
	if err != nil {
		panic(err)
	}
	return r
}()

// run runs ward in-process from the repository root, so paths in output
// read as a user would type them.
func run(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	if wd, _ := os.Getwd(); wd != root {
		t.Chdir(root)
	}
	var out, errb bytes.Buffer
	code = Run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), code
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join(root, "internal", "cli", "testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o600); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/cli -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs (-want +got):\n%s", name, diff)
	}
}

func TestGolden(t *testing.T) {
	const shop = "examples/shop"
	const diffOld, diffNew = "internal/cli/testdata/diff/old", "internal/cli/testdata/diff/new"
	tests := []struct {
		name   string
		args   []string
		stdin  string
		code   int
		golden string
	}{
		{"check text", []string{"check", shop}, "", ExitFindings, "check.txt"},
		{"check json", []string{"check", shop, "-o", "json"}, "", ExitFindings, "check.json"},
		{"check fail-on critical", []string{"check", shop, "--fail-on", "critical", "-o", "json"}, "", ExitFindings, "check-critical.json"},
		{"reach table", []string{"reach", shop}, "", ExitOK, "reach.txt"},
		{"reach json", []string{"reach", shop, "-o", "json"}, "", ExitOK, "reach.json"},
		{"reach dot", []string{"reach", shop, "-o", "dot"}, "", ExitOK, "reach.dot"},
		{"reach matrix", []string{"reach", shop, "-o", "matrix"}, "", ExitOK, "reach-matrix.txt"},
		{"reach summary", []string{"reach", shop, "--summary"}, "", ExitOK, "reach-summary.txt"},
		{"reach summary json", []string{"reach", shop, "--summary", "-o", "json"}, "", ExitOK, "reach-summary.json"},
		{"reach summary filtered", []string{"reach", shop, "--summary", "--from", "web", "--to", "data", "--port", "5432/TCP,6379/TCP"}, "", ExitOK, "reach-summary-filtered.txt"},
		{"reach filtered", []string{"reach", shop, "--from", "api", "--port", "5432/TCP"}, "", ExitOK, "reach-filtered.txt"},
		{"explain allowed", []string{"explain", shop, "--from", "web/frontend", "--to", "api/catalog", "--port", "8080/TCP"}, "", ExitOK, "explain-allowed.txt"},
		{"explain denied", []string{"explain", shop, "--from", "web/frontend", "--to", "data/postgres", "--port", "5432/TCP"}, "", ExitOK, "explain-denied.txt"},
		{"explain exit-code", []string{"explain", shop, "--from", "web/frontend", "--to", "data/postgres", "--port", "5432/TCP", "--exit-code", "-o", "json"}, "", ExitFindings, "explain-denied.json"},
		{"explain service", []string{"explain", shop, "--from", "web/frontend", "--to", "svc:api/catalog"}, "", ExitOK, "explain-service.txt"},
		{"explain ip", []string{"explain", shop, "--from", "payments/payments", "--to", "203.0.113.7", "--port", "443/TCP", "-o", "json"}, "", ExitOK, "explain-ip.json"},
		{"diff text", []string{"diff", diffOld, diffNew}, "", ExitOK, "diff.txt"},
		{"diff json exit-code", []string{"diff", diffOld, diffNew, "-o", "json", "--exit-code"}, "", ExitFindings, "diff.json"},
		{"diff same", []string{"diff", diffOld, diffOld, "--exit-code"}, "", ExitOK, "diff-same.txt"},
		{"assert text", []string{"assert", shop}, "", ExitFindings, "assert.txt"},
		{"assert json", []string{"assert", shop, "-o", "json"}, "", ExitFindings, "assert.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := run(t, tt.stdin, tt.args...)
			if code != tt.code {
				t.Errorf("exit code = %d, want %d; stderr:\n%s", code, tt.code, errOut)
			}
			golden(t, tt.golden, out)
		})
	}
}

// TestStdin checks that every command reads manifests from "-" and gives
// the same answer as from the directory (paths aside).
func TestStdin(t *testing.T) {
	var all bytes.Buffer
	err := filepath.WalkDir("../../examples/shop", func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == "ward.yaml" || d.Name() == "compose.yaml" || !strings.HasSuffix(p, ".yaml") {
			return err
		}
		b, err := os.ReadFile(p)
		all.WriteString("---\n")
		all.Write(b)
		all.WriteString("\n")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	stdin := all.String()
	for _, args := range [][]string{
		{"reach", "-", "-o", "json"},
		{"reach", "-", "--summary", "-o", "json"},
		{"explain", "-", "--from", "web/frontend", "--to", "api/catalog"},
		{"assert", "-", "--expect", "examples/shop/ward.yaml"},
		{"check", "-", "--config", "examples/shop/ward.yaml", "-o", "json"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			fromStdin, errOut, code := run(t, stdin, args...)
			if code == ExitError {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			dirArgs := append([]string{args[0], "examples/shop"}, args[2:]...)
			fromDir, _, code2 := run(t, "", dirArgs...)
			if code != code2 {
				t.Errorf("exit code from stdin %d, from directory %d", code, code2)
			}
			if args[0] == "check" {
				// File names and lines differ ("-" versus paths); the
				// findings about manifests must not. The directory also
				// holds Dockerfiles and a Compose file.
				if diff := cmp.Diff(manifestFindings(t, fromDir), manifestFindings(t, fromStdin)); diff != "" {
					t.Errorf("findings from stdin differ (-directory +stdin):\n%s", diff)
				}
				return
			}
			if args[0] == "assert" {
				return
			}
			if args[0] == "explain" {
				// Traces name files; the verdict must be the same.
				fromStdin, _, _ = strings.Cut(fromStdin, "\n")
				fromDir, _, _ = strings.Cut(fromDir, "\n")
			}
			if fromStdin != fromDir {
				t.Errorf("stdin and directory outputs differ:\n%s", cmp.Diff(fromDir, fromStdin))
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	const shop = "examples/shop"
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"unknown command", []string{"frobnicate"}, "unknown command \"frobnicate\" for \"ward\" (see 'ward --help')"},
		{"no path", []string{"reach"}, "requires at least 1 arg(s), only received 0 (see 'ward reach --help')"},
		{"bad output", []string{"reach", shop, "-o", "yaml"}, `unknown output format "yaml" (want table, json, dot or matrix)`},
		{"bad port", []string{"reach", shop, "--port", "70000/TCP"}, "--port"},
		{"bad protocol", []string{"explain", shop, "--from", "web/frontend", "--to", "api/catalog", "--port", "80/ICMP"}, "unknown protocol"},
		{"unknown from", []string{"explain", shop, "--from", "web/nope", "--to", "api/catalog"}, `--from: "web/nope": no such workload`},
		{"malformed from", []string{"explain", shop, "--from", "a/b/c/d", "--to", "api/catalog"}, "want namespace/name"},
		{"missing to", []string{"explain", shop, "--from", "web/frontend"}, "needs --from and --to"},
		{"unknown service", []string{"explain", shop, "--from", "web/frontend", "--to", "svc:api/nope"}, "no such Service"},
		{"bad fail-on", []string{"check", shop, "--fail-on", "severe"}, "unknown severity"},
		{"bad pss-level, before reading", []string{"check", "does/not/exist", "--pss-level", "privileged"}, `--pss-level: podsec: invalid level "privileged"`},
		{"bad pss-version, before reading", []string{"check", "does/not/exist", "--pss-version", "v9"}, `--pss-version: podsec: invalid Pod Security Standards version "v9"`},
		{"missing file", []string{"reach", "does/not/exist"}, "does/not/exist"},
		{"diff needs two", []string{"diff", shop}, "accepts 2 arg(s), received 1 (see 'ward diff --help')"},
		{"assert without config", []string{"assert", "internal/cli/testdata/diff/old"}, "no assertions"},
		{"assert with a file of ignores only", []string{"assert", shop, "--expect", "internal/cli/testdata/audit/suppressed/ward.yaml"}, "internal/cli/testdata/audit/suppressed/ward.yaml holds no assertions"},
		{"unknown flag", []string{"reach", shop, "--frm", "x"}, "unknown flag"},
		// A namespace the API server refuses: every object without one was
		// modelled in it, and passed, though kubectl -n Prod applies none.
		{"bad namespace", []string{"check", shop, "-n", "Prod"}, `--namespace: invalid namespace "Prod": a lowercase RFC 1123 label`},
		{"namespace with an escape", []string{"reach", shop, "--namespace", "a\x1b[2Kb"}, `--namespace: invalid namespace "a\x1b[2Kb"`},
		{"unknown detector", []string{"watch", "alerts", "--store", "none", "--detector", "portscan"}, `--detector "portscan": no such detector (want policy-violation,`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := run(t, "", tt.args...)
			if code != ExitError {
				t.Errorf("exit code = %d, want %d", code, ExitError)
			}
			if !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("stderr = %q, want it to contain %q", errOut, tt.wantErr)
			}
			if out != "" {
				t.Errorf("stdout = %q, want nothing on a usage error", out)
			}
		})
	}
}

// TestBadInput checks that every malformed input names file and line, exits
// 2 and prints nothing pretending success, for every command that aborts;
// check reports it as a finding and still exits 2.
func TestBadInput(t *testing.T) {
	ents, err := os.ReadDir("testdata/bad")
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) < 10 {
		t.Fatalf("only %d bad-input cases", len(ents))
	}
	for _, e := range ents {
		name := e.Name()
		if strings.HasSuffix(name, ".want") {
			continue
		}
		path := "internal/cli/testdata/bad/" + name
		raw, err := os.ReadFile(filepath.Join("testdata/bad", name))
		if err != nil {
			t.Fatal(err)
		}
		// The first line of each case says where the error is: "# want:
		// LINE"; JSON, which has no comments, keeps it in NAME.want.
		first, _, _ := strings.Cut(string(raw), "\n")
		want := strings.TrimSpace(strings.TrimPrefix(first, "# want:"))
		if !strings.HasPrefix(first, "# want:") {
			w, err := os.ReadFile(filepath.Join("testdata/bad", name+".want"))
			if err != nil {
				t.Fatal(err)
			}
			want = strings.TrimSpace(string(w))
		}
		loc := path + ":" + want
		t.Run(name, func(t *testing.T) {
			for _, cmd := range []string{"reach", "assert"} {
				args := []string{cmd, path}
				if cmd == "assert" {
					args = append(args, "--expect", "examples/shop/ward.yaml")
				}
				out, errOut, code := run(t, "", args...)
				if code != ExitError {
					t.Errorf("%s: exit code = %d, want %d", cmd, code, ExitError)
				}
				if !strings.Contains(errOut, loc) {
					t.Errorf("%s: stderr = %q, want it to name %s", cmd, errOut, loc)
				}
				if out != "" {
					t.Errorf("%s: stdout = %q, want nothing", cmd, out)
				}
			}
			out, _, code := run(t, "", "check", path, "-o", "json")
			if code != ExitError {
				t.Errorf("check: exit code = %d, want %d", code, ExitError)
			}
			if !strings.Contains(out, `"line": `+want) || !strings.Contains(out, `"rule": "input/`) {
				t.Errorf("check: output lacks an input finding at line %s:\n%s", want, out)
			}
		})
	}
}

// TestUnsupportedPolicyWarns checks that commands other than check (which
// reports a finding) warn loudly about policies Ward does not evaluate.
func TestUnsupportedPolicyWarns(t *testing.T) {
	const in = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: l7, namespace: web}
spec: {endpointSelector: {}}
---
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: web}
spec: {containers: [{name: a, image: a:1}]}
`
	_, errOut, code := run(t, in, "reach", "-")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(errOut, "-:1: CiliumNetworkPolicy web/l7 (cilium.io/v2) is not evaluated") {
		t.Errorf("stderr = %q, want a warning naming the Cilium policy", errOut)
	}
}

// manifestFindings returns rule, object and first message line of the findings in a
// `ward check -o json` output, but for Dockerfiles and Compose files.
func manifestFindings(t *testing.T, out string) []string {
	t.Helper()
	var res struct {
		Findings []struct{ Rule, Object, Message string }
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var fs []string
	for _, f := range res.Findings {
		if strings.HasPrefix(f.Rule, "dockerfile/") || strings.HasPrefix(f.Rule, "compose/") || f.Rule == "input/skipped" {
			continue
		}
		first, _, _ := strings.Cut(f.Message, "\n") // traces name files
		fs = append(fs, f.Rule+" "+f.Object+" "+first)
	}
	slices.Sort(fs)
	return fs
}
