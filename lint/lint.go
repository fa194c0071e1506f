package lint

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/wardsec/ward/finding"
	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/netpol"
	"github.com/wardsec/ward/portset"
)

// Run checks the NetworkPolicies and workloads of set, which eng must have
// been compiled from, and returns the findings sorted with finding.Sort.
func Run(set *manifest.Set, eng *netpol.Engine) []finding.Finding {
	return finding.Sort(newLinter(set, eng).run())
}

// run runs every check and returns the findings in the order found.
func (l *linter) run() []finding.Finding {
	l.input()
	l.namespaces()
	l.workloads()
	l.policies()
	return l.out
}

// linter holds what the checks share: the input, the engine, each
// policy's selectors, rules and isolated directions computed once, and
// indexes of the workloads. The checks only read it, but for out and memo
// (see checkAll).
type linter struct {
	set *manifest.Set
	eng *netpol.Engine
	// position is the index of each workload in set.Workloads.
	position map[*manifest.Workload]int
	pols     []*policy
	// polsByNS are the policies of each namespace, in input order.
	polsByNS map[string][]*policy
	// nsLabels are the labels of every namespace the engine knows:
	// declared ones and those workloads live in; nsNames their sorted
	// names.
	nsLabels map[string]labels.Set
	nsNames  []string
	// groups are the non-hostNetwork workloads of each namespace grouped
	// by labels, which no selector can tell apart: selectors are matched
	// once per group, not once per workload.
	groups map[string][]*labelGroup
	// byNS are the workloads of each namespace, hostNetwork or not, in
	// input order.
	byNS map[string][]*manifest.Workload
	// groupOf is the label group of each non-hostNetwork workload;
	// selecting the policies that select each group, in input order.
	groupOf   map[*manifest.Workload]*labelGroup
	selecting map[*labelGroup][]*policy
	// index finds the groups a selector may match.
	index groupIndex
	// memo is what the checks remember: each goroutine of checkAll has
	// its own.
	memo *memos
	// named indexes, by container port name and protocol, the workloads
	// with such a port (named) and, by namespace, the label groups with
	// one (namedGroups): a named port is resolved by looking only at them.
	named       map[portName][]*manifest.Workload
	namedGroups map[portName]map[string][]*labelGroup
	// names53 are the names of container ports numbered 53.
	names53 map[string]bool
	// custom names the custom resources of the input by namespace ("" for
	// those that name none): operators may create pods from them.
	custom map[string][]string
	out    []finding.Finding
}

// labelGroup is the non-hostNetwork workloads of a namespace with one label
// set.
type labelGroup struct {
	labels    labels.Set
	workloads []*manifest.Workload
	// named are the names and protocols of the workloads' named ports.
	named map[portName]bool
}

// portName is a container port's name and protocol ("TCP", ...).
type portName struct{ name, proto string }

// policy is a manifest policy with what the checks ask of it repeatedly.
type policy struct {
	*manifest.Policy
	obj      string // "ns/NetworkPolicy/name"
	sel      labels.Selector
	isolates [2]bool // by netpol.Direction
	// selKey is the canonical form of the podSelector; peers[d][i][j]
	// is peer j of rule i of direction d compiled.
	selKey string
	peers  [2][][]peerSelectors
	// effective are the rules that take effect, by direction.
	effective [2][]rule
	// selected are the label groups sel matches in the namespace.
	selected []*labelGroup
}

