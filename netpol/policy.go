package netpol

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/wardsec/ward/ipset"
	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/portset"
)

// Direction is the side of a connection a rule governs.
type Direction uint8

// Directions.
const (
	Ingress Direction = iota
	Egress
)

func (d Direction) String() string {
	if d == Ingress {
		return "ingress"
	}
	return "egress"
}

// policy is a compiled NetworkPolicy.
type policy struct {
	id       int32
	src      *manifest.Policy
	ns       string
	sel      labels.Selector
	isolates [2]bool    // by Direction
	rules    [2][]*rule // by Direction
}

// rule is one ingress or egress rule of a policy.
type rule struct {
	id     int32
	policy *policy
	dir    Direction
	index  int
	// all is true when the rule has no peers: it matches every endpoint,
	// in the cluster and outside it.
	all   bool
	peers []*peer
	ports portSpec
}

// peerKind tells how a peer matches.
type peerKind uint8

const (
	peerPods      peerKind = iota // podSelector only: pods in the policy's namespace
	peerNamespace                 // namespaceSelector, optionally AND podSelector
	peerIPBlock                   // ipBlock cidr minus excepts
)

// peer is one deduplicated element of a rule's from or to list.
type peer struct {
	id     int32
	kind   peerKind
	ns     string          // peerPods: the policy's namespace
	nsSel  labels.Selector // peerNamespace
	podSel labels.Selector // peerPods, peerNamespace (Everything when absent)
	block  ipset.Set       // peerIPBlock
	key    string
}

// portSpec is a rule's ports before named ports are resolved.
type portSpec struct {
	all     bool
	numeric portset.Set
	named   []namedPort
}

type namedPort struct {
	name  string
	proto portset.Protocol
}

// resolve returns the ports spec allows on a destination whose container
// ports are dst (nil for an external address).
func (ps *portSpec) resolve(dst map[string][]portset.Range) portset.Set {
	if ps.all {
		return portset.All
	}
	s := ps.numeric
	for _, n := range ps.named {
		for _, r := range dst[n.name] {
			if r.Proto == n.proto {
				s = s.Union(portset.Of(r))
			}
		}
	}
	return s
}

func (ps *portSpec) String() string {
	if ps.all {
		return "all ports"
	}
	parts := []string{}
	if !ps.numeric.Empty() {
		parts = append(parts, ps.numeric.String())
	}
	for _, n := range ps.named {
		parts = append(parts, n.name+"/"+n.proto.String())
	}
	return strings.Join(parts, ", ")
}

func protoOf(p *corev1.Protocol) (portset.Protocol, error) {
	if p == nil || *p == "" {
		return portset.TCP, nil
	}
	return portset.ParseProtocol(string(*p))
}

func compilePorts(ports []networkingv1.NetworkPolicyPort) (portSpec, error) {
	if len(ports) == 0 {
		return portSpec{all: true}, nil
	}
	var ps portSpec
	var rs []portset.Range
	for i, p := range ports {
		proto, err := protoOf(p.Protocol)
		if err != nil {
			return ps, fmt.Errorf("ports[%d]: %w", i, err)
		}
		switch {
		case p.Port == nil:
			rs = append(rs, portset.Range{Proto: proto, Lo: portset.MinPort, Hi: portset.MaxPort})
		case p.Port.Type == intstr.String:
			if p.EndPort != nil {
				return ps, fmt.Errorf("ports[%d]: endPort needs a numeric port", i)
			}
			ps.named = append(ps.named, namedPort{p.Port.StrVal, proto})
		default:
			lo, hi := p.Port.IntVal, p.Port.IntVal
			if p.EndPort != nil {
				hi = *p.EndPort
			}
			if lo < portset.MinPort || hi > portset.MaxPort || hi < lo {
				return ps, fmt.Errorf("ports[%d]: invalid port range %d-%d", i, lo, hi)
			}
			rs = append(rs, portset.Range{Proto: proto, Lo: uint16(lo), Hi: uint16(hi)}) // #nosec G115 -- lo and hi are checked to lie in 1..65535 above
		}
	}
	ps.numeric = portset.Of(rs...)
	return ps, nil
}

// selector converts a label selector; nil means everything (callers decide
// what an absent selector means before calling).
func selector(ls *metav1.LabelSelector) (labels.Selector, error) {
	if ls == nil {
		return labels.Everything(), nil
	}
	return metav1.LabelSelectorAsSelector(ls)
}

func blockSet(b *networkingv1.IPBlock) (ipset.Set, error) {
	p, err := ipset.ParsePrefix(b.CIDR)
	if err != nil {
		return ipset.Set{}, err
	}
	s := ipset.Of(ipset.FromPrefix(p))
	var holes []ipset.Range
	for _, e := range b.Except {
		ep, err := ipset.ParsePrefix(e)
		if err != nil {
			return ipset.Set{}, err
		}
		holes = append(holes, ipset.FromPrefix(ep))
	}
	return s.Subtract(ipset.Of(holes...)), nil
}

