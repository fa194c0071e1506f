package lint

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/wardsec/ward/ipset"
	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/netpol"
	"github.com/wardsec/ward/portset"
)

var directions = []netpol.Direction{netpol.Ingress, netpol.Egress}

// policies runs the per-policy checks. Checks that compare selectors with
// workloads run only when the input has workloads: a directory of policies
// alone would otherwise report every policy.
func (l *linter) policies() {
	withWorkloads := len(l.set.Workloads) > 0
	l.checkAll(len(l.pols), func(c *linter, i int) {
		p := c.pols[i]
		c.ignoredRules(p)
		c.allowAll(p)
		if !withWorkloads {
			return
		}
		c.selectsNothing(p)
		for _, d := range directions {
			for _, r := range p.rules(d) {
				c.peersMatchNothing(r)
				c.namedPorts(r)
			}
		}
	})
	l.shadowed()
}

// allowAll reports the rules that let everything through a direction the
// policy isolates.
func (l *linter) allowAll(p *policy) {
	for _, d := range directions {
		for _, r := range p.rules(d) {
			if !r.allowsAll() {
				continue
			}
			who := "source"
			if d == netpol.Egress {
				who = "destination"
			}
			l.report(ruleAllowAll, p.Source.File, p.Line(r.path()), p.obj,
				fmt.Sprintf("%s %s allows every %s on every port: it cancels the %s isolation of the pods it selects", p.obj, r.path(), who, d),
				fmt.Sprintf("name the %ss and ports the pods need in %s (%s: [...], ports: [...]), or delete the policy if they are meant to be open", who, r.path(), r.peerWord()))
		}
	}
}

func (l *linter) ignoredRules(p *policy) {
	if len(p.Spec.PolicyTypes) == 0 {
		return // defaulting covers every rule present
	}
	types := make([]string, len(p.Spec.PolicyTypes))
	for i, t := range p.Spec.PolicyTypes {
		types[i] = string(t)
	}
	counts := [2]int{len(p.Spec.Ingress), len(p.Spec.Egress)}
	for _, d := range directions {
		if p.isolates[d] || counts[d] == 0 {
			continue
		}
		typ := "Ingress"
		if d == netpol.Egress {
			typ = "Egress"
		}
		noun, them := "rules", "them"
		if counts[d] == 1 {
			noun, them = "rule", "it"
		}
		l.report(ruleIgnoredRules, p.Source.File, p.Line("spec."+d.String()), p.obj,
			fmt.Sprintf("%s has %d %s %s but policyTypes [%s] omits %s: the API ignores %s, so the policy neither allows nor restricts %s",
				p.obj, counts[d], d, noun, strings.Join(types, ", "), typ, them, d),
			fmt.Sprintf("add %s to spec.policyTypes (policyTypes: [Ingress, Egress]) or delete spec.%s", typ, d))
	}
}

func (l *linter) selectsNothing(p *policy) {
	if len(l.matchPods(p.Namespace, p.sel, true)) > 0 {
		return
	}
	var inNS, host []string
	for _, w := range l.byNS[p.Namespace] {
		if w.HostNetwork {
			if p.selects(w) {
				host = append(host, w.ID())
			}
			continue
		}
		inNS = append(inNS, w.ID()+" "+labelString(w.Labels))
	}
	msg := fmt.Sprintf("%s selects no workload: podSelector %s matches nothing in namespace %s", p.obj, selectorString(&p.Spec.PodSelector), p.Namespace)
	switch {
	case len(host) > 0:
		msg += fmt.Sprintf(" but hostNetwork workloads (%s), which NetworkPolicy does not protect", list(host, 3))
	case len(inNS) == 0:
		msg += " (the input has no workloads in it)"
	default:
		msg += fmt.Sprintf(" (its workloads: %s)", list(inNS, 3))
	}
	note := l.operatorNote(p.Namespace)
	l.reportSev(rulePolicySelectsNothing, noteSeverity(rulePolicySelectsNothing, note), p.Source.File, p.Line("spec.podSelector"), p.obj, msg+note,
		fmt.Sprintf("set spec.podSelector of %s to the pod template labels of the workload it protects, e.g. podSelector: {matchLabels: {app: <name>}}, or move it to that workload's namespace", p.obj))
}