func newLinter(set *manifest.Set, eng *netpol.Engine) *linter {
	l := &linter{
		set: set, eng: eng,
		polsByNS: map[string][]*policy{},
		nsLabels: map[string]labels.Set{},
		groups:   map[string][]*labelGroup{},
		custom:   map[string][]string{},
	}
	for _, sk := range set.Skipped {
		if sk.CustomResource() {
			l.custom[sk.Namespace] = append(l.custom[sk.Namespace], sk.APIVersion+" "+sk.Kind+" "+sk.Name)
		}
	}
	for _, ns := range set.Namespaces {
		ls := labels.Set{}
		maps.Copy(ls, ns.Labels)
		ls[manifest.MetadataNameLabel] = ns.Name
		l.nsLabels[ns.Name] = ls
	}
	l.groupWorkloads()
	l.nsNames = slices.Sorted(maps.Keys(l.nsLabels))
	l.index = newGroupIndex(l.nsNames, l.groups)
	l.memo = newMemos()
	l.indexNamedPorts()
	l.pols = make([]*policy, len(set.Policies))
	parallel(len(set.Policies), newCompiler, func(c *compiler, _, lo, hi int) {
		for i := lo; i < hi; i++ {
			l.pols[i] = c.policy(set.Policies[i])
		}
	})
	for _, p := range l.pols {
		l.polsByNS[p.Namespace] = append(l.polsByNS[p.Namespace], p)
	}
	l.indexSelecting()
	return l
}

// indexSelecting fills each policy's selected groups and selecting,
// matching podSelectors against the label groups through the index.
func (l *linter) indexSelecting() {
	forEach(len(l.pols), func(i int) {
		p := l.pols[i]
		p.selected = l.matchGroups(p.Namespace, p.sel, false)
	})
	l.selecting = map[*labelGroup][]*policy{}
	for _, p := range l.pols {
		for _, g := range p.selected {
			l.selecting[g] = append(l.selecting[g], p)
		}
	}
}

// groupWorkloads numbers the workloads (position), lists them by
// namespace (byNS), adds the namespaces they live in to nsLabels, and
// groups them by labels (groups, groupOf).
func (l *linter) groupWorkloads() {
	l.position = make(map[*manifest.Workload]int, len(l.set.Workloads))
	l.groupOf = make(map[*manifest.Workload]*labelGroup, len(l.set.Workloads))
	l.byNS = map[string][]*manifest.Workload{}
	keys := make([]string, len(l.set.Workloads))
	forEach(len(keys), func(i int) {
		w := l.set.Workloads[i]
		keys[i] = w.Namespace + "\x00" + labels.Set(w.Labels).String()
	})
	byKey := map[string]*labelGroup{}
	for i, w := range l.set.Workloads {
		l.position[w] = i
		l.byNS[w.Namespace] = append(l.byNS[w.Namespace], w)
		if _, ok := l.nsLabels[w.Namespace]; !ok {
			l.nsLabels[w.Namespace] = labels.Set{manifest.MetadataNameLabel: w.Namespace}
		}
		if w.HostNetwork {
			continue
		}
		g := byKey[keys[i]]
		if g == nil {
			g = &labelGroup{labels: labels.Set(w.Labels)}
			byKey[keys[i]] = g
			l.groups[w.Namespace] = append(l.groups[w.Namespace], g)
		}
		g.workloads = append(g.workloads, w)
		l.groupOf[w] = g
	}
}

// indexNamedPorts fills named, namedGroups and names53.
func (l *linter) indexNamedPorts() {
	l.named, l.namedGroups = map[portName][]*manifest.Workload{}, map[portName]map[string][]*labelGroup{}
	l.names53 = map[string]bool{}
	for _, w := range l.set.Workloads {
		for _, cp := range w.Ports {
			if cp.Name == "" {
				continue
			}
			k := portName{cp.Name, string(cp.Protocol)}
			// w's ports are indexed together: w is last if already in.
			if ws := l.named[k]; len(ws) == 0 || ws[len(ws)-1] != w {
				l.named[k] = append(ws, w)
			}
			if cp.Port == 53 {
				l.names53[cp.Name] = true
			}
		}
	}
	for _, ns := range l.nsNames {
		for _, g := range l.groups[ns] {
			seen := map[portName]bool{}
			g.named = seen
			for _, w := range g.workloads {
				for _, cp := range w.Ports {
					if k := (portName{cp.Name, string(cp.Protocol)}); cp.Name != "" && !seen[k] {
						seen[k] = true
						if l.namedGroups[k] == nil {
							l.namedGroups[k] = map[string][]*labelGroup{}
						}
						l.namedGroups[k][ns] = append(l.namedGroups[k][ns], g)
					}
				}
			}
		}
	}
}

