package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestReadme runs every "$ ward ..." example of README.md and compares its
// output with what the README shows.
func TestReadme(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(string(b), "```")
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
			if diff := cmp.Diff(strings.TrimRight(want, "\n"), strings.TrimRight(got, "\n")); diff != "" {
				t.Errorf("README output of %q is stale (-readme +actual):\n%s", cmdLine, diff)
			}
		})
	}
	if n < 2 {
		t.Fatalf("found %d README examples, want at least 2", n)
	}
}
