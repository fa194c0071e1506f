package dockerinv

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/wardsec/ward/firewall"
)

// ProxyNote is what Inventory found of Docker's userland proxy, told to
// OnUserlandProxy when a container publishes a port.
type ProxyNote struct {
	// Proxy is what the inventory admits the proxy's onward leg from
	// (firewall.Inventory.UserlandProxy), or nil.
	Proxy *firewall.UserlandProxy
	// PIDs are the docker-proxy processes found.
	PIDs []int
	// Reason says, when Proxy is nil, why: the proxy's onward
	// connections are then judged as the gateway's.
	Reason string
}

func (n ProxyNote) String() string {
	if n.Proxy == nil {
		return "docker-proxy not identified: " + n.Reason
	}
	cg := "the root cgroup"
	if n.Proxy.Cgroup.Level > 0 {
		cg = fmt.Sprintf("cgroup %s (level %d)", n.Proxy.Cgroup.Path, n.Proxy.Cgroup.Level)
	}
	return fmt.Sprintf("docker-proxy (%d processes) identified: uid %d, %s", len(n.PIDs), n.Proxy.UID, cg)
}

// proxyProc is a docker-proxy process: its filesystem uid (what its
// sockets are owned by) and its cgroup v2 path.
type proxyProc struct {
	pid    int
	uid    uint32
	cgroup string
}

// findUserlandProxy identifies the sockets of Docker's userland proxy on
// this host, from the proc file system at proc: the processes running
// docker-proxy whose parent is the daemon of pidfile, running dockerd as
// root (no other process can make one of its children; a dockerd in a
// container, Docker in Docker, is not it). They must agree on one owner and one cgroup
// v2, which is resolved in the cgroup2 mount of proc/self/mountinfo. With
// hostNetwork containers running and the proxy in the root cgroup, their
// processes could pass for the proxy (on a cgroup v1 host, where
// containers have no cgroup v2 of their own), so it is not identified:
// the firewall keeps judging its onward leg as the gateway's (fail
// closed).
func findUserlandProxy(proc, pidfile string, hostNetwork []string) ProxyNote {
	daemon, err := daemonPID(proc, pidfile)
	if err != nil {
		return ProxyNote{Reason: err.Error()}
	}
	procs, err := proxyProcs(proc, daemon)
	if err != nil {
		return ProxyNote{Reason: err.Error()}
	}
	var note ProxyNote
	for _, p := range procs {
		note.PIDs = append(note.PIDs, p.pid)
	}
	if len(procs) == 0 {
		note.Reason = "no docker-proxy process runs (the daemon's userland-proxy is off, or its ports are not published yet)"
		return note
	}
	for _, p := range procs[1:] {
		if p.uid != procs[0].uid || p.cgroup != procs[0].cgroup {
			note.Reason = fmt.Sprintf("docker-proxy processes %d and %d differ in owner or cgroup (%d %s, %d %s)",
				procs[0].pid, p.pid, procs[0].uid, procs[0].cgroup, p.uid, p.cgroup)
			return note
		}
	}
	cg, err := resolveCgroup(proc, procs[0].cgroup)
	if err != nil {
		note.Reason = err.Error()
		return note
	}
	if cg.Level == 0 && len(hostNetwork) > 0 {
		note.Reason = fmt.Sprintf("it runs in the root cgroup, where the processes of hostNetwork containers (%s) could pass for it", strings.Join(hostNetwork, ", "))
		return note
	}
	note.Proxy = &firewall.UserlandProxy{UID: procs[0].uid, Cgroup: cg}
	return note
}

// DefaultPidfile is where dockerd writes its PID unless told otherwise
// (--pidfile, "pidfile" in daemon.json).
const DefaultPidfile = "/var/run/docker.pid"

// daemonPID is the host daemon's PID, from its pidfile (only root can
// write it): the process must run dockerd as root. A dockerd a container
// runs (Docker in Docker) writes its pidfile in its own file system.
func daemonPID(proc, pidfile string) (int, error) {
	b, err := os.ReadFile(pidfile) // #nosec G304 -- the daemon's pidfile
	if err != nil {
		return 0, fmt.Errorf("the daemon's PID: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("the daemon's PID: %s does not hold a PID", pidfile)
	}
	dir := filepath.Join(proc, strconv.Itoa(pid))
	st, err := readStatus(dir)
	if err != nil || exeName(dir) != "dockerd" || uidField(st["Uid"], 1) != 0 {
		return 0, fmt.Errorf("the daemon's PID: process %d (%s) is not root's dockerd", pid, pidfile)
	}
	return pid, nil
}

// proxyProcs lists the docker-proxy processes that the daemon, daemon,
// started (its children: no other process can make one).
func proxyProcs(proc string, daemon int) ([]proxyProc, error) {
	ents, err := os.ReadDir(proc)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", proc, err)
	}
	var out []proxyProc
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		dir := filepath.Join(proc, e.Name())
		if exeName(dir) != "docker-proxy" {
			continue
		}
		status, err := readStatus(dir)
		if err != nil {
			continue // it ended
		}
		if ppid, _ := strconv.Atoi(status["PPid"]); ppid != daemon {
			continue // another dockerd's (in a container), or not a daemon's
		}
		cg, err := cgroupV2(dir)
		if err != nil {
			continue
		}
		out = append(out, proxyProc{pid: pid, uid: uidField(status["Uid"], 3), cgroup: cg})
	}
	slices.SortFunc(out, func(a, b proxyProc) int { return a.pid - b.pid })
	return out, nil
}