// isolates applies the API's policyTypes defaulting: Ingress always, Egress
// only when the spec has egress rules.
func isolates(spec *networkingv1.NetworkPolicySpec) [2]bool {
	var iso [2]bool
	if len(spec.PolicyTypes) == 0 {
		return [2]bool{true, len(spec.Egress) > 0}
	}
	for _, t := range spec.PolicyTypes {
		switch t {
		case networkingv1.PolicyTypeIngress:
			iso[netpol.Ingress] = true
		case networkingv1.PolicyTypeEgress:
			iso[netpol.Egress] = true
		}
	}
	return iso
}

// rule is one ingress or egress rule of a policy, direction-neutral.
type rule struct {
	pol   *policy
	dir   netpol.Direction
	index int
	peers []networkingv1.NetworkPolicyPeer
	ports []networkingv1.NetworkPolicyPort
	// sels are the compiled peers.
	sels []peerSelectors
}

// rules returns the rules of direction d that take effect: none when the
// policy does not isolate d (the API ignores them). Callers must not
// change the slice.
func (p *policy) rules(d netpol.Direction) []rule { return p.effective[d] }

// effectiveRules lists the rules of p that take effect, by direction.
func (p *policy) effectiveRules() [2][]rule {
	var out [2][]rule
	if p.isolates[netpol.Ingress] {
		for i, r := range p.Spec.Ingress {
			out[netpol.Ingress] = append(out[netpol.Ingress], rule{p, netpol.Ingress, i, r.From, r.Ports, p.peers[netpol.Ingress][i]})
		}
	}
	if p.isolates[netpol.Egress] {
		for i, r := range p.Spec.Egress {
			out[netpol.Egress] = append(out[netpol.Egress], rule{p, netpol.Egress, i, r.To, r.Ports, p.peers[netpol.Egress][i]})
		}
	}
	return out
}

// path is the rule's field path, "spec.ingress[0]".
func (r rule) path() string { return fmt.Sprintf("spec.%s[%d]", r.dir, r.index) }

// peerPath is the field path of peer j, "spec.ingress[0].from[1]".
func (r rule) peerPath(j int) string {
	if r.dir == netpol.Ingress {
		return fmt.Sprintf("%s.from[%d]", r.path(), j)
	}
	return fmt.Sprintf("%s.to[%d]", r.path(), j)
}

// portPath is the field path of port k, "spec.ingress[0].ports[2]".
func (r rule) portPath(k int) string { return fmt.Sprintf("%s.ports[%d]", r.path(), k) }

// peerWord is "from" for ingress, "to" for egress.
func (r rule) peerWord() string {
	if r.dir == netpol.Ingress {
		return "from"
	}
	return "to"
}

// allowsAll reports whether the rule allows every peer on every port.
func (r rule) allowsAll() bool { return len(r.peers) == 0 && len(r.ports) == 0 }

// selects reports whether p selects w by labels, hostNetwork or not.
func (p *policy) selects(w *manifest.Workload) bool {
	return p.Namespace == w.Namespace && p.sel.Matches(labels.Set(w.Labels))
}

// isolating returns the policies that select w and isolate direction d,
// in input order.
func (l *linter) isolating(w *manifest.Workload, d netpol.Direction) []*policy {
	pols := l.polsByNS[w.Namespace]
	if g := l.groupOf[w]; g != nil {
		pols = l.selecting[g]
	}
	var out []*policy
	for _, p := range pols {
		if p.isolates[d] && p.selects(w) {
			out = append(out, p)
		}
	}
	return out
}