// labelString formats labels as "{k=v,...}".
func labelString(m map[string]string) string {
	return "{" + labels.Set(m).String() + "}"
}

// peersMatchNothing reports the selector peers of r that match no
// workload, or whose namespaceSelector matches no namespace.
func (l *linter) peersMatchNothing(r rule) {
	p := r.pol
	for j, peer := range r.peers {
		if peer.IPBlock != nil {
			continue
		}
		// Peers repeat across policies (DNS, monitoring): match each once.
		key := r.sels[j].key
		if peer.NamespaceSelector == nil {
			key += "|" + p.Namespace
		}
		m, ok := l.memo.peerMatches[key]
		if !ok {
			m = len(l.peerPods(p, r.sels[j], true)) > 0
			l.memo.peerMatches[key] = m
		}
		if m {
			continue
		}
		var msg, note string
		if peer.NamespaceSelector != nil {
			nsSel, err := metav1.LabelSelectorAsSelector(peer.NamespaceSelector)
			if err != nil || l.mayMatchOutside(nsSel) {
				continue
			}
			names := l.namespacesMatching(nsSel)
			if len(names) == 0 {
				msg = fmt.Sprintf("namespaceSelector %s matches no namespace (namespaces in the input: %s; undeclared ones carry only the %s label)",
					selectorString(peer.NamespaceSelector), list(l.nsNames, 5), manifest.MetadataNameLabel)
			} else {
				msg = fmt.Sprintf("namespaceSelector %s matches namespace(s) %s, but podSelector %s matches no workload in them",
					selectorString(peer.NamespaceSelector), list(names, 3), selectorString(peer.PodSelector))
				note = l.operatorNote(names...)
			}
		} else {
			msg = fmt.Sprintf("podSelector %s matches no workload in namespace %s (without namespaceSelector a podSelector selects only the policy's namespace)",
				selectorString(peer.PodSelector), p.Namespace)
			note = l.operatorNote(p.Namespace)
		}
		l.reportSev(rulePeerMatchesNothing, noteSeverity(rulePeerMatchesNothing, note), p.Source.File, p.Line(r.peerPath(j)), p.obj,
			fmt.Sprintf("%s of %s: %s; this peer allows nothing%s", r.peerPath(j), p.obj, msg, note),
			fmt.Sprintf("make %s of %s match the intended peer's pod labels and namespace labels (add namespaceSelector: {matchLabels: {%s: <ns>}} for pods in another namespace)",
				r.peerPath(j), p.obj, manifest.MetadataNameLabel))
	}
}

// mayMatchOutside reports whether sel names, by kubernetes.io/metadata.name,
// a namespace the input does not contain: what runs there is unknown.
func (l *linter) mayMatchOutside(sel labels.Selector) bool {
	reqs, _ := sel.Requirements()
	for _, r := range reqs {
		if r.Key() != manifest.MetadataNameLabel {
			continue
		}
		switch r.Operator() {
		case selection.Equals, selection.DoubleEquals, selection.In:
			for v := range r.Values() {
				if _, ok := l.nsLabels[v]; !ok {
					return true
				}
			}
		}
	}
	return false
}

