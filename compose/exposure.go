package compose

import (
	"fmt"
	"github.com/wardsec/ward/internal/cmdsecret"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v3"

	"github.com/wardsec/ward/finding"
	"github.com/wardsec/ward/internal/secretscan"
)

// adminPorts are the container ports of administration and control
// services compose/port-published reports as high: SSH, the Docker API
// (plain and TLS), the Kubernetes API server, the kubelet and etcd.
var adminPorts = map[uint32]string{
	22:    "SSH",
	2375:  "the Docker API without TLS",
	2376:  "the Docker API",
	2379:  "etcd",
	6443:  "the Kubernetes API server",
	10250: "the kubelet API",
}

// portGroups groups the ports of a service by the ports item they come
// from, keeping those for which keep is true: "7000-7001:7000-7001" is
// one item. It returns the groups in file order and each group's line.
func (a *audit) portGroups(name string, s types.ServiceConfig, keep func(types.ServicePortConfig) bool) (groups [][]types.ServicePortConfig, lines []int) {
	items, itemLines := a.pos.portItems(name, len(s.Ports))
	index := map[int]int{}
	for i, p := range s.Ports {
		if !keep(p) {
			continue
		}
		g, ok := index[items[i]]
		if !ok {
			g = len(groups)
			index[items[i]] = g
			groups = append(groups, nil)
			lines = append(lines, itemLines[i])
		}
		groups[g] = append(groups[g], p)
	}
	return groups, lines
}

// publishedPorts reports the ports of a service that is not a data store
// published on every host interface (compose/port-published), one
// finding per ports item.
func (a *audit) publishedPorts(name string, s types.ServiceConfig) {
	if strings.EqualFold(s.NetworkMode, "host") {
		return // compose/host-network; ports are ignored on the host network
	}
	groups, lines := a.portGroups(name, s, func(p types.ServicePortConfig) bool { return allInterfaces(p.HostIP) })
	for g, ps := range groups {
		sev, admin := finding.Low, ""
		for _, p := range ps {
			if what, ok := adminPorts[p.Target]; ok {
				sev, admin = finding.High, fmt.Sprintf("; %d is %s, an administration or control port: whoever reaches the host can try to log in or take control", p.Target, what)
				break
			}
		}
		what := portName(ps[0])
		if len(ps) > 1 {
			what = fmt.Sprintf("%d ports (%s to %s)", len(ps), portName(ps[0]), portName(ps[len(ps)-1]))
		}
		host := "an ephemeral host port"
		if ps[0].Published != "" {
			host = "host port " + ps[0].Published
		}
		a.report(rulePortPublished, sev, name, lines[g],
			"%s publishes %s on all host interfaces (%s)%s", name, what, host, admin)
	}
}

// hostPorts returns the host ports of a published port: "80" gives 80,
// "8000-8002" gives 8000 to 8002; none for an ephemeral port.
func hostPorts(p types.ServicePortConfig) []int {
	lo, hi, isRange := strings.Cut(p.Published, "-")
	first, err := strconv.Atoi(strings.TrimSpace(lo))
	if err != nil {
		return nil
	}
	last := first
	if isRange {
		if last, err = strconv.Atoi(strings.TrimSpace(hi)); err != nil || last < first {
			return []int{first}
		}
	}
	var out []int
	for port := first; port <= last && port < 1024; port++ {
		out = append(out, port)
	}
	return out
}

// privilegedHostPorts reports published host ports below 1024
// (compose/privileged-host-port): low, info for the web ports 80 and 443.
func (a *audit) privilegedHostPorts(name string, s types.ServiceConfig) {
	if strings.EqualFold(s.NetworkMode, "host") {
		return
	}
	groups, lines := a.portGroups(name, s, func(p types.ServicePortConfig) bool { return len(hostPorts(p)) > 0 })
	for g, ps := range groups {
		var ports []string
		sev := finding.Info
		for _, p := range ps {
			for _, hp := range hostPorts(p) {
				if hp != 80 && hp != 443 {
					sev = finding.Low
				}
				if s := strconv.Itoa(hp); !slices.Contains(ports, s) {
					ports = append(ports, s)
				}
			}
		}
		a.report(rulePrivilegedHostPort, sev, name, lines[g],
			"%s takes host port %s, below 1024, where clients expect a system service", name, strings.Join(ports, ", "))
	}
}

