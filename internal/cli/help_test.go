package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestHelpFlagPlaceholders walks every command's --help and checks that
// each flag is shown as "--name TYPE": pflag takes a `back-quoted` word of
// a flag's usage as its value's placeholder, so a usage quoting a command
// in back quotes printed "--hubble hubble observe -o json".
func TestHelpFlagPlaceholders(t *testing.T) {
	var walk func(path []string)
	seen := 0
	walk = func(path []string) {
		out, errOut, code := run(t, "", append(path, "--help")...)
		if code != ExitOK {
			t.Fatalf("ward %s --help: exit %d: %s", strings.Join(path, " "), code, errOut)
		}
		seen++
		section := ""
		for line := range strings.SplitSeq(out, "\n") {
			switch {
			case strings.HasSuffix(line, ":") && !strings.HasPrefix(line, " "):
				section = line
				continue
			case strings.TrimSpace(line) == "":
				continue
			}
			switch section {
			case "Available Commands:":
				name := strings.Fields(line)[0]
				if name != "help" && name != "completion" {
					walk(append(append([]string{}, path...), name))
				}
			case "Flags:", "Global Flags:":
				if !strings.HasPrefix(line, " ") {
					continue // "Use ... for more information"
				}
				left, _, _ := strings.Cut(strings.TrimSpace(line), "   ")
				fields := strings.Fields(left)
				if strings.HasSuffix(fields[0], ",") { // -n, --namespace
					fields = fields[1:]
				}
				if !strings.HasPrefix(fields[0], "--") || len(fields) > 2 {
					t.Errorf("ward %s --help: flag shown as %q, want --name [TYPE]", strings.Join(path, " "), left)
				}
			}
		}
	}
	walk(nil)
	if seen < 15 {
		t.Errorf("walked %d commands, want every command and subcommand", seen)
	}
}

// TestCertTTL: a --ttl of zero or less wrote certificates that had
// expired before the proxy could load them, and exited 0.
func TestCertTTL(t *testing.T) {
	for _, ttl := range []string{"0s", "-5h"} {
		out := filepath.Join(t.TempDir(), "certs")
		_, errOut, code := run(t, "", "cert", "--ttl", ttl, "--id", "spiffe://example.org/ns/shop/sa/web", "--out", out)
		if code != ExitError || !strings.Contains(errOut, "--ttl") {
			t.Errorf("--ttl %s: exit %d, stderr %q; want 2 and an error naming --ttl", ttl, code, errOut)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("--ttl %s: %s was written", ttl, out)
		}
	}
}

// TestDetectorNames: ward watch alerts --detector takes exactly the
// detectors of docs/watch.md's table.
func TestDetectorNames(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(root, "docs", "watch.md"))
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z-]+)` \\| (?:critical|high|medium|low)").FindAllSubmatch(doc, -1) {
		documented = append(documented, string(m[1]))
	}
	if !slices.Equal(documented, detectorNames) {
		t.Errorf("docs/watch.md's detectors %v, --detector takes %v", documented, detectorNames)
	}
}

// TestNoAPIVersionWarns: reach, explain, diff and assert skipped a
// NetworkPolicy written without apiVersion without a word (ward check
// reports it as input/skipped), so a default deny missing that line
// looked applied to the reader and was silently not modelled.
func TestNoAPIVersionWarns(t *testing.T) {
	f := filepath.Join(t.TempDir(), "deny.yaml")
	if err := os.WriteFile(f, []byte("kind: NetworkPolicy\nmetadata: {name: deny, namespace: web}\nspec: {podSelector: {}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := run(t, "", "reach", "examples/shop", f)
	want := "ward: warning: " + f + ":1: NetworkPolicy without apiVersion is not a Kubernetes object"
	if code != ExitOK || !strings.Contains(errOut, want) {
		t.Errorf("exit %d, stderr %q; want 0 and %q", code, errOut, want)
	}
}
