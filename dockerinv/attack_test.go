package dockerinv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/internal/testenv"
)

// TestAttackFindUserlandProxyFooledByContainer: findUserlandProxy takes
// any process whose exe is named docker-proxy and whose parent's exe is
// named dockerd with euid 0 for Docker's userland proxy. Without user
// namespace remapping (Docker's default) a container's root is uid 0 on
// the host, and the host's /proc shows a container's processes with their
// exe paths inside the container: a Docker-in-Docker container (docker:dind,
// whose own dockerd starts docker-proxy for its inner ports), or any root
// container copying a binary to /usr/local/bin/dockerd that starts one
// named docker-proxy, is found as "the proxy".
//
//   - "hostNetwork dind, host daemon with userland-proxy off": the host
//     daemon runs with "userland-proxy": false (what docs/firewall.md
//     recommends), so no real docker-proxy runs; the hostNetwork
//     container's cgroup (level 2, not the root, so the hostNetwork check
//     does not apply) is identified, and userland_proxy admits every root
//     socket of that container, in the host's network namespace, to every
//     container's published port, whatever their ingress says of the host.
//     Needed: root (the default user) in a hostNetwork container; no
//     capability.
//   - "bridged dind beside the real proxies": the processes disagree on
//     their cgroup, so nothing is identified and every container's
//     clients through docker-proxy are refused (fail closed): any root
//     container running dind denies service to all published ports.
func TestAttackFindUserlandProxyFooledByContainer(t *testing.T) {
	root := t.TempDir()
	old := nftCgroupRoot
	nftCgroupRoot = root
	t.Cleanup(func() { nftCgroupRoot = old })
	mount := filepath.Join(root, "unified")
	svc := filepath.Join(mount, "system.slice", "docker.service")
	scope := filepath.Join(mount, "system.slice", "docker-0123abcd.scope")
	for _, d := range []string{svc, scope} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	dockerd := fakeProcess{pid: 100, ppid: 1, exe: "/usr/bin/dockerd", cgroup: "/system.slice/docker.service"}
	realProxy := fakeProcess{pid: 200, ppid: 100, exe: "/usr/libexec/docker/docker-proxy", cgroup: dockerd.cgroup}
	// The container: its init (tini, pid 300), its dockerd, and the
	// docker-proxy that dockerd started for an inner published port.
	dindInit := fakeProcess{pid: 300, ppid: 250, exe: "/usr/local/bin/docker-init", cgroup: "/system.slice/docker-0123abcd.scope"}
	dindDockerd := fakeProcess{pid: 301, ppid: 300, exe: "/usr/local/bin/dockerd", cgroup: dindInit.cgroup}
	dindProxy := fakeProcess{pid: 302, ppid: 301, exe: "/usr/local/bin/docker-proxy", cgroup: dindInit.cgroup}

	t.Run("hostNetwork dind, host daemon with userland-proxy off", func(t *testing.T) {
		proc := withPidfile(t, fakeProc(t, mount, []fakeProcess{dockerd, dindInit, dindDockerd, dindProxy}), dockerd.pid)
		n := findUserlandProxy(proc, filepath.Join(proc, "docker.pid"), []string{"dind"})
		if n.Proxy != nil {
			want := firewall.Cgroup{Path: "unified/system.slice/docker-0123abcd.scope", Level: 2, ID: inode(t, scope)}
			if n.Proxy.Cgroup == want {
				t.Errorf("HOLE: a container's processes identified as Docker's userland proxy: %s (pids %v); its root sockets pass userland_proxy", n, n.PIDs)
			} else {
				t.Errorf("identified %s, want none", n)
			}
		}
	})
	t.Run("bridged dind beside the real proxies", func(t *testing.T) {
		proc := withPidfile(t, fakeProc(t, mount, []fakeProcess{dockerd, realProxy, dindInit, dindDockerd, dindProxy}), dockerd.pid)
		n := findUserlandProxy(proc, filepath.Join(proc, "docker.pid"), nil)
		want := firewall.Cgroup{Path: "unified/system.slice/docker.service", Level: 2, ID: inode(t, svc)}
		if n.Proxy == nil || n.Proxy.Cgroup != want {
			t.Errorf("DENIAL OF SERVICE: a container running dind makes the real docker-proxy unidentified (%s): every published port's onward leg is judged as the gateway's", n)
		}
	})
}

// TestAttackFindUserlandProxyLive is the first case of
// TestAttackFindUserlandProxyFooledByContainer with real processes: in a
// cgroup of its own (a container's, for the host) and a mount namespace
// of its own (a container's file system), root runs a copy of sh named
// dockerd, which starts a copy of sh named docker-proxy. Read from the
// host's /proc (only this cgroup's processes, so that a real docker-proxy
// on the machine does not interfere), they are Docker's userland proxy.
func TestAttackFindUserlandProxyLive(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireCommand(t, "unshare")
	cg := testenv.NewCgroup(t, fmt.Sprintf("ward-attack-dind-%d", os.Getpid()))
	dir := cg.Dir
	mnt := t.TempDir()
	script := fmt.Sprintf(`mount -t tmpfs none %[1]s && cp /bin/sh %[1]s/dockerd && cp /bin/sh %[1]s/docker-proxy && exec %[1]s/dockerd -c '%[1]s/docker-proxy -c "sleep 30; true"; true'`, mnt)
	cmd := exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: cg.FD}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		b, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		_ = cmd.Wait()
	})
	// A proc of this cgroup's processes only, and of the host's daemon
	// (its pidfile's).
	proc := t.TempDir()
	if err := os.Symlink("/proc/self", filepath.Join(proc, "self")); err != nil {
		t.Fatal(err)
	}
	pidfile := filepath.Join(proc, "docker.pid")
	if b, err := os.ReadFile(DefaultPidfile); err == nil {
		if pid := strings.TrimSpace(string(b)); pid != "" {
			_ = os.Symlink("/proc/"+pid, filepath.Join(proc, pid))
			_ = os.WriteFile(pidfile, b, 0o600)
		}
	}
	var note ProxyNote
	for range 50 {
		time.Sleep(100 * time.Millisecond)
		b, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		for _, f := range strings.Fields(string(b)) {
			_ = os.Symlink("/proc/"+f, filepath.Join(proc, f))
		}
		if note = findUserlandProxy(proc, pidfile, nil); note.Proxy != nil {
			break
		}
	}
	if note.Proxy != nil {
		t.Errorf("HOLE: root processes of another cgroup and mount namespace identified as Docker's userland proxy: %s (pids %v)", note, note.PIDs)
	} else {
		t.Logf("not identified: %s", note)
	}
}