// runtimeSockets are the files of container runtime APIs: whoever can
// write to one controls every container and, through them, the host.
var runtimeSockets = []string{
	"/var/run/docker.sock", "/run/docker.sock",
	"/var/run/containerd/containerd.sock", "/run/containerd/containerd.sock",
	"/var/run/crio/crio.sock", "/run/crio/crio.sock",
	"/var/run/podman/podman.sock", "/run/podman/podman.sock",
	"/var/run/cri-dockerd.sock", "/run/cri-dockerd.sock",
}

// runtimeSocketNames are the file names of runtime API sockets wherever
// they are: rootless Docker and Podman under /run/user/<uid>, k3s's
// containerd, Docker Desktop's docker.sock.raw, BuildKit's daemon.
var runtimeSocketNames = []string{
	"docker.sock", "docker.sock.raw", "containerd.sock", "crio.sock", "podman.sock", "cri-dockerd.sock", "buildkitd.sock",
}

// sensitiveTrees are host directories whose whole tree is sensitive;
// sensitiveExact are directories sensitive as a whole only (a file under
// /etc such as /etc/localtime is not); sensitiveFiles are sensitive
// paths under those.
var (
	sensitiveTrees = []string{
		"/proc", "/sys", "/dev", "/boot", "/root", "/var/lib/docker", "/var/lib/containerd", "/var/lib/kubelet",
		"/etc/kubernetes", "/etc/ssh", "/etc/docker", "/etc/sudoers.d", "/etc/systemd", "/etc/cron.d", "/home",
	}
	sensitiveExact = []string{"/etc", "/usr", "/bin", "/sbin", "/lib", "/lib64", "/var", "/var/lib", "/var/log", "/run", "/var/run"}
	sensitiveFiles = []string{"/etc/shadow", "/etc/gshadow", "/etc/sudoers", "/etc/passwd", "/etc/group", "/etc/crontab"}
)

// sensitiveHostPath classifies the host path of a bind mount: the
// severity of mounting it writable and why, or ok false.
func sensitiveHostPath(src string) (sev finding.Severity, why string, ok bool) {
	if !strings.HasPrefix(src, "/") && src != "~" && !strings.HasPrefix(src, "~/") {
		return 0, "", false // relative to the project, a named volume or a variable
	}
	p := path.Clean(src)
	if strings.HasPrefix(src, "~") {
		// ~/.. climbs out of the home directory: judged from where homes
		// usually are, /home/<user> (from /root it is higher yet).
		const home = "/home/user"
		if q := path.Clean(home + strings.TrimPrefix(src, "~")); q != home && !strings.HasPrefix(q, home+"/") {
			p = q
		}
	}
	p = procRoot(p)
	switch {
	case p == "~" || strings.HasPrefix(p, "~/"):
		return finding.High, "the home directory of the user running Compose (~ or $HOME), which holds their SSH keys and their registry, cloud and cluster credentials", true
	case slices.Contains(runtimeSockets, p) || slices.Contains(runtimeSocketNames, path.Base(p)):
		return finding.Critical, "the container runtime's API socket: whoever can connect to it starts a privileged container and owns the host, read_only or not", true
	case p == "/":
		return finding.Critical, "the host's root filesystem", true
	case p == "/run" || p == "/var/run":
		return finding.Critical, "the host's runtime directory, which holds the container runtime's API socket", true
	}
	for _, t := range sensitiveTrees {
		if p == t || strings.HasPrefix(p, t+"/") {
			return finding.High, "a sensitive host path (" + t + ")", true
		}
	}
	if slices.Contains(sensitiveExact, p) || slices.Contains(sensitiveFiles, p) {
		return finding.High, "a sensitive host path", true
	}
	return 0, "", false
}

