package refeval

import (
	"net/netip"
	"strconv"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/wardsec/ward/manifest"
)

// Pod is one pod: an instance of a workload. A Pod with Namespace "" is an
// endpoint outside the cluster, known only by its IP.
type Pod struct {
	Namespace   string
	Workload    string // the workload's ID ("ns/Kind/name"); empty for an external endpoint
	Labels      map[string]string
	Ports       []manifest.Port // named container ports live here
	HostNetwork bool
	IP          netip.Addr // the zero Addr when unknown
}

// External returns the external endpoint with address ip.
func External(ip netip.Addr) Pod { return Pod{IP: ip} }

// IsExternal reports whether p stands for an address outside the cluster.
func (p Pod) IsExternal() bool { return p.Namespace == "" }

func (p Pod) String() string {
	name := p.Workload
	if p.IsExternal() {
		name = "external"
	}
	if p.IP.IsValid() {
		name += "@" + p.IP.String()
	}
	if p.HostNetwork {
		name += " (hostNetwork)"
	}
	return name
}

// Evaluator decides flows for one set of namespaces and policies. It is
// safe for concurrent use.
type Evaluator struct {
	nsLabels map[string]map[string]string
	policies []*networkingv1.NetworkPolicy
	// selectors holds every selector of the policies converted once:
	// conversion validates keys and values, which is slow.
	selectors map[*metav1.LabelSelector]labels.Selector
}

// New returns an evaluator for the namespaces and policies of set, as
// package manifest assembled them. Differential tests of the engine use
// FromObjects instead, which shares nothing with that assembly.
func New(set *manifest.Set) *Evaluator {
	nsLabels := make(map[string]map[string]string)
	for _, ns := range set.Namespaces {
		nsLabels[ns.Name] = ns.Labels
	}
	policies := make([]*networkingv1.NetworkPolicy, len(set.Policies))
	for i, p := range set.Policies {
		policies[i] = p.NetworkPolicy
	}
	return newEvaluator(nsLabels, policies)
}

// newEvaluator returns an evaluator for namespaces with labels nsLabels
// (by name; others carry only their name label) and policies.
func newEvaluator(nsLabels map[string]map[string]string, policies []*networkingv1.NetworkPolicy) *Evaluator {
	e := &Evaluator{
		nsLabels:  nsLabels,
		selectors: make(map[*metav1.LabelSelector]labels.Selector),
	}
	for _, p := range policies {
		e.policies = append(e.policies, p)
		e.convert(&p.Spec.PodSelector)
		for _, r := range p.Spec.Ingress {
			e.convertPeers(r.From)
		}
		for _, r := range p.Spec.Egress {
			e.convertPeers(r.To)
		}
	}
	return e
}

func (e *Evaluator) convertPeers(peers []networkingv1.NetworkPolicyPeer) {
	for _, peer := range peers {
		e.convert(peer.PodSelector)
		e.convert(peer.NamespaceSelector)
	}
}

func (e *Evaluator) convert(sel *metav1.LabelSelector) {
	if sel == nil {
		return
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		s = labels.Nothing() // loaded policies are valid; never here
	}
	e.selectors[sel] = s
}

// matches reports whether sel selects an object with labels l.
func (e *Evaluator) matches(sel *metav1.LabelSelector, l map[string]string) bool {
	return e.selectors[sel].Matches(labels.Set(l))
}

// Allowed reports whether a new connection from src to dst on (proto, port)
// is allowed. proto is "TCP", "UDP" or "SCTP". src and dst are different pods;
// at most one of them is external.
func (e *Evaluator) Allowed(src, dst Pod, proto string, port int) bool {
	return e.egressAllows(src, dst, proto, port) && e.ingressAllows(src, dst, proto, port)
}

// ingressAllows reports whether dst's ingress lets src in.
func (e *Evaluator) ingressAllows(src, dst Pod, proto string, port int) bool {
	isolated := false
	for _, pol := range e.policies {
		if !e.selects(pol, dst) || !hasPolicyType(pol, networkingv1.PolicyTypeIngress) {
			continue
		}
		isolated = true
		for _, rule := range pol.Spec.Ingress {
			if e.peersMatch(pol, rule.From, src) && portsMatch(rule.Ports, dst, proto, port) {
				return true
			}
		}
	}
	return !isolated
}

// egressAllows reports whether src's egress lets it reach dst.
func (e *Evaluator) egressAllows(src, dst Pod, proto string, port int) bool {
	isolated := false
	for _, pol := range e.policies {
		if !e.selects(pol, src) || !hasPolicyType(pol, networkingv1.PolicyTypeEgress) {
			continue
		}
		isolated = true
		for _, rule := range pol.Spec.Egress {
			if e.peersMatch(pol, rule.To, dst) && portsMatch(rule.Ports, dst, proto, port) {
				return true
			}
		}
	}
	return !isolated
}

// selects reports whether pol applies to pod. Policies never apply to
// external endpoints or hostNetwork pods.
func (e *Evaluator) selects(pol *networkingv1.NetworkPolicy, pod Pod) bool {
	if pod.IsExternal() || pod.HostNetwork || pod.Namespace != pol.Namespace {
		return false
	}
	return e.matches(&pol.Spec.PodSelector, pod.Labels)
}

