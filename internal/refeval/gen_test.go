package refeval_test

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/wardsec/ward/internal/refeval"
	"github.com/wardsec/ward/manifest"
)

// TestRandomObjects checks that the generator makes valid clusters and
// exercises every part of the NetworkPolicy API the differential test
// relies on: a feature it stops generating would silently go untested.
func TestRandomObjects(t *testing.T) {
	const seeds = 2000
	seen := map[string]int{}
	for seed := range uint64(seeds) {
		defaultNS, objs := refeval.RandomObjects(rand.New(rand.NewPCG(seed, 0)))
		set, err := manifest.FromObjects(defaultNS, objs...)
		if err != nil {
			t.Fatalf("seed %d: invalid cluster: %v", seed, err)
		}
		countSet(seen, set)
		for _, o := range objs {
			countObject(seen, o)
		}
	}
	features := []string{
		"namespace declared", "namespace labelled", "namespace undeclared", "object in default namespace",
		"pod with IP", "pod without IP", "IPv6 pod IP", "instance via ReplicaSet", "instance via Deployment",
		"workload with several IPs", "hostNetwork", "hostNetwork with IP",
		"named container port", "UDP container port", "SCTP container port", "container port without protocol",
		"policyTypes absent", "policyTypes Ingress", "policyTypes Egress", "policyTypes both",
		"ingress missing", "ingress []", "ingress [{}]", "egress missing", "egress []", "egress [{}]",
		"peers missing", "peers []", "podSelector peer", "namespaceSelector peer", "both selectors peer",
		"ipBlock", "ipBlock except", "ipBlock IPv6", "empty selector", "matchLabels",
		"In", "NotIn", "Exists", "DoesNotExist", "metadata.name selector",
		"ports missing", "ports []", "numeric port", "named port", "unknown named port", "endPort",
		"port protocol unset", "UDP port", "SCTP port", "protocol-only port",
	}
	for _, f := range features {
		if seen[f] < seeds/100 {
			t.Errorf("%d clusters: %q seen %d times, want at least %d", seeds, f, seen[f], seeds/100)
		}
	}
}

func countSet(seen map[string]int, set *manifest.Set) {
	for _, ns := range set.Namespaces {
		if !ns.Declared {
			seen["namespace undeclared"]++
		}
	}
	for _, w := range set.Workloads {
		if len(w.IPs) > 1 {
			seen["workload with several IPs"]++
		}
		if w.HostNetwork {
			seen["hostNetwork"]++
			if len(w.IPs) > 0 {
				seen["hostNetwork with IP"]++
			}
		}
		for _, ip := range w.IPs {
			if ip.Is6() {
				seen["IPv6 pod IP"]++
			}
		}
	}
}

func countObject(seen map[string]int, o any) {
	if m, ok := o.(metav1.Object); ok && m.GetNamespace() == "" {
		if _, isNS := o.(*corev1.Namespace); !isNS {
			seen["object in default namespace"]++
		}
	}
	switch o := o.(type) {
	case *corev1.Namespace:
		seen["namespace declared"]++
		if len(o.Labels) > 0 {
			seen["namespace labelled"]++
		}
	case *corev1.Pod:
		if o.Status.PodIP != "" {
			seen["pod with IP"]++
		} else {
			seen["pod without IP"]++
		}
		for _, ref := range o.OwnerReferences {
			seen["instance via "+ref.Kind]++
		}
		countPodSpec(seen, o.Spec)
	case *appsv1.Deployment:
		countPodSpec(seen, o.Spec.Template.Spec)
	case *networkingv1.NetworkPolicy:
		countPolicy(seen, o)
	}
}

func countPodSpec(seen map[string]int, spec corev1.PodSpec) {
	for _, c := range spec.Containers {
		for _, p := range c.Ports {
			if p.Name != "" {
				seen["named container port"]++
			}
			switch p.Protocol {
			case "":
				seen["container port without protocol"]++
			case corev1.ProtocolUDP:
				seen["UDP container port"]++
			case corev1.ProtocolSCTP:
				seen["SCTP container port"]++
			}
		}
	}
}

