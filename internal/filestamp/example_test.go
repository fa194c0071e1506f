package filestamp_test

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/wardsec/ward/internal/filestamp"
)

// A policies file replaced by a rename of another of the same size and
// modification time is still a change.
func Example() {
	dir, _ := os.MkdirTemp("", "filestamp")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "policies.yaml")
	mtime := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	_ = os.WriteFile(path, []byte("allow"), 0o600)
	_ = os.Chtimes(path, mtime, mtime)
	before, _ := filestamp.Of(path)

	_ = os.WriteFile(path+".new", []byte("deny!"), 0o600)
	_ = os.Chtimes(path+".new", mtime, mtime)
	_ = os.Rename(path+".new", path)
	after, _ := filestamp.Of(path)
	fmt.Println(before != after)
	// Output: true
}
