package refeval

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/wardsec/ward/manifest"
)

// The generator draws from small alphabets so that selectors collide, named
// ports are shared, and ipBlocks nest and overlap.
var (
	genNamespaces = []string{"a", "b", "c", "d"}
	genPodLabels  = map[string][]string{"app": {"web", "db"}, "tier": {"front", "back"}}
	genNSLabels   = map[string][]string{"team": {"red", "blue"}, "env": {"prod", "dev"}}
	genPortNames  = []string{"http", "dns", "metrics"}
	genRuleNames  = []string{"http", "dns", "metrics", "grpc"} // nobody has grpc
	genPorts      = []int32{53, 80, 443, 8080, 8081, 9090}
	genProtocols  = []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP}
	// genCIDRs nest and overlap; pod IPs are drawn near their edges.
	genCIDRs = []string{
		"10.0.0.0/16", "10.0.0.0/24", "10.0.0.0/28", "10.0.0.16/28", "10.0.0.8/29",
		"10.0.0.5/32", "10.0.0.128/25", "10.0.1.0/24", "192.168.0.0/16", "0.0.0.0/0",
		"fd00::/64", "fd00::/120", "fd00::10/124", "::/0",
	}
	genPodIPs = podIPPool()
)

// podIPPool returns the addresses pods may have: the edges of genCIDRs and
// their neighbours, in private ranges only.
func podIPPool() []netip.Addr {
	private := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.0.0/16"), netip.MustParsePrefix("fd00::/8")}
	seen := make(map[netip.Addr]bool)
	var pool []netip.Addr
	for _, c := range genCIDRs {
		for _, a := range EdgeAddrs(netip.MustParsePrefix(c)) {
			for _, p := range private {
				if p.Contains(a) && !seen[a] {
					seen[a] = true
					pool = append(pool, a)
				}
			}
		}
	}
	return pool
}

// EdgeAddrs returns the first and last addresses of p and their neighbours
// on both sides (those that exist).
func EdgeAddrs(p netip.Prefix) []netip.Addr {
	first, last := p.Masked().Addr(), lastAddr(p)
	var out []netip.Addr
	for _, a := range []netip.Addr{first.Prev(), first, first.Next(), last.Prev(), last, last.Next()} {
		if a.IsValid() {
			out = append(out, a)
		}
	}
	return out
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// RandomSet returns a small random cluster with random valid policies.
func RandomSet(r *rand.Rand) (*manifest.Set, error) {
	defaultNS, objs := RandomObjects(r)
	return manifest.FromObjects(defaultNS, objs...)
}

// RandomObjects returns the objects of a small random cluster: 2-4
// namespaces (some declared with labels, some only used), 2-6 workloads
// (Deployments and bare Pods, some hostNetwork, some with pod IPs) and 1-6
// valid NetworkPolicies exercising every part of the API; one cluster in
// ten has 6-12 workloads and 4-10 policies. Objects without a
// namespace belong to the returned default namespace.
func RandomObjects(r *rand.Rand) (defaultNS string, objs []any) {
	g := &gen{r: r, ips: append([]netip.Addr(nil), genPodIPs...)}
	g.r.Shuffle(len(g.ips), func(i, j int) { g.ips[i], g.ips[j] = g.ips[j], g.ips[i] })

	nss := append([]string(nil), genNamespaces...)
	r.Shuffle(len(nss), func(i, j int) { nss[i], nss[j] = nss[j], nss[i] })
	nss = nss[:2+r.IntN(3)]
	for _, ns := range nss {
		if r.IntN(3) > 0 {
			objs = append(objs, g.namespace(ns))
		}
	}
	workloads, policies := 2+r.IntN(5), 1+r.IntN(6)
	if r.IntN(10) == 0 { // now and then a larger cluster, for more label collisions
		workloads, policies = 6+r.IntN(7), 4+r.IntN(7)
	}
	for i := range workloads {
		objs = append(objs, g.workload(i, nss[r.IntN(len(nss))])...)
	}
	for i := range policies {
		objs = append(objs, g.policy(i, nss[r.IntN(len(nss))]))
	}
	// Leave some namespaces out: the loader puts those objects in nss[0].
	for _, o := range objs {
		if m, ok := o.(metav1.Object); ok && m.GetNamespace() == nss[0] && r.IntN(4) == 0 {
			if _, isNS := o.(*corev1.Namespace); !isNS {
				m.SetNamespace("")
			}
		}
	}
	return nss[0], objs
}

type gen struct {
	r   *rand.Rand
	ips []netip.Addr // unused pod IPs, shuffled
}

func (g *gen) chance(p float64) bool { return g.r.Float64() < p }

func pick[T any](g *gen, xs []T) T { return xs[g.r.IntN(len(xs))] }

// labels returns a random subset of the alphabet's keys with random values.
func (g *gen) labels(alphabet map[string][]string) map[string]string {
	l := make(map[string]string)
	for _, k := range sortedKeys(alphabet) {
		if g.chance(0.6) {
			l[k] = pick(g, alphabet[k])
		}
	}
	return l
}

func (g *gen) namespace(name string) *corev1.Namespace {
	return &corev1.Namespace{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: g.labels(genNSLabels)},
	}
}

