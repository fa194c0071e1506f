package kustomize

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzCheck: the scan never panics on any kustomization, and a
// kustomization it accepts names nothing remote.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{
		"resources:\n- a.yaml\n- https://x/y\n",
		"x: &u https://x\nresources: [*u]\npatches:\n- <<: {path: *u}\n",
		"generators:\n- |\n  kind: ConfigMapGenerator\n  files: [a=https://x]\n",
		"transformers:\n- 'kind: PatchTransformer\n  path: ../../x'\n",
		"helmCharts: [{name: x}]\nopenapi: {path: [1]}\nconfigMapGenerator: [{files: {a: b}}]\n",
		"- a\n- b\n", "", "resources: *x\n", "a: &a [*a]\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, k string) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(k), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "a.yaml"), []byte("kind: ConfigMap\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		_ = Check(dir, dir)
		_, _ = plainFiles(dir, 0)
	})
}
