package podsec

import (
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/wardsec/ward/finding"
	"github.com/wardsec/ward/manifest"
)

// untrustedRegistry reports a container image that no entry of
// Options.TrustedRegistries covers. It runs only when the list is set.
func (a *auditor) untrustedRegistry(w *manifest.Workload, c containerRef) {
	ref := strings.TrimSpace(c.c.Image)
	if !a.trusted.Configured() || ref == "" {
		return
	}
	name, ok, err := a.trusted.Check(ref)
	if ok {
		return
	}
	msg := fmt.Sprintf("%s of %s uses image %q (%s), a repository none of the trusted registries (%s) covers", c.name(), w.ID(), ref, name, a.trusted)
	if err != nil {
		msg = fmt.Sprintf("%s of %s uses image %q, which is not a valid image reference (%v), so its registry cannot be checked against the trusted registries (%s)",
			c.name(), w.ID(), ref, err, a.trusted)
	}
	a.report(ruleUntrustedRegistry, finding.Medium, w.Source.File, w.TemplateLine(c.path+".image"), w.ID(), msg,
		fmt.Sprintf("pull the image of %s from a trusted registry (mirror it there), or add its registry to audit.registries.trusted in ward.yaml", c.name()))
}

// privilegedPorts reports container ports below 1024. A pod whose
// net.ipv4.ip_unprivileged_port_start sysctl lets unprivileged processes
// bind the port is not reported, nor are Windows pods.
func (a *auditor) privilegedPorts(w *manifest.Workload, spec *corev1.PodSpec, c containerRef) {
	start := 1024
	if spec.SecurityContext != nil {
		for _, s := range spec.SecurityContext.Sysctls {
			if strings.ReplaceAll(s.Name, "/", ".") == "net.ipv4.ip_unprivileged_port_start" {
				if v, err := strconv.Atoi(strings.TrimSpace(s.Value)); err == nil {
					start = v
				}
			}
		}
	}
	for i, p := range c.c.Ports {
		if p.ContainerPort <= 0 || int(p.ContainerPort) >= start {
			continue
		}
		a.report(rulePrivilegedPort, finding.Low, w.Source.File, w.TemplateLine(fmt.Sprintf("%s.ports[%d].containerPort", c.path, i)), w.ID(),
			fmt.Sprintf("%s of %s listens on privileged port %d: to bind it the container needs root or NET_BIND_SERVICE, unless its runtime lowers net.ipv4.ip_unprivileged_port_start", c.name(), w.ID(), p.ContainerPort),
			fmt.Sprintf("make %s listen on a port of 1024 or above (a Service can still expose %d), or set the pod sysctl net.ipv4.ip_unprivileged_port_start: \"0\"", c.name(), p.ContainerPort))
	}
}
