package compose

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v3"

	"github.com/wardsec/ward/finding"
	"github.com/wardsec/ward/internal/registry"
)

// audit holds one run of the checks over a loaded project.
type audit struct {
	file string // the file whose positions pos holds, which findings name
	// dir is the project's directory (the first file's), absolute; ""
	// when unknown; projectDir is that directory as the first file's
	// path gives it.
	dir, projectDir string
	name            string // the project's name (projectName)
	pos             *positions
	project         *types.Project
	services        types.Services // project.AllServices(), which builds a new map each call
	// joinable are services and those of the files the project includes
	// (Options.Included), which service:<name> may join.
	joinable types.Services
	trusted  registry.Trusted
	findings []finding.Finding
}

func (a *audit) run() {
	services := a.services
	names := make([]string, 0, len(services))
	for name := range services {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		s := services[name]
		a.namespaces(name, s)
		a.capabilities(name, s)
		a.readOnly(name, s)
		a.user(name, s)
		a.securityOpt(name, s)
		a.moreNamespaces(name, s)
		a.hooks(name, s)
		a.secretEnvironment(name)
		a.secretCommand(name)
		a.sensitiveMounts(name, s)
		a.devices(name, s)
		a.resourceLimits(name, s)
		a.privilegedHostPorts(name, s)
		a.untrustedRegistry(name, s)
		if image, ok := datastore(s.Image); ok {
			a.datastoreNetworks(name, image, s)
			a.datastorePorts(name, image, s)
		} else {
			a.publishedPorts(name, s)
		}
	}
}

// report adds a finding of rule about service at line, with severity sev
// and the rule's fix.
func (a *audit) report(rule string, sev finding.Severity, service string, line int, format string, args ...any) {
	r, _ := Lookup(rule)
	a.findings = append(a.findings, finding.Finding{
		Rule:     rule,
		Severity: sev,
		File:     a.file,
		Line:     line,
		Object:   "service " + service,
		Message:  fmt.Sprintf(format, args...),
		Fix:      r.Fix,
	})
}

func (a *audit) namespaces(name string, s types.ServiceConfig) {
	if s.Privileged {
		a.report(rulePrivileged, finding.Critical, name, a.pos.keyLine(name, "privileged"),
			"privileged: true gives the container every capability and the host's devices")
	}
	if strings.EqualFold(s.NetworkMode, "host") {
		a.report(ruleHostNetwork, finding.High, name, a.pos.keyLine(name, "network_mode"),
			"network_mode: host shares the host's network namespace")
	}
	if key := primaryNetwork(s); s.NetworkMode == "" && strings.EqualFold(a.project.Networks[key].Name, "host") {
		a.report(ruleHostNetwork, finding.High, name, a.pos.networkLine(name, key),
			"%s joins network %s, which is Docker's host network (name: host): Compose makes it the container's network mode, which shares the host's network namespace as network_mode: host does", name, key)
	}
	if strings.EqualFold(s.Pid, "host") {
		a.report(ruleHostPID, finding.High, name, a.pos.keyLine(name, "pid"),
			"pid: host shares the host's process namespace")
	}
	if strings.EqualFold(s.Ipc, "host") {
		a.report(ruleHostIPC, finding.Medium, name, a.pos.keyLine(name, "ipc"),
			"ipc: host shares the host's IPC namespace")
	}
	a.sharedHostNamespaces(name, s)
}

// sharedHostNamespaces reports a service that joins, with
// "service:<other>", the network, process or IPC namespace of another
// service that is in the host's: Docker starts it in that same namespace,
// so it shares the host's as if it said host itself; so does
// "container:<name>" naming a service's container_name. A chain
// (a joins b, which joins c, on the host) is followed to its end.
func (a *audit) sharedHostNamespaces(name string, s types.ServiceConfig) {
	kinds := []struct {
		rule, key, what string
		sev             finding.Severity
		mode            func(types.ServiceConfig) string
		host            func(types.ServiceConfig) bool
	}{
		{ruleHostNetwork, "network_mode", "network", finding.High,
			func(s types.ServiceConfig) string { return s.NetworkMode }, a.onHostNetwork},
		{ruleHostPID, "pid", "process", finding.High,
			func(s types.ServiceConfig) string { return s.Pid },
			func(s types.ServiceConfig) bool { return strings.EqualFold(s.Pid, "host") }},
		{ruleHostIPC, "ipc", "IPC", finding.Medium,
			func(s types.ServiceConfig) string { return s.Ipc },
			func(s types.ServiceConfig) bool { return strings.EqualFold(s.Ipc, "host") }},
	}
	for _, k := range kinds {
		chain := a.joinsHost(s, k.mode, k.host)
		if chain == nil {
			continue
		}
		a.report(k.rule, k.sev, name, a.pos.keyLine(name, k.key),
			"%s: %s joins the %s namespace of %s, which is the host's: %s shares the host's %s namespace as with %s: host",
			k.key, k.mode(s), k.what, strings.Join(chain, " then "), name, k.what, k.key)
	}
}

