package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLabBadInput checks that `ward lab` rejects bad input with exit 2
// and a file:line error before it needs root or builds anything; the runs
// with real packets are package lab's tests.
func TestLabBadInput(t *testing.T) {
	dir := t.TempDir()
	inv := filepath.Join(dir, "inv.yaml")
	if err := os.WriteFile(inv, []byte("networks:\n  - name: n\n    subnets: [10.1.0.0/24]\ncontainers:\n  - name: a\n    ips: [10.1.0.1]\n    colour: red\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dup := filepath.Join(dir, "dup.yaml")
	if err := os.WriteFile(dup, []byte("apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: a}]}\nstatus: {podIP: 10.0.0.1}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: b}\nspec: {containers: [{name: b}]}\nstatus: {podIP: 10.0.0.1}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no path", []string{"lab"}, "at least one PATH"},
		{"cleanup with path", []string{"lab", "--cleanup", "examples/shop"}, "--cleanup takes no PATH"},
		{"bad output", []string{"lab", "examples/shop", "-o", "yaml"}, `unknown output format "yaml"`},
		{"bad timeout", []string{"lab", "examples/shop", "--timeout", "0s"}, "must be positive"},
		{"bad manifest", []string{"lab", "internal/cli/testdata/bad/port-70000.yaml"}, "internal/cli/testdata/bad/port-70000.yaml:"},
		{"bad inventory", []string{"lab", "examples/shop", "--inventory", inv}, inv + ":7"},
		{"duplicate pod IP", []string{"lab", dup}, dup + ":7"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, errOut, code := run(t, "", c.args...)
			if code != ExitError || !strings.Contains(errOut, c.want) || out != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, stderr with %q", code, out, errOut, ExitError, c.want)
			}
		})
	}
}
