package lint

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/wardsec/ward/finding"
	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/netpol"
)

// input reports what Ward did not evaluate: unsupported policy kinds,
// skipped documents, and ipBlocks matched without pod IPs.
func (l *linter) input() {
	l.unsupported()
	l.skipped()
	l.podIPsUnknown()
}

// Unevaluated returns the input/unsupported-policy findings of set: the
// policies in it that may allow or deny traffic and that Ward's
// reachability ignores. A reachability verdict (an assertion) is only
// sound for the policies Ward evaluated.
func Unevaluated(set *manifest.Set) []finding.Finding {
	l := &linter{set: set}
	l.unsupported()
	return finding.Sort(l.out)
}

// unsupported reports the policies Ward does not evaluate (but the
// Istio kinds the mesh audit reports on).
func (l *linter) unsupported() {
	for _, u := range l.set.Unsupported {
		if u.Audited {
			continue // the mesh audit reports on it
		}
		ref := manifest.Ref{Kind: manifest.RefKind(u.APIVersion, u.Kind), Namespace: u.Namespace, Name: u.Name}
		name := u.Name
		if u.Namespace != "" {
			name = u.Namespace + "/" + u.Name
		}
		why := ""
		if u.Reason != "" {
			why = ": " + u.Reason
		}
		l.report(RuleUnsupportedPolicy, u.Source.File, u.Source.Line, ref.String(),
			fmt.Sprintf("%s %s (%s) is not evaluated by Ward%s: reachability shown ignores it", u.Kind, name, u.APIVersion, why),
			fmt.Sprintf("review %s %s by hand: it may allow or deny traffic Ward does not show", u.Kind, name))
	}
}

// skipped reports one finding per file with skipped documents, counting
// them per reason, at the first skipped document's line.
func (l *linter) skipped() {
	type fileSkips struct {
		line     int
		total    int
		byReason map[string]int
	}
	files := map[string]*fileSkips{}
	for _, s := range l.set.Skipped {
		f := files[s.Source.File]
		if f == nil {
			f = &fileSkips{line: s.Source.Line, byReason: map[string]int{}}
			files[s.Source.File] = f
		}
		f.line = min(f.line, s.Source.Line)
		f.total++
		reason := s.Reason
		if reason == "" {
			reason = "not modelled"
			if s.Kind != "" {
				reason = "kind " + s.Kind + " is not modelled"
			}
		}
		f.byReason[reason]++
	}
	for _, file := range slices.Sorted(maps.Keys(files)) {
		f := files[file]
		var parts []string
		for _, r := range slices.Sorted(maps.Keys(f.byReason)) {
			parts = append(parts, fmt.Sprintf("%s (%d)", r, f.byReason[r]))
		}
		noun := "documents"
		if f.total == 1 {
			noun = "document"
		}
		l.report(ruleSkipped, file, f.line, "",
			fmt.Sprintf("%d %s skipped: %s", f.total, noun, strings.Join(parts, "; ")),
			"nothing to do if these are not workloads, Services, Namespaces or NetworkPolicies; otherwise check apiVersion and kind")
	}
}

// podIPsUnknown reports, once, that ipBlocks were matched without pod IPs,
// at the first ipBlock peer of the first policy that has one.
func (l *linter) podIPsUnknown() {
	if l.set.PodIPsKnown {
		return
	}
	for _, p := range l.pols {
		for _, d := range []netpol.Direction{netpol.Ingress, netpol.Egress} {
			for _, r := range p.rules(d) {
				for j, peer := range r.peers {
					if peer.IPBlock == nil {
						continue
					}
					l.report(rulePodIPsUnknown, p.Source.File, p.Line(r.peerPath(j)), p.obj,
						fmt.Sprintf("the input has ipBlock peers (first: %s %s ipBlock %s) but no pod IPs: ipBlocks were matched only against addresses outside the cluster, not against pods",
							r.peerPath(j), r.peerWord(), peer.IPBlock.CIDR),
						"for exact ipBlock matching include live Pod objects with status.podIP in the input (kubectl get pods -A -o yaml)")
					return
				}
			}
		}
	}
}
