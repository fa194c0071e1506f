package podsec

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"

	"github.com/wardsec/ward/finding"
	"github.com/wardsec/ward/manifest"
)

// defaultChecks are the library's checks. DefaultChecks builds a new copy
// on each call and is meant to be called once.
var defaultChecks = sync.OnceValue(policy.DefaultChecks)

// pssCheck is one check as the library's evaluator runs it at a level and
// version: the check's revision in effect at that version.
type pssCheck struct {
	id    policy.CheckID
	level api.Level // the check's own level
	fn    policy.CheckPodFn
	// replaces are the baseline checks this restricted check overrides
	// at the version, in their revision in effect: they are not run,
	// except to tell the severity of a failure of this check.
	replaces []pssCheck
}

// selectChecks returns the checks the library's evaluator (policy.NewEvaluator
// without emulation version, then EvaluatePod) runs for lv, in its order:
// baseline ids sorted, then restricted ids sorted.
//
// The evaluator evaluates a version newer than any check's newest
// revision, and "latest", as that newest version; there, each check runs
// its last revision whose MinimumVersion is not newer than the version,
// and does not run when there is none. At the restricted level a baseline
// check is skipped when a restricted check in effect lists it in its
// OverrideCheckIDs. The checks' own code runs unchanged.
func selectChecks(checks []policy.Check, lv api.LevelVersion) (api.Version, []pssCheck) {
	var newest api.Version
	for _, c := range checks {
		if len(c.Versions) > 0 {
			if last := c.Versions[len(c.Versions)-1].MinimumVersion; newest.Older(last) {
				newest = last
			}
		}
	}
	v := lv.Version
	if newest.Older(v) {
		v = newest
	}
	inEffect := func(c policy.Check) (policy.VersionedCheck, bool) {
		for i := len(c.Versions) - 1; i >= 0; i-- {
			if !v.Older(c.Versions[i].MinimumVersion) {
				return c.Versions[i], true
			}
		}
		return policy.VersionedCheck{}, false
	}

	baseline := map[policy.CheckID]pssCheck{}
	var restricted []pssCheck
	overrides := map[policy.CheckID][]policy.CheckID{}
	for _, c := range checks {
		vc, ok := inEffect(c)
		if !ok || vc.CheckPod == nil {
			continue
		}
		pc := pssCheck{id: c.ID, level: c.Level, fn: vc.CheckPod}
		switch c.Level {
		case api.LevelBaseline:
			baseline[c.ID] = pc
		case api.LevelRestricted:
			restricted = append(restricted, pc)
			overrides[c.ID] = vc.OverrideCheckIDs
		}
	}

	var out []pssCheck
	overridden := map[policy.CheckID]bool{}
	if lv.Level == api.LevelRestricted {
		for i, rc := range restricted {
			for _, id := range overrides[rc.id] {
				if b, ok := baseline[id]; ok {
					overridden[id] = true
					restricted[i].replaces = append(restricted[i].replaces, b)
				}
			}
		}
	}
	for _, id := range sortedKeys(baseline) {
		if !overridden[id] {
			out = append(out, baseline[id])
		}
	}
	if lv.Level == api.LevelRestricted {
		slices.SortFunc(restricted, func(a, b pssCheck) int { return strings.Compare(string(a.id), string(b.id)) })
		out = append(out, restricted...)
	}
	return v, out
}