// compiler deduplicates peers while policies are compiled.
type compiler struct {
	peers   []*peer
	peerKey map[string]*peer
	rules   []*rule
}

func (c *compiler) peer(pol *policy, np networkingv1.NetworkPolicyPeer) (*peer, error) {
	p := &peer{}
	switch {
	case np.IPBlock != nil:
		if np.PodSelector != nil || np.NamespaceSelector != nil {
			return nil, fmt.Errorf("a peer cannot combine ipBlock with selectors")
		}
		b, err := blockSet(np.IPBlock)
		if err != nil {
			return nil, err
		}
		p.kind, p.block = peerIPBlock, b
		p.key = "ip|" + b.String()
	case np.NamespaceSelector != nil:
		ns, err := selector(np.NamespaceSelector)
		if err != nil {
			return nil, fmt.Errorf("namespaceSelector: %w", err)
		}
		ps, err := selector(np.PodSelector)
		if err != nil {
			return nil, fmt.Errorf("podSelector: %w", err)
		}
		p.kind, p.nsSel, p.podSel = peerNamespace, ns, ps
		p.key = "ns|" + ns.String() + "|" + ps.String()
	case np.PodSelector != nil:
		ps, err := selector(np.PodSelector)
		if err != nil {
			return nil, fmt.Errorf("podSelector: %w", err)
		}
		p.kind, p.ns, p.podSel = peerPods, pol.ns, ps
		p.key = "pod|" + pol.ns + "|" + ps.String()
	default:
		return nil, fmt.Errorf("a peer must set podSelector, namespaceSelector or ipBlock")
	}
	if q, ok := c.peerKey[p.key]; ok {
		return q, nil
	}
	p.id = int32(len(c.peers)) // #nosec G115 -- ids count input objects, far below 2^31
	c.peers = append(c.peers, p)
	c.peerKey[p.key] = p
	return p, nil
}

func (c *compiler) policy(id int32, mp *manifest.Policy) (*policy, error) {
	spec := &mp.Spec
	ns := mp.Namespace
	if ns == "" {
		ns = "default"
	}
	sel, err := metav1.LabelSelectorAsSelector(&spec.PodSelector)
	if err != nil {
		return nil, fmt.Errorf("spec.podSelector: %w", err)
	}
	pol := &policy{id: id, src: mp, ns: ns, sel: sel}
	if len(spec.PolicyTypes) == 0 {
		// The API server's defaulting: Ingress always, Egress only when
		// egress rules are present.
		pol.isolates[Ingress] = true
		pol.isolates[Egress] = len(spec.Egress) != 0
	}
	for _, t := range spec.PolicyTypes {
		switch t {
		case networkingv1.PolicyTypeIngress:
			pol.isolates[Ingress] = true
		case networkingv1.PolicyTypeEgress:
			pol.isolates[Egress] = true
		default:
			return nil, fmt.Errorf("spec.policyTypes: unknown type %q", t)
		}
	}
	// Rules of a direction the policy does not isolate are ignored, as by
	// the API: an egress section under policyTypes [Ingress] allows nothing
	// and restricts nothing.
	if pol.isolates[Ingress] {
		for i, r := range spec.Ingress {
			ru, err := c.rule(pol, Ingress, i, r.From, r.Ports)
			if err != nil {
				return nil, fmt.Errorf("spec.ingress[%d]: %w", i, err)
			}
			pol.rules[Ingress] = append(pol.rules[Ingress], ru)
		}
	}
	if pol.isolates[Egress] {
		for i, r := range spec.Egress {
			ru, err := c.rule(pol, Egress, i, r.To, r.Ports)
			if err != nil {
				return nil, fmt.Errorf("spec.egress[%d]: %w", i, err)
			}
			pol.rules[Egress] = append(pol.rules[Egress], ru)
		}
	}
	return pol, nil
}

func (c *compiler) rule(pol *policy, dir Direction, index int, peers []networkingv1.NetworkPolicyPeer, ports []networkingv1.NetworkPolicyPort) (*rule, error) {
	r := &rule{id: int32(len(c.rules)), policy: pol, dir: dir, index: index, all: len(peers) == 0} // #nosec G115 -- ids count input objects, far below 2^31
	ps, err := compilePorts(ports)
	if err != nil {
		return nil, err
	}
	r.ports = ps
	seen := map[int32]bool{}
	for i, np := range peers {
		p, err := c.peer(pol, np)
		if err != nil {
			return nil, fmt.Errorf("peer %d: %w", i, err)
		}
		if !seen[p.id] {
			seen[p.id] = true
			r.peers = append(r.peers, p)
		}
	}
	c.rules = append(c.rules, r)
	return r, nil
}
