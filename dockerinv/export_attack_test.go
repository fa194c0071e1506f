package dockerinv

import "testing"

// SetProc makes c read processes from proc (attack tests).
func SetProc(c *Client, proc string) { c.proc = proc }

// SetNftCgroupRoot replaces where nft names cgroups from (attack tests).
func SetNftCgroupRoot(t *testing.T, root string) {
	old := nftCgroupRoot
	nftCgroupRoot = root
	t.Cleanup(func() { nftCgroupRoot = old })
}

// FakeProcRootProxy writes a proc file system where root's dockerd runs
// docker-proxy in the root cgroup v2, mounted at mount (attack tests).
func FakeProcRootProxy(t *testing.T, mount string) string {
	return fakeProc(t, mount, []fakeProcess{
		{pid: 100, ppid: 1, exe: "/usr/bin/dockerd", cgroup: "/"},
		{pid: 200, ppid: 100, exe: "/usr/bin/docker-proxy", cgroup: "/"},
	})
}
