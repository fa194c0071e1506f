package podsec

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	"sigs.k8s.io/yaml"

	"github.com/wardsec/ward/finding"
	"github.com/wardsec/ward/manifest"
)

// pssModuleDir returns the directory of k8s.io/pod-security-admission in
// the module cache, where its test fixtures are.
var pssModuleDir = sync.OnceValues(func() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "k8s.io/pod-security-admission").Output()
	if err != nil {
		return "", fmt.Errorf("go list -m k8s.io/pod-security-admission: %w", err)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		return "", fmt.Errorf("go list -m k8s.io/pod-security-admission: no directory (run go mod download)")
	}
	return dir, nil
})

// fixtureDir returns test/testdata/<level> of the library's module.
func fixtureDir(t *testing.T, level api.Level) string {
	t.Helper()
	dir, err := pssModuleDir()
	if err != nil {
		t.Fatal(err)
	}
	d := filepath.Join(dir, "test", "testdata", string(level))
	if _, err := os.Stat(d); err != nil {
		t.Fatalf("fixtures of k8s.io/pod-security-admission: %v", err)
	}
	return d
}

// fixtureVersions returns the minor versions of the v1.<minor> fixture
// directories of a level, sorted.
func fixtureVersions(t *testing.T, levelDir string) []int {
	t.Helper()
	entries, err := os.ReadDir(levelDir)
	if err != nil {
		t.Fatal(err)
	}
	var minors []int
	for _, e := range entries {
		m, ok := strings.CutPrefix(e.Name(), "v1.")
		if !e.IsDir() || !ok {
			continue
		}
		if n, err := strconv.Atoi(m); err == nil {
			minors = append(minors, n)
		}
	}
	if len(minors) == 0 {
		t.Fatalf("no v1.x fixture directories in %s", levelDir)
	}
	slices.Sort(minors)
	return minors
}

// fixtureCheck returns the check id, in lower case, a fixture file is
// named after: "allowprivilegeescalation0.yaml" -> "allowprivilegeescalation".
func fixtureCheck(path string) string {
	return strings.TrimRight(strings.TrimSuffix(filepath.Base(path), ".yaml"), "0123456789")
}

// overriders maps each baseline check id, in lower case, to the ids of
// the restricted checks that override it at version v, read from the
// library's check definitions.
func overriders(v api.Version) map[string][]string {
	out := map[string][]string{}
	for _, c := range policy.DefaultChecks() {
		if c.Level != api.LevelRestricted {
			continue
		}
		var inEffect *policy.VersionedCheck
		for i := range c.Versions {
			if !v.Older(c.Versions[i].MinimumVersion) {
				inEffect = &c.Versions[i]
			}
		}
		if inEffect == nil {
			continue
		}
		for _, id := range inEffect.OverrideCheckIDs {
			k := strings.ToLower(string(id))
			out[k] = append(out[k], string(c.ID))
		}
	}
	return out
}

// TestFixtures is the acceptance test: the library's own fixtures for the
// newest policy version, loaded through manifest.Load. Every fail fixture
// must yield a finding of the check it is named after (or of the
// restricted check that overrides that baseline check at this level), at
// a line inside the pod; no pass fixture may yield any pss/ finding.
func TestFixtures(t *testing.T) {
	for _, level := range []api.Level{api.LevelBaseline, api.LevelRestricted} {
		t.Run(string(level), func(t *testing.T) {
			levelDir := fixtureDir(t, level)
			minors := fixtureVersions(t, levelDir)
			minor := minors[len(minors)-1]
			version := fmt.Sprintf("v1.%d", minor)
			dir := filepath.Join(levelDir, version)
			files, err := filepath.Glob(filepath.Join(dir, "*", "*.yaml"))
			if err != nil || len(files) == 0 {
				t.Fatalf("no fixtures in %s: %v", dir, err)
			}
			// Pass and fail fixtures share names: load each directory
			// on its own.
			over := overriders(api.MajorMinorVersion(1, minor))
			loaded, failed, passed := 0, 0, 0
			for _, sub := range []string{"pass", "fail"} {
				set, err := manifest.Load(manifest.Options{FieldLines: true}, filepath.Join(dir, sub))
				if err != nil {
					// Some of the package's fixtures name their pods with
					// an underscore ("base_linux"), which the API server
					// refuses: Ward reports it (input/invalid) and audits
					// the pods all the same. Any other error fails.
					for _, line := range strings.Split(err.Error(), "\n") {
						if !strings.Contains(line, "metadata.name: invalid name") {
							t.Fatalf("manifest.Load: %v", err)
						}
					}
				}
				loaded += len(set.Workloads)
				fs, err := Audit(set, Options{Level: string(level), Version: version})
				if err != nil {
					t.Fatal(err)
				}
				byObject := map[string][]finding.Finding{}
				for _, f := range fs {
					if strings.HasPrefix(f.Rule, pssPrefix) {
						byObject[f.Object] = append(byObject[f.Object], f)
					}
				}
				for _, w := range set.Workloads {
					got := byObject[w.ID()]
					rel, _ := filepath.Rel(dir, w.Source.File)
					if sub == "pass" {
						passed++
						if len(got) > 0 {
							t.Errorf("%s: pass fixture has findings:\n%s", rel, dump(got))
						}
						continue
					}
					failed++
					check := fixtureCheck(w.Source.File)
					want := []string{pssPrefix + check}
					if level == api.LevelRestricted {
						for _, id := range over[check] {
							want = append(want, pssPrefix+strings.ToLower(id))
						}
					}
					var hit *finding.Finding
					for i, f := range got {
						if slices.Contains(want, strings.ToLower(f.Rule)) {
							hit = &got[i]
							break
						}
					}
					switch {
					case hit == nil:
						t.Errorf("%s: no finding of %s; got:\n%s", rel, strings.Join(want, " or "), dump(got))
					case hit.File != w.Source.File || hit.Line <= w.Source.Line || hit.Line < w.Line("spec") && !strings.Contains(hit.Message, "annotation"):
						t.Errorf("%s: %s points at %s, want a line inside the pod (spec at line %d)", rel, hit.Rule, hit.Location(), w.Line("spec"))
					case hit.Message == "" || hit.Fix == "":
						t.Errorf("%s: %s has no message or fix", rel, hit.Rule)
					}
				}
			}
			if loaded != len(files) {
				t.Errorf("%d workloads loaded from %d fixture files", loaded, len(files))
			}
			t.Logf("%s %s: %d fail and %d pass fixtures", level, version, failed, passed)
			if failed == 0 || passed == 0 {
				t.Errorf("want both pass and fail fixtures, got %d and %d", passed, failed)
			}
		})
	}
}