// joinsHost follows the "service:<name>" values mode gives from s to the
// service whose namespace s ends up in, and returns the services joined
// on the way when that one is in the host's (host), else nil. A loop or
// a service neither the project nor a file it includes defines ends the
// chain.
func (a *audit) joinsHost(s types.ServiceConfig, mode func(types.ServiceConfig) string, host func(types.ServiceConfig) bool) []string {
	services := a.joinables()
	var chain []string
	seen := map[string]bool{s.Name: true}
	cur := s
	for {
		other, ok := a.joinedService(mode(cur))
		if !ok || seen[other] {
			break
		}
		next, exists := services[other]
		if !exists {
			break
		}
		seen[other] = true
		chain = append(chain, other)
		cur = next
	}
	if len(chain) == 0 || !host(cur) {
		return nil
	}
	return chain
}

// joinables are the services a service may join: the project's and
// those of the files it includes.
func (a *audit) joinables() types.Services {
	if a.joinable == nil {
		return a.services
	}
	return a.joinable
}

// joinedService is the service a network_mode, pid or ipc value joins:
// "service:<name>", or "container:<name>" where name is the
// container_name of a service of the project or of a file it includes
// (Docker joins that container's namespace), or the name Compose gives
// its containers.
func (a *audit) joinedService(mode string) (string, bool) {
	prefix, other, ok := strings.Cut(strings.TrimSpace(mode), ":")
	other = strings.TrimSpace(other)
	if !ok || other == "" {
		return "", false
	}
	switch strings.ToLower(prefix) {
	case "service":
		return other, true
	case "container":
		for n, s := range a.joinables() {
			if s.ContainerName == other {
				return n, true
			}
		}
		return a.defaultContainer(other)
	}
	return "", false
}

// defaultContainer is the service whose containers Compose names name
// when the service sets no container_name: <project>-<service>-<index>
// (docker compose v2), or <project>_<service>_<index> (v1, and v2 with
// --compatibility), the project's name being a.name.
func (a *audit) defaultContainer(name string) (string, bool) {
	for _, sep := range []string{"-", "_"} {
		rest, ok := strings.CutPrefix(name, a.name+sep)
		if !ok {
			continue
		}
		i := strings.LastIndex(rest, sep)
		if i <= 0 {
			continue
		}
		if n, err := strconv.Atoi(rest[i+1:]); err != nil || n < 1 || rest[i+1] == '+' {
			continue
		}
		if s, ok := a.joinables()[rest[:i]]; ok && s.ContainerName == "" {
			return rest[:i], true
		}
	}
	return "", false
}

// onHostNetwork reports whether a service's containers are on the host's
// network namespace: network_mode: host, or no network_mode and a first
// network that is Docker's host network.
func (a *audit) onHostNetwork(s types.ServiceConfig) bool {
	if strings.EqualFold(s.NetworkMode, "host") {
		return true
	}
	return s.NetworkMode == "" && strings.EqualFold(a.project.Networks[primaryNetwork(s)].Name, "host")
}

// primaryNetwork is the key of the network whose engine name Compose
// makes a service's network mode when it sets no network_mode: its
// networks' first by priority, else default.
func primaryNetwork(s types.ServiceConfig) string {
	if len(s.Networks) > 0 {
		return s.NetworksByPriority()[0]
	}
	return "default"
}

// dangerousCaps are the capabilities compose/dangerous-capability
// reports, with the severity of adding each.
var dangerousCaps = map[string]finding.Severity{
	"ALL":             finding.High,
	"SYS_ADMIN":       finding.High,
	"SYS_MODULE":      finding.High,
	"SYS_RAWIO":       finding.High,
	"SYS_PTRACE":      finding.High,
	"DAC_READ_SEARCH": finding.High,
	"BPF":             finding.High,
	"NET_ADMIN":       finding.Medium,
	"NET_RAW":         finding.Medium,
}

