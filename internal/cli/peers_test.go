package cli

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wardsec/ward/peers"
)

// TestPeersTable keeps the migration table (package peers) and the rule
// registries in step, both ways: every Ward rule the table names exists
// (or is pending on another branch), and every rule's Equivalents are
// exactly the peer checks the table calls equivalent to it.
func TestPeersTable(t *testing.T) {
	rules := map[string][]string{}
	for _, r := range allRules() {
		rules[r.ID] = r.Equivalents
	}
	for _, c := range peers.Checks() {
		if got, ok := peers.Lookup(c.ID); !ok || got.ID != c.ID {
			t.Errorf("Lookup(%s) = %s, %v", c.ID, got.ID, ok)
		}
		switch {
		case c.Relation == peers.Left && (len(c.Rules) > 0 || c.Left == "" || c.Why == ""):
			t.Errorf("%s is left to %s but has rules %v, reason %q, why %q", c.ID, c.Peer, c.Rules, c.Left, c.Why)
		case c.Relation.Covered() && len(c.Rules) == 0:
			t.Errorf("%s is %s but names no Ward rule", c.ID, c.Relation)
		case c.Relation.Covered() && c.Relation != peers.Equivalent && c.Why == "":
			t.Errorf("%s is %s without saying why", c.ID, c.Relation)
		}
		for _, r := range c.Rules {
			if _, ok := rules[r]; !ok {
				t.Errorf("%s maps to %s, which is no rule of Ward", c.ID, r)
			}
		}
	}
	for id, eqs := range rules {
		want := peers.Equivalents(id)
		got := slices.Sorted(slices.Values(eqs))
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Equivalents of %s disagree with the peers table (-table +registry):\n%s", id, diff)
		}
		for _, e := range eqs {
			if strings.TrimSpace(e) != e || e == "" {
				t.Errorf("%s: equivalent %q is not a canonical id", id, e)
			}
		}
	}
}

const aliasPod = `apiVersion: v1
kind: Pod
metadata: {name: agent, namespace: ops}
spec:
  automountServiceAccountToken: false
  containers:
  - name: app
    image: registry.example/agent:1.0
    resources: {limits: {cpu: 100m, memory: 64Mi}}
    volumeMounts: [{name: logs, mountPath: /var/log/host}]
  volumes:
  - name: logs
    hostPath: {path: /var/log}
`