// TestSelectChecksParity checks that running the selected checks one by
// one gives exactly what the library's evaluator gives, on every fixture of
// every version, at its own level and version and at both levels for
// latest and a future version.
func TestSelectChecksParity(t *testing.T) {
	eval, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	selected := map[api.LevelVersion][]pssCheck{}
	run := func(lv api.LevelVersion, pod *corev1.Pod) policy.AggregateCheckResult {
		checks, ok := selected[lv]
		if !ok {
			_, checks = selectChecks(defaultChecks(), lv)
			selected[lv] = checks
		}
		var rs []policy.CheckResult
		for _, c := range checks {
			rs = append(rs, c.fn(&pod.ObjectMeta, &pod.Spec))
		}
		return policy.AggregateCheckResults(rs)
	}
	future, _ := api.ParseVersion("v1.999")
	pods := 0
	for _, level := range []api.Level{api.LevelBaseline, api.LevelRestricted} {
		levelDir := fixtureDir(t, level)
		for _, minor := range fixtureVersions(t, levelDir) {
			files, err := filepath.Glob(filepath.Join(levelDir, fmt.Sprintf("v1.%d", minor), "*", "*.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			for _, file := range files {
				data, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				var pod corev1.Pod
				if err := yaml.Unmarshal(data, &pod); err != nil {
					t.Fatalf("%s: %v", file, err)
				}
				pods++
				lvs := []api.LevelVersion{
					{Level: level, Version: api.MajorMinorVersion(1, minor)},
					{Level: api.LevelBaseline, Version: api.LatestVersion()},
					{Level: api.LevelRestricted, Version: api.LatestVersion()},
					{Level: api.LevelRestricted, Version: future},
				}
				for _, lv := range lvs {
					want := policy.AggregateCheckResults(eval.EvaluatePod(lv, &pod.ObjectMeta, &pod.Spec))
					got := run(lv, &pod)
					if !slices.Equal(got.ForbiddenReasons, want.ForbiddenReasons) || !slices.Equal(got.ForbiddenDetails, want.ForbiddenDetails) {
						t.Errorf("%s at %s: got %q, evaluator says %q", file, lv, got.ForbiddenDetail(), want.ForbiddenDetail())
					}
				}
			}
		}
	}
	t.Logf("%d fixture pods", pods)
}

// TestSelectChecksOverrides pins the override behaviour the severity rule
// relies on: at restricted v1.25 the restricted capability and seccomp
// checks replace the baseline ones; at baseline nothing is replaced.
func TestSelectChecksOverrides(t *testing.T) {
	ids := func(cs []pssCheck) []string {
		var out []string
		for _, c := range cs {
			out = append(out, string(c.id))
			for _, r := range c.replaces {
				out = append(out, string(c.id)+">"+string(r.id))
			}
		}
		return out
	}
	_, restricted := selectChecks(defaultChecks(), api.LevelVersion{Level: api.LevelRestricted, Version: api.MajorMinorVersion(1, 25)})
	got := ids(restricted)
	for _, want := range []string{"capabilities_restricted>capabilities_baseline", "seccompProfile_restricted>seccompProfile_baseline", "restrictedVolumes>hostPathVolumes", "privileged"} {
		if !slices.Contains(got, want) {
			t.Errorf("restricted v1.25: %q missing from %q", want, got)
		}
	}
	for _, gone := range []string{"capabilities_baseline", "seccompProfile_baseline", "hostPathVolumes"} {
		if slices.Contains(got, gone) {
			t.Errorf("restricted v1.25: overridden %q is run: %q", gone, got)
		}
	}
	_, baseline := selectChecks(defaultChecks(), api.LevelVersion{Level: api.LevelBaseline, Version: api.LatestVersion()})
	for _, c := range baseline {
		if c.level != api.LevelBaseline || len(c.replaces) > 0 {
			t.Errorf("baseline latest runs %s (%s, replaces %d)", c.id, c.level, len(c.replaces))
		}
	}
	// Before v1.22 capabilities_restricted does not exist: baseline's runs.
	_, v121 := selectChecks(defaultChecks(), api.LevelVersion{Level: api.LevelRestricted, Version: api.MajorMinorVersion(1, 21)})
	if got := ids(v121); !slices.Contains(got, "capabilities_baseline") || slices.Contains(got, "capabilities_restricted") {
		t.Errorf("restricted v1.21 runs %q", got)
	}
}

func dump(fs []finding.Finding) string {
	var b bytes.Buffer
	for _, f := range fs {
		fmt.Fprintf(&b, "  %s %s %s %s: %s\n", f.Location(), f.Severity, f.Rule, f.Object, f.Message)
	}
	return b.String()
}
