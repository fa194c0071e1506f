package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const cluster = `
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec: {containers: [{name: c, image: nginx}]}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: shop, labels: {app: db}}
spec: {containers: [{name: c, image: postgres}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress: [{from: [{podSelector: {matchLabels: {app: web}}}], ports: [{port: 5432}]}]
`

func TestRun(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "cluster.yaml"), []byte(cluster), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string
	}{
		// web->web, web->db (5432), db->web; db->db is denied.
		{[]string{dir}, `^refeval: pairs=4 allowed=3 seconds=[0-9.]+\n$`},
		{[]string{"-max-pairs", "2", dir}, `^refeval: pairs=4 allowed=[0-9]+ seconds=[0-9.]+ extrapolated_from=2\n$`},
	}
	for _, tc := range tests {
		var stdout, stderr strings.Builder
		if code := run(tc.args, &stdout, &stderr); code != 0 {
			t.Fatalf("run(%q) = %d, stderr:\n%s", tc.args, code, stderr.String())
		}
		if !regexp.MustCompile(tc.want).MatchString(stdout.String()) {
			t.Errorf("run(%q) printed %q, want match for %q", tc.args, stdout.String(), tc.want)
		}
	}
}
