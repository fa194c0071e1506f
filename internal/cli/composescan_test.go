package cli

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// maybeCompose is the test on a whole content that fileMaybeCompose
// replaced: the reference.
func maybeCompose(src []byte) bool {
	return bytes.HasPrefix(src, []byte("services:")) || bytes.Contains(src, []byte("\nservices:"))
}

// TestFileMaybeCompose holds the buffered scan of a file to maybeCompose
// on its whole content: the key at the start, at every offset around the
// 64 KiB read boundaries, cut by them, absent, indented, and files over
// the size limit.
func TestFileMaybeCompose(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(5, 6))
	filler := func(n int) string {
		var b strings.Builder
		for b.Len() < n {
			b.WriteString([]string{"kind: Pod\n", "  name: x\n", "---\n", "services\n", " services:\n", "xservices:\n"}[rng.IntN(6)])
		}
		return b.String()[:n]
	}
	var contents []string
	contents = append(contents, "", "services:\n  web: {}\n", "\nservices:", " services:", "service:", filler(200000))
	for _, at := range []int{1, 100, 64<<10 - 11, 64<<10 - 10, 64<<10 - 9, 64<<10 - 5, 64<<10 - 1, 64 << 10, 64<<10 + 3, 128<<10 - 12, 128<<10 - 3, 200000} {
		contents = append(contents, filler(at)+"\nservices:\n"+filler(1000))
		contents = append(contents, filler(at)+"\nservices"+filler(1000)) // no colon
	}
	for i := 0; i < 200; i++ {
		contents = append(contents, filler(rng.IntN(300000)))
	}
	for i, c := range contents {
		path := filepath.Join(dir, "f.yaml")
		if err := os.WriteFile(path, []byte(c), 0o600); err != nil {
			t.Fatal(err)
		}
		if got, want := fileMaybeCompose(path, int64(len(c)), 0), maybeCompose([]byte(c)); got != want {
			t.Errorf("content %d (%d bytes): fileMaybeCompose = %v, maybeCompose = %v", i, len(c), got, want)
		}
		if len(c) > 10 && fileMaybeCompose(path, int64(len(c)), int64(len(c)-1)) {
			t.Errorf("content %d: a file over the size limit passes for Compose", i)
		}
	}
	if fileMaybeCompose(filepath.Join(dir, "missing.yaml"), 0, 0) {
		t.Error("a missing file passes for Compose")
	}
}