// podIP returns an unused pod IP.
func (g *gen) podIP() string {
	if len(g.ips) == 0 {
		return ""
	}
	ip := g.ips[0]
	g.ips = g.ips[1:]
	return ip.String()
}

// podSpec returns 1-2 containers with 0-3 ports in all, named from a small
// alphabet (unique within the pod), on varied protocols.
func (g *gen) podSpec() corev1.PodSpec {
	spec := corev1.PodSpec{HostNetwork: g.chance(0.15)}
	names := append([]string(nil), genPortNames...)
	g.r.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
	used := make(map[string]bool)
	for c := range 1 + g.r.IntN(2) {
		ctr := corev1.Container{Name: fmt.Sprintf("c%d", c), Image: "example.com/app:1"}
		for range g.r.IntN(3) {
			p := corev1.ContainerPort{ContainerPort: pick(g, genPorts)}
			if g.chance(0.7) { // leave some protocols unset: TCP
				p.Protocol = pick(g, genProtocols)
			}
			key := fmt.Sprint(p.ContainerPort, p.Protocol)
			if p.Protocol == "" {
				key = fmt.Sprint(p.ContainerPort, corev1.ProtocolTCP)
			}
			if used[key] {
				continue
			}
			used[key] = true
			if len(names) > 0 && g.chance(0.7) {
				p.Name, names = names[0], names[1:]
			}
			if spec.HostNetwork {
				p.HostPort = p.ContainerPort
			}
			ctr.Ports = append(ctr.Ports, p)
		}
		spec.Containers = append(spec.Containers, ctr)
	}
	return spec
}

// workload returns a bare Pod (maybe with an IP) or a Deployment with 0-3
// instance Pods, some with IPs.
func (g *gen) workload(i int, ns string) []any {
	name := fmt.Sprintf("w%d", i)
	labels := g.labels(genPodLabels)
	spec := g.podSpec()
	if g.chance(0.4) {
		pod := &corev1.Pod{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
			Spec:       spec,
		}
		if g.chance(0.6) {
			pod.Status.PodIP = g.podIP()
		}
		return []any{pod}
	}
	d := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec},
		},
	}
	objs := []any{d}
	for j := range g.r.IntN(4) {
		objs = append(objs, g.instancePod(d, j))
	}
	return objs
}