func countPolicy(seen map[string]int, p *networkingv1.NetworkPolicy) {
	switch len(p.Spec.PolicyTypes) {
	case 0:
		seen["policyTypes absent"]++
	case 2:
		seen["policyTypes both"]++
	default:
		seen["policyTypes "+string(p.Spec.PolicyTypes[0])]++
	}
	section := func(name string, isNil bool, n int, peers [][]networkingv1.NetworkPolicyPeer, ports [][]networkingv1.NetworkPolicyPort) {
		switch {
		case isNil:
			seen[name+" missing"]++
		case n == 0:
			seen[name+" []"]++
		}
		for i := range n {
			if peers[i] == nil && ports[i] == nil {
				seen[name+" [{}]"]++
			}
			countPeers(seen, peers[i])
			countPorts(seen, ports[i])
		}
	}
	countSelector(seen, &p.Spec.PodSelector)
	var inPeers, egPeers [][]networkingv1.NetworkPolicyPeer
	var inPorts, egPorts [][]networkingv1.NetworkPolicyPort
	for _, r := range p.Spec.Ingress {
		inPeers, inPorts = append(inPeers, r.From), append(inPorts, r.Ports)
	}
	for _, r := range p.Spec.Egress {
		egPeers, egPorts = append(egPeers, r.To), append(egPorts, r.Ports)
	}
	section("ingress", p.Spec.Ingress == nil, len(p.Spec.Ingress), inPeers, inPorts)
	section("egress", p.Spec.Egress == nil, len(p.Spec.Egress), egPeers, egPorts)
}

func countPeers(seen map[string]int, peers []networkingv1.NetworkPolicyPeer) {
	switch {
	case peers == nil:
		seen["peers missing"]++
	case len(peers) == 0:
		seen["peers []"]++
	}
	for _, p := range peers {
		switch {
		case p.IPBlock != nil:
			seen["ipBlock"]++
			if len(p.IPBlock.Except) > 0 {
				seen["ipBlock except"]++
			}
			if netip.MustParsePrefix(p.IPBlock.CIDR).Addr().Is6() {
				seen["ipBlock IPv6"]++
			}
		case p.PodSelector != nil && p.NamespaceSelector != nil:
			seen["both selectors peer"]++
		case p.PodSelector != nil:
			seen["podSelector peer"]++
		default:
			seen["namespaceSelector peer"]++
		}
		countSelector(seen, p.PodSelector)
		countSelector(seen, p.NamespaceSelector)
	}
}

func countSelector(seen map[string]int, s *metav1.LabelSelector) {
	if s == nil {
		return
	}
	if len(s.MatchLabels)+len(s.MatchExpressions) == 0 {
		seen["empty selector"]++
	}
	if len(s.MatchLabels) > 0 {
		seen["matchLabels"]++
	}
	for k := range s.MatchLabels {
		if k == manifest.MetadataNameLabel {
			seen["metadata.name selector"]++
		}
	}
	for _, e := range s.MatchExpressions {
		seen[string(e.Operator)]++
		if e.Key == manifest.MetadataNameLabel {
			seen["metadata.name selector"]++
		}
	}
}

func countPorts(seen map[string]int, ports []networkingv1.NetworkPolicyPort) {
	switch {
	case ports == nil:
		seen["ports missing"]++
	case len(ports) == 0:
		seen["ports []"]++
	}
	for _, p := range ports {
		switch {
		case p.Protocol == nil:
			seen["port protocol unset"]++
		case *p.Protocol == corev1.ProtocolUDP:
			seen["UDP port"]++
		case *p.Protocol == corev1.ProtocolSCTP:
			seen["SCTP port"]++
		}
		switch {
		case p.Port == nil:
			seen["protocol-only port"]++
		case p.Port.Type == intstr.String:
			seen["named port"]++
			if p.Port.StrVal == "grpc" {
				seen["unknown named port"]++
			}
		default:
			seen["numeric port"]++
		}
		if p.EndPort != nil {
			seen["endPort"]++
		}
	}
}