// matchPods returns the non-hostNetwork workloads of namespace ns that sel
// matches, in groups of equal labels; with first, only the first group.
func (l *linter) matchPods(ns string, sel labels.Selector, first bool) []*manifest.Workload {
	var out []*manifest.Workload
	for _, g := range l.matchGroups(ns, sel, first) {
		out = append(out, g.workloads...)
	}
	return out
}

// matchGroups returns the label groups of namespace ns that sel matches,
// in order; with first, only the first one. The index gives the
// candidates.
func (l *linter) matchGroups(ns string, sel labels.Selector, first bool) []*labelGroup {
	gs := l.groups[ns]
	var out []*labelGroup
	match := func(g *labelGroup) bool {
		if sel.Matches(g.labels) {
			out = append(out, g)
		}
		return first && len(out) > 0
	}
	if cand, ok := l.index.candidates(ns, sel); ok {
		for _, i := range cand {
			if match(gs[i]) {
				break
			}
		}
		return out
	}
	for _, g := range gs {
		if match(g) {
			break
		}
	}
	return out
}

// peerPods returns the non-hostNetwork workloads a podSelector or
// namespaceSelector peer of p matches; with first, stops at the first
// group that matches. ipBlock peers and those whose selectors do not
// convert match none.
func (l *linter) peerPods(p *policy, peer peerSelectors, first bool) []*manifest.Workload {
	if peer.pod == nil {
		return nil
	}
	if !peer.inNamespaces {
		return l.matchPods(p.Namespace, peer.pod, first)
	}
	if peer.ns == nil {
		return nil
	}
	var out []*manifest.Workload
	for _, ns := range l.namespacesMatching(peer.ns) {
		out = append(out, l.matchPods(ns, peer.pod, first)...)
		if first && len(out) > 0 {
			break
		}
	}
	return out
}

// namespacesMatching returns the sorted names of the namespaces sel
// matches.
func (l *linter) namespacesMatching(sel labels.Selector) []string {
	key := sel.String()
	if names, ok := l.memo.nsMatch[key]; ok {
		return names
	}
	var names []string
	for _, ns := range l.nsNames {
		if sel.Matches(l.nsLabels[ns]) {
			names = append(names, ns)
		}
	}
	l.memo.nsMatch[key] = names
	return names
}

// operatorNote says, for a selector that matches no workload in the
// namespaces nss, that custom resources there may create pods it matches,
// which the input does not show; "" when the input has none there.
func (l *linter) operatorNote(nss ...string) string {
	var crs []string
	where := ""
	for _, ns := range nss {
		if len(l.custom[ns]) > 0 && where == "" {
			where = ns
		}
		crs = append(crs, l.custom[ns]...)
	}
	crs = append(crs, l.custom[""]...)
	if len(crs) == 0 {
		return ""
	}
	in := "the input"
	if where != "" {
		in = "namespace " + where
	}
	return fmt.Sprintf("; but the input holds custom resources in %s (%s) whose operators may create pods it matches, which Ward cannot see: "+
		"info only, check the labels the operator gives its pods", in, list(crs, 3))
}

// noteSeverity is the severity of a finding about a selector that matches
// nothing: info when operatorNote has something to say.
func noteSeverity(id, note string) finding.Severity {
	if note != "" {
		return finding.Info
	}
	r, _ := Lookup(id)
	return r.Severity
}

// report appends a finding of rule id with its default severity.
func (l *linter) report(id, file string, line int, object, msg, fix string) {
	r, _ := Lookup(id)
	l.reportSev(id, r.Severity, file, line, object, msg, fix)
}

func (l *linter) reportSev(id string, sev finding.Severity, file string, line int, object, msg, fix string) {
	l.out = append(l.out, finding.Finding{
		Rule: id, Severity: sev, File: file, Line: line,
		Object: object, Message: msg, Fix: fix,
	})
}

