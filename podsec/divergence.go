package podsec

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Where the Pod Security Standards library and the node read a field
// differently, Ward reports what the library says, since it is what
// admission enforces, and divergence explains the difference. Each case is
// confirmed by running the check again on a copy of the pod spec written
// the way the library expects: the note is added only when that copy
// passes.

// divergence returns a note for a failure of c on spec, or "".
func divergence(c pssCheck, meta *metav1.ObjectMeta, spec *corev1.PodSpec) string {
	switch c.id {
	case "sysctls":
		return sysctlDivergence(c, meta, spec)
	case "capabilities_restricted":
		return dropAllDivergence(c, meta, spec)
	case "seccompProfile_baseline", "seccompProfile_restricted":
		return seccompDivergence(spec)
	}
	return ""
}

// normalizeSysctl is the kubelet's reading of a sysctl name
// (k8s.io/component-helpers/node/util/sysctl.NormalizeName): a name whose
// first separator is a slash has its slashes and dots swapped, so
// net/ipv4/ip_local_port_range is net.ipv4.ip_local_port_range and
// net/ipv4/conf/eth0.100/rp_filter is net.ipv4.conf.eth0/100.rp_filter.
func normalizeSysctl(name string) string {
	i := strings.IndexAny(name, "./")
	if i < 0 || name[i] == '.' {
		return name
	}
	return strings.Map(func(r rune) rune {
		switch r {
		case '.':
			return '/'
		case '/':
			return '.'
		}
		return r
	}, name)
}

func sysctlDivergence(c pssCheck, meta *metav1.ObjectMeta, spec *corev1.PodSpec) string {
	if spec.SecurityContext == nil {
		return ""
	}
	var renamed []string
	sysctls := slices.Clone(spec.SecurityContext.Sysctls)
	for i, s := range sysctls {
		if n := normalizeSysctl(s.Name); n != s.Name {
			sysctls[i].Name = n
			renamed = append(renamed, fmt.Sprintf("%s as %s", s.Name, n))
		}
	}
	if len(renamed) == 0 {
		return ""
	}
	sc := *spec.SecurityContext
	sc.Sysctls = sysctls
	cp := *spec
	cp.SecurityContext = &sc
	if !c.fn(meta, &cp).Allowed {
		return ""
	}
	return fmt.Sprintf(" (the kubelet and the kernel read %s, which the Pod Security Standards allow, but admission compares the names as written "+
		"and rejects the slash form: write the names with dots)", strings.Join(renamed, ", "))
}

// dropAllDivergence explains a drop list that names ALL in another case:
// container runtimes (containerd, CRI-O) compare it case-insensitively and
// drop every capability, the library wants "ALL" exactly.
func dropAllDivergence(c pssCheck, meta *metav1.ObjectMeta, spec *corev1.PodSpec) string {
	cp := *spec
	cp.InitContainers = slices.Clone(spec.InitContainers)
	cp.Containers = slices.Clone(spec.Containers)
	cp.EphemeralContainers = slices.Clone(spec.EphemeralContainers)
	var written []string
	for _, ref := range containers(&cp) {
		sc := ref.c.SecurityContext
		if sc == nil || sc.Capabilities == nil || slices.Contains(sc.Capabilities.Drop, "ALL") {
			continue
		}
		i := slices.IndexFunc(sc.Capabilities.Drop, func(d corev1.Capability) bool { return strings.EqualFold(string(d), "ALL") })
		if i < 0 {
			continue
		}
		written = append(written, fmt.Sprintf("%s %q drops %q", ref.kind, ref.c.Name, sc.Capabilities.Drop[i]))
		caps := *sc.Capabilities
		caps.Drop = slices.Clone(caps.Drop)
		caps.Drop[i] = "ALL"
		scCopy := *sc
		scCopy.Capabilities = &caps
		ref.c.SecurityContext = &scCopy
	}
	if len(written) == 0 || !c.fn(meta, &cp).Allowed {
		return ""
	}
	return fmt.Sprintf(" (%s: container runtimes such as containerd and CRI-O compare it case-insensitively and drop every capability, "+
		"but the Pod Security Standards library wants \"ALL\" in capitals, so admission rejects the pod: write ALL)", strings.Join(written, ", "))
}

// seccompDivergence explains a pod-level Unconfined profile that every
// container overrides with a confined one: the kubelet applies the
// container's profile, so nothing runs unconfined, but the library rejects
// the pod-level value whatever the containers set.
func seccompDivergence(spec *corev1.PodSpec) string {
	sc := spec.SecurityContext
	if sc == nil || sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeUnconfined {
		return ""
	}
	cs := containers(spec)
	if len(cs) == 0 {
		return ""
	}
	for _, ref := range cs {
		csc := ref.c.SecurityContext
		if csc == nil || csc.SeccompProfile == nil {
			return ""
		}
		switch csc.SeccompProfile.Type {
		case corev1.SeccompProfileTypeRuntimeDefault, corev1.SeccompProfileTypeLocalhost:
		default:
			return ""
		}
	}
	return " (every container sets its own RuntimeDefault or Localhost profile, which the kubelet applies instead of the pod's, so none runs unconfined; " +
		"the Pod Security Standards library rejects the pod-level Unconfined whatever the containers set, and admission enforces the library: " +
		"set the pod-level type to RuntimeDefault)"
}
