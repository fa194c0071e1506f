package testenv

import (
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

// FIFO makes a named pipe at path that no process writes to: what opens
// it for reading without O_NONBLOCK waits for a writer. The returned
// function unblocks such waiters (it opens the pipe for writing, and
// closes it, 20 times over 200 ms), so that a test of the code before a
// fix ends with the failure rather than hangs; it runs at the test's
// cleanup too, and is called at most once.
func FIFO(t testing.TB, path string) (unblock func()) {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	unblock = sync.OnceFunc(func() {
		for range 20 {
			if w, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil { // #nosec G304 -- the test's own pipe
				_ = w.Close()
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	t.Cleanup(unblock)
	return unblock
}