// capName normalizes a capability as Docker does: any case, with or
// without the CAP_ prefix.
func capName(c string) string {
	c = strings.ToUpper(strings.TrimSpace(c))
	return strings.TrimPrefix(c, "CAP_")
}

func (a *audit) capabilities(name string, s types.ServiceConfig) {
	seen := map[string]bool{}
	for _, c := range s.CapAdd {
		cn := capName(c)
		sev, bad := dangerousCaps[cn]
		if !bad || seen[cn] {
			continue
		}
		seen[cn] = true
		line := a.pos.itemLine(name, "cap_add", func(n *yaml.Node) bool {
			return n.Kind == yaml.ScalarNode && capName(n.Value) == cn
		})
		a.report(ruleDangerousCapability, sev, name, line, "cap_add: %s", c)
	}
	if !slices.ContainsFunc(s.CapDrop, func(c string) bool { return capName(c) == "ALL" }) {
		if len(s.CapDrop) == 0 {
			a.report(ruleNoCapDropAll, finding.Medium, name, a.pos.keyLine(name, "cap_drop"),
				"no cap_drop: [ALL], so the container keeps Docker's default capabilities")
		} else {
			a.report(ruleNoCapDropAll, finding.Medium, name, a.pos.keyLine(name, "cap_drop"),
				"cap_drop: [%s] does not drop ALL, so the container keeps the rest of Docker's default capabilities", strings.Join(s.CapDrop, ", "))
		}
	}
}

func (a *audit) readOnly(name string, s types.ServiceConfig) {
	if s.ReadOnly {
		return
	}
	if k, _ := a.pos.field(name, "read_only"); k != nil {
		a.report(ruleWritableRootFS, finding.Low, name, k.Line, "read_only is false: the root filesystem is writable")
		return
	}
	a.report(ruleWritableRootFS, finding.Low, name, a.pos.serviceLine(name), "read_only is not set: the root filesystem is writable")
}

// isRoot reports whether a user: value names uid 0: "root", "0",
// "root:<group>", "0:<group>" or ":<group>" (Docker keeps the default
// user, uid 0, when the user part is empty). A number may have a sign
// ("+0", "-0"): runc reads it with strconv.Atoi. An empty value names no
// user.
func isRoot(user string) bool {
	u, _, colon := strings.Cut(strings.TrimSpace(user), ":")
	u = strings.TrimSpace(u)
	if u == "root" || colon && u == "" {
		return true
	}
	n, err := strconv.Atoi(u)
	return err == nil && n == 0
}

func (a *audit) user(name string, s types.ServiceConfig) {
	switch {
	case strings.TrimSpace(s.User) == "":
		a.report(ruleNoUser, finding.Medium, name, a.pos.serviceLine(name),
			"no user: the service runs as the image's USER, which is root unless the image sets a non-root user")
	case isRoot(s.User):
		// Say what is known: the value as written when variables made
		// it (user: "${UID}:${GID}", where docker compose replaces an
		// unset variable with an empty string), and why it is root.
		what := fmt.Sprintf("user %q", s.User)
		if _, v := a.pos.field(name, "user"); v != nil && v.Kind == yaml.ScalarNode && v.Value != s.User && strings.Contains(v.Value, "$") {
			what = fmt.Sprintf("user %q, which is %q once its variables are replaced (docker compose makes one that is not set an empty string),", v.Value, s.User)
		}
		why := "runs the service as root"
		if u, _, _ := strings.Cut(strings.TrimSpace(s.User), ":"); strings.TrimSpace(u) == "" {
			why = "names no user (nothing before the colon): Docker then runs the service as root (uid 0)"
		}
		a.report(ruleUserRoot, finding.High, name, a.pos.keyLine(name, "user"), "%s %s", what, why)
	}
}

// securityOpt splits a security_opt entry into its key and value, as
// Docker does: "key:value" or "key=value".
func securityOpt(opt string) (key, value string) {
	opt = strings.TrimSpace(opt)
	i := strings.IndexAny(opt, ":=")
	if i < 0 {
		return strings.ToLower(opt), ""
	}
	return strings.ToLower(opt[:i]), strings.TrimSpace(opt[i+1:])
}

