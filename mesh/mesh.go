package mesh

import (
	"fmt"
	"slices"
	"strings"

	"github.com/wardsec/ward/finding"
	"github.com/wardsec/ward/istio"
	"github.com/wardsec/ward/manifest"
)

// Rule ids.
const (
	RuleNotStrict       = "mesh/mtls-not-strict"
	RuleWeakMode        = "mesh/mtls-weak-mode"
	RuleNoAuthzBaseline = "mesh/no-authz-baseline"
	RuleAllowAll        = "mesh/authz-allow-all"
	RuleHeadNotDenied   = "mesh/authz-head-not-denied"
)

// Rules is every rule Audit can report.
var Rules = []finding.Rule{
	{
		ID:       RuleNotStrict,
		Severity: finding.High,
		Summary:  "A namespace with workloads in the mesh does not require mutual TLS: its effective PeerAuthentication mode is not STRICT.",
		Rationale: "Without STRICT mode, sidecars accept plaintext connections, so any pod (or anything that reaches the pod network) can talk to the " +
			"workload without a verified identity, and AuthorizationPolicy rules on principals or namespaces do not hold for those connections.",
		Fix: "Apply a mesh-wide PeerAuthentication in the root namespace (no selector, mtls.mode: STRICT), or one per namespace.",
	},
	{
		ID:       RuleWeakMode,
		Severity: finding.Medium,
		Summary:  "A PeerAuthentication sets mutual TLS to PERMISSIVE or DISABLE (high for DISABLE), for the whole object or a port.",
		Rationale: "PERMISSIVE accepts plaintext next to mutual TLS and is meant for migrations; DISABLE turns mutual TLS off. Either leaves " +
			"the selected workloads reachable without an identity.",
		Fix: "Set mtls.mode: STRICT once every client has a sidecar; for a port that must accept plaintext (a health check from the node), scope a portLevelMtls exception to that port only.",
	},
	{
		ID:       RuleNoAuthzBaseline,
		Severity: finding.Medium,
		Summary:  "A namespace with workloads in the mesh has no allow-nothing AuthorizationPolicy, in itself or mesh-wide.",
		Rationale: "Istio allows every request to a workload that no ALLOW policy selects. An allow-nothing policy (ALLOW, no rules, no selector) " +
			"makes the namespace default-deny at L7, so that each service needs an explicit ALLOW policy: the L7 counterpart of a default-deny NetworkPolicy.",
		Fix: "Add `apiVersion: security.istio.io/v1, kind: AuthorizationPolicy, metadata: {name: allow-nothing, namespace: NS}, spec: {}` and an ALLOW policy per service.",
	},
	{
		ID:        RuleAllowAll,
		Severity:  finding.High,
		Summary:   "An ALLOW AuthorizationPolicy has an empty rule, which matches every request.",
		Rationale: "A rule without from, to and when matches everything: the policy allows all requests to the workloads it selects and defeats an allow-nothing baseline.",
		Fix:       "Give the rule a from (principals or namespaces) and a to (methods, paths, ports), or remove it.",
	},
	{
		ID:       RuleHeadNotDenied,
		Severity: finding.Medium,
		Summary:  "A DENY AuthorizationPolicy denies GET but not HEAD (or an ALLOW policy excludes GET but not HEAD with notMethods).",
		Rationale: "Istio matches methods exactly, but Go's net/http ServeMux, Rails, Express, Django and most frameworks answer HEAD by running " +
			"the GET handler: its side effects happen and its response headers are sent, so the GET that the policy meant to stop runs as HEAD.",
		Fix: "List HEAD beside GET in methods (or notMethods), or write the policy as an ALLOW list of what is permitted.",
	},
}

// Lookup returns the rule with id.
func Lookup(id string) (finding.Rule, bool) {
	i := slices.IndexFunc(Rules, func(r finding.Rule) bool { return r.ID == id })
	if i < 0 {
		return finding.Rule{}, false
	}
	return Rules[i], true
}

// Options configure Audit.
type Options struct {
	// RootNamespace is Istio's root namespace, where policies without a
	// selector apply mesh-wide; "" means istio-system.
	RootNamespace string
}

type object[T any] struct {
	obj *T
	src manifest.Source
}

