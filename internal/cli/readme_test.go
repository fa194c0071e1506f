package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestReadme runs every "$ ward ..." example of README.md and compares its
// output with what the README shows; -update rewrites the outputs.
func TestReadme(t *testing.T) {
	readme := filepath.Join(root, "README.md")
	b, err := os.ReadFile(readme) // #nosec G304 -- the repository's README
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(string(b), "```")
	defer func() {
		if *update {
			if err := os.WriteFile(readme, []byte(strings.Join(blocks, "```")), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}()
	n := 0
	for i := 1; i < len(blocks); i += 2 {
		body := strings.TrimPrefix(blocks[i], "\n")
		cmdLine, want, ok := strings.Cut(body, "\n")
		if !ok || !strings.HasPrefix(cmdLine, "$ ward ") {
			continue
		}
		n++
		args := strings.Fields(strings.TrimPrefix(cmdLine, "$ ward "))
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			got, _, _ := run(t, "", args...)
			if *update {
				blocks[i] = "\n" + cmdLine + "\n" + strings.TrimRight(got, "\n") + "\n"
				return
			}
			if diff := cmp.Diff(strings.TrimRight(want, "\n"), strings.TrimRight(got, "\n")); diff != "" {
				t.Errorf("README output of %q is stale (-readme +actual):\n%s", cmdLine, diff)
			}
		})
	}
	if n < 2 {
		t.Fatalf("found %d README examples, want at least 2", n)
	}
}
