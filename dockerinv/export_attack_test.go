package dockerinv

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// SetProc makes c read processes from proc, and the daemon's PID from
// proc/docker.pid (attack tests).
func SetProc(c *Client, proc string) { c.proc, c.pidfile = proc, proc+"/docker.pid" }

// SetNftCgroupRoot replaces where nft names cgroups from (attack tests).
func SetNftCgroupRoot(t *testing.T, root string) {
	old := nftCgroupRoot
	nftCgroupRoot = root
	t.Cleanup(func() { nftCgroupRoot = old })
}

// FakeProcRootProxy writes a proc file system where root's dockerd runs
// docker-proxy in the root cgroup v2, mounted at mount (attack tests).
func FakeProcRootProxy(t *testing.T, mount string) string {
	return withPidfile(t, fakeProc(t, mount, []fakeProcess{
		{pid: 100, ppid: 1, exe: "/usr/bin/dockerd", cgroup: "/"},
		{pid: 200, ppid: 100, exe: "/usr/bin/docker-proxy", cgroup: "/"},
	}), 100)
}

// withPidfile writes proc/docker.pid naming pid.
func withPidfile(t *testing.T, proc string, pid int) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(proc, "docker.pid"), []byte(strconv.Itoa(pid)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return proc
}