// Audit checks the Istio security objects of set. It reports nothing when
// the input shows no sign of a mesh.
func Audit(set *manifest.Set, opts Options) []finding.Finding {
	root := opts.RootNamespace
	if root == "" {
		root = "istio-system"
	}
	var pas []object[istio.PeerAuthentication]
	var aps []object[istio.AuthorizationPolicy]
	for _, o := range set.Objects {
		switch v := o.Obj.(type) {
		case *istio.PeerAuthentication:
			pas = append(pas, object[istio.PeerAuthentication]{v, o.Source})
		case *istio.AuthorizationPolicy:
			aps = append(aps, object[istio.AuthorizationPolicy]{v, o.Source})
		}
	}
	injected := map[string]bool{}
	for _, ns := range set.Namespaces {
		if ns.Labels["istio-injection"] == "enabled" || ns.Labels["istio.io/rev"] != "" {
			injected[ns.Name] = true
		}
	}
	if len(pas) == 0 && len(aps) == 0 && len(injected) == 0 {
		return nil
	}
	var out []finding.Finding
	report := func(rule string, sev finding.Severity, src manifest.Source, obj, msg, fix string) {
		out = append(out, finding.Finding{Rule: rule, Severity: sev, File: src.File, Line: src.Line, Object: obj, Message: msg, Fix: fix})
	}
	ref := func(kind, ns, name string) string { return ns + "/" + kind + "/" + name }

	// Modes, explicit weak ones first.
	var meshModes []string
	nsModes := map[string][]string{}
	for _, p := range pas {
		obj := ref("PeerAuthentication", p.obj.Namespace, p.obj.Name)
		mode := p.obj.Mode()
		switch mode {
		case istio.ModeDisable:
			report(RuleWeakMode, finding.High, p.src, obj, fmt.Sprintf("%s disables mutual TLS%s", obj, scope(p.obj, root)), Rules[1].Fix)
		case istio.ModePermissive:
			report(RuleWeakMode, finding.Medium, p.src, obj, fmt.Sprintf("%s accepts plaintext next to mutual TLS (PERMISSIVE)%s", obj, scope(p.obj, root)), Rules[1].Fix)
		}
		for _, port := range sortedPorts(p.obj.Spec.PortLevelMtls) {
			m := p.obj.Spec.PortLevelMtls[port]
			if m == nil || (m.Mode != istio.ModeDisable && m.Mode != istio.ModePermissive) {
				continue
			}
			sev := finding.Medium
			if m.Mode == istio.ModeDisable {
				sev = finding.High
			}
			report(RuleWeakMode, sev, p.src, obj, fmt.Sprintf("%s sets port %s to %s%s", obj, port, m.Mode, scope(p.obj, root)), Rules[1].Fix)
		}
		if p.obj.Spec.Selector != nil && len(p.obj.Spec.Selector.MatchLabels) > 0 {
			continue // workload-level: reported above when weak
		}
		switch {
		case p.obj.Namespace == root:
			meshModes = append(meshModes, mode)
		default:
			nsModes[p.obj.Namespace] = append(nsModes[p.obj.Namespace], mode)
		}
	}
	// Of several mesh-wide or namespace-wide policies Istio applies the
	// oldest, which the input does not tell: the weakest is taken.
	meshMode, meshNote := weakest(meshModes)

	// Allow-nothing baselines and allow-all rules.
	baseline := map[string]bool{}
	dryBaseline := map[string]string{} // allow-nothing policies in dry-run, by namespace
	for _, a := range aps {
		obj := ref("AuthorizationPolicy", a.obj.Namespace, a.obj.Name)
		selects := a.obj.Spec.Selector != nil && len(a.obj.Spec.Selector.MatchLabels) > 0 ||
			a.obj.Spec.TargetRef != nil || len(a.obj.Spec.TargetRefs) > 0
		// A dry-run policy is evaluated and logged, never enforced.
		if a.obj.AllowsNothing() && !selects && !a.obj.DryRun() {
			baseline[a.obj.Namespace] = true
		}
		if a.obj.AllowsNothing() && !selects && a.obj.DryRun() {
			dryBaseline[a.obj.Namespace] = obj
		}
		for i, r := range a.obj.Spec.Rules {
			for j, to := range r.To {
				o := to.Operation
				switch {
				case a.obj.Action() == istio.ActionDeny && slices.Contains(o.Methods, "GET") && !slices.Contains(o.Methods, "HEAD"):
					report(RuleHeadNotDenied, finding.Medium, a.src, obj,
						fmt.Sprintf("%s rule %d to %d denies GET but not HEAD, which most frameworks answer with the GET handler", obj, i, j), Rules[4].Fix)
				case a.obj.Action() == istio.ActionAllow && slices.Contains(o.NotMethods, "GET") && !slices.Contains(o.NotMethods, "HEAD"):
					report(RuleHeadNotDenied, finding.Medium, a.src, obj,
						fmt.Sprintf("%s rule %d to %d allows every method but GET, HEAD included, which most frameworks answer with the GET handler", obj, i, j), Rules[4].Fix)
				}
			}
		}
		if a.obj.Action() != istio.ActionAllow {
			continue
		}
		for i, r := range a.obj.Spec.Rules {
			if len(r.From) == 0 && len(r.To) == 0 && len(r.When) == 0 {
				report(RuleAllowAll, finding.High, a.src, obj,
					fmt.Sprintf("%s rule %d is empty, so it allows every request to %s", obj, i, target(a.obj)), Rules[3].Fix)
			}
		}
	}

	// Per namespace with workloads.
	nsSrc := map[string]manifest.Source{}
	for _, ns := range set.Namespaces {
		nsSrc[ns.Name] = ns.Source
	}
	seen := map[string]bool{}
	for _, w := range set.Workloads {
		ns := w.Namespace
		if seen[ns] || ns == root || ns == "kube-system" {
			continue
		}
		seen[ns] = true
		obj := manifest.Ref{Kind: "Namespace", Name: ns}.String()
		src := nsSrc[ns]
		if src.File == "" {
			src = w.Source
		}
		// A namespace-wide policy that sets no mode inherits the mesh's.
		var modes []string
		inherits := len(nsModes[ns]) == 0
		for _, m := range nsModes[ns] {
			if m == istio.ModeUnset {
				inherits = true
				continue
			}
			modes = append(modes, m)
		}
		mode, note := weakest(modes)
		from := "its PeerAuthentication" + note
		if inherits && (mode == istio.ModeUnset || rank(meshMode) < rank(mode)) {
			mode, from = meshMode, "the mesh-wide PeerAuthentication in "+root+meshNote
			if mode == istio.ModeUnset {
				mode, from = istio.ModePermissive, "no PeerAuthentication (Istio's default)"
			}
		}
		if mode != istio.ModeStrict {
			report(RuleNotStrict, finding.High, src, obj,
				fmt.Sprintf("namespace %s accepts plaintext: its mutual TLS mode is %s, from %s", ns, mode, from), Rules[0].Fix)
		}
		if !baseline[ns] && !baseline[root] {
			dry := ""
			for _, n := range []string{ns, root} {
				if p := dryBaseline[n]; p != "" {
					dry += fmt.Sprintf(" (%s is in dry-run, %s, which Istio does not enforce)", p, istio.DryRunAnnotation)
				}
			}
			report(RuleNoAuthzBaseline, finding.Medium, src, obj,
				fmt.Sprintf("namespace %s has no allow-nothing AuthorizationPolicy (and %s has no mesh-wide one)%s: requests to workloads no ALLOW policy selects are allowed", ns, root, dry),
				strings.ReplaceAll(Rules[2].Fix, "NS", ns))
		}
	}
	return finding.Sort(out)
}