// instancePod returns a Pod of Deployment d, owned by a ReplicaSet that
// the input leaves out (as kubectl dumps do) or, when d selects no labels,
// by d directly.
func (g *gen) instancePod(d *appsv1.Deployment, j int) *corev1.Pod {
	yes := true
	owner := metav1.OwnerReference{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: d.Name + "-7c5f9d", Controller: &yes}
	if len(d.Spec.Template.Labels) == 0 || g.chance(0.3) {
		owner = metav1.OwnerReference{APIVersion: "apps/v1", Kind: "Deployment", Name: d.Name, Controller: &yes}
	}
	pod := &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			Name:            fmt.Sprintf("%s-7c5f9d-%d", d.Name, j),
			Namespace:       d.Namespace,
			Labels:          d.Spec.Template.Labels,
			OwnerReferences: []metav1.OwnerReference{owner},
		},
		Spec: d.Spec.Template.Spec,
	}
	if g.chance(0.8) {
		pod.Status.PodIP = g.podIP()
	}
	return pod
}

// selector returns a random selector over the alphabet: empty, matchLabels,
// matchExpressions (In, NotIn, Exists, DoesNotExist) or both.
func (g *gen) selector(alphabet map[string][]string) *metav1.LabelSelector {
	sel := &metav1.LabelSelector{}
	keys := sortedKeys(alphabet)
	switch g.r.IntN(6) {
	case 0: // empty: everything
	case 1, 2:
		sel.MatchLabels = map[string]string{}
		for range 1 + g.r.IntN(2) {
			k := pick(g, keys)
			sel.MatchLabels[k] = pick(g, alphabet[k])
		}
	case 3, 4:
		for range 1 + g.r.IntN(2) {
			sel.MatchExpressions = append(sel.MatchExpressions, g.requirement(alphabet, keys))
		}
	default:
		k := pick(g, keys)
		sel.MatchLabels = map[string]string{k: pick(g, alphabet[k])}
		sel.MatchExpressions = append(sel.MatchExpressions, g.requirement(alphabet, keys))
	}
	return sel
}

func (g *gen) requirement(alphabet map[string][]string, keys []string) metav1.LabelSelectorRequirement {
	k := pick(g, keys)
	ops := []metav1.LabelSelectorOperator{metav1.LabelSelectorOpIn, metav1.LabelSelectorOpNotIn, metav1.LabelSelectorOpExists, metav1.LabelSelectorOpDoesNotExist}
	req := metav1.LabelSelectorRequirement{Key: k, Operator: pick(g, ops)}
	if req.Operator == metav1.LabelSelectorOpIn || req.Operator == metav1.LabelSelectorOpNotIn {
		vals := alphabet[k]
		if g.chance(0.5) {
			req.Values = []string{pick(g, vals)}
		} else {
			req.Values = append([]string(nil), vals...)
		}
	}
	return req
}

// nsAlphabet is the namespace label alphabet plus the name label.
func nsAlphabet() map[string][]string {
	a := map[string][]string{manifest.MetadataNameLabel: genNamespaces}
	for k, v := range genNSLabels {
		a[k] = v
	}
	return a
}

func (g *gen) policy(i int, ns string) *networkingv1.NetworkPolicy {
	p := &networkingv1.NetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p%d", i), Namespace: ns},
		Spec:       networkingv1.NetworkPolicySpec{PodSelector: *g.selector(genPodLabels)},
	}
	switch g.r.IntN(5) {
	case 0:
		p.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
	case 1:
		p.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
	case 2:
		p.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}
	} // else absent: defaulted
	switch n := g.rules(); n {
	case -1: // missing
	default:
		p.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{}
		for range n {
			p.Spec.Ingress = append(p.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{From: g.peers(), Ports: g.ports()})
		}
	}
	switch n := g.rules(); n {
	case -1:
	default:
		p.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{}
		for range n {
			p.Spec.Egress = append(p.Spec.Egress, networkingv1.NetworkPolicyEgressRule{To: g.peers(), Ports: g.ports()})
		}
	}
	return p
}

// rules returns how many rules a section gets: -1 for a missing section, 0
// for an empty one.
func (g *gen) rules() int {
	switch g.r.IntN(6) {
	case 0, 1:
		return -1
	case 2:
		return 0
	}
	return 1 + g.r.IntN(3)
}