func sortedKeys(m map[policy.CheckID]pssCheck) []policy.CheckID {
	ids := make([]policy.CheckID, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// pss evaluates the pod template of w with its own metadata against the
// selected checks.
func (a *auditor) pss(w *manifest.Workload) {
	meta := &w.Template.ObjectMeta
	spec := defaulted(&w.Template.Spec)
	for _, c := range a.checks {
		res := c.fn(meta, spec)
		if res.Allowed {
			continue
		}
		reason := res.ForbiddenReason
		if reason == "" {
			reason = policy.UnknownForbiddenReason
		}
		sev := pssSeverity(c.level)
		var alsoFails []string
		for _, b := range c.replaces {
			if !b.fn(meta, spec).Allowed {
				alsoFails = append(alsoFails, string(b.id))
			}
		}
		msg := fmt.Sprintf("%s fails the Pod Security Standards %s check %s (%s): %s", w.ID(), c.level, c.id, a.versionName(), reason)
		if res.ForbiddenDetail != "" {
			msg += ": " + res.ForbiddenDetail
		}
		msg += divergence(c, meta, spec)
		if len(alsoFails) > 0 {
			sev = baselineSeverity
			msg += fmt.Sprintf("; it also fails baseline check %s, which this check replaces at the restricted level", strings.Join(alsoFails, ", "))
		}
		fix := "see the Pod Security Standards: https://kubernetes.io/docs/concepts/security/pod-security-standards/"
		if r, ok := Lookup(pssPrefix + string(c.id)); ok {
			fix = r.Fix
		}
		a.report(pssPrefix+string(c.id), sev, w.Source.File, w.TemplateLine(locate(c.id, res.ForbiddenDetail, meta, spec)), w.ID(), msg, fix)
	}
}

// versionName names the policy version evaluated: "version v1.30", or
// "version latest = v1.37" when the version asked for is latest or newer
// than the library's newest.
func (a *auditor) versionName() string {
	if a.version == a.requested {
		return "version " + a.version.String()
	}
	return fmt.Sprintf("version %s = %s", a.requested, a.version)
}

// defaulted returns spec with the defaults the API server gives the fields
// the checks read: a volume with no source is an emptyDir. It copies what
// it changes and never modifies spec.
func defaulted(spec *corev1.PodSpec) *corev1.PodSpec {
	var vols []corev1.Volume
	for i := range spec.Volumes {
		if spec.Volumes[i].VolumeSource != (corev1.VolumeSource{}) {
			continue
		}
		if vols == nil {
			vols = slices.Clone(spec.Volumes)
		}
		vols[i].EmptyDir = &corev1.EmptyDirVolumeSource{}
	}
	if vols == nil {
		return spec
	}
	cp := *spec
	cp.Volumes = vols
	return &cp
}

// A locator finds the field a failed check is about, from the names the
// library quotes in ForbiddenDetail: containers, volumes, capabilities.
type locator struct {
	// container returns the path, relative to the first container the
	// detail names, of the field to point at; "" for the container.
	container func(c *corev1.Container, named map[string]bool) string
	// volume is appended to the path of the first volume the detail
	// names, when volumes is set.
	volumes bool
	volume  string
	// pod returns a path in the pod template when the detail names no
	// container or volume.
	pod func(spec *corev1.PodSpec, detail string) string
	// annotations is set for checks that read annotations: a detail
	// naming "key=" points at that annotation.
	annotations bool
}

func field(path string) func(*corev1.Container, map[string]bool) string {
	return func(*corev1.Container, map[string]bool) string { return path }
}

func podField(path string) func(*corev1.PodSpec, string) string {
	return func(*corev1.PodSpec, string) string { return path }
}

// locators covers every check of the library; an unknown check is
// located by the container the detail names, or at the spec.
var locators = map[policy.CheckID]locator{
	"allowPrivilegeEscalation":   {container: field("securityContext.allowPrivilegeEscalation")},
	"appArmorProfile":            {container: field("securityContext.appArmorProfile.type"), pod: podField("spec.securityContext.appArmorProfile.type"), annotations: true},
	"capabilities_baseline":      {container: addedCapability},
	"capabilities_restricted":    {container: restrictedCapability},
	"hostNamespaces":             {pod: hostNamespace},
	"hostPathVolumes":            {volumes: true, volume: ".hostPath"},
	"hostPorts":                  {container: hostPort},
	"hostProbesAndHostLifecycle": {container: probeHost},
	"privileged":                 {container: field("securityContext.privileged")},
	"procMount":                  {container: field("securityContext.procMount")},
	"procMount_restricted":       {container: field("securityContext.procMount")},
	"restrictedVolumes":          {volumes: true},
	"runAsNonRoot":               {container: field("securityContext.runAsNonRoot"), pod: podField("spec.securityContext.runAsNonRoot")},
	"runAsUser":                  {container: field("securityContext.runAsUser"), pod: podField("spec.securityContext.runAsUser")},
	"seLinuxOptions":             {container: field("securityContext.seLinuxOptions"), pod: podField("spec.securityContext.seLinuxOptions")},
	"seccompProfile_baseline":    {container: field("securityContext.seccompProfile.type"), pod: podField("spec.securityContext.seccompProfile.type"), annotations: true},
	"seccompProfile_restricted":  {container: field("securityContext.seccompProfile.type"), pod: podField("spec.securityContext.seccompProfile.type"), annotations: true},
	"sysctls":                    {pod: sysctl},
	"windowsHostProcess":         {container: field("securityContext.windowsOptions.hostProcess"), pod: podField("spec.securityContext.windowsOptions.hostProcess")},
}

// locate returns the pod template path a failure of check id points at:
// the most specific field it can tell from the detail, else "spec".
// Callers resolve it with Workload.TemplateLine, which falls back to the
// nearest enclosing field the input has.
func locate(id policy.CheckID, detail string, meta *metav1.ObjectMeta, spec *corev1.PodSpec) string {
	loc, known := locators[id]
	named := quoted(detail)
	if loc.annotations || !known {
		keys := make([]string, 0, len(meta.Annotations))
		for k := range meta.Annotations {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if strings.Contains(detail, k+"=") {
				return "metadata.annotations." + k
			}
		}
	}
	if loc.container != nil || !known {
		for _, c := range containers(spec) {
			if c.c.Name == "" || !named[c.c.Name] {
				continue
			}
			if loc.container == nil {
				return c.path
			}
			if sub := loc.container(c.c, named); sub != "" {
				return c.path + "." + sub
			}
			return c.path
		}
	}
	if loc.volumes {
		for i, v := range spec.Volumes {
			if v.Name != "" && named[v.Name] {
				return fmt.Sprintf("spec.volumes[%d]%s", i, loc.volume)
			}
		}
	}
	if loc.pod != nil {
		if p := loc.pod(spec, detail); p != "" {
			return p
		}
	}
	return "spec"
}

// quoted returns the strings the library quotes in a detail: it joins
// names as "a", "b".
func quoted(detail string) map[string]bool {
	parts := strings.Split(detail, `"`)
	named := make(map[string]bool, len(parts)/2)
	for i := 1; i < len(parts); i += 2 {
		named[parts[i]] = true
	}
	return named
}

func addedCapability(c *corev1.Container, named map[string]bool) string {
	if c.SecurityContext == nil || c.SecurityContext.Capabilities == nil {
		return "securityContext"
	}
	for i, cp := range c.SecurityContext.Capabilities.Add {
		if named[string(cp)] {
			return fmt.Sprintf("securityContext.capabilities.add[%d]", i)
		}
	}
	return "securityContext.capabilities.add"
}

func restrictedCapability(c *corev1.Container, named map[string]bool) string {
	if c.SecurityContext == nil || c.SecurityContext.Capabilities == nil {
		return "securityContext.capabilities"
	}
	if !slices.Contains(c.SecurityContext.Capabilities.Drop, "ALL") {
		return "securityContext.capabilities.drop"
	}
	return addedCapability(c, named)
}

func hostPort(c *corev1.Container, _ map[string]bool) string {
	for i, p := range c.Ports {
		if p.HostPort != 0 {
			return fmt.Sprintf("ports[%d].hostPort", i)
		}
	}
	return "ports"
}

func probeHost(c *corev1.Container, _ map[string]bool) string {
	probes := []struct {
		name  string
		probe *corev1.Probe
	}{{"livenessProbe", c.LivenessProbe}, {"readinessProbe", c.ReadinessProbe}, {"startupProbe", c.StartupProbe}}
	for _, p := range probes {
		if p.probe == nil {
			continue
		}
		if sub := handlerHost(p.probe.HTTPGet, p.probe.TCPSocket); sub != "" {
			return p.name + "." + sub
		}
	}
	if c.Lifecycle != nil {
		handlers := []struct {
			name    string
			handler *corev1.LifecycleHandler
		}{{"lifecycle.postStart", c.Lifecycle.PostStart}, {"lifecycle.preStop", c.Lifecycle.PreStop}}
		for _, h := range handlers {
			if h.handler == nil {
				continue
			}
			if sub := handlerHost(h.handler.HTTPGet, h.handler.TCPSocket); sub != "" {
				return h.name + "." + sub
			}
		}
	}
	return ""
}

func handlerHost(http *corev1.HTTPGetAction, tcp *corev1.TCPSocketAction) string {
	switch {
	case http != nil && http.Host != "":
		return "httpGet.host"
	case tcp != nil && tcp.Host != "":
		return "tcpSocket.host"
	}
	return ""
}

func hostNamespace(spec *corev1.PodSpec, _ string) string {
	switch {
	case spec.HostNetwork:
		return "spec.hostNetwork"
	case spec.HostPID:
		return "spec.hostPID"
	case spec.HostIPC:
		return "spec.hostIPC"
	}
	return ""
}

// sysctl points at the first sysctl the detail lists ("a.b, c.d").
func sysctl(spec *corev1.PodSpec, detail string) string {
	if spec.SecurityContext == nil {
		return ""
	}
	listed := map[string]bool{}
	for _, s := range strings.Split(detail, ", ") {
		listed[s] = true
	}
	for i, s := range spec.SecurityContext.Sysctls {
		if listed[s.Name] {
			return fmt.Sprintf("spec.securityContext.sysctls[%d]", i)
		}
	}
	return "spec.securityContext.sysctls"
}

// containerRef is a container of a pod spec with its path in the template.
type containerRef struct {
	c    *corev1.Container
	path string // "spec.initContainers[0]"
	kind string // "container", "init container", "ephemeral container"
}

// containers returns the containers of spec in the order the library
// visits them: init containers, containers, ephemeral containers.
func containers(spec *corev1.PodSpec) []containerRef {
	out := make([]containerRef, 0, len(spec.InitContainers)+len(spec.Containers)+len(spec.EphemeralContainers))
	for i := range spec.InitContainers {
		out = append(out, containerRef{&spec.InitContainers[i], fmt.Sprintf("spec.initContainers[%d]", i), "init container"})
	}
	for i := range spec.Containers {
		out = append(out, containerRef{&spec.Containers[i], fmt.Sprintf("spec.containers[%d]", i), "container"})
	}
	for i := range spec.EphemeralContainers {
		c := (*corev1.Container)(&spec.EphemeralContainers[i].EphemeralContainerCommon)
		out = append(out, containerRef{c, fmt.Sprintf("spec.ephemeralContainers[%d]", i), "ephemeral container"})
	}
	return out
}

// pssSeverity is the default severity of a check of level l.
func pssSeverity(l api.Level) finding.Severity {
	if l == api.LevelRestricted {
		return restrictedSeverity
	}
	return baselineSeverity
}
