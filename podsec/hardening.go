package podsec

import (
	"fmt"
	"github.com/wardsec/ward/internal/cmdsecret"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/wardsec/ward/finding"
	"github.com/wardsec/ward/internal/secretscan"
	"github.com/wardsec/ward/manifest"
)

// hardening runs Ward's own pod/ rules on the pod template of w.
func (a *auditor) hardening(w *manifest.Workload) {
	spec := &w.Template.Spec
	windows := spec.OS != nil && spec.OS.Name == corev1.Windows
	a.automountToken(w, spec)
	a.defaultAccount(w, spec)
	if !windows {
		a.podGroups(w, spec)
	}
	for _, c := range containers(spec) {
		if !windows {
			a.writableRootFS(w, c)
			a.containerGroup(w, c)
			a.netRaw(w, c)
		}
		a.image(w, c)
		a.untrustedRegistry(w, c)
		a.secretEnv(w, c)
		a.secretArgs(w, c)
		a.secretEnvRef(w, c)
		if !windows {
			a.privilegedPorts(w, spec, c)
		}
		if c.kind != "ephemeral container" {
			a.limits(w, spec, c)
		}
	}
}

// name is `container "app"`, `init container "setup"`, ...
func (c containerRef) name() string { return fmt.Sprintf("%s %q", c.kind, c.c.Name) }

func (a *auditor) writableRootFS(w *manifest.Workload, c containerRef) {
	sc := c.c.SecurityContext
	if sc != nil && sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem {
		return
	}
	how := "does not set securityContext.readOnlyRootFilesystem"
	if sc != nil && sc.ReadOnlyRootFilesystem != nil {
		how = "sets securityContext.readOnlyRootFilesystem: false"
	}
	a.report(ruleWritableRootFS, finding.Medium, w.Source.File, w.TemplateLine(c.path+".securityContext.readOnlyRootFilesystem"), w.ID(),
		fmt.Sprintf("%s of %s %s: its root file system is writable, so an attacker can replace its binaries and plant tools", c.name(), w.ID(), how),
		fmt.Sprintf("set securityContext.readOnlyRootFilesystem: true on %s and mount an emptyDir where it writes (/tmp, caches)", c.name()))
}

// podGroups reports group 0 in the pod's security context.
func (a *auditor) podGroups(w *manifest.Workload, spec *corev1.PodSpec) {
	sc := spec.SecurityContext
	if sc == nil {
		return
	}
	fix := "use a non-zero GID, such as 10001"
	if sc.RunAsGroup != nil && *sc.RunAsGroup == 0 {
		a.report(ruleRootGroup, finding.Low, w.Source.File, w.TemplateLine("spec.securityContext.runAsGroup"), w.ID(),
			fmt.Sprintf("%s runs its containers with primary group 0 (spec.securityContext.runAsGroup: 0): they can read and change files owned by group root", w.ID()),
			fix+" in spec.securityContext.runAsGroup")
	}
	if sc.FSGroup != nil && *sc.FSGroup == 0 {
		a.report(ruleRootGroup, finding.Low, w.Source.File, w.TemplateLine("spec.securityContext.fsGroup"), w.ID(),
			fmt.Sprintf("%s sets spec.securityContext.fsGroup: 0: its volumes become owned by group root and every container joins group 0", w.ID()),
			fix+" in spec.securityContext.fsGroup")
	}
	for i, g := range sc.SupplementalGroups {
		if g == 0 {
			a.report(ruleRootGroup, finding.Low, w.Source.File, w.TemplateLine(fmt.Sprintf("spec.securityContext.supplementalGroups[%d]", i)), w.ID(),
				fmt.Sprintf("%s adds group 0 to its containers (spec.securityContext.supplementalGroups)", w.ID()),
				"remove 0 from spec.securityContext.supplementalGroups")
			break
		}
	}
}

// containerGroup reports runAsGroup: 0 in a container's security context.
func (a *auditor) containerGroup(w *manifest.Workload, c containerRef) {
	sc := c.c.SecurityContext
	if sc == nil || sc.RunAsGroup == nil || *sc.RunAsGroup != 0 {
		return
	}
	a.report(ruleRootGroup, finding.Low, w.Source.File, w.TemplateLine(c.path+".securityContext.runAsGroup"), w.ID(),
		fmt.Sprintf("%s of %s runs with primary group 0 (securityContext.runAsGroup: 0): it can read and change files owned by group root", c.name(), w.ID()),
		fmt.Sprintf("use a non-zero GID, such as 10001, in securityContext.runAsGroup of %s", c.name()))
}

