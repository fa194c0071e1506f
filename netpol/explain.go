package netpol

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/portset"
)

// Explanation is the verdict on one flow and the reasons for it.
type Explanation struct {
	From string `json:"from"`
	To   string `json:"to"`
	// Port is the queried port ("5432/TCP"), empty when any port was asked.
	Port string `json:"port,omitempty"`
	// Allowed is true when the queried port (or, without one, any port) is
	// allowed.
	Allowed bool `json:"allowed"`
	// AllowedPorts is everything allowed from From to To, as JSON: protocol
	// to inclusive port ranges.
	AllowedPorts portset.Set `json:"allowedPorts"`
	Egress       Side        `json:"egress"`
	Ingress      Side        `json:"ingress"`
}

// Side explains one direction: the source's egress or the destination's
// ingress.
type Side struct {
	Direction string `json:"direction"`
	Endpoint  string `json:"endpoint"`
	Isolated  bool   `json:"isolated"`
	// Allows reports whether this side lets the queried flow through.
	Allows bool `json:"allows"`
	// Note says why the side is not isolated, when it is not.
	Note     string          `json:"note,omitempty"`
	Policies []PolicyVerdict `json:"policies,omitempty"`
	Ports    portset.Set     `json:"ports"`
}

// PolicyVerdict is how one policy selecting the endpoint treats the flow.
type PolicyVerdict struct {
	Policy string        `json:"policy"`
	File   string        `json:"file,omitempty"`
	Line   int           `json:"line,omitempty"`
	Rules  []RuleVerdict `json:"rules"`
}

// RuleVerdict is how one rule treats the flow.
type RuleVerdict struct {
	Index int `json:"index"`
	Line  int `json:"line,omitempty"`
	// PeerMatches is true when the rule's from/to admits the remote end.
	PeerMatches bool `json:"peerMatches"`
	// Peer explains which peer matched, or why none did.
	Peer string `json:"peer"`
	// Ports is the rule's port list as written.
	Ports string `json:"ports"`
	// Allowed is what the rule allows to the destination when the peer
	// matches (named ports resolved).
	Allowed portset.Set `json:"allowed"`
	// Applies is true when this rule allows the queried flow.
	Applies bool   `json:"applies"`
	Reason  string `json:"reason"`
}

// Explain returns the verdict on connections from src to dst and why. When
// q is not empty, the verdict is about those ports (usually one); else it
// is about any port.
func (e *Engine) Explain(src, dst *Endpoint, q portset.Set) *Explanation {
	x := &Explanation{From: src.ID, To: dst.ID}
	if !q.Empty() {
		x.Port = q.String()
	}
	x.Egress = e.side(Egress, src, dst, q)
	x.Ingress = e.side(Ingress, dst, src, q)
	x.AllowedPorts = x.Egress.Ports.Intersect(x.Ingress.Ports)
	if src.IsExternal() && dst.IsExternal() {
		x.AllowedPorts = portset.Set{}
		x.Egress.Note = "traffic between two external addresses is outside the cluster"
	}
	if q.Empty() {
		x.Allowed = !x.AllowedPorts.Empty()
	} else {
		x.Allowed = x.AllowedPorts.Intersect(q).Equal(q)
	}
	x.Egress.Allows = sideAllows(x.Egress.Ports, q)
	x.Ingress.Allows = sideAllows(x.Ingress.Ports, q)
	return x
}

func sideAllows(p, q portset.Set) bool {
	if q.Empty() {
		return !p.Empty()
	}
	return p.Intersect(q).Equal(q)
}

