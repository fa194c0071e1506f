package lint

import (
	"fmt"
	"slices"

	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/netpol"
)

// namespaces reports namespaces without a default deny per direction.
func (l *linter) namespaces() {
	// The first non-hostNetwork workload of each namespace, in input order.
	first := map[string]*manifest.Workload{}
	var names []string
	for _, w := range l.set.Workloads {
		if w.HostNetwork {
			continue
		}
		f := first[w.Namespace]
		if f == nil {
			names = append(names, w.Namespace)
		}
		if f == nil || w.Source.File < f.Source.File || (w.Source.File == f.Source.File && w.Source.Line < f.Source.Line) {
			first[w.Namespace] = w
		}
	}
	slices.Sort(names)
	for _, ns := range names {
		file, line := first[ns].Source.File, first[ns].Source.Line
		if n := l.set.Namespace(ns); n != nil && n.Declared {
			file, line = n.Source.File, n.Source.Line
		}
		obj := manifest.Ref{Kind: "Namespace", Name: ns}.String()
		for _, d := range []netpol.Direction{netpol.Ingress, netpol.Egress} {
			if l.hasDefaultDeny(ns, d) {
				continue
			}
			id, yaml := ruleNoDefaultDenyIngress, "policyTypes: [Ingress]"
			if d == netpol.Egress {
				id, yaml = ruleNoDefaultDenyEgress, "policyTypes: [Egress], egress: [{ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]}]"
			}
			l.report(id, file, line, obj,
				fmt.Sprintf("namespace %s has no default-deny %s policy (empty podSelector, isolating %s): %s",
					ns, d, d, l.openExample(ns, d)),
				fmt.Sprintf("add {apiVersion: networking.k8s.io/v1, kind: NetworkPolicy, metadata: {name: default-deny-%s, namespace: %s}, spec: {podSelector: {}, %s}}",
					d, ns, yaml))
		}
	}
}

// hasDefaultDeny reports whether a policy in ns has an empty podSelector,
// isolates d, and has no rule of direction d allowing everything.
func (l *linter) hasDefaultDeny(ns string, d netpol.Direction) bool {
	for _, p := range l.polsByNS[ns] {
		if !p.isolates[d] || !isEmptySelector(&p.Spec.PodSelector) {
			continue
		}
		if !slices.ContainsFunc(p.rules(d), rule.allowsAll) {
			return true
		}
	}
	return false
}

// openExample summarizes which workloads of ns are open in direction d.
func (l *linter) openExample(ns string, d netpol.Direction) string {
	var open []string
	total := 0
	for _, g := range l.groups[ns] {
		for _, w := range g.workloads {
			total++
			if !l.isolated(w, d) {
				open = append(open, w.ID())
			}
		}
	}
	slices.Sort(open)
	switch {
	case len(open) == 0:
		return fmt.Sprintf("each of its workloads is isolated for %s by some policy today, but a new workload no policy selects will be open", d)
	case total == 1:
		return fmt.Sprintf("%s is not isolated for %s", open[0], d)
	}
	return fmt.Sprintf("%d of its %d workloads are not isolated for %s: %s", len(open), total, d, list(open, 3))
}

// isolated reports whether the engine isolates every endpoint of w for d.
func (l *linter) isolated(w *manifest.Workload, d netpol.Direction) bool {
	eps := l.eng.EndpointsOf(w)
	for _, ep := range eps {
		if !ep.Class().Isolated(d) {
			return false
		}
	}
	return len(eps) > 0
}