// unconfinedSELinuxTypes are SELinux process types that escape the
// confinement of container_t.
var unconfinedSELinuxTypes = map[string]bool{"spc_t": true, "unconfined_t": true, "container_runtime_t": true}

// unconfined reports whether a security_opt entry disables a confinement
// layer.
func unconfined(opt string) bool {
	k, v := securityOpt(opt)
	v = strings.ToLower(v)
	switch k {
	case "seccomp", "apparmor", "systempaths":
		return v == "unconfined"
	case "label":
		// label=type:spc_t (the "super privileged container" type) and
		// its like run the container unconfined by SELinux.
		t, isType := strings.CutPrefix(v, "type:")
		return v == "disable" || v == "disabled" || isType && unconfinedSELinuxTypes[strings.TrimSpace(t)]
	}
	return false
}

// noNewPrivileges reports whether an entry sets no-new-privileges, and
// to what: a bare "no-new-privileges" means true.
func noNewPrivileges(opt string) (set, on bool) {
	k, v := securityOpt(opt)
	if k != "no-new-privileges" {
		return false, false
	}
	switch strings.ToLower(v) {
	case "", "true", "1", "yes":
		return true, true
	}
	return true, false
}

func (a *audit) securityOpt(name string, s types.ServiceConfig) {
	nnp := -1 // index of the last no-new-privileges entry
	for i, opt := range s.SecurityOpt {
		if unconfined(opt) {
			line := a.pos.itemLine(name, "security_opt", func(n *yaml.Node) bool {
				return n.Kind == yaml.ScalarNode && strings.TrimSpace(n.Value) == strings.TrimSpace(opt)
			})
			a.report(ruleUnconfined, finding.High, name, line, "security_opt: %s", opt)
		}
		if set, _ := noNewPrivileges(opt); set {
			nnp = i
		}
	}
	switch {
	case nnp < 0:
		a.report(ruleNoNewPrivileges, finding.Medium, name, a.pos.keyLine(name, "security_opt"),
			"security_opt has no no-new-privileges:true, so setuid binaries can raise privileges")
	default:
		opt := s.SecurityOpt[nnp]
		if _, on := noNewPrivileges(opt); !on {
			line := a.pos.itemLine(name, "security_opt", func(n *yaml.Node) bool {
				return n.Kind == yaml.ScalarNode && strings.TrimSpace(n.Value) == strings.TrimSpace(opt)
			})
			a.report(ruleNoNewPrivileges, finding.Medium, name, line,
				"security_opt: %s lets setuid binaries raise privileges", opt)
		}
	}
}

// datastoreWords name data store images; datastoreTools mark images
// named after a data store that are not one (admin UIs, exporters).
var (
	datastoreWords = []string{
		"postgres", "postgis", "timescaledb", "mysql", "mariadb", "redis", "valkey", "mongo", "elasticsearch", "opensearch",
		"memcached", "cassandra", "couchdb", "couchbase", "rabbitmq", "kafka", "zookeeper", "etcd", "clickhouse", "influxdb",
		"neo4j", "cockroach",
	}
	datastoreTools = []string{
		"exporter", "express", "commander", "admin", "ui", "gui", "web", "dashboard", "insight", "manager", "client", "cli",
	}
)

// imageName is the last element of an image reference's repository:
// "registry:5000/library/postgres:16@sha256:..." gives "postgres".
func imageName(image string) string {
	image = strings.ToLower(strings.TrimSpace(image))
	image, _, _ = strings.Cut(image, "@")
	if i := strings.LastIndexByte(image, '/'); i >= 0 {
		image = image[i+1:]
	}
	image, _, _ = strings.Cut(image, ":")
	return image
}

// datastore reports whether image is a data store's, and returns the
// image's name.
func datastore(image string) (string, bool) {
	name := imageName(image)
	if name == "" || !slices.ContainsFunc(datastoreWords, func(w string) bool { return strings.Contains(name, w) }) {
		return name, false
	}
	tokens := strings.FieldsFunc(name, func(r rune) bool { return r == '-' || r == '_' || r == '.' })
	for _, t := range tokens {
		if slices.Contains(datastoreTools, t) {
			return name, false
		}
	}
	return name, true
}

