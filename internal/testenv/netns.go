package testenv

import (
	"fmt"
	"os"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// NewNetns creates a network namespace of the test's own and returns its
// file, which holds it open until the test ends: tests that change
// nftables, links or sysctls do it there, never in the machine's own
// namespace. It requires root and namespaces (see RequireNetns). The path
// /proc/self/fd/N of the file names the namespace to other code.
func NewNetns(t testing.TB) *os.File {
	t.Helper()
	RequireNetns(t)
	type result struct {
		f   *os.File
		err error
	}
	ch := make(chan result)
	go func() {
		// The thread is never unlocked: when this goroutine returns, the
		// runtime ends the thread, and with it its namespace membership.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			ch <- result{err: fmt.Errorf("unshare: %w", err)}
			return
		}
		f, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())) // #nosec G304 -- this thread's namespace file
		ch <- result{f, err}
	}()
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Cleanup(func() { _ = r.f.Close() })
	return r.f
}

// NetnsPath is the path of a namespace file as another process or an
// os.Open in this one sees it.
func NetnsPath(f *os.File) string { return fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), f.Fd()) }