// serviceAccount is the ServiceAccount a pod runs as: serviceAccountName,
// else the deprecated serviceAccount (the API server copies it over), else
// default.
func serviceAccount(spec *corev1.PodSpec) string {
	switch {
	case spec.ServiceAccountName != "":
		return spec.ServiceAccountName
	case spec.DeprecatedServiceAccount != "":
		return spec.DeprecatedServiceAccount
	}
	return "default"
}

// tokenMounted reports whether a pod's containers get a token of its
// ServiceAccount, and how: automounted (the pod's automountServiceAccountToken,
// else its ServiceAccount's, else true) or through a projected
// serviceAccountToken volume.
func (a *auditor) tokenMounted(w *manifest.Workload, spec *corev1.PodSpec) (string, bool) {
	auto := true
	switch v := spec.AutomountServiceAccountToken; {
	case v != nil:
		auto = *v
	default:
		if acc := a.accounts[w.Namespace+"/"+serviceAccount(spec)]; acc != nil && acc.AutomountServiceAccountToken != nil {
			auto = *acc.AutomountServiceAccountToken
		}
	}
	if auto {
		return "its token is mounted in every container", true
	}
	for _, v := range spec.Volumes {
		if v.Projected == nil {
			continue
		}
		for _, src := range v.Projected.Sources {
			if src.ServiceAccountToken != nil {
				return fmt.Sprintf("volume %q projects its token", v.Name), true
			}
		}
	}
	return "", false
}

// defaultAccount reports a pod that runs as its namespace's default
// ServiceAccount with a token of it mounted.
func (a *auditor) defaultAccount(w *manifest.Workload, spec *corev1.PodSpec) {
	if serviceAccount(spec) != "default" {
		return
	}
	how, ok := a.tokenMounted(w, spec)
	if !ok {
		return
	}
	path := "spec.serviceAccountName"
	if spec.ServiceAccountName == "" && spec.DeprecatedServiceAccount != "" {
		path = "spec.serviceAccount"
	}
	a.report(ruleDefaultSA, finding.Low, w.Source.File, w.TemplateLine(path), w.ID(),
		fmt.Sprintf("%s runs as the default ServiceAccount of namespace %s and %s: it shares that identity, and every permission "+
			"granted to it, with every other pod of the namespace that names no ServiceAccount", w.ID(), w.Namespace, how),
		fmt.Sprintf("create a ServiceAccount for %s, bind only the roles it needs to it, and set spec.serviceAccountName; "+
			"or set automountServiceAccountToken: false if it never calls the API", w.ID()))
}

// automountToken reports a pod that gets an API token: its spec's
// automountServiceAccountToken wins; unset, its ServiceAccount's (when the
// input has it) applies, as in Kubernetes.
func (a *auditor) automountToken(w *manifest.Workload, spec *corev1.PodSpec) {
	v := spec.AutomountServiceAccountToken
	if v != nil && !*v {
		return
	}
	sa := serviceAccount(spec)
	if acc := a.accounts[w.Namespace+"/"+sa]; v == nil && acc != nil && acc.AutomountServiceAccountToken != nil && !*acc.AutomountServiceAccountToken {
		return
	}
	how := "does not set automountServiceAccountToken: false"
	if v != nil {
		how = "sets automountServiceAccountToken: true"
	}
	a.report(ruleAutomountSA, finding.Low, w.Source.File, w.TemplateLine("spec.automountServiceAccountToken"), w.ID(),
		fmt.Sprintf("%s %s: every container gets an API token of service account %s", w.ID(), how, sa),
		"set automountServiceAccountToken: false in the pod spec; mount a projected serviceAccountToken volume only in a container that calls the API")
}