// TestCheckPeerIgnores: ward.yaml ignores written with peer ids. An
// equivalent id silences exactly its rules, one covered differently
// silences its rules with a warning, one left to the peer silences nothing
// with a warning and is not stale; unknown ids stop the run with exit 2
// and the entry's file and line.
func TestCheckPeerIgnores(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("pod.yaml", aliasPod)
	write("ward.yaml", `ignore:
  - rule: KSV014
    reason: moved from Trivy
  - rule: AVD-KSV-0006
    reason: the log shipper reads host logs
  - rule: DL3066
    reason: moved from hadolint
`)
	out, stderr, code := run(t, "", "check", dir, "-o", "json", "--show-suppressed", "--fail-on", "critical")
	if code != ExitOK && code != ExitFindings {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	by := map[string]string{}
	for _, f := range checkOutput(t, out).Findings {
		s := ""
		if f.Suppressed != nil {
			s = f.Suppressed.Reason
		}
		if _, ok := by[f.Rule]; !ok || s == "" {
			by[f.Rule] = s
		}
		if f.Rule == "input/stale-ignore" {
			t.Errorf("stale ignore reported: %s (line %d)", f.Message, f.Line)
		}
	}
	for rule, want := range map[string]string{
		"pod/writable-root-fs":  "moved from Trivy",
		"pss/restrictedVolumes": "the log shipper reads host logs",
		"pss/runAsNonRoot":      "", // not named by any entry
	} {
		got, ok := by[rule]
		if !ok {
			t.Errorf("no %s finding: %v", rule, by)
		} else if got != want {
			t.Errorf("%s suppressed with %q, want %q", rule, got, want)
		}
	}
	cfg := filepath.Join(dir, "ward.yaml")
	for _, want := range []string{
		cfg + ":4: ignore of AVD-KSV-0006 (Trivy (KSV, KCV, DS): docker.sock mounted) suppresses pss/hostPathVolumes, pss/restrictedVolumes, which Ward covers differently (broader)",
		cfg + ":6: ignore of DL3066 (hadolint (DL): USER by name, not number) suppresses nothing: Ward leaves this check to hadolint (DL) (correctness). The kubelet refuses",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr, "KSV014") {
		t.Errorf("an equivalent id warned: %s", stderr)
	}

	for _, tc := range []struct{ rule, want string }{
		{"run-as-non-root", `:3: ignore: unknown rule "run-as-non-root": not a rule of Ward, nor a check of kube-linter, Polaris, Trivy, hadolint, KICS or Docker that docs/rules.md maps; did you mean kube-linter:run-as-non-root?`},
		{"KSV-9999", `:3: ignore: unknown rule "KSV-9999"`},
		{"nope/*", `:3: ignore: pattern "nope/*" matches no rule of Ward`},
	} {
		write("ward.yaml", "# migrated\nignore:\n  - rule: "+tc.rule+"\n    reason: r\n")
		out, stderr, code := run(t, "", "check", dir)
		if code != ExitError || out != "" || !strings.Contains(stderr, cfg+tc.want) {
			t.Errorf("rule %s: exit %d, stdout %q, stderr %q; want exit %d and %q", tc.rule, code, out, stderr, ExitError, cfg+tc.want)
		}
	}
}

// TestPeersCoverage runs `ward check` on the positive and negative
// fixture of every covered row of the peers table (peers/testdata/<fixture>/):
// the positive must raise one of the row's Ward rules, the negative none.
// A fixture directory with a ward.yaml is checked with it (--config): the
// trusted registry rules need their list. The fixtures are the project's own, written from the Kubernetes, Docker and
// Compose documentation.
func TestPeersCoverage(t *testing.T) {
	const dir = "peers/testdata"
	type result struct {
		rules map[string]bool
		all   []string
	}
	cache := map[string]result{}
	check := func(t *testing.T, file string) result {
		t.Helper()
		if r, ok := cache[file]; ok {
			return r
		}
		args := []string{"check", file, "-o", "json", "--fail-on", "critical"}
		if cfg := filepath.Join(filepath.Dir(file), "ward.yaml"); fileExists(filepath.Join(root, cfg)) {
			args = append(args, "--config", cfg)
		}
		out, stderr, code := run(t, "", args...)
		if code == ExitError {
			t.Fatalf("ward check %s: exit %d: %s", file, code, stderr)
		}
		r := result{rules: map[string]bool{}}
		for _, f := range checkOutput(t, out).Findings {
			if f.Rule == "input/unreadable" || f.Rule == "input/invalid" {
				t.Errorf("%s: %s", file, f.Message)
			}
			r.rules[f.Rule] = true
			r.all = append(r.all, f.Rule)
		}
		cache[file] = r
		return r
	}
	find := func(t *testing.T, fixture, kind string) string {
		t.Helper()
		m, _ := filepath.Glob(filepath.Join(root, dir, fixture, kind+".*"))
		if len(m) != 1 {
			t.Fatalf("fixture %s: want one %s file, found %v", fixture, kind, m)
		}
		rel, _ := filepath.Rel(root, m[0])
		return rel
	}
	used := map[string]bool{}
	for _, c := range peers.Checks() {
		if !c.Relation.Covered() {
			continue
		}
		used[c.Fixture] = true
		t.Run(c.ID, func(t *testing.T) {
			if c.Fixture == "" {
				t.Fatalf("%s is %s but has no fixture", c.ID, c.Relation)
			}
			pos := check(t, find(t, c.Fixture, "positive"))
			if !slices.ContainsFunc(c.Rules, func(r string) bool { return pos.rules[r] }) {
				t.Errorf("positive fixture %s raises none of %v; it raises %v", c.Fixture, c.Rules, pos.all)
			}
			neg := check(t, find(t, c.Fixture, "negative"))
			for _, r := range c.Rules {
				if neg.rules[r] {
					t.Errorf("negative fixture %s raises %s", c.Fixture, r)
				}
			}
		})
	}
	entries, err := os.ReadDir(filepath.Join(root, dir))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !used[e.Name()] {
			t.Errorf("fixture %s belongs to no covered row", e.Name())
		}
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