// procRoot returns the host path that p reaches through the root link of
// a host process, /proc/<pid>/root, /proc/self/root or
// /proc/thread-self/root: the mount follows the link to the root
// directory of that process (of pid 1, of the runtime), the host's own, so
// /proc/1/root/var/run/docker.sock is /var/run/docker.sock. Other paths
// are returned as they are.
func procRoot(p string) string {
	rest, ok := strings.CutPrefix(p, "/proc/")
	if !ok {
		return p
	}
	proc, rest, _ := strings.Cut(rest, "/")
	if proc != "self" && proc != "thread-self" && (proc == "" || strings.Trim(proc, "0123456789") != "") {
		return p
	}
	if rest != "root" && !strings.HasPrefix(rest, "root/") {
		return p
	}
	return path.Clean("/" + strings.TrimPrefix(rest, "root"))
}

// sensitiveMounts reports bind mounts of runtime sockets and sensitive
// host paths (compose/sensitive-mount). A read-only mount of a path is
// one step less severe; of a socket it is not, since a socket is written
// to by connecting. Besides bind mounts, the host paths that reach the
// container another way are judged: named volumes of the local driver
// that bind a host path (driver_opts o: bind, device: /path), and the
// files of secrets and configs, which Compose bind-mounts read-only.
func (a *audit) sensitiveMounts(name string, s types.ServiceConfig) {
	a.sensitiveVolumes(name, s)
	a.sensitiveFiles(name, s)
}

// hostSource returns the host path a volume of a service mounts, whether
// it is read-only, and how findings show it: a bind mount's source
// (resolved against the project), or the device of a named volume of the
// local driver that binds one; false for other volumes.
func (a *audit) hostSource(v types.ServiceVolumeConfig) (src string, readOnly bool, shown string, ok bool) {
	switch v.Type {
	case types.VolumeTypeBind:
		return a.rooted(v.Source), v.ReadOnly, v.Source, true
	case types.VolumeTypeVolume:
		device, ro, ok := bindVolume(a.project.Volumes[v.Source])
		if !ok {
			return "", false, "", false
		}
		return device, v.ReadOnly || ro, fmt.Sprintf("volume %s, a bind of %s,", v.Source, device), true
	}
	return "", false, "", false
}

// sensitiveVolumes judges the host paths a service's volumes mount.
func (a *audit) sensitiveVolumes(name string, s types.ServiceConfig) {
	for i, v := range s.Volumes {
		src, readOnly, shown, ok := a.hostSource(v)
		if !ok {
			continue
		}
		line := a.pos.itemLineAt(name, "volumes", i, len(s.Volumes), sourceItem(v.Source))
		a.sensitiveMount(name, name, line, src, shown, v.Target, readOnly)
	}
	a.volumesFrom(name, s)
}