func (a *auditor) netRaw(w *manifest.Workload, c containerRef) {
	sc := c.c.SecurityContext
	var caps *corev1.Capabilities
	if sc != nil {
		caps = sc.Capabilities
	}
	var why, path string
	switch {
	case sc != nil && sc.Privileged != nil && *sc.Privileged:
		why, path = "is privileged, so it has NET_RAW whatever it drops", ".securityContext.privileged"
	case caps != nil && hasCapability(caps.Add, "NET_RAW"):
		why, path = "adds NET_RAW back in securityContext.capabilities.add", ".securityContext.capabilities.add"
	case caps == nil || !hasCapability(caps.Drop, "NET_RAW"):
		why, path = "keeps NET_RAW: securityContext.capabilities.drop lists neither NET_RAW nor ALL", ".securityContext.capabilities.drop"
	default:
		return
	}
	a.report(ruleNetRaw, finding.Medium, w.Source.File, w.TemplateLine(c.path+path), w.ID(),
		fmt.Sprintf("%s of %s %s: it can craft raw packets and spoof or capture traffic on the pod network", c.name(), w.ID(), why),
		fmt.Sprintf("set securityContext.capabilities.drop: [ALL] on %s and do not add NET_RAW back", c.name()))
}

// hasCapability reports whether list names capability name (without the
// CAP_ prefix) or ALL, case-insensitively, with or without CAP_.
func hasCapability(list []corev1.Capability, name string) bool {
	for _, c := range list {
		s := strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(string(c))), "CAP_")
		if s == name || s == "ALL" {
			return true
		}
	}
	return false
}

// secretEnv reports environment variables of c whose literal values are
// secrets (see ruleSecretInEnv). It never writes a value anywhere.
func (a *auditor) secretEnv(w *manifest.Workload, c containerRef) {
	for i, e := range c.c.Env {
		if e.ValueFrom != nil || secretscan.Placeholder(e.Value) {
			continue
		}
		name := e.Name
		if secretscan.Value(name) != "" || len(name) > 100 {
			name = "(name withheld)"
		}
		var why string
		switch what := secretscan.Value(e.Value); {
		case secretscan.NameValue(e.Name, e.Value):
			why = "its name suggests a secret and its value is written in the manifest"
		case what != "":
			why = "its value looks like " + what
		default:
			continue
		}
		a.report(ruleSecretInEnv, finding.High, w.Source.File, w.TemplateLine(fmt.Sprintf("%s.env[%d].value", c.path, i)), w.ID(),
			fmt.Sprintf("%s of %s: environment variable %s: %s, readable by anyone who can read the workload", c.name(), w.ID(), name, why),
			fmt.Sprintf("move the value of %s into a Secret and reference it with valueFrom.secretKeyRef, then rotate it", name))
	}
}

// secretArgs reports secrets written in a container's command and args
// (ruleSecretInArgs), at the line of args (else command). It never writes
// a value anywhere.
func (a *auditor) secretArgs(w *manifest.Workload, c containerRef) {
	argv := append(slices.Clone(c.c.Command), c.c.Args...)
	if len(argv) == 0 {
		return
	}
	field := ".command"
	if len(c.c.Args) > 0 && len(cmdsecret.Argv(c.c.Command)) == 0 {
		field = ".args"
	}
	seen := map[cmdsecret.Secret]bool{}
	for _, s := range cmdsecret.Argv(argv) {
		if seen[s] {
			continue
		}
		seen[s] = true
		a.report(ruleSecretInArgs, finding.High, w.Source.File, w.TemplateLine(c.path+field), w.ID(),
			fmt.Sprintf("%s of %s: its command line holds %s, readable in the manifest and by every process that can read /proc/<pid>/cmdline", c.name(), w.ID(), s),
			"pass the secret from a Secret through the environment or a mounted file, have the command read it from there, and rotate it")
	}
}