// side explains direction d of endpoint self towards remote. For egress,
// self is the source; for ingress, the destination. Ports are always
// resolved on the destination.
func (e *Engine) side(d Direction, self, remote *Endpoint, q portset.Set) Side {
	s := Side{Direction: d.String(), Endpoint: self.ID, Isolated: self.class.iso[d]}
	dst := self
	if d == Egress {
		dst = remote
	}
	if !s.Isolated {
		s.Ports = portset.All
		switch {
		case self.IsExternal():
			s.Note = "external address: no policy applies"
		case self.Workload.HostNetwork:
			s.Note = "hostNetwork pod: NetworkPolicy does not protect it"
		default:
			s.Note = fmt.Sprintf("no policy selects it for %s, so %s is not restricted", d, d)
		}
		return s
	}
	for _, pid := range self.class.policies[d] {
		pol := e.policies[pid]
		pv := PolicyVerdict{
			Policy: pol.ns + "/" + pol.src.Name,
			File:   pol.src.Source.File,
			Line:   pol.src.Source.Line,
		}
		for _, r := range pol.rules[d] {
			rv := RuleVerdict{Index: r.index, Line: pol.src.Line(fmt.Sprintf("spec.%s[%d]", d, r.index)), Ports: r.ports.String()}
			rv.PeerMatches, rv.Peer = e.peerVerdict(pol, d, r, remote)
			if rv.PeerMatches {
				rv.Allowed = r.ports.resolve(dst.class.ports)
				s.Ports = s.Ports.Union(rv.Allowed)
				rv.Applies = sideAllows(rv.Allowed, q)
				rv.Reason = e.portReason(r, dst, rv.Allowed, q)
			} else {
				rv.Reason = "peer does not match"
			}
			pv.Rules = append(pv.Rules, rv)
		}
		s.Policies = append(s.Policies, pv)
	}
	return s
}

func (e *Engine) portReason(r *rule, dst *Endpoint, allowed, q portset.Set) string {
	var missing []string
	for _, n := range r.ports.named {
		found := false
		for _, rg := range dst.class.ports[n.name] {
			if rg.Proto == n.proto {
				found = true
			}
		}
		if !found {
			var other []string
			if dst.Workload != nil {
				for _, p := range dst.Workload.Ports {
					if p.Name == n.name {
						other = append(other, fmt.Sprintf("%d/%s", p.Port, p.Protocol))
					}
				}
			}
			switch {
			case dst.IsExternal():
				missing = append(missing, fmt.Sprintf("named port %q cannot resolve on an external address", n.name))
			case len(other) > 0:
				missing = append(missing, fmt.Sprintf("named port %q is %s on %s but the rule says %s", n.name, strings.Join(other, ", "), dst.ID, n.proto))
			default:
				missing = append(missing, fmt.Sprintf("%s has no container port named %q", dst.ID, n.name))
			}
		}
	}
	var b strings.Builder
	switch {
	case allowed.Empty():
		b.WriteString("rule allows no port on this destination")
	case q.Empty():
		b.WriteString("allows " + allowed.String())
	case sideAllows(allowed, q):
		b.WriteString("allows " + q.String())
	default:
		b.WriteString(fmt.Sprintf("%s is not among the rule's ports (%s)", q, allowed))
	}
	if len(missing) > 0 {
		b.WriteString("; " + strings.Join(missing, "; "))
	}
	return b.String()
}

// peerVerdict tells whether rule r of pol admits remote, and why.
func (e *Engine) peerVerdict(pol *policy, d Direction, r *rule, remote *Endpoint) (bool, string) {
	word := "from"
	if d == Egress {
		word = "to"
	}
	if r.all {
		return true, fmt.Sprintf("rule has no %q: any peer, in the cluster or outside", word)
	}
	var why []string
	for i, p := range r.peers {
		ok, reason := e.peerMatch(pol, p, remote)
		if ok {
			return true, fmt.Sprintf("%s peer %s matches: %s", word, describePeer(p), reason)
		}
		why = append(why, fmt.Sprintf("peer %d %s: %s", i, describePeer(p), reason))
	}
	return false, strings.Join(why, "; ")
}

func describePeer(p *peer) string {
	switch p.kind {
	case peerPods:
		return fmt.Sprintf("podSelector {%s} (namespace %s)", p.podSel, p.ns)
	case peerNamespace:
		return fmt.Sprintf("namespaceSelector {%s} podSelector {%s}", p.nsSel, p.podSel)
	}
	return "ipBlock " + p.block.Describe()
}

