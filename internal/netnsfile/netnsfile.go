package netnsfile

import (
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// New creates a network namespace and returns its file; closing the file
// (with nothing else inside) ends the namespace. It needs CAP_SYS_ADMIN.
func New() (*os.File, error) {
	type result struct {
		f   *os.File
		err error
	}
	ch := make(chan result)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			ch <- result{err: fmt.Errorf("unshare: %w", err)}
			return
		}
		f, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())) // #nosec G304 -- this thread's namespace file
		ch <- result{f, err}
	}()
	r := <-ch
	return r.f, r.err
}