// secretEnvRef reports Secrets read into a container's environment
// (ruleSecretEnvRef): env valueFrom.secretKeyRef and envFrom secretRef.
func (a *auditor) secretEnvRef(w *manifest.Workload, c containerRef) {
	fix := "mount the Secret as a volume and let the program read the file (`volumes: [{name: creds, secret: {secretName: <name>}}]`)"
	for i, e := range c.c.Env {
		if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
			continue
		}
		a.report(ruleSecretEnvRef, finding.Info, w.Source.File, w.TemplateLine(fmt.Sprintf("%s.env[%d].valueFrom", c.path, i)), w.ID(),
			fmt.Sprintf("%s of %s: environment variable %s takes key %s of Secret %s: every process of the container inherits it", c.name(), w.ID(), e.Name, e.ValueFrom.SecretKeyRef.Key, e.ValueFrom.SecretKeyRef.Name), fix)
	}
	for i, e := range c.c.EnvFrom {
		if e.SecretRef == nil {
			continue
		}
		a.report(ruleSecretEnvRef, finding.Info, w.Source.File, w.TemplateLine(fmt.Sprintf("%s.envFrom[%d].secretRef", c.path, i)), w.ID(),
			fmt.Sprintf("%s of %s: envFrom puts every key of Secret %s into its environment: every process of the container inherits them", c.name(), w.ID(), e.SecretRef.Name), fix)
	}
}

func (a *auditor) image(w *manifest.Workload, c containerRef) {
	ref := strings.TrimSpace(c.c.Image)
	if ref == "" {
		return
	}
	tag, digest, bad := splitImage(ref)
	if digest != "" {
		return
	}
	// A malformed digest pins nothing, and the kubelet refuses the
	// reference (InvalidImageName): say so rather than "no tag".
	malformed := ""
	if bad != "" {
		malformed = fmt.Sprintf(" and the malformed digest %q (%s), which pins nothing: the kubelet rejects the reference as InvalidImageName", bad, digestProblem(bad))
	}
	line := w.TemplateLine(c.path + ".image")
	if tag == "" || tag == "latest" {
		what := "no tag, which means latest"
		switch {
		case tag != "":
			what = "the tag latest"
		case bad != "":
			what = "no tag"
		}
		a.report(ruleImageLatest, finding.Medium, w.Source.File, line, w.ID(),
			fmt.Sprintf("%s of %s uses image %q with %s%s: what runs depends on when each node pulled it", c.name(), w.ID(), ref, what, malformed),
			fmt.Sprintf("use a version tag and a digest in the image of %s: registry/app:1.4.2@sha256:<digest>", c.name()))
		return
	}
	if bad != "" {
		a.report(ruleImageNotPinned, a.opts.DigestSeverity, w.Source.File, line, w.ID(),
			fmt.Sprintf("%s of %s uses image %q by tag%s", c.name(), w.ID(), ref, malformed),
			fmt.Sprintf("write the full digest in the image of %s: %s@sha256:<64 hex digits>", c.name(), ref[:strings.IndexByte(ref, '@')]))
		return
	}
	a.report(ruleImageNotPinned, a.opts.DigestSeverity, w.Source.File, line, w.ID(),
		fmt.Sprintf("%s of %s uses image %q by tag, not by digest: the registry may serve other content under the same tag", c.name(), w.ID(), ref),
		fmt.Sprintf("pin the image of %s by digest: %s@sha256:<digest>", c.name(), ref))
}

// splitImage returns the tag and digest of an image reference such as
// "registry:5000/app:1.2@sha256:...". A digest that is not
// algorithm:hex-like is returned as bad, not as digest: it does not pin
// anything.
func splitImage(ref string) (tag, digest, bad string) {
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		if validDigest(ref[i+1:]) {
			digest = ref[i+1:]
		} else {
			bad = ref[i+1:]
		}
		ref = ref[:i]
	}
	slash := strings.LastIndexByte(ref, '/')
	if i := strings.LastIndexByte(ref, ':'); i > slash {
		tag = ref[i+1:]
	}
	return tag, digest, bad
}

// digestProblem says what is wrong with a digest validDigest refuses.
func digestProblem(d string) string {
	alg, enc, ok := strings.Cut(d, ":")
	switch {
	case !ok || alg == "" || enc == "":
		return "a digest is algorithm:hex, such as sha256:<64 hex digits>"
	case alg == "sha256" && len(enc) != 64:
		return fmt.Sprintf("sha256 has %d hex digits, not %d", 64, len(enc))
	case alg == "sha512" && len(enc) != 128:
		return fmt.Sprintf("sha512 has %d hex digits, not %d", 128, len(enc))
	case alg == "sha256" || alg == "sha512":
		return "the hex digits must be 0-9 and lower-case a-f"
	}
	return "not an algorithm:encoded digest"
}