// namedPorts reports named ports of r that resolve on none of the
// destinations r can reach.
func (l *linter) namedPorts(r rule) {
	var named []int
	for k, port := range r.ports {
		if port.Port != nil && port.Port.Type == intstr.String {
			named = append(named, k)
		}
	}
	if len(named) == 0 {
		return
	}
	p := r.pol
	for _, k := range named {
		port := &r.ports[k]
		name, proto := port.Port.StrVal, protocol(port)
		resolved, ok := l.resolvesFast(r, name, proto)
		if !ok {
			return
		}
		if resolved {
			continue
		}
		// The index found no destination resolving it; list the
		// workloads the rule reaches, and explain.
		dests, external, _ := l.destinations(r)
		if len(dests) == 0 && !external {
			continue // reported as a policy or peer that selects nothing
		}
		resolved, why := resolves(dests, name, proto)
		if resolved {
			continue
		}
		if external {
			why = append(why, "addresses outside the cluster have no port names")
		}
		l.report(ruleNamedPortUnresolved, p.Source.File, p.Line(r.portPath(k)), p.obj,
			fmt.Sprintf("%s of %s: named port %q (%s) resolves on none of the destinations the rule reaches, so it allows nothing: %s",
				r.portPath(k), p.obj, name, proto, list(why, 3)),
			fmt.Sprintf("in %s use the destination's containerPort name with its protocol (ports: [{port: <name>, protocol: <TCP|UDP|SCTP>}]) or a port number", r.portPath(k)))
	}
}

// resolvesFast reports whether a workload that destinations(r) gives has a container port named name with protocol proto, looking only
// at the workloads and label groups with such a port. ok is false when
// destinations says the destinations are unknowable.
func (l *linter) resolvesFast(r rule, name string, proto portset.Protocol) (resolved, ok bool) {
	k := portName{name, proto.String()}
	hasPort := func(g *labelGroup) bool { return g.named[k] }
	if r.dir == netpol.Ingress {
		return slices.ContainsFunc(r.pol.selected, hasPort), true
	}
	inGroups := func(nss []string, sel labels.Selector) bool {
		for _, ns := range nss {
			if l.namedGroupMatches(k, ns, sel) {
				return true
			}
		}
		return false
	}
	own := []string{r.pol.Namespace}
	if len(r.peers) == 0 {
		return len(l.named[k]) > 0, true
	}
	for _, peer := range r.peers {
		if peer.IPBlock != nil && !l.set.PodIPsKnown {
			return false, false
		}
	}
	for j, peer := range r.peers {
		if peer.IPBlock != nil {
			block, err := blockSet(peer.IPBlock)
			if err != nil {
				continue
			}
			for _, w := range l.named[k] {
				if slices.ContainsFunc(w.IPs, block.Contains) {
					return true, true
				}
			}
			continue
		}
		ps := r.sels[j]
		if ps.pod == nil || (ps.inNamespaces && ps.ns == nil) {
			continue
		}
		nss := own
		if ps.inNamespaces {
			nss = l.namespacesMatching(ps.ns)
		}
		if inGroups(nss, ps.pod) {
			return true, true
		}
	}
	return false, true
}

// namedGroupMatches reports whether sel matches a label group of
// namespace ns with a named port k, testing the groups with such a port
// or, when fewer, the index's candidates.
func (l *linter) namedGroupMatches(k portName, ns string, sel labels.Selector) bool {
	named := l.namedGroups[k][ns]
	if len(named) == 0 {
		return false
	}
	if cand, ok := l.index.candidates(ns, sel); ok && len(cand) < len(named) {
		gs := l.groups[ns]
		return slices.ContainsFunc(cand, func(i int32) bool { return gs[i].named[k] && sel.Matches(gs[i].labels) })
	}
	return slices.ContainsFunc(named, func(g *labelGroup) bool { return sel.Matches(g.labels) })
}