// volumesFrom judges the host paths a service mounts through
// volumes_from: Docker gives its container every mount of the other
// service's container (those it has through volumes_from in turn
// included, and the files of its secrets and configs, which Compose
// bind-mounts), at the same target, read-only when the source mount is or
// when the entry says ro. A monitoring agent allowed the Docker socket
// by a suppression must not hand it, unreported, to every service that
// takes its volumes. Entries naming a container (container:<name>) are
// outside the project and not followed.
func (a *audit) volumesFrom(name string, s types.ServiceConfig) {
	services := a.services
	for i, entry := range s.VolumesFrom {
		from, ro, ok := volumesFromService(entry)
		if !ok {
			continue
		}
		line := a.pos.itemLineAt(name, "volumes_from", i, len(s.VolumesFrom), func(n *yaml.Node) bool {
			return n.Kind == yaml.ScalarNode && strings.TrimSpace(n.Value) == strings.TrimSpace(entry)
		})
		// Walk the services whose mounts reach this one, each once.
		seen := map[string]bool{name: true}
		queue := []struct {
			service string
			ro      bool
		}{{from, ro}}
		for len(queue) > 0 {
			cur := queue[0]
			queue = queue[1:]
			if seen[cur.service] {
				continue
			}
			seen[cur.service] = true
			src, exists := services[cur.service]
			if !exists {
				continue
			}
			for _, v := range src.Volumes {
				host, readOnly, shown, ok := a.hostSource(v)
				if !ok {
					continue
				}
				a.sensitiveMount(name, fmt.Sprintf("%s (volumes_from: %s)", name, entry), line, host,
					fmt.Sprintf("%s, from service %s,", shown, cur.service), v.Target, readOnly || cur.ro)
			}
			for _, f := range a.fileMounts(src) {
				a.sensitiveMount(name, fmt.Sprintf("%s (volumes_from: %s)", name, entry), line, a.rooted(f.file),
					fmt.Sprintf("%s from service %s,", strings.TrimSuffix(f.shown(), ","), cur.service), f.target, true)
			}
			for _, e := range src.VolumesFrom {
				if next, nro, ok := volumesFromService(e); ok {
					queue = append(queue, struct {
						service string
						ro      bool
					}{next, cur.ro || nro})
				}
			}
		}
	}
}

// volumesFromService reads a volumes_from entry as Compose does:
// "<service>[:ro|:rw]"; "container:<name>[:mode]" names no service.
func volumesFromService(entry string) (service string, readOnly, ok bool) {
	entry = strings.TrimSpace(entry)
	if strings.HasPrefix(entry, "container:") {
		return "", false, false
	}
	service, mode, _ := strings.Cut(entry, ":")
	if service == "" {
		return "", false, false
	}
	return service, slices.Contains(strings.Split(mode, ","), "ro"), true
}

// sourceItem matches the item of a volumes or devices list whose host
// side is source: "SOURCE:TARGET[:MODE]" or a mapping with source:.
func sourceItem(source string) func(*yaml.Node) bool {
	return func(n *yaml.Node) bool {
		switch n.Kind {
		case yaml.ScalarNode:
			host, _, _ := strings.Cut(n.Value, ":")
			return host == source
		case yaml.MappingNode:
			_, sv := lookup(n, "source", 0)
			return sv != nil && sv.Value == source
		}
		return false
	}
}

// sensitiveFiles judges the files of a service's secrets and configs.
func (a *audit) sensitiveFiles(name string, s types.ServiceConfig) {
	for _, f := range a.fileMounts(s) {
		line := a.pos.itemLine(name, f.key, func(n *yaml.Node) bool {
			switch n.Kind {
			case yaml.ScalarNode:
				return n.Value == f.source
			case yaml.MappingNode:
				_, sv := lookup(n, "source", 0)
				return sv != nil && sv.Value == f.source
			}
			return false
		})
		a.sensitiveMount(name, name, line, a.rooted(f.file), f.shown(), f.target, true)
	}
}

// fileMount is a secret or config of a service read from a file, which
// Compose bind-mounts read-only.
type fileMount struct {
	key, source, file, target string // key: secrets or configs
}

// shown is how findings name the mount.
func (f fileMount) shown() string {
	return fmt.Sprintf("%s %s, the file %s,", strings.TrimSuffix(f.key, "s"), f.source, f.file)
}