func (a *audit) datastoreNetworks(name, image string, s types.ServiceConfig) {
	mode := strings.ToLower(s.NetworkMode)
	switch {
	case mode == "host":
		a.report(ruleDatastoreNetwork, finding.Medium, name, a.pos.keyLine(name, "network_mode"),
			"data store %s uses the host network, which is not internal", image)
		return
	case mode == "bridge":
		a.report(ruleDatastoreNetwork, finding.Medium, name, a.pos.keyLine(name, "network_mode"),
			"data store %s is on Docker's default bridge network, which is not internal", image)
		return
	case mode != "":
		// none, service:x, container:x: not attached to a network of its
		// own; but service:x on the host's network is on the host's.
		if _, joins := a.joinedService(s.NetworkMode); joins && a.joinsHost(s, func(s types.ServiceConfig) string { return s.NetworkMode }, a.onHostNetwork) != nil {
			a.report(ruleDatastoreNetwork, finding.Medium, name, a.pos.keyLine(name, "network_mode"),
				"data store %s joins the network namespace of a service on the host network, which is not internal", image)
		}
		return
	}
	networks := make([]string, 0, len(s.Networks))
	for n := range s.Networks {
		networks = append(networks, n)
	}
	if len(networks) == 0 {
		networks = []string{"default"}
	}
	slices.Sort(networks)
	for _, n := range networks {
		cfg := a.project.Networks[n]
		line := a.pos.networkLine(name, n)
		switch {
		case cfg.Internal:
			continue
		case bool(cfg.External):
			a.report(ruleDatastoreNetwork, finding.Medium, name, line,
				"data store %s is on external network %s, which the file cannot show to be internal", image, n)
		case n == "default" && !a.pos.networkDeclared("default"):
			a.report(ruleDatastoreNetwork, finding.Medium, name, line,
				"data store %s is on the project's default network, which is not internal", image)
		default:
			a.report(ruleDatastoreNetwork, finding.Medium, name, line,
				"data store %s is on network %s, which is not internal", image, n)
		}
	}
}

// allInterfaces reports whether a published port's host address is
// every interface.
func allInterfaces(hostIP string) bool {
	switch strings.Trim(hostIP, "[] ") {
	case "", "0.0.0.0", "::":
		return true
	}
	return false
}

func (a *audit) datastorePorts(name, image string, s types.ServiceConfig) {
	items, lines := a.pos.portItems(name, len(s.Ports))
	// One finding per ports item: "7000-7001:7000-7001" is one mistake.
	var order []int
	byItem := map[int][]types.ServicePortConfig{}
	for i, p := range s.Ports {
		if !allInterfaces(p.HostIP) {
			continue
		}
		if _, ok := byItem[items[i]]; !ok {
			order = append(order, i)
		}
		byItem[items[i]] = append(byItem[items[i]], p)
	}
	for _, i := range order {
		ps, line := byItem[items[i]], lines[i]
		if len(ps) == 1 {
			host := "an ephemeral host port"
			if ps[0].Published != "" {
				host = "host port " + ps[0].Published
			}
			a.report(ruleDatastorePort, finding.High, name, line,
				"data store %s publishes %s on all host interfaces (%s)", image, portName(ps[0]), host)
			continue
		}
		a.report(ruleDatastorePort, finding.High, name, line,
			"data store %s publishes %d ports (%s to %s) on all host interfaces", image, len(ps), portName(ps[0]), portName(ps[len(ps)-1]))
	}
}

// portName formats a container port as "5432/tcp".
func portName(p types.ServicePortConfig) string {
	proto := p.Protocol
	if proto == "" {
		proto = "tcp"
	}
	return fmt.Sprintf("%d/%s", p.Target, proto)
}

// untrustedRegistry reports a service image that the trusted registries
// do not cover. A service with build: names the image it builds, not one
// it pulls (the Dockerfile's FROM is judged instead).
func (a *audit) untrustedRegistry(name string, s types.ServiceConfig) {
	if !a.trusted.Configured() || s.Build != nil || strings.TrimSpace(s.Image) == "" {
		return
	}
	line := a.pos.keyLine(name, "image")
	repo, ok, err := a.trusted.Check(s.Image)
	switch {
	case ok:
	case err != nil:
		a.report(ruleUntrustedRegistry, finding.Medium, name, line,
			"image %q is not a valid image reference (%v; a variable without a value?), so its registry cannot be checked against the trusted registries (%s)", s.Image, err, a.trusted)
	default:
		a.report(ruleUntrustedRegistry, finding.Medium, name, line,
			"image %q comes from %s, which is not among the trusted registries (%s)", s.Image, repo, a.trusted)
	}
}
