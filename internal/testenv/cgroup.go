package testenv

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Cgroup2Root returns where the cgroup2 file system is mounted
// (/sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid host); without
// one the test is skipped (failed under CI=true).
func Cgroup2Root(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatalf("reading mountinfo: %v", err)
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		// ID parent major:minor root mountpoint options... - fstype ...
		pre, post, ok := strings.Cut(l, " - ")
		if f := strings.Fields(pre); ok && strings.HasPrefix(post, "cgroup2 ") && len(f) >= 5 && f[3] == "/" {
			return f[4]
		}
	}
	unavailable(t, "no cgroup2 file system is mounted")
	return ""
}

// Cgroup is a cgroup v2 a test made (NewCgroup).
type Cgroup struct {
	Dir   string // its directory
	Level uint32 // its depth below the root cgroup
	ID    uint64 // its ID: its directory's inode number
	// FD is an open descriptor of its directory, to start processes in it
	// (syscall.SysProcAttr.CgroupFD).
	FD int
}

// NewCgroup makes the cgroup rel ("a" or "a/b": its parent must exist)
// below the cgroup2 root, and removes it when the test ends, after its
// children (cleanups run last first) and once its processes have exited.
func NewCgroup(t testing.TB, rel string) Cgroup {
	t.Helper()
	RequireRoot(t)
	dir := filepath.Join(Cgroup2Root(t), rel)
	if err := os.Mkdir(dir, 0o755); err != nil { // #nosec G301 -- a cgroup directory
		t.Fatalf("making cgroup: %v", err)
	}
	t.Cleanup(func() {
		// A process killed by the test leaves the cgroup only once it has
		// exited, which takes a moment on a loaded machine: kill what is
		// left (cgroup.kill, Linux 5.14) and wait for it to empty.
		_ = os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0o600)
		deadline := time.Now().Add(10 * time.Second)
		for {
			err := os.Remove(dir)
			if err == nil {
				return
			}
			if !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline) {
				procs, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs")) // #nosec G304 -- the test's own cgroup
				t.Errorf("removing cgroup %s: %v (processes left: %q)", dir, err, strings.Fields(string(procs)))
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	f, err := os.Open(dir) // #nosec G304 -- the test's own cgroup
	if err != nil {
		t.Fatalf("opening cgroup: %v", err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return Cgroup{Dir: dir, Level: uint32(strings.Count(strings.Trim(rel, "/"), "/") + 1), ID: inode(t, dir), FD: int(f.Fd())} // #nosec G115 -- a path's depth
}

// OwnCgroup is the test process's cgroup v2 (FD unset).
func OwnCgroup(t testing.TB) Cgroup {
	t.Helper()
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatalf("reading /proc/self/cgroup: %v", err)
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		if p, ok := strings.CutPrefix(l, "0::"); ok {
			dir := filepath.Join(Cgroup2Root(t), p)
			var level uint32
			if rel := strings.Trim(p, "/"); rel != "" {
				level = uint32(strings.Count(rel, "/") + 1) // #nosec G115 -- a path's depth
			}
			return Cgroup{Dir: dir, Level: level, ID: inode(t, dir), FD: -1}
		}
	}
	unavailable(t, "this process has no cgroup v2")
	return Cgroup{}
}

func inode(t testing.TB, dir string) uint64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil {
		t.Fatalf("stat %s: %v", dir, err)
	}
	return st.Ino
}