// peers returns a from/to list: missing, empty, or 1-3 peers.
func (g *gen) peers() []networkingv1.NetworkPolicyPeer {
	switch g.r.IntN(5) {
	case 0:
		return nil
	case 1:
		return []networkingv1.NetworkPolicyPeer{}
	}
	var peers []networkingv1.NetworkPolicyPeer
	for range 1 + g.r.IntN(3) {
		var peer networkingv1.NetworkPolicyPeer
		switch g.r.IntN(4) {
		case 0:
			peer.PodSelector = g.selector(genPodLabels)
		case 1:
			peer.NamespaceSelector = g.selector(nsAlphabet())
		case 2:
			peer.PodSelector = g.selector(genPodLabels)
			peer.NamespaceSelector = g.selector(nsAlphabet())
		default:
			peer.IPBlock = g.ipBlock()
		}
		peers = append(peers, peer)
	}
	return peers
}

// ipBlock returns a block on one of genCIDRs with 0-2 excepts strictly
// inside it.
func (g *gen) ipBlock() *networkingv1.IPBlock {
	cidr := netip.MustParsePrefix(pick(g, genCIDRs))
	b := &networkingv1.IPBlock{CIDR: cidr.String()}
	if cidr.Bits() == cidr.Addr().BitLen() {
		return b
	}
	for range g.r.IntN(3) {
		b.Except = append(b.Except, g.subPrefix(cidr).String())
	}
	return b
}

// subPrefix returns a prefix strictly inside p: sometimes one of genCIDRs,
// else a random one near p's start (where pod IPs are).
func (g *gen) subPrefix(p netip.Prefix) netip.Prefix {
	var inside []netip.Prefix
	for _, c := range genCIDRs {
		q := netip.MustParsePrefix(c)
		if q.Bits() > p.Bits() && p.Contains(q.Addr()) {
			inside = append(inside, q)
		}
	}
	if len(inside) > 0 && g.chance(0.5) {
		return pick(g, inside)
	}
	// A random aligned block of at most 256 addresses among the first 256
	// addresses of p.
	width, host := p.Addr().BitLen(), p.Addr().BitLen()-p.Bits()
	bits := max(p.Bits()+1+g.r.IntN(min(8, host)), width-8)
	span := 256
	if host < 8 {
		span = 1 << host
	}
	a := p.Masked().Addr()
	for range g.r.IntN(span) &^ (1<<(width-bits) - 1) {
		a = a.Next()
	}
	return netip.PrefixFrom(a, bits)
}

// ports returns a ports list: missing, empty, or 1-3 ports that are numeric
// (maybe with endPort), named, or protocol-only, with the protocol unset or
// TCP, UDP or SCTP.
func (g *gen) ports() []networkingv1.NetworkPolicyPort {
	switch g.r.IntN(4) {
	case 0:
		return nil
	case 1:
		return []networkingv1.NetworkPolicyPort{}
	}
	var ports []networkingv1.NetworkPolicyPort
	for range 1 + g.r.IntN(3) {
		var p networkingv1.NetworkPolicyPort
		if g.chance(0.6) {
			proto := pick(g, genProtocols)
			p.Protocol = &proto
		}
		switch g.r.IntN(6) {
		case 0: // every port of the protocol
		case 1, 2:
			port := intstr.FromString(pick(g, genRuleNames))
			p.Port = &port
		default:
			n := pick(g, genPorts)
			if g.chance(0.1) {
				n = 1 + g.r.Int32N(65535)
			}
			port := intstr.FromInt32(n)
			p.Port = &port
			if g.chance(0.4) {
				end := min(65535, n+g.r.Int32N(20))
				if g.chance(0.1) {
					end = 65535
				}
				p.EndPort = &end
			}
		}
		ports = append(ports, p)
	}
	return ports
}

func sortedKeys(m map[string][]string) []string { return slices.Sorted(maps.Keys(m)) }
