package compose

import (
	"fmt"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v3"

	"github.com/wardsec/ward/finding"
)

// hooks reports what a service's lifecycle hooks run with: a post_start
// or pre_stop hook is a command executed in the container (docker exec),
// privileged or as another user if it says so; a pre_start hook is an
// init container with a container specification of its own, which
// inherits the service's and may override it. What a hook inherits is
// judged with the service; what it sets is judged here, under the rules
// of the service's own settings.
func (a *audit) hooks(name string, s types.ServiceConfig) {
	for _, kind := range []string{"post_start", "pre_stop"} {
		hs := s.PostStart
		if kind == "pre_stop" {
			hs = s.PreStop
		}
		for i, h := range hs {
			where := fmt.Sprintf("%s hook %d of %s", kind, i+1, name)
			if h.Privileged {
				a.report(rulePrivileged, finding.Critical, name, a.hookLine(name, kind, i, "privileged"),
					"%s runs privileged: its command gets every capability, outside the container's seccomp and AppArmor confinement", where)
			}
			if isRoot(h.User) {
				a.report(ruleUserRoot, finding.High, name, a.hookLine(name, kind, i, "user"),
					"%s runs as user %s: its command runs as root in the container", where, h.User)
			}
		}
	}
	if s.Develop != nil {
		for i, w := range s.Develop.Watch {
			h := w.Exec
			where := fmt.Sprintf("the exec of develop.watch trigger %d of %s", i+1, name)
			line := func(key string) int {
				_, d := a.pos.field(name, "develop")
				_, ws := lookup(resolve(d), "watch", 0)
				if ws = resolve(ws); ws == nil || ws.Kind != yaml.SequenceNode || i >= len(ws.Content) {
					return a.pos.keyLine(name, "develop")
				}
				ek, ev := lookup(resolve(ws.Content[i]), "exec", 0)
				if ek == nil {
					return ws.Content[i].Line
				}
				if k, _ := lookup(resolve(ev), key, 0); k != nil {
					return k.Line
				}
				return ek.Line
			}
			if h.Privileged {
				a.report(rulePrivileged, finding.Critical, name, line("privileged"),
					"%s runs privileged: its command gets every capability, outside the container's seccomp and AppArmor confinement", where)
			}
			if isRoot(h.User) {
				a.report(ruleUserRoot, finding.High, name, line("user"),
					"%s runs as user %s: its command runs as root in the container", where, h.User)
			}
		}
	}
	for i, h := range s.PreStart {
		a.preStart(name, i, h.ContainerSpec)
	}
}

// preStart reports what pre_start hook i of a service sets that the
// service's rules would report.
func (a *audit) preStart(name string, i int, c types.ContainerSpec) {
	where := fmt.Sprintf("pre_start hook %d of %s", i+1, name)
	line := func(key string) int { return a.hookLine(name, "pre_start", i, key) }
	if c.Privileged {
		a.report(rulePrivileged, finding.Critical, name, line("privileged"),
			"%s runs privileged: the init container gets every capability and the host's devices", where)
	}
	for _, ns := range []struct {
		value, key, rule string
		sev              finding.Severity
		what             string
	}{
		{c.NetworkMode, "network_mode", ruleHostNetwork, finding.High, "network"},
		{c.Pid, "pid", ruleHostPID, finding.High, "process"},
		{c.Ipc, "ipc", ruleHostIPC, finding.Medium, "IPC"},
		{c.UserNSMode, "userns_mode", ruleHostUserns, finding.Medium, "user"},
		{c.Cgroup, "cgroup", ruleHostCgroup, finding.Medium, "cgroup"},
	} {
		if strings.EqualFold(ns.value, "host") {
			a.report(ns.rule, ns.sev, name, line(ns.key), "%s sets %s: host, sharing the host's %s namespace", where, ns.key, ns.what)
		}
	}
	seen := map[string]bool{}
	for _, cp := range c.CapAdd {
		cn := capName(cp)
		if sev, bad := dangerousCaps[cn]; bad && !seen[cn] {
			seen[cn] = true
			a.report(ruleDangerousCapability, sev, name, line("cap_add"), "%s adds cap_add: %s", where, cp)
		}
	}
	if isRoot(c.User) {
		a.report(ruleUserRoot, finding.High, name, line("user"), "user: %s runs %s as root", c.User, where)
	}
	for _, opt := range c.SecurityOpt {
		if unconfined(opt) {
			a.report(ruleUnconfined, finding.High, name, line("security_opt"), "%s sets security_opt: %s", where, opt)
		}
	}
	for _, v := range c.Volumes {
		src, readOnly, shown, ok := a.hostSource(v)
		if !ok {
			continue
		}
		a.sensitiveMount(name, where, line("volumes"), src, shown, v.Target, readOnly)
	}
}

// hookLine is the line of key in item i of a service's hook list kind,
// else the item's line, else the list's or the service's.
func (a *audit) hookLine(service, kind string, i int, key string) int {
	_, v := a.pos.field(service, kind)
	if v = resolve(v); v == nil || v.Kind != yaml.SequenceNode || i >= len(v.Content) {
		return a.pos.keyLine(service, kind)
	}
	item := v.Content[i]
	if hk, _ := lookup(resolve(item), key, 0); hk != nil {
		return hk.Line
	}
	return item.Line
}