func fmtLabels(l map[string]string) string {
	if len(l) == 0 {
		return "{}"
	}
	parts := make([]string, 0, len(l))
	for _, k := range slices.Sorted(maps.Keys(l)) {
		parts = append(parts, k+"="+l[k])
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// peerMatches is the verdict of peerMatch without its reason, which costs
// more than the verdict (PeerMatches asks about every endpoint).
func (e *Engine) peerMatches(p *peer, remote *Endpoint) bool {
	if p.kind == peerIPBlock {
		return (remote.IsExternal() || len(remote.IPs) > 0) && slices.Contains(remote.ipPeers, p.id)
	}
	if remote.IsExternal() || remote.Workload.HostNetwork {
		return false
	}
	w := remote.Workload
	switch p.kind {
	case peerPods:
		if w.Namespace != p.ns {
			return false
		}
	case peerNamespace:
		if !p.nsSel.Matches(e.nsLabels[w.Namespace]) {
			return false
		}
	}
	return p.podSel.Matches(labels.Set(w.Labels))
}

func (e *Engine) peerMatch(pol *policy, p *peer, remote *Endpoint) (bool, string) {
	if p.kind == peerIPBlock {
		if remote.IsExternal() {
			first := remote.External.Ranges()[0].From
			if slices.Contains(remote.ipPeers, p.id) {
				return true, fmt.Sprintf("contains %s", remote.ID)
			}
			return false, fmt.Sprintf("does not contain %s", first)
		}
		if len(remote.IPs) == 0 {
			return false, fmt.Sprintf("%s has no known pod IP (manifests carry none), so no ipBlock matches it", remote.ID)
		}
		if slices.Contains(remote.ipPeers, p.id) {
			return true, fmt.Sprintf("contains pod IP %s", remote.IPs[0])
		}
		return false, fmt.Sprintf("does not contain pod IP %s", remote.IPs[0])
	}
	if remote.IsExternal() {
		return false, "selectors match pods only; the remote end is an external address"
	}
	w := remote.Workload
	if w.HostNetwork {
		return false, "hostNetwork pods are not matched by selectors (their traffic carries the node's address)"
	}
	switch p.kind {
	case peerPods:
		if w.Namespace != p.ns {
			return false, fmt.Sprintf("without namespaceSelector it selects only namespace %s; %s is in %s", p.ns, w.ID(), w.Namespace)
		}
	case peerNamespace:
		nl := e.nsLabels[w.Namespace]
		if !p.nsSel.Matches(nl) {
			return false, fmt.Sprintf("namespace %s labels %s do not match the namespaceSelector", w.Namespace, fmtLabels(nl))
		}
	}
	if !p.podSel.Matches(labels.Set(w.Labels)) {
		return false, fmt.Sprintf("pod labels %s do not match the podSelector", fmtLabels(w.Labels))
	}
	return true, fmt.Sprintf("%s is in namespace %s with labels %s", w.ID(), w.Namespace, fmtLabels(w.Labels))
}

// Selected returns the workload endpoints pol selects (for either
// direction), in endpoint order. pol must be one of the compiled policies.
func (e *Engine) Selected(pol *manifest.Policy) []*Endpoint {
	cp := e.polOf[pol]
	if cp == nil {
		return nil
	}
	var out []*Endpoint
	for _, ep := range e.endpoints {
		if ep.lclass == nil || ep.lclass.ns != cp.ns {
			continue
		}
		if cp.sel.Matches(ep.lclass.labels) {
			out = append(out, ep)
		}
	}
	return out
}

// PeerMatches returns the workload endpoints that peer j of rule i of
// direction d of pol matches. ok is false for ipBlock peers, which match
// addresses (and pods only through known IPs).
func (e *Engine) PeerMatches(pol *manifest.Policy, d Direction, i, j int) (eps []*Endpoint, ok bool) {
	cp := e.polOf[pol]
	if cp == nil {
		return nil, false
	}
	var np networkingv1.NetworkPolicyPeer
	switch d {
	case Ingress:
		if i >= len(pol.Spec.Ingress) || j >= len(pol.Spec.Ingress[i].From) {
			return nil, false
		}
		np = pol.Spec.Ingress[i].From[j]
	default:
		if i >= len(pol.Spec.Egress) || j >= len(pol.Spec.Egress[i].To) {
			return nil, false
		}
		np = pol.Spec.Egress[i].To[j]
	}
	if np.IPBlock != nil {
		return nil, false
	}
	c := &compiler{peerKey: map[string]*peer{}}
	p, err := c.peer(cp, np)
	if err != nil {
		return nil, false
	}
	for _, ep := range e.endpoints {
		if ep.IsExternal() || ep.Workload.HostNetwork {
			continue
		}
		if e.peerMatches(p, ep) {
			eps = append(eps, ep)
		}
	}
	return eps, true
}