// validDigest reports whether d has the OCI digest form
// algorithm:encoded, with a sha256 or sha512 encoding of the right length
// in lower-case hex.
func validDigest(d string) bool {
	alg, enc, ok := strings.Cut(d, ":")
	if !ok || alg == "" || enc == "" {
		return false
	}
	for _, r := range alg {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '+' && r != '.' && r != '_' && r != '-' {
			return false
		}
	}
	hexOnly := func(s string) bool {
		for _, r := range s {
			if (r < '0' || r > '9') && (r < 'a' || r > 'f') {
				return false
			}
		}
		return true
	}
	switch alg {
	case "sha256":
		return len(enc) == 64 && hexOnly(enc)
	case "sha512":
		return len(enc) == 128 && hexOnly(enc)
	}
	for _, r := range enc {
		if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') && r != '=' && r != '_' && r != '-' {
			return false
		}
	}
	return true
}

func (a *auditor) limits(w *manifest.Workload, spec *corev1.PodSpec, c containerRef) {
	// has reports whether the container or the pod sets r in limits (or,
	// with requests, in requests).
	has := func(r corev1.ResourceName, requests bool) bool {
		if _, ok := c.c.Resources.Limits[r]; ok {
			return true
		}
		if _, ok := c.c.Resources.Requests[r]; ok && requests {
			return true
		}
		if spec.Resources != nil {
			if _, ok := spec.Resources.Limits[r]; ok {
				return true
			}
			if _, ok := spec.Resources.Requests[r]; ok && requests {
				return true
			}
		}
		return false
	}
	// Memory cannot be taken back from a container, so it needs a limit.
	// CPU is shared by weight: a CPU request already guarantees the other
	// pods their share, and CPU limits throttle even an idle node, so a
	// request is enough.
	var missing, fix []string
	if !has(corev1.ResourceMemory, false) {
		missing = append(missing, "memory limit")
		fix = append(fix, "resources.limits.memory")
	}
	if !has(corev1.ResourceCPU, true) {
		missing = append(missing, "CPU request or limit")
		fix = append(fix, "resources.requests.cpu")
	}
	if len(missing) == 0 {
		return
	}
	a.report(ruleNoLimits, finding.Low, w.Source.File, w.TemplateLine(c.path+".resources.limits"), w.ID(),
		fmt.Sprintf("%s of %s has no %s: it can starve the other pods of its node", c.name(), w.ID(), strings.Join(missing, " and no ")),
		fmt.Sprintf("set %s on %s", strings.Join(fix, " and "), c.name()))
}

// maxListed bounds the workloads a message names.
const maxListed = 5

// exposed reports NodePort and LoadBalancer Services that select workloads
// no NetworkPolicy isolates for ingress.
func (a *auditor) exposed(set *manifest.Set) {
	for _, svc := range set.Services {
		if svc == nil || (svc.Type != corev1.ServiceTypeNodePort && svc.Type != corev1.ServiceTypeLoadBalancer) || len(svc.Selector) == 0 {
			continue
		}
		sel := labels.SelectorFromSet(svc.Selector)
		var open []string
		for _, w := range set.Workloads {
			if w == nil || w.Namespace != svc.Namespace || !sel.Matches(labels.Set(w.Labels)) {
				continue
			}
			if !a.opts.IngressIsolated(w) {
				open = append(open, w.ID())
			}
		}
		if len(open) == 0 {
			continue
		}
		where := "on port(s) of every node"
		if svc.Type == corev1.ServiceTypeLoadBalancer {
			where = "on a load balancer and on every node"
		}
		list := strings.Join(open, ", ")
		if len(open) > maxListed {
			list = fmt.Sprintf("%s and %d more", strings.Join(open[:maxListed], ", "), len(open)-maxListed)
		}
		a.report(ruleExposedUnisolated, finding.High, svc.Source.File, svc.Source.Line, svc.Namespace+"/Service/"+svc.Name,
			fmt.Sprintf("%s/Service/%s (type %s) publishes %s %s, and no NetworkPolicy isolates them for ingress: any address that reaches the nodes, and any pod, can connect",
				svc.Namespace, svc.Name, svc.Type, list, where),
			fmt.Sprintf("select %s with a NetworkPolicy in namespace %s that isolates ingress and allows only the expected sources, or make the Service ClusterIP behind an ingress controller",
				list, svc.Namespace))
	}
}