// selectorString formats a label selector for messages: "{}" for the empty
// selector, else its requirements, "{app=web,tier in (a,b)}".
func selectorString(ls *metav1.LabelSelector) string {
	if ls == nil {
		return "{}"
	}
	s, err := metav1.LabelSelectorAsSelector(ls)
	if err != nil {
		return "{invalid}"
	}
	return "{" + s.String() + "}"
}

// isEmptySelector reports whether ls selects everything.
func isEmptySelector(ls *metav1.LabelSelector) bool {
	return ls == nil || (len(ls.MatchLabels) == 0 && len(ls.MatchExpressions) == 0)
}

// matchLabelsYAML formats labels as a flow-style matchLabels selector for
// fixes: "{matchLabels: {app: web}}", or "{}" without labels.
func matchLabelsYAML(l map[string]string) string {
	if len(l) == 0 {
		return "{}"
	}
	parts := make([]string, 0, len(l))
	for _, k := range slices.Sorted(maps.Keys(l)) {
		parts = append(parts, k+": "+l[k])
	}
	return "{matchLabels: {" + strings.Join(parts, ", ") + "}}"
}

// list joins names for a message, eliding after max: "a, b, c and 4 more".
func list(names []string, max int) string {
	if len(names) <= max {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:max], ", "), len(names)-max)
}

// portsSpec is a rule's ports before named ports are resolved.
type portsSpec struct {
	all     bool
	numeric portset.Set
	named   map[namedPort]bool
}

type namedPort struct {
	name  string
	proto portset.Protocol
}

func protocol(p *networkingv1.NetworkPolicyPort) portset.Protocol {
	if p.Protocol == nil || *p.Protocol == "" {
		return portset.TCP
	}
	proto, err := portset.ParseProtocol(string(*p.Protocol))
	if err != nil {
		return portset.TCP // unreachable for validated policies
	}
	return proto
}

func compilePorts(ports []networkingv1.NetworkPolicyPort) portsSpec {
	if len(ports) == 0 {
		return portsSpec{all: true}
	}
	ps := portsSpec{named: map[namedPort]bool{}}
	var rs []portset.Range
	for i := range ports {
		p := &ports[i]
		proto := protocol(p)
		switch {
		case p.Port == nil:
			rs = append(rs, portset.Range{Proto: proto, Lo: portset.MinPort, Hi: portset.MaxPort})
		case p.Port.Type == intstr.String:
			ps.named[namedPort{p.Port.StrVal, proto}] = true
		default:
			lo, hi := p.Port.IntVal, p.Port.IntVal
			if p.EndPort != nil {
				hi = *p.EndPort
			}
			if lo < portset.MinPort || hi > portset.MaxPort || hi < lo {
				continue
			}
			rs = append(rs, portset.Range{Proto: proto, Lo: uint16(lo), Hi: uint16(hi)}) // #nosec G115 -- lo and hi are validated to lie in 1..65535 above
		}
	}
	ps.numeric = portset.Of(rs...)
	return ps
}

// covers reports whether every port ps allows on any destination, o allows
// too.
func (ps portsSpec) covers(o portsSpec) bool {
	if ps.all {
		return true
	}
	if o.all || !o.numeric.Subtract(ps.numeric).Empty() {
		return false
	}
	for n := range o.named {
		if !ps.named[n] {
			return false
		}
	}
	return true
}

// allows reports whether ps allows the container port port of a
// destination (named ports resolve on the destination's port names).
func (ps portsSpec) allows(port manifest.Port) bool {
	proto, err := portset.ParseProtocol(string(port.Protocol))
	if err != nil || port.Port < portset.MinPort || port.Port > portset.MaxPort {
		return false
	}
	if ps.all || ps.numeric.Contains(proto, uint16(port.Port)) {
		return true
	}
	return port.Name != "" && ps.named[namedPort{port.Name, proto}]
}
