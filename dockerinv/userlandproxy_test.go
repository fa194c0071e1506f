package dockerinv

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/wardsec/ward/firewall"
)

// fakeProc writes a proc file system: processes by PID with their
// program, parent, uids and cgroup v2, and a mountinfo naming cgroup2 at
// mount (none when "").
type fakeProcess struct {
	pid, ppid int
	exe       string
	uid       int
	cgroup    string
}

func fakeProc(t *testing.T, mount string, procs []fakeProcess) string {
	t.Helper()
	proc := t.TempDir()
	for _, p := range procs {
		dir := filepath.Join(proc, fmt.Sprint(p.pid))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(p.exe, filepath.Join(dir, "exe")); err != nil {
			t.Fatal(err)
		}
		status := fmt.Sprintf("Name:\t%s\nPPid:\t%d\nUid:\t%d\t%d\t%d\t%d\n", filepath.Base(p.exe), p.ppid, p.uid, p.uid, p.uid, p.uid)
		cg := "1:name=systemd:/\n0::" + p.cgroup + "\n"
		for f, b := range map[string]string{"status": status, "cgroup": cg} {
			if err := os.WriteFile(filepath.Join(dir, f), []byte(b), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	mi := "22 1 0:21 / /proc rw - proc proc rw\n"
	if mount != "" {
		mi += "41 31 0:38 / " + mount + " rw,relatime - cgroup2 cgroup2 rw\n"
	}
	if err := os.MkdirAll(filepath.Join(proc, "self"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(proc, "self", "mountinfo"), []byte(mi), 0o600); err != nil {
		t.Fatal(err)
	}
	return proc
}

func inode(t *testing.T, dir string) uint64 {
	t.Helper()
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

func TestFindUserlandProxy(t *testing.T) {
	root := t.TempDir() // stands for /sys/fs/cgroup
	old := nftCgroupRoot
	nftCgroupRoot = root
	t.Cleanup(func() { nftCgroupRoot = old })
	mount := filepath.Join(root, "unified")
	svc := filepath.Join(mount, "system.slice", "docker.service")
	if err := os.MkdirAll(svc, 0o700); err != nil {
		t.Fatal(err)
	}
	dockerd := fakeProcess{pid: 100, ppid: 1, exe: "/usr/bin/dockerd", cgroup: "/system.slice/docker.service"}
	proxy := func(pid int, cg string) fakeProcess {
		return fakeProcess{pid: pid, ppid: 100, exe: "/usr/libexec/docker/docker-proxy", cgroup: cg}
	}
	inSvc := &firewall.UserlandProxy{UID: 0, Cgroup: firewall.Cgroup{Path: "unified/system.slice/docker.service", Level: 2, ID: inode(t, svc)}}
	atRoot := &firewall.UserlandProxy{UID: 0, Cgroup: firewall.Cgroup{ID: inode(t, mount)}}
	dind := fakeProcess{pid: 300, ppid: 299, exe: "/usr/local/bin/dockerd", cgroup: "/docker/abc"}
	for _, tc := range []struct {
		name        string
		mount       string
		procs       []fakeProcess
		hostNetwork []string
		want        *firewall.UserlandProxy
		reason      string
		pidfile     string // "" for dockerd's, 100
	}{
		{"systemd's docker.service", mount, []fakeProcess{dockerd, proxy(200, dockerd.cgroup), proxy(201, dockerd.cgroup)}, nil, inSvc, "", ""},
		{"the root cgroup", mount, []fakeProcess{dockerd, proxy(200, "/"), proxy(201, "/")}, nil, atRoot, "", ""},
		{"the root cgroup beside hostNetwork containers", mount, []fakeProcess{dockerd, proxy(200, "/")}, []string{"node-exporter"}, nil, "node-exporter", ""},
		{"docker.service beside hostNetwork containers", mount, []fakeProcess{dockerd, proxy(200, dockerd.cgroup)}, []string{"node-exporter"}, inSvc, "", ""},
		{"no proxy", mount, []fakeProcess{dockerd}, nil, nil, "no docker-proxy process", ""},
		{"a docker-proxy another program started", mount, []fakeProcess{dockerd, {pid: 150, ppid: 1, exe: "/bin/bash"},
			{pid: 200, ppid: 150, exe: "/usr/bin/docker-proxy", cgroup: "/"}}, nil, nil, "no docker-proxy process", ""},
		{"the pidfile names another program", mount, []fakeProcess{{pid: 100, ppid: 1, exe: "/bin/bash"}, proxy(200, "/")}, nil, nil, "not root's dockerd", ""},
		{"the pidfile names a dockerd not running as root", mount, []fakeProcess{{pid: 100, ppid: 1, exe: "/home/eve/dockerd", uid: 1000}, proxy(200, "/")}, nil, nil, "not root's dockerd", ""},
		{"no pidfile", mount, []fakeProcess{dockerd, proxy(200, "/")}, nil, nil, "no such file", "missing"},
		{"a pidfile without a PID", mount, []fakeProcess{dockerd, proxy(200, "/")}, nil, nil, "does not hold a PID", "garbage"},
		// Docker in Docker: a container's dockerd (root in the container
		// is root) and its proxies are not the host's: ignored, neither
		// identified nor a disagreement that would identify nothing.
		{"a dockerd in a container beside the host's", mount, []fakeProcess{dockerd, proxy(200, dockerd.cgroup), dind,
			{pid: 301, ppid: 300, exe: "/usr/local/bin/docker-proxy", cgroup: "/docker/abc"}}, nil, inSvc, "", ""},
		{"only a dockerd in a container", mount, []fakeProcess{dockerd, dind,
			{pid: 301, ppid: 300, exe: "/usr/local/bin/docker-proxy", cgroup: "/docker/abc"}}, nil, nil, "no docker-proxy process", ""},
		{"proxies in two cgroups", mount, []fakeProcess{dockerd, proxy(200, "/"), proxy(201, dockerd.cgroup)}, nil, nil, "differ", ""},
		{"a proxy owned by another user", mount, []fakeProcess{dockerd, proxy(200, "/"), {pid: 201, ppid: 100, exe: "/usr/bin/docker-proxy", uid: 5, cgroup: "/"}}, nil, nil, "differ", ""},
		{"no cgroup2 mount", "", []fakeProcess{dockerd, proxy(200, "/")}, nil, nil, "no cgroup2", ""},
		{"a cgroup that is gone", mount, []fakeProcess{dockerd, proxy(200, "/gone.slice")}, nil, nil, "no such file", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proc := fakeProc(t, tc.mount, tc.procs)
			pidfile := filepath.Join(proc, "docker.pid")
			switch tc.pidfile {
			case "":
				if err := os.WriteFile(pidfile, []byte("100\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			case "garbage":
				if err := os.WriteFile(pidfile, []byte("dockerd\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			n := findUserlandProxy(proc, pidfile, tc.hostNetwork)
			switch {
			case tc.want == nil && n.Proxy != nil:
				t.Fatalf("identified %+v (%s), want none", *n.Proxy, n)
			case tc.want != nil && (n.Proxy == nil || *n.Proxy != *tc.want):
				t.Fatalf("got %s (%+v), want %+v", n, n.Proxy, *tc.want)
			case tc.want == nil && !strings.Contains(n.Reason, tc.reason):
				t.Fatalf("reason %q, want it to say %q", n.Reason, tc.reason)
			}
		})
	}
}
