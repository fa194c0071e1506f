package testenv

import (
	"fmt"
	"os"
	"testing"

	"github.com/wardsec/ward/internal/netnsfile"
)

// NewNetns creates a network namespace of the test's own and returns its
// file, which holds it open until the test ends: tests that change
// nftables, links or sysctls do it there, never in the machine's own
// namespace. It requires root and namespaces (see RequireNetns). The path
// /proc/self/fd/N of the file names the namespace to other code.
func NewNetns(t testing.TB) *os.File {
	t.Helper()
	RequireNetns(t)
	f, err := netnsfile.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f
}

// NetnsPath is the path of a namespace file as another process or an
// os.Open in this one sees it.
func NetnsPath(f *os.File) string { return fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), f.Fd()) }