// fileMounts are the secrets and configs of s that Compose mounts from a
// file, with the target in the container.
func (a *audit) fileMounts(s types.ServiceConfig) []fileMount {
	var out []fileMount
	// dir is where Compose mounts a secret or config without a target.
	files := func(key, dir string, refs []types.FileReferenceConfig, defs map[string]types.FileObjectConfig) {
		for _, r := range refs {
			def, ok := defs[r.Source]
			if !ok || def.File == "" || bool(def.External) {
				continue
			}
			target := r.Target
			if target == "" {
				target = dir + r.Source
			}
			out = append(out, fileMount{key: key, source: r.Source, file: def.File, target: target})
		}
	}
	files("secrets", "/run/secrets/", fileRefs(s.Secrets), fileDefs(a.project.Secrets))
	files("configs", "/", fileRefs(s.Configs), fileDefs(a.project.Configs))
	return out
}

// fileRefs converts a service's secret or config references to their
// common type.
func fileRefs[R types.ServiceSecretConfig | types.ServiceConfigObjConfig](refs []R) []types.FileReferenceConfig {
	out := make([]types.FileReferenceConfig, 0, len(refs))
	for _, r := range refs {
		out = append(out, types.FileReferenceConfig(r))
	}
	return out
}

// fileDefs converts a project's secret or config definitions to their
// common type.
func fileDefs[D ~map[string]C, C types.SecretConfig | types.ConfigObjConfig](defs D) map[string]types.FileObjectConfig {
	out := make(map[string]types.FileObjectConfig, len(defs))
	for k, d := range defs {
		out[k] = types.FileObjectConfig(d)
	}
	return out
}

// hostDisk matches the host's disks and partitions and its memory
// devices, given to a container with devices:.
var hostDisk = regexp.MustCompile(`^/dev/(?:(?:sd|hd|vd|xvd)[a-z]+[0-9]*|nvme[0-9]+(?:n[0-9]+(?:p[0-9]+)?)?|mmcblk[0-9]+(?:p[0-9]+)?|dm-[0-9]+|md[0-9]+|mapper/.+|disk/.+|root|mem|kmem|port)$`)

// devices reports the host disks and memory devices a service is given
// (compose/sensitive-mount): writable, they let it rewrite the host's
// filesystems or kernel memory, which is owning the host; read, they let
// it read every file and secret of the host. Other devices (GPUs, fuse,
// tun, serial ports) are not reported.
func (a *audit) devices(name string, s types.ServiceConfig) {
	for _, d := range s.Devices {
		src := path.Clean(d.Source)
		if !hostDisk.MatchString(src) {
			continue
		}
		sev, mode := finding.Critical, "writable"
		if perms := d.Permissions; perms != "" && !strings.Contains(perms, "w") {
			sev, mode = finding.High, "read-only"
		}
		line := a.pos.itemLine(name, "devices", sourceItem(d.Source))
		what := "a host disk: whoever writes it rewrites the host's filesystems, and whoever reads it reads every file of the host"
		if strings.HasSuffix(src, "mem") || src == "/dev/port" {
			what = "the host's memory: whoever writes it rewrites the running kernel"
		}
		a.report(ruleSensitiveMount, sev, name, line, "%s is given device %s at %s, %s: %s", name, d.Source, d.Target, mode, what)
	}
	for _, r := range s.DeviceCgroupRules {
		what, access, ok := hostDeviceRule(r)
		if !ok {
			continue
		}
		sev, mode := finding.Critical, "writable"
		if !strings.Contains(access, "w") {
			sev, mode = finding.High, "read-only"
		}
		line := a.pos.itemLine(name, "device_cgroup_rules", func(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Value == r })
		a.report(ruleSensitiveMount, sev, name, line, "%s has device_cgroup_rules %q: %s, %s, which a container creates with mknod (a capability Docker grants by default) and opens", name, r, what, mode)
	}
}