// rank orders modes from the weakest: DISABLE, then PERMISSIVE and UNSET
// (Istio's default is PERMISSIVE), then STRICT.
func rank(mode string) int {
	switch mode {
	case istio.ModeDisable:
		return 0
	case istio.ModeStrict:
		return 2
	}
	return 1
}

// weakest returns the weakest of modes (UNSET when there are none) and,
// when they differ, a note saying so for messages.
func weakest(modes []string) (string, string) {
	if len(modes) == 0 {
		return istio.ModeUnset, ""
	}
	w := modes[0]
	for _, m := range modes[1:] {
		if rank(m) < rank(w) {
			w = m
		}
	}
	for _, m := range modes {
		if m != w {
			return w, fmt.Sprintf(" (the weakest of %d at that level: Istio applies the oldest, which the input does not tell)", len(modes))
		}
	}
	return w, ""
}

func scope(p *istio.PeerAuthentication, root string) string {
	switch {
	case p.Spec.Selector != nil && len(p.Spec.Selector.MatchLabels) > 0:
		return " for the workloads it selects"
	case p.Namespace == root:
		return " mesh-wide"
	}
	return " for namespace " + p.Namespace
}

func target(a *istio.AuthorizationPolicy) string {
	switch {
	case a.Spec.Selector != nil && len(a.Spec.Selector.MatchLabels) > 0:
		return "the workloads it selects"
	case a.Spec.TargetRef != nil || len(a.Spec.TargetRefs) > 0:
		return "its target"
	}
	return "every workload in namespace " + a.Namespace
}

func sortedPorts(m map[string]*istio.MutualTLS) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