// exeName is the base name of the program a process runs, "" when it
// cannot be read (another user's process, as non-root; a kernel thread).
func exeName(dir string) string {
	exe, err := os.Readlink(filepath.Join(dir, "exe"))
	if err != nil {
		return ""
	}
	return filepath.Base(strings.TrimSuffix(exe, " (deleted)"))
}

// readStatus reads a process's status file into its fields.
func readStatus(dir string) (map[string]string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "status")) // #nosec G304 -- a file of the proc file system
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m, nil
}

// uidField is the i-th of a status Uid line's real, effective, saved and
// filesystem uids; 1<<32-1 (no one) when it does not parse.
func uidField(line string, i int) uint32 {
	f := strings.Fields(line)
	if i >= len(f) {
		return 1<<32 - 1
	}
	u, err := strconv.ParseUint(f[i], 10, 32)
	if err != nil {
		return 1<<32 - 1
	}
	return uint32(u)
}

// cgroupV2 is a process's cgroup v2 path ("0::/path").
func cgroupV2(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup")) // #nosec G304 -- a file of the proc file system
	if err != nil {
		return "", err
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		if p, ok := strings.CutPrefix(l, "0::"); ok {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s/cgroup: no cgroup v2 line", dir)
}

// nftCgroupRoot is where nft looks cgroup v2 paths up (tests replace it).
var nftCgroupRoot = "/sys/fs/cgroup"

// resolveCgroup finds the cgroup at path (as /proc/PID/cgroup names it) in
// the cgroup2 mount that proc/self/mountinfo lists: its level, its ID
// (the inode number of its directory, what the kernel compares) and its
// path as nft names it, relative to /sys/fs/cgroup.
func resolveCgroup(proc, path string) (firewall.Cgroup, error) {
	if !strings.HasPrefix(path, "/") || strings.Contains(path, " (deleted)") {
		return firewall.Cgroup{}, fmt.Errorf("docker-proxy's cgroup v2 %q is not a path of this cgroup namespace", path)
	}
	mount, err := cgroup2Mount(filepath.Join(proc, "self", "mountinfo"))
	if err != nil {
		return firewall.Cgroup{}, err
	}
	dir := filepath.Join(mount, path)
	fi, err := os.Stat(dir)
	if err != nil {
		return firewall.Cgroup{}, fmt.Errorf("docker-proxy's cgroup: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || !fi.IsDir() || st.Ino == 0 {
		return firewall.Cgroup{}, fmt.Errorf("docker-proxy's cgroup: %s is not a cgroup directory", dir)
	}
	cg := firewall.Cgroup{ID: st.Ino}
	if clean := strings.Trim(filepath.Clean(path), "/"); clean != "" {
		cg.Level = uint32(strings.Count(clean, "/") + 1) // #nosec G115 -- a path's depth
		rel, err := filepath.Rel(nftCgroupRoot, dir)
		if err != nil || strings.HasPrefix(rel, "..") {
			return firewall.Cgroup{}, fmt.Errorf("docker-proxy's cgroup %s is outside %s, where nft names cgroups", dir, nftCgroupRoot)
		}
		cg.Path = rel
	}
	return cg, nil
}

// cgroup2Mount is the mount point of the cgroup2 file system in a
// mountinfo file.
func cgroup2Mount(mountinfo string) (string, error) {
	b, err := os.ReadFile(mountinfo) // #nosec G304 -- a file of the proc file system
	if err != nil {
		return "", err
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		// ID parent major:minor root mountpoint options... - fstype source options
		pre, post, ok := strings.Cut(l, " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if ok && len(f) >= 5 && len(g) >= 1 && g[0] == "cgroup2" && f[3] == "/" {
			return f[4], nil
		}
	}
	return "", fmt.Errorf("no cgroup2 file system is mounted (%s): docker-proxy's sockets cannot be told apart", mountinfo)
}