// hostDeviceRule reports whether a device cgroup rule ("TYPE MAJOR:MINOR
// ACCESS", as docker run --device-cgroup-rule takes it) lets a container
// read or write the host's disks or memory: every device (type a), every
// block device (type b, disks and partitions), or the memory devices
// (character major 1: mem, kmem, port), what it opens and how.
func hostDeviceRule(rule string) (what, access string, ok bool) {
	f := strings.Fields(rule)
	if len(f) != 3 || !strings.ContainsAny(f[2], "rw") {
		return "", "", false
	}
	major, minor, _ := strings.Cut(f[1], ":")
	switch {
	case f[0] == "a":
		return "every device of the host, its disks and memory included", f[2], true
	case f[0] == "b":
		return "the host's block devices (disks and partitions)", f[2], true
	case f[0] == "c" && major == "1" && (minor == "*" || minor == "1" || minor == "2" || minor == "4"):
		return "the host's memory devices (mem, kmem, port)", f[2], true
	}
	return "", "", false
}

// rooted is the host path a relative bind source names when it climbs
// to the host's root from the file's directory
// (../../../../var/run/docker.sock): that path, absolute. Other sources
// are returned as they are: a relative path that stays below the root
// names a directory of the checkout, wherever that is.
func (a *audit) rooted(src string) string {
	if src == "" || strings.HasPrefix(src, "/") || strings.HasPrefix(src, "~") || a.dir == "" {
		return src
	}
	rest, up := path.Clean(filepath.ToSlash(src)), 0
	for rest == ".." || strings.HasPrefix(rest, "../") {
		rest, up = strings.TrimPrefix(strings.TrimPrefix(rest, ".."), "/"), up+1
	}
	depth := 0
	if d := strings.Trim(filepath.ToSlash(a.dir), "/"); d != "" {
		depth = strings.Count(d, "/") + 1
	}
	if up == 0 || up < depth {
		return src
	}
	return "/" + rest
}

// bindVolume reports whether a named volume binds a host path, as the
// local driver does with driver_opts o: bind (or rbind) and device: the
// path; ro is true when its options make it read-only.
func bindVolume(v types.VolumeConfig) (device string, ro, ok bool) {
	if bool(v.External) || (v.Driver != "" && v.Driver != "local") {
		return "", false, false
	}
	bind := false
	for _, o := range strings.Split(v.DriverOpts["o"], ",") {
		switch strings.TrimSpace(o) {
		case "bind", "rbind":
			bind = true
		case "ro":
			ro = true
		}
	}
	device = v.DriverOpts["device"]
	if !bind || device == "" {
		return "", false, false
	}
	return device, ro, true
}

// sensitiveMount reports one host path src that who (service name or
// one of its hooks) mounts at target, shown as shown, if it is sensitive.
func (a *audit) sensitiveMount(name, who string, line int, src, shown, target string, readOnly bool) {
	sev, why, ok := sensitiveHostPath(src)
	if !ok {
		return
	}
	mode := "writable"
	if readOnly {
		mode = "read-only"
		if sev == finding.High {
			sev = finding.Medium
		} else if why == "the host's root filesystem" {
			sev = finding.High
		}
	}
	a.report(ruleSensitiveMount, sev, name, line, "%s mounts %s at %s, %s: %s", who, shown, target, mode, why)
}

// secretEnvironment reports the service's environment entries that hold
// secrets (compose/secret-in-environment), from the file as written:
// compose-go has already interpolated ${VAR} from the user's environment,
// which is not in the file. It never writes a value anywhere.
func (a *audit) secretEnvironment(name string) {
	_, v := a.pos.field(name, "environment")
	if v == nil {
		return
	}
	check := func(key, value string, line int) {
		if secretscan.Placeholder(value) {
			return
		}
		shown := key
		if secretscan.Value(key) != "" || len(key) > 100 {
			shown = "(name withheld)"
		}
		switch what := secretscan.Value(value); {
		case secretscan.NameValue(key, value):
			a.report(ruleSecretInEnvironment, finding.High, name, line,
				"environment variable %s of %s: its name suggests a secret and its value is written in the Compose file", shown, name)
		case what != "":
			a.report(ruleSecretInEnvironment, finding.High, name, line,
				"environment variable %s of %s holds a value that looks like %s", shown, name, what)
		}
	}
	switch v.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(v.Content); i += 2 {
			if k, val := v.Content[i], v.Content[i+1]; val.Kind == yaml.ScalarNode && val.Tag != "!!null" {
				check(k.Value, val.Value, val.Line)
			}
		}
	case yaml.SequenceNode:
		for _, it := range v.Content {
			if key, value, ok := strings.Cut(it.Value, "="); ok && it.Kind == yaml.ScalarNode {
				check(key, value, it.Line)
			}
		}
	}
}