// resolves reports whether some workload of dests has a container port
// named name with protocol proto, and otherwise why, per workload.
func resolves(dests []*manifest.Workload, name string, proto portset.Protocol) (bool, []string) {
	var why []string
	for _, w := range dests {
		var other []string
		for _, cp := range w.Ports {
			if cp.Name != name {
				continue
			}
			if string(cp.Protocol) == proto.String() {
				return true, nil
			}
			other = append(other, fmt.Sprintf("%d/%s", cp.Port, cp.Protocol))
		}
		if len(other) > 0 {
			why = append(why, fmt.Sprintf("%s has %q as %s", w.ID(), name, strings.Join(other, ", ")))
		} else {
			why = append(why, fmt.Sprintf("%s has no port named %q", w.ID(), name))
		}
	}
	return false, why
}

// destinations returns the workloads r can reach (ingress: the workloads
// its policy selects; egress: those its peers match, all of them without
// peers), in the order the engine lists their endpoints (input order, peer
// by peer), and whether addresses outside the cluster are among them. ok
// is false when that is unknowable: an egress ipBlock peer without pod
// IPs. Selectors are matched against the label groups.
func (l *linter) destinations(r rule) (dests []*manifest.Workload, external, ok bool) {
	seen := map[*manifest.Workload]bool{}
	add := func(ws ...*manifest.Workload) {
		for _, w := range ws {
			if !seen[w] {
				seen[w] = true
				dests = append(dests, w)
			}
		}
	}
	if r.dir == netpol.Ingress {
		return l.inputOrder(l.matchPods(r.pol.Namespace, r.pol.sel, false)), false, true
	}
	if len(r.peers) == 0 {
		return l.set.Workloads, true, true
	}
	for j, peer := range r.peers {
		if peer.IPBlock == nil {
			add(l.inputOrder(l.peerPods(r.pol, r.sels[j], false))...)
			continue
		}
		if !l.set.PodIPsKnown {
			return nil, false, false
		}
		external = true
		block, err := blockSet(peer.IPBlock)
		if err != nil {
			continue
		}
		for _, w := range l.set.Workloads {
			if slices.ContainsFunc(w.IPs, block.Contains) {
				add(w)
			}
		}
	}
	return dests, external, true
}

// inputOrder sorts ws, workloads of the input, in input order.
func (l *linter) inputOrder(ws []*manifest.Workload) []*manifest.Workload {
	slices.SortFunc(ws, func(a, b *manifest.Workload) int { return cmp.Compare(l.position[a], l.position[b]) })
	return ws
}

// blockSet returns the addresses of an ipBlock: cidr minus excepts.
func blockSet(b *networkingv1.IPBlock) (ipset.Set, error) {
	p, err := ipset.ParsePrefix(b.CIDR)
	if err != nil {
		return ipset.Set{}, err
	}
	var holes []ipset.Range
	for _, e := range b.Except {
		ep, err := ipset.ParsePrefix(e)
		if err != nil {
			return ipset.Set{}, err
		}
		holes = append(holes, ipset.FromPrefix(ep))
	}
	return ipset.Of(ipset.FromPrefix(p)).Subtract(ipset.Of(holes...)), nil
}

// shadowed reports rules covered by another single rule of the same
// direction, within a policy or across policies of one namespace with the
// same podSelector.
func (l *linter) shadowed() {
	// The rules of each policy by direction, and the key of the group
	// they join.
	type policyRules struct {
		key   string
		rules []*cmpRule
	}
	byPolicy := make([][2]policyRules, len(l.pols))
	forEach(len(l.pols), func(i int) {
		p := l.pols[i]
		for _, d := range directions {
			for _, r := range p.rules(d) {
				byPolicy[i][d].rules = append(byPolicy[i][d].rules, newCmpRule(r))
			}
			if len(byPolicy[i][d].rules) > 0 {
				byPolicy[i][d].key = p.Namespace + "\x00" + p.selKey + "\x00" + d.String()
			}
		}
	})
	groups := map[string][]*cmpRule{}
	var order []string
	for i := range l.pols {
		for _, pr := range byPolicy[i] {
			if len(pr.rules) == 0 {
				continue
			}
			if groups[pr.key] == nil {
				order = append(order, pr.key)
			}
			groups[pr.key] = append(groups[pr.key], pr.rules...)
		}
	}
	l.checkAll(len(order), func(c *linter, i int) {
		rs := groups[order[i]]
		for bi, b := range rs {
			for ai, a := range rs {
				if ai == bi || !a.covers(b) || (b.covers(a) && ai > bi) {
					continue
				}
				c.reportShadowed(b.rule, a.rule, len(a.peers) == 0, a.ports.all)
				break
			}
		}
	})
}

