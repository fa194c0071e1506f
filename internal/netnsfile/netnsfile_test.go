package netnsfile_test

import (
	"runtime"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/wardsec/ward/internal/netnsfile"
	"github.com/wardsec/ward/internal/testenv"
)

// TestNew: the file names a network namespace other than this process's,
// and it outlives the thread that made it.
func TestNew(t *testing.T) {
	testenv.RequireNetns(t)
	f, err := netnsfile.New()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	var got, own unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &got); err != nil { // #nosec G115 -- a file descriptor fits an int
		t.Fatal(err)
	}
	runtime.LockOSThread()
	err = unix.Stat("/proc/thread-self/ns/net", &own)
	runtime.UnlockOSThread()
	if err != nil {
		t.Fatal(err)
	}
	if got.Ino == own.Ino {
		t.Errorf("the new namespace is this thread's own (inode %d)", got.Ino)
	}
	// Reachable by its path after the thread that made it ended.
	var self unix.Stat_t
	if err := unix.Stat(testenv.NetnsPath(f), &self); err != nil || self.Ino != got.Ino {
		t.Errorf("%s: %v, inode %d; want inode %d", testenv.NetnsPath(f), err, self.Ino, got.Ino)
	}
}