// hasPolicyType reports whether pol isolates in direction t, applying the
// API server's defaulting when policyTypes is absent.
func hasPolicyType(pol *networkingv1.NetworkPolicy, t networkingv1.PolicyType) bool {
	types := pol.Spec.PolicyTypes
	if len(types) == 0 {
		types = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
		if len(pol.Spec.Egress) > 0 {
			types = append(types, networkingv1.PolicyTypeEgress)
		}
	}
	for _, have := range types {
		if have == t {
			return true
		}
	}
	return false
}

// peersMatch reports whether a rule's from (or to) list matches pod. A
// missing or empty list matches everyone.
func (e *Evaluator) peersMatch(pol *networkingv1.NetworkPolicy, peers []networkingv1.NetworkPolicyPeer, pod Pod) bool {
	if len(peers) == 0 {
		return true
	}
	for _, peer := range peers {
		if e.peerMatches(pol, peer, pod) {
			return true
		}
	}
	return false
}

func (e *Evaluator) peerMatches(pol *networkingv1.NetworkPolicy, peer networkingv1.NetworkPolicyPeer, pod Pod) bool {
	if peer.IPBlock != nil {
		return ipBlockMatches(peer.IPBlock, pod.IP)
	}
	if pod.IsExternal() || pod.HostNetwork {
		return false
	}
	// namespaceSelector and podSelector in one peer: both must match.
	if peer.NamespaceSelector != nil {
		if !e.matches(peer.NamespaceSelector, e.namespaceLabels(pod.Namespace)) {
			return false
		}
	} else if pod.Namespace != pol.Namespace {
		return false
	}
	if peer.PodSelector != nil {
		return e.matches(peer.PodSelector, pod.Labels)
	}
	return true
}

// namespaceLabels returns the labels of namespace ns. A namespace the set
// does not know still carries its name label.
func (e *Evaluator) namespaceLabels(ns string) map[string]string {
	if l, ok := e.nsLabels[ns]; ok {
		return l
	}
	return map[string]string{nameLabel: ns}
}

// ipBlockMatches reports whether ip is known, in the block's CIDR and in none
// of its excepts.
func ipBlockMatches(b *networkingv1.IPBlock, ip netip.Addr) bool {
	if !ip.IsValid() || !prefixContains(b.CIDR, ip) {
		return false
	}
	for _, ex := range b.Except {
		if prefixContains(ex, ip) {
			return false
		}
	}
	return true
}

func prefixContains(cidr string, ip netip.Addr) bool {
	p, err := netip.ParsePrefix(cidr)
	return err == nil && p.Contains(ip)
}

// portsMatch reports whether a rule's ports list allows (proto, port) to dst.
// A missing or empty list allows every port of every protocol.
func portsMatch(ports []networkingv1.NetworkPolicyPort, dst Pod, proto string, port int) bool {
	if len(ports) == 0 {
		return true
	}
	for _, p := range ports {
		if portMatches(p, dst, proto, port) {
			return true
		}
	}
	return false
}

func portMatches(p networkingv1.NetworkPolicyPort, dst Pod, proto string, port int) bool {
	ruleProto := "TCP"
	if p.Protocol != nil {
		ruleProto = string(*p.Protocol)
	}
	if ruleProto != proto {
		return false
	}
	switch {
	case p.Port == nil:
		return true // every port of the protocol
	case p.Port.Type == intstr.Int:
		lo, hi := int(p.Port.IntVal), int(p.Port.IntVal)
		if p.EndPort != nil {
			hi = int(*p.EndPort)
		}
		return lo <= port && port <= hi
	default:
		// A named port: the destination pod's own container port of that
		// name, if its protocol is the rule's.
		for _, cp := range dst.Ports {
			if cp.Name == p.Port.StrVal && string(cp.Protocol) == ruleProto && int(cp.Port) == port {
				return true
			}
		}
		return false
	}
}

// Pods returns the pods of set's workloads: one per known IP, or one without
// IP for a workload whose IPs are unknown.
func Pods(set *manifest.Set) []Pod { return PodsN(set, 1) }

// PodsN is like Pods but returns at least n pods per workload, adding pods
// without IP after the ones with known IPs.
func PodsN(set *manifest.Set, n int) []Pod {
	var pods []Pod
	for _, w := range set.Workloads {
		for i := 0; i < max(n, len(w.IPs)); i++ {
			p := PodOf(w)
			if i < len(w.IPs) {
				p.IP = w.IPs[i]
			}
			pods = append(pods, p)
		}
	}
	return pods
}

// PodOf returns a pod of workload w with unknown IP.
func PodOf(w *manifest.Workload) Pod {
	return Pod{
		Namespace:   w.Namespace,
		Workload:    w.ID(),
		Labels:      w.Labels,
		Ports:       w.Ports,
		HostNetwork: w.HostNetwork,
	}
}

// Flow formats a flow for messages: "src -> dst 80/TCP".
func Flow(src, dst Pod, proto string, port int) string {
	return src.String() + " -> " + dst.String() + " " + strconv.Itoa(port) + "/" + proto
}