// secretCommand reports secrets written in the service's command and
// entrypoint (compose/secret-in-command), from the file as written. It
// never writes a value anywhere.
func (a *audit) secretCommand(name string) {
	for _, key := range []string{"entrypoint", "command"} {
		_, v := a.pos.field(name, key)
		if v == nil {
			continue
		}
		var found []cmdsecret.Secret
		switch v.Kind {
		case yaml.ScalarNode:
			found = cmdsecret.Script(v.Value)
		case yaml.SequenceNode:
			var argv []string
			for _, it := range v.Content {
				argv = append(argv, it.Value)
			}
			found = cmdsecret.Argv(argv)
		}
		seen := map[cmdsecret.Secret]bool{}
		for _, s := range found {
			if !seen[s] {
				seen[s] = true
				a.report(ruleSecretInCommand, finding.High, name, v.Line, "the %s of %s holds %s, readable in the Compose file, `docker inspect` and the host's process list", key, name, s)
			}
		}
	}
}

// moreNamespaces reports userns_mode: host and cgroup: host.
func (a *audit) moreNamespaces(name string, s types.ServiceConfig) {
	if strings.EqualFold(s.UserNSMode, "host") {
		a.report(ruleHostUserns, finding.Medium, name, a.pos.keyLine(name, "userns_mode"),
			"userns_mode: host opts %s out of the daemon's user namespace remapping: root in the container is root on the host", name)
	}
	if strings.EqualFold(s.Cgroup, "host") {
		a.report(ruleHostCgroup, finding.Medium, name, a.pos.keyLine(name, "cgroup"),
			"cgroup: host shares the host's cgroup namespace: %s sees the host's cgroup tree and the paths of every other container", name)
	}
	if strings.EqualFold(s.Uts, "host") {
		a.report(ruleHostUTS, finding.Low, name, a.pos.keyLine(name, "uts"),
			"uts: host shares the host's UTS namespace: %s reads the host's hostname, and with CAP_SYS_ADMIN sets it for the whole host", name)
	}
}

// resourceLimits reports a service without a memory, CPU or pids limit
// (compose/no-resource-limits), in the service keys or under
// deploy.resources.limits.
func (a *audit) resourceLimits(name string, s types.ServiceConfig) {
	var lim types.Resource
	if s.Deploy != nil && s.Deploy.Resources.Limits != nil {
		lim = *s.Deploy.Resources.Limits
	}
	var missing []string
	if s.MemLimit <= 0 && lim.MemoryBytes <= 0 {
		missing = append(missing, "memory limit (mem_limit)")
	}
	if s.CPUS <= 0 && s.CPUQuota <= 0 && lim.NanoCPUs <= 0 {
		missing = append(missing, "CPU limit (cpus)")
	}
	if s.PidsLimit <= 0 && lim.Pids <= 0 {
		missing = append(missing, "process limit (pids_limit)")
	}
	if len(missing) == 0 {
		return
	}
	line := a.pos.serviceLine(name)
	if k, _ := a.pos.field(name, "deploy"); k != nil {
		line = k.Line
	}
	a.report(ruleNoResourceLimits, finding.Low, name, line,
		"%s sets no %s: one runaway or attacked container can starve the host and every other service", name, joinOr(missing))
}

// joinOr joins words as "a", "a or b", "a, b or c".
func joinOr(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}