// cmpRule is a rule as shadowed compares it.
type cmpRule struct {
	rule
	peers map[string]bool // peer keys; empty: every peer
	ports portsSpec
}

func newCmpRule(r rule) *cmpRule {
	cr := &cmpRule{rule: r, peers: map[string]bool{}, ports: compilePorts(r.ports)}
	for _, ps := range r.sels {
		cr.peers[ps.key] = true
	}
	return cr
}

// covers reports whether a allows every peer and port b does.
func (a *cmpRule) covers(b *cmpRule) bool {
	if len(a.peers) > 0 {
		if len(b.peers) == 0 {
			return false
		}
		for k := range b.peers {
			if !a.peers[k] {
				return false
			}
		}
	}
	return a.ports.covers(b.ports)
}

func (l *linter) reportShadowed(b, a rule, anyPeer, anyPort bool) {
	by := a.path()
	if a.pol != b.pol {
		by += " of " + a.pol.obj
	}
	var why []string
	if anyPeer {
		why = append(why, fmt.Sprintf("it has no %s (every peer)", a.peerWord()))
	} else {
		why = append(why, fmt.Sprintf("its %s includes every peer of this one", a.peerWord()))
	}
	if anyPort {
		why = append(why, "no ports (every port)")
	} else {
		why = append(why, "its ports include all of this one's")
	}
	p := b.pol
	l.report(ruleRuleShadowed, p.Source.File, p.Line(b.path()), p.obj,
		fmt.Sprintf("%s of %s is shadowed by %s: %s, so this rule allows nothing more", b.path(), p.obj, by, strings.Join(why, " and ")),
		fmt.Sprintf("delete %s from %s, or narrow %s if it allows more than intended", b.path(), p.obj, by))
}

// peerKey identifies what a peer matches, comparing selectors by meaning
// rather than text: matchLabels {a: b} and the expression a In (b) agree.
func peerKey(peer networkingv1.NetworkPolicyPeer) string {
	switch {
	case peer.IPBlock != nil:
		b, err := blockSet(peer.IPBlock)
		if err != nil {
			return "ip|invalid:" + peer.IPBlock.String()
		}
		return "ip|" + b.String()
	case peer.NamespaceSelector != nil:
		return "ns|" + canonical(peer.NamespaceSelector) + "|" + canonical(peer.PodSelector)
	}
	return "pod|" + canonical(peer.PodSelector)
}

// canonical returns a string equal for label selectors that select the
// same labels by the same requirements, written either way: matchLabels
// {a: b} and the expression a In (b) agree. nil and {} both give "".
func canonical(ls *metav1.LabelSelector) string {
	if ls == nil {
		return ""
	}
	s, err := metav1.LabelSelectorAsSelector(ls)
	if err != nil {
		return invalidKey(ls)
	}
	return selectorKey(s)
}

// invalidKey is canonical for a selector that does not convert.
func invalidKey(ls *metav1.LabelSelector) string { return "invalid:" + ls.String() }

// selectorKey is canonical for the converted selector s.
func selectorKey(s labels.Selector) string {
	reqs, _ := s.Requirements()
	parts := make([]string, len(reqs))
	for i, r := range reqs {
		parts[i] = r.String()
		if (r.Operator() == selection.In || r.Operator() == selection.DoubleEquals) && r.Values().Len() == 1 {
			parts[i] = r.Key() + "=" + r.Values().List()[0]
		}
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}
